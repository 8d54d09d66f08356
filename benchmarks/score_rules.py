"""Score rules (cap, mean, fitted; the reference anchor) against the naive baseline.

Judges labelled items once with the product's `Judge.score_with_naive` / `compare_with_naive`
(the judge's and the baseline's requests in the same backend batches) and keeps every
criterion's P(yes); `--analyse` then scores each item under every rule offline with the
product's own functions (`judge.runner.aggregate.aggregate` / `anchored`, the fitted rule from
`calibration.criteria_fit`, cross-fitted: fit on one half, scored on the other, then swapped) and
compares each with the naive baseline (paired 95% bootstrap intervals).

Sets (from ../shared/data, small n; pointwise sets balanced half right, half wrong):
- halueval: HaluEval general answers (label: not hallucinated), no reference, rubric honesty;
- math_ref: MATH short answers "The final answer is $<pred>$." with the gold answer as the
  reference (label: rule-checked correct), rubric honesty, reference anchor on;
- math_full: full chain-of-thought solutions to MATH problems (math_verification, under 1,500
  characters; label: rule-checked correct), the gold answer as the reference, rubric
  math_reasoning, reference anchor on;
- bigbench: BIG-Bench-Mistake traces (multistep_arithmetic, logical_deduction; label: no
  mistaken step and the right answer, against a marked mistake), no reference, rubric
  math_reasoning;
- llmbar: LLMBar Natural pairs; pandalm: PandaLM test pairs without a gold tie (rubric
  helpfulness; `compare` rubric method with no tie band; `--direct` adds the direct comparison
  in both orders, the fallback a tie band would use).

    flock /work/models/cpu.lock python benchmarks/score_rules.py run --sets math_ref --n 30 \
        --model /work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --out benchmarks/out
    python benchmarks/score_rules.py analyse --out benchmarks/out
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.score_rules_analysis import RUBRICS
from judge.calibration import data
from judge.calibration.records import LabelledPair, LabelledSample

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")

POINT_SETS = ("halueval", "math_ref", "math_full", "bigbench")
# The anchor is on where the set carries references (each set's rubric: RUBRICS).
ANCHORED = ("math_ref", "math_full")
PAIR_SETS = ("llmbar", "pandalm")


def _balanced(items: list[LabelledSample], n: int, seed: int) -> list[LabelledSample]:
    rng = np.random.default_rng(seed)
    right = [s for s in items if s.label]
    wrong = [s for s in items if not s.label]
    picked = []
    for group in (right, wrong):
        order = rng.permutation(len(group))[: n // 2]
        picked += [group[i] for i in order]
    order = rng.permutation(len(picked))
    return [picked[i] for i in order]


def halueval(n: int, seed: int) -> list[LabelledSample]:
    """HaluEval general answers under 600 characters, half hallucinated."""
    items = data.load_halueval(SHARED / "halueval_general" / "general_data.jsonl")
    return _balanced([s for s in items if len(s.response) < 600], n, seed)


def math_ref(n: int, seed: int) -> list[LabelledSample]:
    """Short answers to MATH problems (question < 300 chars), the gold answer as reference."""
    items = []
    for _, row in data.read_jsonl(SHARED / "math_verification" / "math_cot_100.jsonl"):
        if len(row["question"]) >= 300:
            continue
        seen: set[str] = set()
        for k, (pred, label) in enumerate(zip(row["pred"], row["score"], strict=True)):
            if pred is None or str(pred) in seen:
                continue
            seen.add(str(pred))
            items.append(
                LabelledSample(
                    id=f"math/{row['idx']}/{k}",
                    prompt=row["question"],
                    response=f"The final answer is ${pred}$.",
                    label=bool(label),
                    reference=str(row["gt"]),
                )
            )
    return _balanced(items, n, seed)


def math_full(n: int, seed: int) -> list[LabelledSample]:
    """Full sampled MATH solutions (under 1,500 characters), the gold answer as reference."""
    items = []
    for _, row in data.read_jsonl(SHARED / "math_verification" / "math_cot_100.jsonl"):
        for k, (solution, label) in enumerate(zip(row["code"], row["score"], strict=True)):
            if not solution or len(solution) >= 1500:
                continue
            items.append(
                LabelledSample(
                    id=f"math_full/{row['idx']}/{k}",
                    prompt=row["question"],
                    response=solution,
                    label=bool(label),
                    reference=str(row["gt"]),
                )
            )
    return _balanced(items, n, seed)


def bigbench(n: int, seed: int) -> list[LabelledSample]:
    """BIG-Bench-Mistake traces: right (no mistake, right answer) or with a marked mistake."""
    items = []
    for task in ("multistep_arithmetic", "logical_deduction"):
        for line, row in data.read_jsonl(SHARED / "bigbench_mistake" / f"{task}.jsonl"):
            right = row["mistake_index"] is None and str(row["answer"]) == str(row["target"])
            wrong = row["mistake_index"] is not None
            if not (right or wrong):
                continue  # no marked mistake but a wrong answer: the label is unclear
            items.append(
                LabelledSample(
                    id=f"bigbench/{task}/{line}",
                    prompt=row["input"],
                    response="\n".join(row["steps"]),
                    label=right,
                )
            )
    return _balanced(items, n, seed)


def llmbar(n: int, seed: int, skip: int = 0) -> list[LabelledPair]:
    """LLMBar Natural pairs, the seeded order's items `skip` .. `skip + n` (disjoint slices)."""
    pairs = data.load_llmbar_dataset(SHARED / "llmbar" / "Natural" / "dataset.json")
    rng = np.random.default_rng(seed)
    return [pairs[i] for i in rng.permutation(len(pairs))[skip : skip + n]]


def pandalm(n: int, seed: int, skip: int = 0) -> list[LabelledPair]:
    pairs = [
        p
        for p in data.load_pandalm(SHARED / "pandalm" / "testset-v1.json")
        if p.label != "tie" and len(p.response_a) + len(p.response_b) < 1500
    ]
    rng = np.random.default_rng(seed)
    return [pairs[i] for i in rng.permutation(len(pairs))[skip : skip + n]]


LOADERS: dict[str, Any] = {
    "halueval": halueval,
    "math_ref": math_ref,
    "math_full": math_full,
    "bigbench": bigbench,
    "llmbar": llmbar,
    "pandalm": pandalm,
}


def _verdicts(verdicts: Any) -> list[dict[str, Any]]:
    return [
        {"id": v["criterion_id"] if isinstance(v, dict) else v.criterion_id,
         "p_yes": v["p_yes"] if isinstance(v, dict) else v.p_yes}
        for v in verdicts
    ]  # fmt: skip


def run(args: argparse.Namespace) -> None:
    from judge.backends.transformers.backend import TransformersBackend
    from judge.runner.judge import Judge
    from judge.settings import JudgeSettings
    from judge.types import Pair, Sample

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backend = TransformersBackend(args.model, dtype=args.dtype, batch_size=args.batch_size)
    for name in args.sets:
        target = out / f"{name}.jsonl"
        done = set()
        if target.exists():
            done = {json.loads(line)["id"] for line in target.read_text().splitlines() if line}
        extra = {"skip": args.skip} if name in PAIR_SETS else {}
        items = [i for i in LOADERS[name](args.n, args.seed, **extra) if i.id not in done]
        pointwise = name in POINT_SETS
        settings = JudgeSettings(
            reasoning=args.reasoning,
            score_rule="mean",
            reference_anchor=name in ANCHORED,
            tie_margin=0.0,
        )
        rubric = RUBRICS[name]
        judge = Judge(backend=backend, rubric=rubric, settings=settings)
        print(f"{name}: {len(items)} items to judge ({len(done)} done)", flush=True)
        for start in range(0, len(items), args.chunk):
            chunk = items[start : start + args.chunk]
            began = time.monotonic()
            rows = []
            if pointwise:
                samples = [
                    Sample(id=s.id, prompt=s.prompt, response=s.response, reference=s.reference)
                    for s in chunk
                ]
                judged, naive = judge.score_with_naive(samples)
                seconds = time.monotonic() - began
                for item, j, b in zip(chunk, judged, naive, strict=True):
                    rows.append(
                        {
                            "id": item.id,
                            "label": item.label,
                            "error": j.error or b.error,
                            "verdicts": _verdicts(j.verdicts),
                            "judge_score": j.score,
                            "naive": b.score,
                            "judge_tokens": j.usage.prompt_tokens + j.usage.completion_tokens,
                            "naive_tokens": b.usage.prompt_tokens + b.usage.completion_tokens,
                            "chunk_seconds": seconds / len(chunk),
                        }
                    )
            else:
                pairs = [
                    Pair(id=p.id, prompt=p.prompt, response_a=p.response_a, response_b=p.response_b)
                    for p in chunk
                ]
                judged_pairs, naive_pairs = judge.compare_with_naive(pairs, method="rubric")
                middle = time.monotonic()
                direct = judge.compare(pairs, method="direct") if args.direct else judged_pairs
                direct_seconds = time.monotonic() - middle if args.direct else 0.0
                seconds = middle - began
                for item, j, b, d in zip(chunk, judged_pairs, naive_pairs, direct, strict=True):
                    rows.append(
                        {
                            "id": item.id,
                            "label": item.label,
                            "error": j.error or b.error or d.error,
                            "verdicts_a": _verdicts(j.details.get("verdicts_a", [])),
                            "verdicts_b": _verdicts(j.details.get("verdicts_b", [])),
                            "judge_p_a": j.p_a,
                            "judge_strategy": j.strategy,
                            "naive_p_a_ab": b.p_a_ab,
                            "naive_p_a_ba": b.p_a_ba,
                            "direct_p_a_ab": d.p_a_ab if args.direct else None,
                            "direct_p_a_ba": d.p_a_ba if args.direct else None,
                            "judge_tokens": j.usage.prompt_tokens + j.usage.completion_tokens,
                            "naive_tokens": b.usage.prompt_tokens + b.usage.completion_tokens,
                            "direct_tokens": d.usage.prompt_tokens + d.usage.completion_tokens,
                            "chunk_seconds": seconds / len(chunk),
                            "direct_seconds": direct_seconds / len(chunk),
                        }
                    )
            with target.open("a", encoding="utf-8") as sink:
                for row in rows:
                    sink.write(json.dumps(row) + "\n")
            print(
                f"{name}: {start + len(chunk)}/{len(items)} judged, "
                f"{time.monotonic() - began:.1f} s for this chunk",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    runner = sub.add_parser("run")
    runner.add_argument("--model", required=True)
    runner.add_argument("--sets", nargs="+", default=list(LOADERS), choices=list(LOADERS))
    runner.add_argument("--n", type=int, default=30)
    runner.add_argument("--seed", type=int, default=0)
    runner.add_argument(
        "--skip", type=int, default=0, help="pairs: start this far into the seeded order"
    )
    runner.add_argument("--chunk", type=int, default=6)
    runner.add_argument("--batch-size", type=int, default=16)
    runner.add_argument("--dtype", default="float32")
    runner.add_argument("--reasoning", default="none")
    runner.add_argument("--out", default="benchmarks/out")
    runner.add_argument("--direct", action="store_true", help="pairs: also compare directly")
    analyser = sub.add_parser("analyse")
    analyser.add_argument("--out", default="benchmarks/out")
    analyser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    else:
        from benchmarks.score_rules_analysis import analyse

        analyse(Path(args.out), n_boot=args.n_boot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

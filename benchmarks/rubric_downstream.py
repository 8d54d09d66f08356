"""Pairwise accuracy on LLMBar Natural by rubric source, one model, one run.

Arms, all on the same items and the same loaded model:
  (a) shipped: the library rubric `--rubric` (generic), `Judge.compare(method="rubric")`;
  (b) generated: `generate_rubric_report` for the item's instruction, then the same comparison;
  (c) refined: (b) refined by RRD with the item's two outputs as the pool (coarse threshold 1,
      depth 1), then the same comparison;
  (d) direct: the naive prompt "which is better", both orders, `Judge.compare(method="direct")`.
A rubric comparison whose margin ties falls back to the direct comparison (the library's
default); ties that remain count as wrong. Accuracy has a Wilson 95% interval; cost is wall
seconds and backend tokens (prompt + completion) per arm: (b) includes the generation and (c)
the generation and the refinement of its rubric. Where refinement drops every criterion, (c)
keeps the generated rubric (counted as `refine_fell_back`).

The items run one at a time, every arm on an item before the next item, and each finished arm
is appended to `--out` (JSON lines) at once, so a run that is cut off leaves its finished rows;
a rerun with the same `--out` skips the arms already there. The summary counts only items on
which every requested arm finished. The generation of each item is also recorded the way
`rubric_generation.py` records it (kept, specific, copied, refinement added something new), so
these items fill that table's LLMBar rows when the generation settings are the same.

    flock /work/models/cpu.lock nice -n 19 env PYTHONPATH=$PWD python \
        benchmarks/rubric_downstream.py \
        --model /work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --dtype float32 \
        --n 8 --reasoning none --out downstream.jsonl
    python benchmarks/rubric_downstream.py --summarize downstream.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from judge.backends.base import Backend
from judge.errors import JudgeError, RubricError
from judge.types import Generation, GenerationRequest, Pair, Rubric

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TITLES = {
    "a": "(a) shipped rubric",
    "b": "(b) generated rubric",
    "c": "(c) generated + refined (RRD)",
    "d": "(d) naive both-orders prompt",
}


class Metered:
    """A backend wrapper that counts the tokens of every call (all arms share one model)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.tokens = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        out = self.backend.generate(requests)
        self.tokens += sum(g.usage.prompt_tokens + g.usage.completion_tokens for g in out)
        return out


def wilson(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    if total == 0:
        return (0.0, 1.0)
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (max(0.0, centre - half), min(1.0, centre + half))


def append(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line and make it durable before the next (slow) model call."""
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    print(json.dumps(row)[:400], flush=True)


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summarize(rows: list[dict[str, Any]], arms: Sequence[str]) -> list[dict[str, Any]]:
    """One row per arm over the items on which every arm in `arms` finished (last row wins)."""
    by_item: dict[int, dict[str, dict[str, Any]]] = {}
    for row in rows:
        if row.get("arm") in arms:
            by_item.setdefault(int(row["item"]), {})[row["arm"]] = row
    items = sorted(i for i, done in by_item.items() if all(a in done for a in arms))
    table = []
    for arm in arms:
        done = [by_item[i][arm] for i in items]
        n = len(done)
        correct = sum(1 for r in done if r["correct"])
        low, high = wilson(correct, n)
        entry: dict[str, Any] = {
            "arm": TITLES[arm],
            "n": n,
            "correct": correct,
            "accuracy": round(correct / n, 3) if n else None,
            "wilson95": [round(low, 3), round(high, 3)],
            "ties": sum(1 for r in done if r.get("winner") == "tie"),
            "errors": sum(1 for r in done if r.get("error")),
            "seconds": round(sum(r["seconds"] for r in done), 1),
            "tokens": sum(r["tokens"] for r in done),
        }
        if arm == "c":
            entry["refine_fell_back"] = sum(1 for r in done if r.get("refine_fell_back"))
        if arm != "d" and "d" in arms:
            # Paired against the naive prompt on the same items: (arm right, naive wrong) and
            # (arm wrong, naive right), the two discordant counts of a McNemar comparison.
            pairs = [(by_item[i][arm]["correct"], by_item[i]["d"]["correct"]) for i in items]
            entry["vs_d"] = [
                sum(1 for mine, naive in pairs if mine and not naive),
                sum(1 for mine, naive in pairs if naive and not mine),
            ]
        table.append(entry)
    return table


def print_table(table: list[dict[str, Any]]) -> None:
    print("| arm | n | correct | accuracy | Wilson 95% | ties | errors | s | s/item | tokens |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for e in table:
        n = max(1, e["n"])
        print(
            f"| {e['arm']} | {e['n']} | {e['correct']} | {e['accuracy']} | "
            f"{e['wilson95'][0]:.2f}-{e['wilson95'][1]:.2f} | {e['ties']} | {e['errors']} | "
            f"{e['seconds']:.0f} | {e['seconds'] / n:.0f} | {e['tokens']} |"
        )
    for e in table:
        extra = {k: e[k] for k in ("vs_d", "refine_fell_back") if k in e}
        if extra:
            print(e["arm"], json.dumps(extra))


def generation_record(report: Any, prompt: str, templates: tuple[str, ...]) -> dict[str, Any]:
    """What `rubric_generation.py` records for a generated rubric."""
    from judge.rubric.proposal import prompt_specificity
    from judge.rubric.wording import most_similar

    kept = report.rubric.criteria
    return {
        "kept": len(kept),
        "specific": sum(1 for c in kept if prompt_specificity(c.text, prompt) > 0),
        "copied": sum(1 for c in kept if most_similar(c.text, templates)[0] >= 0.7),
        "template_drops": sum(1 for d in report.rubric.dropped if "prompt template" in d.reason),
        "proposed": report.proposed,
        "distinct": report.distinct,
        "shortfall": report.shortfall,
        "criteria": [(c.text, c.kind) for c in kept],
        "dropped": [(d.criterion.text, d.reason) for d in report.rubric.dropped],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--rubric", default="instruction_following")
    parser.add_argument("--arms", default="d,a,b,c", help="run order within an item")
    parser.add_argument("--samples", type=int, default=3, help="generation samples")
    parser.add_argument(
        "--reasoning",
        default="before",
        help="the judge's reasoning in every arm (none: P(yes) from one forward pass)",
    )
    parser.add_argument("--max-criteria", type=int, default=6)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, required=False, help="JSON lines, appended")
    parser.add_argument("--summarize", type=Path, default=None, help="only summarize this file")
    args = parser.parse_args()
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    for arm in arms:
        if arm not in TITLES:
            parser.error(f"--arms: unknown arm {arm!r}; use a, b, c, d")
    if args.summarize is not None:
        print_table(summarize(read_rows(args.summarize), arms))
        return
    if not args.model or args.out is None:
        parser.error("--model and --out are required unless --summarize")

    # Imported here so that --summarize needs no model stack.
    from benchmarks.rubric_generation import template_strings
    from judge.backends import create_backend
    from judge.library import load_rubric
    from judge.rubric.generate import generate_rubric_report
    from judge.rubric.refine import refine
    from judge.rubric.settings import GenerateSettings, RefineSettings
    from judge.runner.judge import Judge
    from judge.settings import JudgeSettings

    items = json.loads((args.data / "llmbar" / "Natural" / "dataset.json").read_text())
    earlier = read_rows(args.out)
    done = {(int(r["item"]), r["arm"]) for r in earlier if "arm" in r}
    # Generated rubrics of earlier runs, so that (c) can run later without generating again.
    saved = {
        int(r["item"]): r["generation"]
        for r in earlier
        if "rubric" in r.get("generation", {})
        and r["generation"].get("settings")
        == [
            args.samples,
            args.max_criteria,
        ]
    }
    templates = template_strings()
    t0 = time.perf_counter()
    backend = Metered(create_backend("transformers", model=args.model, dtype=args.dtype))
    append(
        args.out,
        {
            "event": "start",
            "model": args.model,
            "dtype": args.dtype,
            "samples": args.samples,
            "max_criteria": args.max_criteria,
            "rubric": args.rubric,
            "reasoning": args.reasoning,
            "load_s": round(time.perf_counter() - t0, 1),
            "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "loadavg": os.getloadavg(),
        },
    )
    shipped = load_rubric(args.rubric)
    settings = GenerateSettings(samples=args.samples, max_criteria=args.max_criteria)
    judging = JudgeSettings(reasoning=args.reasoning)

    for index in range(args.offset, args.offset + args.n):
        item = items[index]
        pair = Pair(
            id=f"natural-{index}",
            prompt=item["input"],
            response_a=item["output_1"],
            response_b=item["output_2"],
        )
        label = "a" if item["label"] == 1 else "b"
        # Costs shared by (b) and (c): the generation; (c) alone: the refinement.
        generated: Rubric | None = None
        gen_cost = (0.0, 0)
        refined: Rubric | None = None
        refine_cost = (0.0, 0)
        fell_back = False

        for arm in arms:
            if (index, arm) in done:
                continue
            started, tokens = time.perf_counter(), backend.tokens
            row: dict[str, Any] = {"item": index, "arm": arm, "label": label}
            extra_s, extra_tokens = 0.0, 0
            try:
                if arm in ("b", "c") and generated is None and index in saved:
                    # Generated by an earlier run (same settings): reuse it and its cost.
                    generated = Rubric.model_validate(saved[index]["rubric"])
                    gen_cost = (saved[index]["seconds"], saved[index]["tokens"])
                    extra_s, extra_tokens = gen_cost
                elif arm in ("b", "c") and generated is None:
                    g0, k0 = time.perf_counter(), backend.tokens
                    report = generate_rubric_report(backend, pair.prompt or "", settings=settings)
                    generated = report.rubric
                    gen_cost = (time.perf_counter() - g0, backend.tokens - k0)
                    row["generation"] = generation_record(report, pair.prompt or "", templates)
                    row["generation"]["seconds"] = round(gen_cost[0], 1)
                    row["generation"]["tokens"] = gen_cost[1]
                    row["generation"]["settings"] = [args.samples, args.max_criteria]
                    row["generation"]["rubric"] = generated.model_dump(mode="json")
                elif arm in ("b", "c"):
                    # Generated for the other arm on this item: charge its cost here too.
                    extra_s, extra_tokens = gen_cost
                if arm == "c":
                    r0, k0 = time.perf_counter(), backend.tokens
                    assert generated is not None
                    try:
                        result = refine(
                            generated,
                            pair.prompt or "",
                            [pair.response_a, pair.response_b],
                            backend,
                            settings=RefineSettings(coarse_threshold=1, max_depth=1),
                            cache=False,
                        )
                        refined = result.rubric
                        leaves = refined.leaves()
                        row["refine"] = {
                            "decompositions": result.stats.decompositions,
                            "added_new": len(
                                {c.provenance.parent for c in leaves if c.provenance.parent}
                            ),
                            "children_rejected": sum(
                                1 for d in refined.dropped if d.criterion.provenance.parent
                            ),
                            "unrefined": list(result.stats.unrefined),
                            "leaves": [(c.text, c.kind) for c in leaves],
                        }
                    except RubricError as exc:
                        # What a user would do: keep the generated rubric.
                        refined, fell_back = generated, True
                        row["refine"] = {"error": str(exc)[:200]}
                    refine_cost = (time.perf_counter() - r0, backend.tokens - k0)
                    row["refine"]["seconds"] = round(refine_cost[0], 1)
                    row["refine_fell_back"] = fell_back
                rubric = {"a": shipped, "b": generated, "c": refined, "d": shipped}[arm]
                assert rubric is not None
                method = "direct" if arm == "d" else "rubric"
                [judgment] = Judge(backend, rubric, settings=judging).compare([pair], method=method)  # type: ignore[arg-type]
                row["winner"] = str(judgment.winner)
                row["correct"] = row["winner"] == label
            except JudgeError as exc:
                row["error"] = str(exc)[:300]
                row["correct"] = False
            row["seconds"] = round(time.perf_counter() - started + extra_s, 1)
            row["tokens"] = backend.tokens - tokens + extra_tokens
            append(args.out, row)
    backend.close()
    print_table(summarize(read_rows(args.out), arms))


if __name__ == "__main__":
    main()

"""`judge probe` on the embedded model: acceptance per attack with and without the defences.

Also what the defences cost in accuracy on clean labelled answers (shared math_verification).

Probe rows: the first `--rows` problems whose question is under 300 characters; the good response
is "The final answer is $<gt>$." and the reference is `gt`. Clean labelled set: `--labelled`
short answers "The final answer is $<pred>$." from the same file, half rule-checked correct and
half wrong (one right answer per problem; every distinct wrong one), judged with each
configuration; accuracy is (score > 0.5) == label. One embedded-model backend serves every
configuration.

    python benchmarks/probe_embedded.py --rows 20 --labelled 20 --out /tmp/probe-bench
    python benchmarks/probe_embedded.py --mode pairwise --rows 8 --labelled 0 --configs none \
        --attacks master_key_solution,inject_appended,self_verdict,padded_repeat,constant_answer
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from judge.calibration.attacks import attack_named
from judge.calibration.bootstrap import bootstrap_ci
from judge.calibration.probe import run_probe
from judge.calibration.probe_report import table, write_probe
from judge.library import load_rubric
from judge.runner.judge import Judge
from judge.types import Sample

DATA = Path(__file__).resolve().parent.parent.parent / "shared/data/math_verification"
RUBRIC = Path(__file__).resolve().parent.parent / "tests/fixtures/probe/final_answer.yaml"
CONFIGS = {
    "none": {},
    "gate": {"content_gate": True},
    "gate+reference_depth": {"content_gate": True, "reference_depth": True},
}


def answer(value: str) -> str:
    return f"The final answer is ${value}$."


def load(rows: int, labelled: int) -> tuple[list[Sample], list[tuple[Sample, bool]]]:
    records = [json.loads(line) for line in (DATA / "math_cot_100.jsonl").open(encoding="utf-8")]
    probe = [
        Sample(id=f"p{r['idx']}", prompt=r["question"], response=answer(r["gt"]), reference=r["gt"])
        for r in records
        if len(r["question"]) < 300
    ][:rows]
    right: list[tuple[Sample, bool]] = []
    wrong: list[tuple[Sample, bool]] = []
    for r in records:
        if len(r["question"]) >= 300:
            continue
        for pred, ok in zip(r["pred"], r["score"], strict=True):
            bucket = right if ok else wrong
            seen = {s.response for s, _ in bucket if s.prompt == r["question"]}
            # right: one per problem; wrong: each distinct wrong answer (they are rare)
            if not pred or len(bucket) >= labelled // 2 or answer(pred) in seen or (ok and seen):
                continue
            sample = Sample(
                id=f"{r['idx']}-{len(bucket)}",
                prompt=r["question"],
                response=answer(pred),
                reference=r["gt"],
            )
            bucket.append((sample, bool(ok)))
    return probe, right + wrong


def accuracy(judge: Judge, labelled: list[tuple[Sample, bool]]) -> dict[str, object]:
    judgments = judge.score([sample for sample, _ in labelled])
    hits = [
        float(j.score is not None and (j.score > 0.5) == label)
        for j, (_, label) in zip(judgments, labelled, strict=True)
    ]
    interval = bootstrap_ci(np.mean, np.asarray(hits), n_boot=1000)
    return {
        "accuracy": interval.format(digits=2),
        "failed": sum(j.error is not None for j in judgments),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--labelled", type=int, default=20)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/probe-bench"))
    parser.add_argument("--mode", choices=("pointwise", "pairwise"), default="pointwise")
    parser.add_argument("--attacks", default="", help="comma-separated (default: all)")
    args = parser.parse_args()
    from judge.backends.transformers import TransformersBackend

    backend = TransformersBackend()
    rubric = load_rubric(str(RUBRIC))
    probe_rows, labelled = load(args.rows, args.labelled)
    print(f"model {backend.model_id}; {len(probe_rows)} probe rows, {len(labelled)} labelled")
    for name in args.configs.split(","):
        judge = Judge(backend, rubric, **CONFIGS[name])
        start = time.perf_counter()
        attacks = attack_named([a for a in args.attacks.split(",") if a])
        data = {"path": str(DATA), "config": name}
        report = run_probe(judge, probe_rows, attacks, mode=args.mode, data=data)
        seconds = time.perf_counter() - start
        write_probe(report, args.out / f"{args.mode}-{name}")
        clean = accuracy(judge, labelled) if args.labelled else "not measured"
        header, body = table(report)
        print(f"\n### {name} ({seconds:.0f} s; clean labelled accuracy {clean})")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in body:
            print("| " + " | ".join(line) + " |")
        sys.stdout.flush()
    backend.close()


if __name__ == "__main__":
    main()

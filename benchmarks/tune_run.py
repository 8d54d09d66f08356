"""`judge tune` (the library call, `run_tune`) with a real model on a small public labelled set.

The set is `score_rules.py`'s math_ref (MATH short answers, the gold answer as the reference,
rule-checked labels, balanced), written as a labelled JSONL in OUT; the grid is the default
pointwise grid under reasoning `none` (score_rule mean/cap x reference_anchor off/on: reasoning
`before` decodes rationales, minutes per item with a 1.5B model on two CPU cores); rubric
`honesty`, as `score_rules.py` used. It prints what the run measured: each configuration's
accuracy and difference from the naive baseline, the recommendation, the shared-batch counts
and the wall time. A rerun with the same OUT resumes (and, finished, judges nothing).

    flock /work/models/cpu.lock nice -n 19 python benchmarks/tune_run.py \
        --model /work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --n 30 --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

GRID = [{"score_rule": ["mean", "cap"], "reference_anchor": [False, True]}]


def main() -> None:
    """Write the set, run `run_tune`, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="a .gguf or HF folder (default: embedded)")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=6, help="items per run_tune chunk")
    parser.add_argument("--batch-size", type=int, default=16, help="backend rows per forward")
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from score_rules import math_ref

    from judge.backends.transformers.backend import TransformersBackend
    from judge.calibration.tune import run_tune
    from judge.settings import JudgeSettings

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "math_ref.jsonl"
    items = math_ref(args.n, args.seed)
    data.write_text(
        "".join(
            json.dumps(
                {
                    "id": s.id,
                    "prompt": s.prompt,
                    "response": s.response,
                    "reference": s.reference,
                    "label": s.label,
                }
            )
            + "\n"
            for s in items
        )
    )
    began = time.monotonic()
    backend = TransformersBackend(args.model, dtype=args.dtype, batch_size=args.batch_size)
    loaded = time.monotonic() - began
    try:
        run = run_tune(
            data,
            grid=GRID,
            rubric="honesty",
            backend=backend,
            settings=JudgeSettings(reasoning="none"),
            output=out / "tune",
            batch_size=args.chunk,
            n_boot=args.n_boot,
            seed=args.seed,
            progress=lambda done, total: print(f"{done}/{total} items", flush=True),
        )
    finally:
        backend.close()
    wall = time.monotonic() - began
    summary = run.summary
    print(f"{summary.n} items, model {summary.model}, load {loaded:.1f} s, wall {wall:.1f} s")
    for r in summary.configs:
        diff = r.difference
        shown = "n/a" if diff is None else diff.format()
        print(
            f"{r.name} {r.label}: accuracy {r.quality.format()} naive {r.naive_quality:.3f} "
            f"diff {shown} beats={r.beats_naive} tokens {r.cost.tokens} "
            f"(naive {r.naive_cost.tokens}) est. {r.cost.seconds:.1f} s"
        )
    shared = summary.shared
    print(
        f"shared: {shared.backend_calls} backend calls, {shared.requests_sent} requests sent "
        f"of {shared.requests_asked} asked, {shared.seconds:.1f} s in the backend"
    )
    print(f"recommendation: {summary.recommendation} ({summary.best}): {summary.reason}")
    print(f"report: {run.report}  config: {run.config}")


if __name__ == "__main__":
    main()

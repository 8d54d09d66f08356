"""Shared-prefix prefill vs. per-request prefill in the Transformers backend (embedded model, CPU).

Same workload, same backend code, run side by side: (a) requests of a sample share one prefill
of their common prefix (the default); (b) every request prefills its whole prompt, as a judge
that ignores prefixes would. Reports judgments/s, prompt tokens computed vs. sent, and the ratio.

    python benchmarks/transformers_prefix.py --samples 4 --repeat 2
"""

from __future__ import annotations

import argparse
import statistics
import time

from judge.backends.transformers import TransformersBackend
from judge.library import load_rubric
from judge.prompting import default_prompts
from judge.runner.requests import RequestBuilder
from judge.settings import JudgeSettings
from judge.types import Sample

RESPONSE = (
    "Photosynthesis is the process by which green plants, algae and some bacteria turn light "
    "energy into chemical energy. In the chloroplasts, chlorophyll absorbs mostly blue and red "
    "light. The light-dependent reactions split water, release oxygen, and make ATP and NADPH. "
    "The Calvin cycle then uses that ATP and NADPH to fix carbon dioxide into sugars such as "
    "glucose, which the plant uses for energy and to build cellulose and starch. "
) * 3


def workload(count: int) -> list[Sample]:
    return [
        Sample(
            id=str(i),
            prompt=f"Explain photosynthesis to a student (variant {i}).",
            response=RESPONSE,
        )
        for i in range(count)
    ]


def run(backend: TransformersBackend, samples: list[Sample], repeat: int) -> dict[str, float]:
    settings = JudgeSettings(max_rationale_chars=40)
    planner = RequestBuilder(default_prompts(), backend.capabilities, settings)
    requests = [item.request for item in planner.plan_verdicts(samples, load_rubric("helpfulness"))]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        generations = backend.generate(requests)
        times.append(time.perf_counter() - start)
    assert all(g.error is None for g in generations)
    sent = sum(g.usage.prompt_tokens for g in generations)
    cached = sum(g.usage.cached_tokens for g in generations)
    seconds = statistics.median(times)
    return {
        "judgments": len(requests),
        "seconds": seconds,
        "judgments_per_s": len(requests) / seconds,
        "prompt_tokens_sent": sent,
        "prompt_tokens_computed": sent - cached,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    samples = workload(args.samples)
    shared = TransformersBackend(prefix_sharing=True)
    unshared = TransformersBackend(prefix_sharing=False)
    run(shared, samples[:1], 1)  # warm-up: grammar compilation, first-call allocations
    results = {
        "shared prefix (judge)": run(shared, samples, args.repeat),
        "per-request prefill (baseline)": run(unshared, samples, args.repeat),
    }
    for name, r in results.items():
        print(
            f"{name:32s} {r['judgments']} judgments in {r['seconds']:.2f} s "
            f"= {r['judgments_per_s']:.2f}/s; prompt tokens computed "
            f"{r['prompt_tokens_computed']} of {r['prompt_tokens_sent']} sent"
        )
    a, b = results.values()
    speedup = a["judgments_per_s"] / b["judgments_per_s"]
    computed = a["prompt_tokens_computed"] / b["prompt_tokens_computed"]
    print(f"speed-up: {speedup:.2f}x; prompt tokens computed: {computed:.2f}x of the baseline's")


if __name__ == "__main__":
    main()

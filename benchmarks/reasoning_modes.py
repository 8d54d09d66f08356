"""Reasoning modes side by side on the embedded model: before (rationale first), after, none.

Same samples, rubric, backend (one loaded Transformers backend) and batch for every mode; each
mode runs `--repeats` times in alternation and the best run is kept (the machine is shared).
Prints judgments/s (wall), CPU seconds per judgment (process time, torch threads included),
completion tokens, and the share of criteria where each mode's P(yes) is on the same side of
1/2 as `before`'s.

    python benchmarks/reasoning_modes.py --samples 4 --repeats 2
"""

from __future__ import annotations

import argparse
import time

from judge.backends.transformers import TransformersBackend
from judge.runner.judge import Judge
from judge.types import Judgment, Sample

SAMPLES = [
    Sample(id="math", prompt="What is 12 * 12?", response="144"),
    Sample(id="capital", prompt="What is the capital of France?", response="Berlin."),
    Sample(id="poem", prompt="Write a two-line poem about rain.", response="Rain taps the glass."),
    Sample(id="list", prompt="Name three primary colours.", response="Red, blue and yellow."),
    Sample(id="code", prompt="Reverse a list in Python.", response="Use my_list[::-1]."),
    Sample(id="unit", prompt="How many grams in a kilogram?", response="100 grams."),
]
MODES = ("before", "after", "none")


def run(
    backend: TransformersBackend, mode: str, samples: list[Sample]
) -> tuple[float, float, list[Judgment]]:
    judge = Judge(backend, "helpfulness", reasoning=mode)
    wall, cpu = time.perf_counter(), time.process_time()
    judgments = judge.score(samples)
    return time.perf_counter() - wall, time.process_time() - cpu, judgments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    samples = SAMPLES[: args.samples]
    backend = TransformersBackend()
    run(backend, "none", samples[:1])  # warm-up: first-call costs are no mode's
    best: dict[str, tuple[float, float, list[Judgment]]] = {}
    for _ in range(args.repeats):
        for mode in MODES:
            result = run(backend, mode, samples)
            if mode not in best or result[0] < best[mode][0]:
                best[mode] = result
    reference = [v.p_yes for j in best["before"][2] for v in j.verdicts]
    count = len(reference)
    print(
        f"{len(samples)} samples x 5 criteria = {count} judgments per mode, best of {args.repeats}"
    )
    print(
        "| reasoning | seconds | judgments/s | vs before | CPU s/judgment | completion tokens "
        "| sign agreement with before |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in MODES:
        wall, cpu, judgments = best[mode]
        p_yes = [v.p_yes for j in judgments for v in j.verdicts]
        agree = sum(
            (a > 0.5) == (b > 0.5)
            for a, b in zip(p_yes, reference, strict=True)
            if a is not None and b is not None
        )
        tokens = sum(j.usage.completion_tokens for j in judgments)
        ratio = best["before"][0] / wall
        print(
            f"| {mode} | {wall:.2f} | {count / wall:.2f} | {ratio:.1f}x | {cpu / count:.3f} "
            f"| {tokens} | {agree}/{count} |"
        )
    backend.close()


if __name__ == "__main__":
    main()

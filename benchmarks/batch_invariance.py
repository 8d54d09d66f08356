"""How far a sample's verdicts move with the batch it lands in, per compute dtype, and the cost.

For each dtype, the same samples are judged on the embedded model in four layouts: each alone
(batch size 1), all in one batch (mixed lengths, shared-prefix groups), batches of 3 in reverse
order, and one batch without shared prefixes. Prints the largest |P(yes)| difference from the
samples-alone layout, how many rationales changed, and the seconds (wall and CPU) per layout.

    python benchmarks/batch_invariance.py --dtype float32 bfloat16 --reasoning none before
"""

from __future__ import annotations

import argparse
import time

from judge.backends.transformers import TransformersBackend
from judge.runner.judge import Judge
from judge.types import Sample

TEXTS = [
    ("What is 12 * 12?", "144"),
    ("What is the capital of France?", "Berlin."),
    (
        "Write a haiku about rain.",
        "Rain taps on the roof\nsoft drums in the quiet night\nthe garden drinks deep",
    ),
    (
        "Explain why the sky is blue in one sentence.",
        "Because air molecules scatter short blue wavelengths of sunlight more than red ones.",
    ),
    ("Give me a synonym for happy.", "joyful"),
    (
        "What year did World War II end?",
        "It ended in 1945 when Germany and then Japan surrendered.",
    ),
    ("Translate 'thank you' into French.", "Merci."),
    (
        "List three primary colours.",
        "Red, blue and yellow are the traditional primary colours in painting.",
    ),
]
LAYOUTS = {
    "alone": (1, True, False),
    "one batch": (16, True, False),
    "batches of 3, reversed": (3, True, True),
    "no shared prefixes": (16, False, False),
}


def _judge(backend, samples, reasoning):
    verdicts = {}
    for judgment in Judge(backend, "helpfulness", reasoning=reasoning).score(samples):
        for verdict in judgment.verdicts:
            verdicts[(judgment.sample_id, verdict.criterion_id)] = (
                verdict.p_yes,
                verdict.rationale,
            )
    return verdicts


def run(dtype: str, reasoning: str, samples: list[Sample]) -> None:
    backend = TransformersBackend(dtype=dtype)
    results, costs = {}, {}
    for name, (batch_size, sharing, reverse) in LAYOUTS.items():
        backend.batch_size, backend.prefix_sharing = batch_size, sharing
        wall, cpu = time.perf_counter(), time.process_time()
        if name == "alone":
            found: dict = {}
            for sample in samples:
                found.update(_judge(backend, [sample], reasoning))
        else:
            found = _judge(backend, samples[::-1] if reverse else samples, reasoning)
        costs[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        results[name] = found
    base = results["alone"]
    for name, found in results.items():
        moved = max(abs(found[key][0] - base[key][0]) for key in base)
        changed = sum(found[key][1] != base[key][1] for key in base)
        wall, cpu = costs[name]
        print(
            f"| {dtype} | {reasoning} | {name} | {moved:.1e} | {changed}/{len(base)} "
            f"| {wall:.1f} | {cpu:.1f} |",
            flush=True,
        )
    backend.close()


def main() -> None:
    """Print one Markdown table row per dtype, reasoning mode and layout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--reasoning", nargs="+", default=["none", "before"])
    parser.add_argument("--samples", type=int, default=len(TEXTS))
    args = parser.parse_args()
    samples = [
        Sample(id=str(i), prompt=prompt, response=response)
        for i, (prompt, response) in enumerate(TEXTS[: args.samples])
    ]
    print("| dtype | reasoning | layout | max abs dP(yes) | rationales changed | wall s | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for reasoning in args.reasoning:
        for dtype in args.dtype:
            run(dtype, reasoning, samples)


if __name__ == "__main__":
    main()

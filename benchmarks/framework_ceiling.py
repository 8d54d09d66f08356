"""Framework ceiling: criterion-judgments per CPU-second with a zero-latency scripted backend.

The backend answers every request instantly with a valid constrained verdict and its choice
probabilities (the shipped `ScriptedBackend`, and a bare backend that only builds one validated
`Generation` per request), so the CPU time of `Judge.score` over the whole batch is the
framework's own cost (plus the backend's object-building):
planning and rendering requests, the round loop, parsing, aggregation and the objects between
them. The bar is >= 10,000 judgments per CPU-second on 1,000 samples x 10 criteria, breadth
strategy, pointwise.

The same workload also runs through `RubricReward` (groups of 8 completions, the RL path) and
`judge.batch.score_records` (the batch-job path), which share the runner.

    python benchmarks/framework_ceiling.py --samples 1000 --repeat 3
    python benchmarks/framework_ceiling.py --samples 1000 --profile 25
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from judge.backends.base import Capabilities  # noqa: E402
from judge.backends.scripted import ScriptedBackend, ScriptedReply  # noqa: E402
from judge.runner.judge import Judge  # noqa: E402
from judge.types import (  # noqa: E402
    Criterion,
    Generation,
    GenerationRequest,
    Rubric,
    Sample,
    Usage,
)

PANDALM = REPO.parent / "shared" / "data" / "pandalm" / "testset-v1.json"
CRITERIA = 10


def rubric(count: int = CRITERIA) -> Rubric:
    """`count` criteria of mixed kinds and weights (the first two are hard rules)."""
    return Rubric(
        name="ceiling",
        description="A ten-criterion rubric for the framework-ceiling benchmark.",
        criteria=tuple(
            Criterion(
                id=f"c{number}",
                kind="hard_rule" if number < 2 else "principle",
                weight=1.0 + number % 3,
                text=f"The response satisfies requirement number {number} of the request.",
            )
            for number in range(count)
        ),
    )


def samples(count: int) -> tuple[list[Sample], str]:
    """`count` samples from PandaLM's test set (repeated with fresh ids), or synthetic ones."""
    if PANDALM.is_file():
        items = json.loads(PANDALM.read_text(encoding="utf-8"))
        base = [
            (
                item["instruction"] + (f"\n\n{item['input']}" if item["input"] else ""),
                str(item["response1"]).strip() or "(empty)",
            )
            for item in items
        ]
        source = f"PandaLM testset-v1 ({len(base)} items)"
    else:
        base = [(f"Question {i}?", f"Answer {i}. " * 20) for i in range(500)]
        source = "synthetic"
    chosen = [base[i % len(base)] for i in range(count)]
    return [Sample(id=f"s{i}", prompt=p, response=r) for i, (p, r) in enumerate(chosen)], source


def zero_latency_backend() -> ScriptedBackend:
    """Every request gets the same valid constrained verdict, P(yes) = 0.7, instantly."""
    reply = ScriptedReply(
        text=json.dumps({"rationale": "checked", "verdict": "yes"}),
        choice_probs={"yes": 0.7, "no": 0.3},
    )

    def responder(request: GenerationRequest, index: int) -> ScriptedReply:
        return reply

    return ScriptedBackend(responder)


class BareBackend:
    """The least a zero-latency backend does: one validated Generation per request and sample."""

    model_id = "bare"
    capabilities = Capabilities(structured_output=True, choice_probabilities=True)

    def __init__(self) -> None:
        self.text = json.dumps({"rationale": "checked", "verdict": "yes"})
        self.usage = Usage(prompt_tokens=100, completion_tokens=8)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [
            Generation(
                request_id=request.id,
                sample_index=index,
                text=self.text,
                choice_probs={"yes": 0.7, "no": 0.3},
                probs_source="scripted",
                usage=self.usage,
            )
            for request in requests
            for index in range(request.sampling.n)
        ]

    def close(self) -> None:
        return None


def cpu_seconds(run: Callable[[], object]) -> float:
    """CPU time (this process) of one call."""
    start = time.process_time()
    run()
    return time.process_time() - start


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The least CPU time of `repeat` calls (the others ran beside other engineers' jobs)."""
    return min(cpu_seconds(run) for _ in range(repeat))


def arms(count: int) -> dict[str, tuple[Callable[[], object], int]]:
    """Name -> (call, criterion-judgments per call)."""
    batch, _ = samples(count)
    judge = Judge(zero_latency_backend(), rubric(), strategy="breadth")
    bare = Judge(BareBackend(), rubric(), strategy="breadth")
    found: dict[str, tuple[Callable[[], object], int]] = {
        "Judge.score, breadth, ScriptedBackend": (lambda: judge.score(batch), count * CRITERIA),
        "Judge.score, breadth, bare backend": (lambda: bare.score(batch), count * CRITERIA),
    }
    from judge.reward import RubricReward

    reward = RubricReward(rubric(), zero_latency_backend(), strategy="breadth")
    prompts = [sample.prompt or "" for sample in batch]
    completions = [sample.response for sample in batch]
    found["RubricReward, groups of 8"] = (
        lambda: [reward(prompts[i : i + 8], completions[i : i + 8]) for i in range(0, count, 8)],
        count * CRITERIA,
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="report the best of N runs")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    args = parser.parse_args()
    _, source = samples(1)
    print(f"{args.samples} samples x {CRITERIA} criteria from {source}; best of {args.repeat}")
    print("| arm | judgments | CPU s | judgments per CPU-second | us per judgment |")
    print("|---|---:|---:|---:|---:|")
    for name, (run, judgments) in arms(args.samples).items():
        run()  # warm: templates compiled, imports done
        seconds = best_of(args.repeat, run)
        print(
            f"| {name} | {judgments} | {seconds:.3f} | {judgments / seconds:,.0f} |"
            f" {1e6 * seconds / judgments:.1f} |"
        )
    if args.profile:
        run, _ = arms(args.samples)["Judge.score, breadth, bare backend"]
        run()
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(run)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue())


if __name__ == "__main__":
    main()

"""Judgment-cache hit rate on a GRPO-shaped reward workload (scripted judge, counted calls).

GRPO samples `--group` completions per prompt; on short-answer tasks many are identical. The
workload: `--prompts` questions, `--epochs` passes over them (the same prompts come back), each
completion drawn from a few candidate answers per prompt with skewed probabilities (`--skew`:
the share of the most common answer; the rest split evenly over `--answers - 1` others). The
reward scores each step (one prompt's group) in one call, with and without a cache; the figures
are the cache's hits and the verdict requests the judge model was spared.

    python benchmarks/judgment_cache.py --prompts 64 --group 8 --epochs 2
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def workload(args: argparse.Namespace) -> list[tuple[list[str], list[str]]]:
    rng = random.Random(args.seed)
    rest = (1 - args.skew) / (args.answers - 1)
    weights = [args.skew] + [rest] * (args.answers - 1)
    steps = []
    for _ in range(args.epochs):
        for p in range(args.prompts):
            answers = [f"The answer is {p * 7 + k}." for k in range(args.answers)]
            group = rng.choices(answers, weights, k=args.group)
            steps.append(([f"Question {p}: compute {p} x 7."] * args.group, group))
    return steps


def run(args: argparse.Namespace, cache: Path | None) -> dict[str, float]:
    from judge.backends.scripted import ScriptedBackend
    from judge.reward import RubricReward
    from tests.doubles.reward import CACHEABLE, graded_reply

    # graded_reply is a function of the request alone, so its judgments may be reused.
    backend = ScriptedBackend(graded_reply, capabilities=CACHEABLE)  # type: ignore[arg-type]
    reward = RubricReward("helpfulness", backend, cache=cache)
    items = requests = calls = 0
    for prompts, completions in workload(args):
        reward(prompts, completions)
        items += len(completions)
        requests += sum(len(batch) for batch in backend.batches)
        calls += len(backend.batches)
        backend.batches.clear()
    counts = reward.cache.counts() if reward.cache is not None else {}
    reward.close()
    return {"items": items, "backend_calls": calls, "verdict_requests": requests, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--skew", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("without cache:", run(args, None))
    with tempfile.TemporaryDirectory() as folder:
        print("with cache:   ", run(args, Path(folder) / "judgments.sqlite"))


if __name__ == "__main__":
    main()

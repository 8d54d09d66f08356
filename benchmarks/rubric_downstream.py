"""Pairwise accuracy on LLMBar Natural by rubric source, one model, one run.

Arms, all on the same `--n` items and the same loaded model:
  (a) shipped: the library rubric `--rubric` (generic), `Judge.compare(method="rubric")`;
  (b) generated: `generate_rubric` for the item's instruction, then the same comparison;
  (c) refined: (b) refined by RRD with the item's two outputs as the pool (coarse threshold 1,
      depth 1), then the same comparison;
  (d) direct: the naive prompt "which is better", both orders, `Judge.compare(method="direct")`.
A rubric comparison whose margin ties falls back to the direct comparison (the library's
default); ties that remain count as wrong. Accuracy has a Wilson 95% interval; cost is wall
seconds and backend tokens (prompt + completion) per arm, generation and refinement included
in (b) and (c). Where refinement drops every criterion, (c) keeps the generated rubric (counted
as `refine_fell_back`).

    flock /work/models/cpu.lock python benchmarks/rubric_downstream.py \
        --model /work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --dtype float32 --n 8
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from judge.backends import create_backend
from judge.backends.base import Backend
from judge.errors import JudgeError, RubricError
from judge.library import load_rubric
from judge.rubric.generate import generate_rubric
from judge.rubric.refine import refine
from judge.rubric.settings import GenerateSettings, RefineSettings
from judge.runner.judge import Judge
from judge.types import Generation, GenerationRequest, Pair, Rubric

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--rubric", default="instruction_following")
    parser.add_argument("--arms", default="a,b,c,d")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    items = json.loads((args.data / "llmbar" / "Natural" / "dataset.json").read_text())
    items = items[args.offset : args.offset + args.n]
    pairs = [
        Pair(
            id=f"natural-{args.offset + index}",
            prompt=item["input"],
            response_a=item["output_1"],
            response_b=item["output_2"],
        )
        for index, item in enumerate(items)
    ]
    labels = ["a" if item["label"] == 1 else "b" for item in items]
    backend = Metered(create_backend("transformers", model=args.model, dtype=args.dtype))
    shipped = load_rubric(args.rubric)
    generated: dict[int, Rubric] = {}

    def generated_rubric(index: int) -> Rubric:
        if index not in generated:
            generated[index] = generate_rubric(
                backend, pairs[index].prompt or "", settings=GenerateSettings()
            )
        return generated[index]

    unrefined: list[int] = []

    def refined_rubric(index: int) -> Rubric:
        pair = pairs[index]
        try:
            return refine(
                generated_rubric(index),
                pair.prompt or "",
                [pair.response_a, pair.response_b],
                backend,
                settings=RefineSettings(coarse_threshold=1, max_depth=1),
                cache=False,
            ).rubric
        except RubricError as exc:
            # What a user would do: keep the generated rubric when refinement drops everything.
            print(f"refine item {index}: {exc}", flush=True)
            unrefined.append(index)
            return generated_rubric(index)

    arms: dict[str, tuple[str, Callable[[int], Rubric] | None, str]] = {
        "a": (f"(a) shipped rubric {args.rubric!r}", lambda index: shipped, "rubric"),
        "b": ("(b) generated rubric", generated_rubric, "rubric"),
        "c": ("(c) generated + refined (RRD)", refined_rubric, "rubric"),
        "d": ("(d) naive both-orders prompt", None, "direct"),
    }
    results = []
    for key in args.arms.split(","):
        title, source, method = arms[key]
        started, tokens = time.perf_counter(), backend.tokens
        correct = ties = errors = 0
        for index, (pair, label) in enumerate(zip(pairs, labels, strict=True)):
            try:
                rubric = source(index) if source is not None else shipped
                [judgment] = Judge(backend, rubric).compare([pair], method=method)  # type: ignore[arg-type]
            except JudgeError as exc:
                errors += 1
                print(f"{key} item {index}: {exc}", flush=True)
                continue
            correct += judgment.winner == label
            ties += judgment.winner == "tie"
        seconds = time.perf_counter() - started
        low, high = wilson(correct, len(pairs))
        row = {
            "arm": title,
            "n": len(pairs),
            "correct": correct,
            "accuracy": round(correct / len(pairs), 3),
            "wilson95": [round(low, 3), round(high, 3)],
            "ties": ties,
            "errors": errors,
            "seconds": round(seconds, 1),
            "tokens": backend.tokens - tokens,
        }
        if key == "c":
            row["refine_fell_back"] = len(unrefined)
        results.append(row)
        print(json.dumps(row), flush=True)
    backend.close()
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

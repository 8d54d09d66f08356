"""Batch-job throughput: the framework's own overhead (scripted zero-latency backend) next to the
embedded model (SmolLM2-135M on CPU) on a small slice of the same rows.

Every arm runs the real `judge.batch.BatchJob`: read JSONL, validate on the prefetch thread, plan
and render prompts, one backend call per batch, parse verdicts, aggregate, append + fsync the
records. With the scripted backend the model costs nothing, so rows/s is what the framework
itself can sustain; the embedded arm shows what a real (tiny, CPU) model leaves of it.

Rows: PandaLM's test set (instruction + input as the prompt, response1 as the response) from
../shared/data, or synthetic rows where that folder is absent.

    python benchmarks/batch_throughput.py --rows 2000 --embedded-rows 4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from judge.backends.scripted import ScriptedBackend, ScriptedReply  # noqa: E402
from judge.batch import BatchJob, BatchOptions, FieldMap  # noqa: E402
from judge.runner.judge import Judge  # noqa: E402
from judge.types import GenerationRequest, Sample  # noqa: E402

PANDALM = REPO.parent / "shared" / "data" / "pandalm" / "testset-v1.json"


def rows(count: int) -> tuple[list[dict], str]:
    """`count` rows (repeating the data set if needed, with fresh ids) and where they came from."""
    if PANDALM.is_file():
        items = json.loads(PANDALM.read_text(encoding="utf-8"))
        base = [
            {
                "prompt": item["instruction"] + (f"\n\n{item['input']}" if item["input"] else ""),
                "response": str(item["response1"]).strip() or "(empty)",
            }
            for item in items
        ]
        source = f"PandaLM testset-v1 ({len(base)} items)"
    else:
        base = [{"prompt": f"Question {i}?", "response": f"Answer {i}. " * 20} for i in range(500)]
        source = "synthetic"
    return [{"id": f"r{i}", **base[i % len(base)]} for i in range(count)], source


def zero_latency_backend() -> ScriptedBackend:
    text = json.dumps({"rationale": "checked", "verdict": "yes"})

    def responder(request: GenerationRequest, index: int) -> ScriptedReply:
        return ScriptedReply(text=text, choice_probs={"yes": 0.7, "no": 0.3})

    return ScriptedBackend(responder, model_id="scripted-zero-latency")


@dataclass
class Arm:
    name: str
    rows: int
    judgments: int
    seconds: float
    prompt_tokens: int
    load: tuple[float, float]

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def judgments_per_s(self) -> float:
        return self.judgments / self.seconds


def run_arm(name: str, judge: Judge, data: list[dict], output: Path, batch_size: int) -> Arm:
    source = output.with_suffix(".in.jsonl")
    source.write_text("".join(json.dumps(row) + "\n" for row in data), encoding="utf-8")
    options = BatchOptions(fields=FieldMap(id="id"), batch_size=batch_size)
    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    progress = BatchJob(judge, source, output, options).run()
    seconds = time.perf_counter() - start
    assert progress.done == len(data) and progress.failed == 0, progress
    return Arm(
        name,
        progress.done,
        progress.judgments,
        seconds,
        progress.usage.prompt_tokens,
        (load_start, os.getloadavg()[0]),
    )


def _figure(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows for the scripted arms")
    parser.add_argument("--embedded-rows", type=int, default=4, help="rows for the model arm")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rubric", default="helpfulness")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    data, source = rows(args.rows)
    arms = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for suffix in ("jsonl", "parquet"):
            judge = Judge(zero_latency_backend(), args.rubric)
            arms.append(
                run_arm(
                    f"scripted, zero latency -> {suffix}",
                    judge,
                    data,
                    work / f"scripted.{suffix}",
                    args.batch_size,
                )
            )
        if args.embedded_rows:
            judge = Judge("transformers", args.rubric)
            # Load and warm the model outside the timing.
            judge.score([Sample(id="warm", prompt="Hi", response="Hello")])
            arms.append(
                run_arm(
                    "embedded SmolLM2-135M (CPU) -> jsonl",
                    judge,
                    data[: args.embedded_rows],
                    work / "embedded.jsonl",
                    args.batch_size,
                )
            )
            judge.close()

    print(
        f"rows: {source}; rubric {args.rubric}; batch size {args.batch_size}; {os.cpu_count()} CPUs"
    )
    print(
        "| arm | rows | judgments | prompt tokens | seconds | rows/s | judgments/s | ms/row "
        "| load (start/end) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for arm in arms:
        print(
            f"| {arm.name} | {arm.rows} | {arm.judgments} | {arm.prompt_tokens} | "
            f"{arm.seconds:.2f} | {_figure(arm.rows_per_s)} | {_figure(arm.judgments_per_s)} | "
            f"{_figure(1000 / arm.rows_per_s)} | {arm.load[0]:.1f}/{arm.load[1]:.1f} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps([{**arm.__dict__, "rows_per_s": arm.rows_per_s} for arm in arms], indent=2)
        )


if __name__ == "__main__":
    main()

"""`judge batch` on a 20-row file, twice, with one judgment cache: cold store, then warm.

Runs the real CLI in fresh processes (embedded SmolLM2 on CPU). The backend is the real
Transformers backend behind a counter that appends one line per `generate` call (with its
request count) to a file, so the figures are model calls, not log lines. The cold run is the
baseline (it judges every row and fills the store); the warm run writes to a new output with the
same settings and is answered by the store.

    python benchmarks/batch_cache.py --rows 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LAUNCH = (
    "import sys; sys.path.insert(0, {repo!r}); from judge import backends; "
    "backends.register_backend('counted', 'benchmarks.batch_cache:counted'); "
    "from judge.__main__ import main; sys.argv = ['judge', *sys.argv[1:]]; main()"
)
RUBRIC = """name: correct
description: Is the answer right?
criteria:
  - id: correct
    text: The response gives the correct result of the sum.
"""


class CountedBackend:
    """The Transformers backend, counting its batch calls into ``$BENCH_CALLS``."""

    def __init__(self, **options: Any) -> None:
        from judge.backends.transformers import TransformersBackend

        self.inner = TransformersBackend(**options)
        self.calls_file = os.environ["BENCH_CALLS"]

    @property
    def model_id(self) -> str:
        """The wrapped model."""
        return self.inner.model_id

    @property
    def capabilities(self) -> Any:
        """The wrapped backend's capabilities."""
        return self.inner.capabilities

    def generate(self, requests: Sequence[Any]) -> list[Any]:
        """Count the call, then run it."""
        with open(self.calls_file, "a", encoding="utf-8") as handle:
            handle.write(f"{len(requests)}\n")
        return self.inner.generate(requests)

    def close(self) -> None:
        """Release the model."""
        self.inner.close()


def counted(**options: Any) -> CountedBackend:
    """Registry factory (``--backend counted``)."""
    return CountedBackend(**options)


def _run(tmp: Path, source: Path, output: Path, store: Path) -> dict[str, Any]:
    calls = tmp / f"calls-{output.stem}.txt"
    env = {**os.environ, "BENCH_CALLS": str(calls), "COLUMNS": "200"}
    command = [
        sys.executable, "-c", LAUNCH.format(repo=str(REPO)), "batch", str(source), str(output),
        "--rubric", str(tmp / "correct.yaml"), "--backend", "counted", "--id-field", "id",
        "--batch-size", "20", "--max-rationale-chars", "60", "--cache", str(store),
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    lines = calls.read_text().splitlines() if calls.exists() else []
    summary = [line for line in done.stderr.splitlines() if "judgment cache" in line]
    return {
        "seconds": round(seconds, 1),
        "model_calls": len(lines),
        "model_requests": sum(int(n) for n in lines),
        "summary": summary[0].strip("│ ") if summary else None,
        "scores": [json.loads(line)["score"] for line in output.read_text().splitlines()],
    }


def main() -> None:
    """Cold then warm; print both and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "correct.yaml").write_text(RUBRIC, encoding="utf-8")
        source = tmp / "rows.jsonl"
        rows = [
            {"id": f"r{i}", "prompt": f"What is {i} + {i}?", "response": f"It is {2 * i + i % 3}."}
            for i in range(args.rows)
        ]
        source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        store = tmp / "judgments.sqlite"
        cold = _run(tmp, source, tmp / "cold.jsonl", store)
        warm = _run(tmp, source, tmp / "warm.jsonl", store)
    same = cold.pop("scores") == warm.pop("scores")
    ratio = round(warm["seconds"] / cold["seconds"], 3)
    figures = {"rows": args.rows, "cold": cold, "warm": warm, "same_scores": same}
    print(json.dumps({**figures, "warm_over_cold_s": ratio}, indent=1))


if __name__ == "__main__":
    main()

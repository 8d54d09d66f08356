"""A backend of your own: any model you can call, behind the judge's one batched call.

    python examples/custom_backend.py examples/data/rows.jsonl

A backend is any object with ``model_id``, ``capabilities``, ``generate(requests)`` and
``close()`` (the `judge.backends.Backend` protocol). ``generate`` gets a whole batch (every
criterion of every sample of a call) and returns one `Generation` per request, in order; a
failure of one request is that generation's ``error``, never an exception for the batch.

This one wraps a plain function ``complete(messages) -> str``: a hosted API, an in-house
server or an offline engine fits there. It declares no token probabilities, so the judge reads
each verdict from the text and says so (``confidence`` is None). The stand-in function below is
a rule (a response that repeats the question is not an answer), so the example runs anywhere;
CI runs it as written.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from judge import Judge, Sample
from judge.backends import Capabilities, create_backend, register_backend
from judge.types import ErrorKind, Generation, GenerationRequest, Message

Complete = Callable[[Sequence[Message]], str]


class FunctionBackend:
    """A judge backend over ``complete(messages) -> reply text`` (one request at a time)."""

    def __init__(self, complete: Complete, model_id: str = "my-model") -> None:
        self._complete = complete
        self._model_id = model_id

    @property
    def model_id(self) -> str:
        """The name recorded in every Judgment (and in the settings fingerprint)."""
        return self._model_id

    @property
    def capabilities(self) -> Capabilities:
        """Text only: no grammar, no token probabilities, no prefix cache."""
        return Capabilities(structured_output=False, choice_probabilities=False, cacheable=True)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One generation per request and sample, in order; a failed call fails that row alone."""
        generations = []
        for request in requests:
            for index in range(request.sampling.n):
                try:
                    text = self._complete(request.messages)
                except Exception as exc:  # one bad call must not sink the batch
                    generations.append(
                        Generation(
                            request_id=request.id,
                            sample_index=index,
                            error=f"{type(exc).__name__}: {exc}",
                            error_kind=ErrorKind.GENERATION,
                        )
                    )
                    continue
                generations.append(Generation(request_id=request.id, sample_index=index, text=text))
        return generations

    def close(self) -> None:
        """Nothing to release here; close your client or engine."""


def rule_model(messages: Sequence[Message]) -> str:
    """A stand-in for a real model: 'no' when the response only repeats the request."""
    text = messages[-1].content
    request = re.search(r"<conversation>(.*?)</conversation>", text, re.S)
    response = re.search(r"<response>(.*?)</response>", text, re.S)
    said = (response.group(1) if response else "").strip().lower()
    asked = (request.group(1) if request else "").lower()
    verdict = "no" if not said or said in asked else "yes"
    return json.dumps({"rationale": "rule: does the response add anything?", "verdict": verdict})


def make_backend(**options: object) -> FunctionBackend:
    """The factory `register_backend` names: the CLI and `create_backend` pass options here."""
    return FunctionBackend(rule_model, model_id=str(options.get("model") or "rule-model"))


def main() -> None:
    """Judge the rows with the custom backend and print each score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=Path, help="JSONL rows with prompt and response")
    parser.add_argument("--rubric", default="helpfulness")
    args = parser.parse_args()

    # Registered by name, the backend is also what `--backend my-backend` picks (register it in
    # the process that runs the CLI, e.g. a small launcher module of your own).
    register_backend("my-backend", f"{__name__}:make_backend")
    judge = Judge(create_backend("my-backend"), args.rubric)
    rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines()]
    samples = [Sample(id=row["id"], prompt=row["prompt"], response=row["response"]) for row in rows]
    judgments = judge.score(samples)
    for judgment in judgments:
        status = judgment.error or f"score {judgment.score:.2f}"
        print(f"{judgment.sample_id}\t{status}\tconfidence {judgment.confidence}")
    print(f"{len(samples)} samples, {judge.last_stats.backend_calls} backend call(s)")
    if any(judgment.error for judgment in judgments):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""Runs for the viewer's tests: judgment records as `judge batch` writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from judge.types import CriterionVerdict, Judgment


def judgment_record(
    index: int,
    score: float | None,
    *,
    error_kind: str | None = None,
    capped: bool = False,
    rationale: str = "",
    strategy: str = "breadth",
    model: str = "m",
) -> dict[str, Any]:
    """One batch record: row, id, the judgment's fields (validated by `Judgment`), the inputs."""
    verdicts = (
        ()
        if error_kind
        else tuple(
            CriterionVerdict(
                criterion_id=name, verdict="yes" if p >= 0.5 else "no", p_yes=p, rationale=rationale
            )
            for name, p in (("clear", score or 0.0), ("correct", 1 - (score or 0.0)))
        )
    )
    judgment = Judgment(
        sample_id=f"s{index}",
        score=None if error_kind else score,
        confidence=None if error_kind else 0.6,
        verdicts=verdicts,
        model=model,
        rubric="helpfulness",
        rubric_fingerprint="rf",
        template_fingerprint="tf",
        settings_fingerprint="sf",
        strategy=strategy,
        capped_by=("clear",) if capped else (),
        error="it failed" if error_kind else None,
        error_kind=error_kind,  # type: ignore[arg-type]
    )
    return {
        "row": index + 1,
        "id": f"s{index}",
        "job_fingerprint": "job",
        **judgment.model_dump(mode="json"),
        "details": "{}",
        "prompt": f"question {index}",
        "response": "the spider has eight legs" if index % 3 == 0 else f"answer {index}",
    }


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write records as JSON lines."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def standard_records(model: str = "m") -> list[dict[str, Any]]:
    """Ten records: scores 0.0..0.9, a failure, a capped one, a rationale, a depth strategy."""
    records = [judgment_record(i, i / 10, model=model) for i in range(10)]
    records[4] = judgment_record(4, None, error_kind="unparseable", model=model)
    records[7] = judgment_record(7, 0.7, capped=True, model=model)
    records[8] = judgment_record(8, 0.8, rationale="because", strategy="depth", model=model)
    return records

"""A person's labels on judgments, kept in a JSONL file beside the run.

Each label is one line, appended and fsynced (`append_durably`): the file only grows, a change
of mind is a new line, and the latest line of a (sample id, judgment key) wins. The key is the
fingerprint of the judge configuration (model, rubric, templates, settings), so a label given on
one judge's verdict is never read as a label of another's. One `judge view` writes a labels file
at a time: the writer holds an exclusive lock (``<labels>.lock``) for as long as it serves, and a
second one is refused (it may still open the run with ``--read-only``).

A label records what the judge said when it was given (score, pass, each P(yes)) and the text
judged, so `judge calibrate fit --labels` and `judge eval --labels` read it without the run.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from judge.batch.files import append_durably
from judge.batch.lock import OutputLock
from judge.errors import ConfigError, InputError
from judge.types import FrozenModel
from judge.view.runs import FINGERPRINT_FIELDS, judgment_key, record_id

PASS_AT = 0.5
"""A pointwise judgment passes when its score is at least this (as `judge eval` reads it)."""


class Label(FrozenModel):
    """One person's label of one judgment (one line of a labels file)."""

    sample_id: str
    key: str
    """The judgment's fingerprint key (`judge.view.runs.judgment_key`)."""
    kind: Literal["pointwise", "pairwise"]
    correct: bool | None = None
    """Pointwise: the judgment as a whole is right (True) or wrong (False); None: not said."""
    criteria: dict[str, bool] = Field(default_factory=dict)
    """Pointwise: criterion id -> the judge's verdict on it is right."""
    better: Literal["a", "b", "tie"] | None = None
    """Pairwise: the response the person finds better."""
    judge_score: float | None = None
    verdicts: dict[str, float | None] = Field(default_factory=dict)
    """P(yes) of each criterion when the label was given."""
    judge_winner: str | None = None
    p_a: float | None = None
    p_a_ab: float | None = None
    p_a_ba: float | None = None
    winner_ab: str | None = None
    winner_ba: str | None = None
    model: str = ""
    rubric_fingerprint: str = ""
    template_fingerprint: str = ""
    settings_fingerprint: str = ""
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    response: str | None = None
    response_a: str | None = None
    response_b: str | None = None
    reference: str | None = None
    at: str = ""

    @property
    def judge_pass(self) -> bool | None:
        """The judge's pointwise verdict: score >= `PASS_AT`; None without a score."""
        return None if self.judge_score is None else self.judge_score >= PASS_AT

    @property
    def gold(self) -> bool | None:
        """The gold pass/fail it implies: the judge's verdict if right, else its opposite."""
        if self.correct is None or self.judge_pass is None:
            return None
        return self.judge_pass if self.correct else not self.judge_pass

    def criterion_gold(self, criterion_id: str) -> bool | None:
        """The gold yes/no of one criterion: the judge's verdict if marked right, else not."""
        right = self.criteria.get(criterion_id)
        p_yes = self.verdicts.get(criterion_id)
        if right is None or p_yes is None:
            return None
        said_yes = p_yes >= PASS_AT
        return said_yes if right else not said_yes


def labels_path(run_path: Path) -> Path:
    """Where the labels of a run live: ``<run>.labels.jsonl`` beside it (a folder's too)."""
    run_path = Path(str(run_path).rstrip("/"))
    return run_path.with_name(run_path.name + ".labels.jsonl")


def read_labels(path: Path) -> dict[tuple[str, str], Label]:
    """The current label of each (sample id, key): the latest line wins; a torn last line is cut."""
    if not path.exists():
        return {}
    found: dict[tuple[str, str], Label] = {}
    data = path.read_bytes()
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            label = Label.model_validate_json(line)
        except ValueError as exc:
            if number == len(lines):  # no newline after it: a write cut short
                break
            first = str(exc).splitlines()[0]
            raise InputError(
                f"{path}:{number}: not a label ({first})",
                hint="give the labels file `judge view` wrote (<run>.labels.jsonl)",
            ) from None
        found[(label.sample_id, label.key)] = label
    return found


def label_from(record: dict[str, Any], choice: dict[str, Any]) -> Label:
    """A label of `record` with a person's `choice` (correct / criteria / better)."""
    verdicts = record.get("verdicts") or []
    pairwise = "pair_id" in record or record.get("mode") == "pairwise"
    fingerprints = {name: str(record.get(name) or "") for name in FINGERPRINT_FIELDS}
    criteria = choice.get("criteria") or {}
    if not isinstance(criteria, dict) or not all(isinstance(v, bool) for v in criteria.values()):
        raise ConfigError("criteria must map criterion ids to true or false")
    texts = {
        name: record.get(name) if isinstance(record.get(name), str) else None
        for name in ("prompt", "response", "response_a", "response_b", "reference")
    }
    messages = record.get("messages")
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except ValueError:
            messages = None
    return Label(
        sample_id=record_id(record),
        key=judgment_key(record),
        kind="pairwise" if pairwise else "pointwise",
        correct=choice.get("correct"),
        criteria={str(k): v for k, v in criteria.items()},
        better=choice.get("better"),
        judge_score=record.get("score") if not pairwise else None,
        verdicts={
            str(v.get("criterion_id")): v.get("p_yes") for v in verdicts if isinstance(v, dict)
        },
        judge_winner=record.get("winner"),
        p_a=record.get("p_a"),
        p_a_ab=record.get("p_a_ab"),
        p_a_ba=record.get("p_a_ba"),
        winner_ab=record.get("winner_ab"),
        winner_ba=record.get("winner_ba"),
        messages=messages if isinstance(messages, list) else None,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        **fingerprints,
        **texts,
    )


class LabelStore:
    """The labels file of one run: read, and (when writable) appended to under a lock."""

    def __init__(self, path: Path, *, writable: bool = True) -> None:
        self.path = path
        self.writable = writable
        self._lock: OutputLock | None = None
        self._mutex = threading.Lock()
        self._labels = read_labels(path)

    def open(self) -> LabelStore:
        """Take the writer's lock; a second writer of the same file is refused."""
        if not self.writable:
            return self
        lock = OutputLock(self.path)
        try:
            lock.acquire()
        except ConfigError as exc:
            raise ConfigError(
                f"{self.path} is being written by another judge view ({exc.message})",
                hint="close the other viewer, or open this one with --read-only",
            ) from None
        self._lock = lock
        self._labels = read_labels(self.path)
        return self

    def close(self) -> None:
        """Release the writer's lock."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def labels(self) -> dict[tuple[str, str], Label]:
        """The current labels (a copy)."""
        with self._mutex:
            return dict(self._labels)

    def labelled_ids(self) -> set[str]:
        """The sample ids with a current label."""
        with self._mutex:
            return {sample_id for sample_id, _ in self._labels}

    def add(self, label: Label) -> Label:
        """Append one label durably; it becomes the current label of its (id, key)."""
        if self._lock is None:
            raise ConfigError(
                f"{self.path}: this viewer is read-only",
                hint="open the run without --read-only (and without --bundle) to label it",
            )
        line = label.model_dump_json(exclude_defaults=True) + "\n"
        with self._mutex:
            append_durably(self.path, line.encode("utf-8"))
            self._labels[(label.sample_id, label.key)] = label
        return label

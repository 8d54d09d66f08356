"""A content-addressed judgment cache: the same judge on the same sample is judged once.

The key hashes the judge's settings fingerprint (model, rubric, templates, every setting) and the
sample's content (prompt or messages, response, reference; not its id), so a judgment made with
other settings never answers. The store is SQLite in WAL mode: it survives restarts, several
processes may share it, and it is bounded (least recently used entries go first). Only
successful judgments are stored; a failure is judged again next time.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from judge.types import Judgment, Sample, Usage, stable_hash

if TYPE_CHECKING:
    from judge.runner.judge import Judge

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    key TEXT PRIMARY KEY,
    judgment TEXT NOT NULL,
    used REAL NOT NULL
)
"""


def sample_key(settings_fingerprint: str, sample: Sample) -> str:
    """The cache key of `sample` judged by a judge with `settings_fingerprint`."""
    content = sample.model_dump(
        mode="json", include={"prompt", "messages", "response", "reference"}
    )
    return stable_hash([settings_fingerprint, content])


class JudgmentCache:
    """Judgments by content key, in a SQLite file shared by processes.

    Args:
        path: The database file (created with its folder).
        max_entries: Most judgments kept; beyond it the least recently used are dropped.
    """

    def __init__(self, path: str | Path, *, max_entries: int = 200_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, Judgment]:
        """The stored judgments among `keys` (counted as hits; the rest as misses)."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, Judgment] = {}
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, judgment FROM judgments WHERE key IN ({marks})", chunk
                ).fetchall()
                found.update((key, Judgment.model_validate_json(text)) for key, text in rows)
            if found:
                marks = ",".join("?" * len(found))
                self._db.execute(
                    f"UPDATE judgments SET used = ? WHERE key IN ({marks})",
                    [time.time(), *found],
                )
                self._db.commit()
            hits = sum(key in found for key in keys)
            before = self.hits + self.misses
            self.hits += hits
            self.misses += len(keys) - hits
            if (self.hits + self.misses) // 1000 > before // 1000:
                logger.info(
                    "judgment cache %s: %d hits, %d misses", self.path, self.hits, self.misses
                )
        return found

    def put_many(self, entries: list[tuple[str, Judgment]]) -> None:
        """Store successful judgments; trim to `max_entries`."""
        rows = [
            (key, judgment.model_dump_json(), time.time())
            for key, judgment in entries
            if judgment.error is None and judgment.score is not None
        ]
        if not rows:
            return
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO judgments VALUES (?, ?, ?)", rows)
            (count,) = self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()
            if count > self.max_entries:
                self._db.execute(
                    "DELETE FROM judgments WHERE key IN "
                    "(SELECT key FROM judgments ORDER BY used LIMIT ?)",
                    (count - self.max_entries,),
                )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()
        return int(count)

    def counts(self) -> dict[str, int]:
        """Hits, misses and stored entries, for logs and `/health`."""
        return {"hits": self.hits, "misses": self.misses, "entries": len(self)}

    def close(self) -> None:
        """Log the counts and close the database."""
        logger.info("judgment cache %s: %s", self.path, self.counts())
        with self._lock:
            self._db.close()


def for_sample(judgment: Judgment, sample: Sample) -> Judgment:
    """A cached judgment as the judgment of `sample`: its id, and no model usage."""
    return judgment.model_copy(update={"sample_id": sample.id, "usage": Usage()})


def judge_samples(
    judge: Judge, samples: list[Sample], cache: JudgmentCache | None
) -> list[Judgment]:
    """`judge.score(samples)`, answering from `cache` where it can.

    Identical samples (a GRPO group's repeated completions) are judged once.
    """
    if cache is None:
        return judge.score(samples)
    fingerprint = judge.settings_fingerprint
    keys = [sample_key(fingerprint, sample) for sample in samples]
    found = cache.get_many(keys)
    first_of: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key not in found:
            first_of.setdefault(key, index)
    judged = judge.score([samples[i] for i in first_of.values()]) if first_of else []
    fresh = dict(zip(first_of, judged, strict=True))
    cache.put_many(list(fresh.items()))
    results = []
    for sample, key in zip(samples, keys, strict=True):
        if key in found:
            results.append(for_sample(found[key], sample))
        elif fresh[key].sample_id == sample.id:
            results.append(fresh[key])
        else:
            results.append(fresh[key].model_copy(update={"sample_id": sample.id}))
    return results

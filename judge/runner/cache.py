"""A content-addressed judgment cache: the same judge on the same sample is judged once.

The key hashes the judge's settings fingerprint (model name and revision, rubric, templates,
every setting) and the sample's content (prompt or messages, response, reference; not its id),
so a judgment made with other settings never answers. A judgment is reused only where judging
again would give the same answer by the settings' contract: greedy decoding (temperature 0, one
sample, no sampled principles) or a fixed `seed`; with ``seed=None`` and sampling every call
draws afresh, and a backend that declares ``cacheable=False`` (the scripted test backend) is
never cached. Only successful pointwise judgments are stored; a failure is judged again.

The store is SQLite in WAL mode: it survives restarts, several processes may share it, and it
is bounded (least recently used entries go first). It is on by default in the user cache dir
(`default_cache_path`); a store that cannot be opened, is corrupted or stays locked turns the
cache off for the process with one warning, never failing the judging.

The cache never serves what it did not store: each entry carries a SHA-256 digest of its key and
its judgment text, checked on every read. An entry that fails the check (edited by hand,
corrupted on disk, moved under another key) is a miss: it is deleted, judged again and replaced,
with one warning per read naming how many. The digest is not a signature: it catches edits and
corruption, not a forger who recomputes it. A store of an older format (schema version below
`SCHEMA_VERSION`, entries without a digest) cannot be checked, so its entries are dropped once,
when it is opened; a store of a newer format is left alone and the cache is off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from judge.paths import cache_root
from judge.types import Judgment, Sample, Usage, stable_hash

if TYPE_CHECKING:
    from judge.runner.judge import Judge

logger = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES = 200_000
"""Judgments kept by default (a judgment is a few KB: about 0.5-1 GB at most)."""
CACHE_ENV = "JUDGE_JUDGMENT_CACHE"
"""Environment variable: the default store's path, or ``off`` to turn the default off."""

SCHEMA_VERSION = 2
"""The store's format (SQLite ``user_version``): 2 added the digest of each entry."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    key TEXT PRIMARY KEY,
    judgment TEXT NOT NULL,
    digest TEXT NOT NULL,
    used REAL NOT NULL
)
"""


def entry_digest(key: str, judgment_text: str) -> str:
    """The digest an entry carries: SHA-256 of its key and its stored judgment text."""
    return hashlib.sha256(f"{key}\0{judgment_text}".encode()).hexdigest()


def default_cache_path() -> Path | None:
    """The default store: ``$JUDGE_JUDGMENT_CACHE``, else ``judgments.sqlite`` in the cache root.

    None when ``$JUDGE_JUDGMENT_CACHE`` is ``off`` (or ``0``, ``false``, ``no``).
    """
    configured = os.environ.get(CACHE_ENV)
    if configured is not None and configured.strip().lower() in ("off", "0", "false", "no", ""):
        return None
    if configured:
        return Path(configured)
    return cache_root() / "judgments.sqlite"


def sample_key(settings_fingerprint: str, sample: Sample) -> str:
    """The cache key of `sample` judged by a judge with `settings_fingerprint`."""
    content = sample.model_dump(
        mode="json", include={"prompt", "messages", "response", "reference"}
    )
    return stable_hash([settings_fingerprint, content])


def uncacheable_reason(judge: Judge) -> str | None:
    """Why the judgments of `judge` must not be reused (None: they may)."""
    settings = judge.settings
    if not judge.backend.capabilities.cacheable:
        return f"backend {judge.backend.model_id!r} declares its answers not cacheable"
    sampled = settings.temperature > 0 or settings.samples > 1 or settings.principles > 0
    if sampled and settings.seed is None:
        return "sampled decoding with seed=None draws a new judgment every time"
    return None


class JudgmentCache:
    """Judgments by content key, in a SQLite file shared by processes.

    Args:
        path: The database file (created with its folder).
        max_entries: Most judgments kept; beyond it the least recently used are dropped.
        busy_timeout_s: How long a write waits for another process's lock before the cache
            gives up (and turns itself off with a warning).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        busy_timeout_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self.rejected = 0
        """Entries that failed their digest check (served as misses, then replaced)."""
        self.broken: str | None = None
        """Why the cache turned itself off (None while it works)."""
        self.told: set[str] = set()
        """Reasons for not using the cache already logged (each is logged once)."""
        self._lock = threading.Lock()
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._upgrade()
        except sqlite3.Error:
            self._db.close()
            raise

    def _upgrade(self) -> None:
        """Create the table, or drop a store of an older format (entries that have no digest)."""
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"store format {version} is newer than this judge's ({SCHEMA_VERSION})"
            )
        self._db.execute("BEGIN IMMEDIATE")  # one process upgrades; the others wait, then see it
        try:
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            dropped = 0
            if version < SCHEMA_VERSION:
                old = self._db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'judgments'"
                ).fetchone()
                if old is not None:
                    (dropped,) = self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()
                    self._db.execute("DROP TABLE judgments")
                self._db.execute(_SCHEMA)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.commit()
        except sqlite3.Error:
            self._db.rollback()
            raise
        if dropped:
            logger.warning(
                "judgment cache %s: %d entries of an older format (no digest to check them "
                "by) dropped; they are judged again when asked for",
                self.path,
                dropped,
            )

    def _give_up(self, exc: Exception) -> None:
        """Turn the cache off for this process, with one warning (called under the lock)."""
        if self.broken is None:
            self.broken = f"{type(exc).__name__}: {exc}"
            logger.warning(
                "judgment cache %s failed (%s); judging without it from now on "
                "(delete the file, or pass --no-cache)",
                self.path,
                self.broken,
            )

    def get_many(self, keys: list[str]) -> dict[str, Judgment]:
        """The stored judgments among `keys` (counted as hits; the rest as misses)."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, Judgment] = {}
        with self._lock:
            if self.broken is None and not self._closed:
                try:
                    found = self._select(unique)
                except (sqlite3.Error, ValueError) as exc:
                    self._give_up(exc)
                    found = {}
            hits = sum(key in found for key in keys)
            before = self.hits + self.misses
            self.hits += hits
            self.misses += len(keys) - hits
            if (self.hits + self.misses) // 1000 > before // 1000:
                logger.info(
                    "judgment cache %s: %d hits, %d misses", self.path, self.hits, self.misses
                )
        return found

    def _select(self, unique: list[str]) -> dict[str, Judgment]:
        found: dict[str, Judgment] = {}
        rejected: list[str] = []
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, judgment, digest FROM judgments WHERE key IN ({marks})", chunk
            ).fetchall()
            for key, text, digest in rows:
                judgment = _checked(key, text, digest)
                if judgment is None:
                    rejected.append(key)
                else:
                    found[key] = judgment
        if rejected:
            marks = ",".join("?" * len(rejected))
            self._db.execute(f"DELETE FROM judgments WHERE key IN ({marks})", rejected)
            self.rejected += len(rejected)
            logger.warning(
                "judgment cache %s: %d entries failed their digest check (edited or corrupted); "
                "not served, judged again and replaced",
                self.path,
                len(rejected),
            )
        if found:
            marks = ",".join("?" * len(found))
            self._db.execute(
                f"UPDATE judgments SET used = ? WHERE key IN ({marks})", [time.time(), *found]
            )
        if found or rejected:
            self._db.commit()
        return found

    def put_many(self, entries: list[tuple[str, Judgment]]) -> None:
        """Store successful judgments; trim to `max_entries`."""
        texts = [
            (key, judgment.model_dump_json())
            for key, judgment in entries
            if judgment.error is None and judgment.score is not None
        ]
        now = time.time()
        rows = [(key, text, entry_digest(key, text), now) for key, text in texts]
        if not rows:
            return
        with self._lock:
            if self.broken is not None or self._closed:
                return
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO judgments (key, judgment, digest, used) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
                (count,) = self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()
                if count > self.max_entries:
                    self._db.execute(
                        "DELETE FROM judgments WHERE key IN "
                        "(SELECT key FROM judgments ORDER BY used LIMIT ?)",
                        (count - self.max_entries,),
                    )
                self._db.commit()
            except sqlite3.Error as exc:
                self._db.rollback()
                self._give_up(exc)

    def __len__(self) -> int:
        with self._lock:
            if self.broken is not None or self._closed:
                return 0
            try:
                (count,) = self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()
            except sqlite3.Error as exc:
                self._give_up(exc)
                return 0
        return int(count)

    def counts(self) -> dict[str, int]:
        """Hits, misses and stored entries, for logs and `/health`."""
        return {"hits": self.hits, "misses": self.misses, "entries": len(self)}

    def close(self) -> None:
        """Log the counts and close the database."""
        logger.info("judgment cache %s: %s", self.path, self.counts())
        with self._lock:
            self._closed = True
            self._db.close()


def _checked(key: str, text: str, digest: str) -> Judgment | None:
    """The stored judgment if its digest matches and it reads as a judgment, else None."""
    if not isinstance(text, str) or digest != entry_digest(key, text):
        return None
    try:
        return Judgment.model_validate_json(text)
    except ValueError:
        return None


CacheChoice = JudgmentCache | str | Path | bool | None
"""What callers pass as ``cache=``: True (the default store), False or None (off), a path, or a
`JudgmentCache`."""


def open_cache(
    choice: CacheChoice, *, max_entries: int = DEFAULT_MAX_ENTRIES
) -> JudgmentCache | None:
    """The cache a caller asked for: True the default store, False/None none, or a path.

    A store that cannot be opened (unwritable, not a database) is no cache, with one warning.
    """
    if isinstance(choice, JudgmentCache):
        return choice
    if choice is None or choice is False:
        return None
    path = default_cache_path() if choice is True else Path(choice)
    if path is None:
        return None
    try:
        return JudgmentCache(path, max_entries=max_entries)
    except (sqlite3.Error, OSError) as exc:
        logger.warning(
            "judgment cache %s cannot be opened (%s: %s); judging without it",
            path,
            type(exc).__name__,
            exc,
        )
        return None


def for_sample(judgment: Judgment, sample: Sample) -> Judgment:
    """A cached judgment as the judgment of `sample`: its id, and no model usage."""
    return judgment.model_copy(update={"sample_id": sample.id, "usage": Usage()})


def judge_samples(
    judge: Judge,
    samples: list[Sample],
    cache: JudgmentCache | None,
    *,
    deadline: float | None = None,
) -> list[Judgment]:
    """`judge.score(samples, deadline=deadline)`, answering from `cache` where it can.

    Identical samples (a GRPO group's repeated completions) are judged once.
    """
    if cache is None:
        return judge.score(samples, deadline=deadline)
    reason = uncacheable_reason(judge)
    if reason is not None:
        if reason not in cache.told:
            cache.told.add(reason)
            logger.info("judgment cache %s not used: %s", cache.path, reason)
        return judge.score(samples, deadline=deadline)
    fingerprint = judge.settings_fingerprint
    keys = [sample_key(fingerprint, sample) for sample in samples]
    found = cache.get_many(keys)
    first_of: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key not in found:
            first_of.setdefault(key, index)
    unseen = [samples[i] for i in first_of.values()]
    judged = judge.score(unseen, deadline=deadline) if unseen else []
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

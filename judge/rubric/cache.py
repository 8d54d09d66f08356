"""An on-disk cache of refined rubrics, keyed by a fingerprint of everything that shaped them.

An RL run or a batch job that meets the same prompt again (same input rubric, pool, settings,
model and templates) reads the refined rubric back instead of paying for the rounds again.
Entries are JSON files written atomically; an unreadable entry is ignored (and overwritten).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from judge.paths import cache_root
from judge.storage import write_atomic
from judge.types import Rubric

logger = logging.getLogger(__name__)


class RubricCache:
    """Refined rubrics stored as ``<directory>/<key>.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def default(cls) -> RubricCache:
        """The cache under the judge cache root (``$JUDGE_CACHE_DIR``/rubrics or the user cache)."""
        return cls(cache_root() / "rubrics")

    def path(self, key: str) -> Path:
        """Where the entry for `key` lives."""
        return self.directory / f"{key}.json"

    def get(self, key: str) -> tuple[Rubric, dict[str, Any]] | None:
        """The cached rubric and its recorded stats, or None on a miss or an unreadable entry."""
        path = self.path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Rubric.model_validate(data["rubric"]), dict(data.get("stats", {}))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            logger.warning("ignoring unreadable rubric cache entry %s: %s", path, exc)
            return None

    def put(self, key: str, rubric: Rubric, stats: dict[str, Any]) -> Path:
        """Store `rubric` under `key` (atomically: readers never see half a file)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = {"rubric": rubric.model_dump(mode="json"), "stats": stats}
        return write_atomic(self.path(key), json.dumps(payload, ensure_ascii=False, indent=1))

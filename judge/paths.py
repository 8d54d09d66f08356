"""Where the shipped resources (prompts, rubrics) and the user's cache live."""

from __future__ import annotations

import os
from pathlib import Path

from judge.errors import TemplateError


def resource_dir(name: str) -> Path:
    """Find a shipped resource folder (`prompts`, `rubrics`) in a wheel or in a source checkout."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "_resources" / name, package_dir.parent / name):
        if candidate.is_dir():
            return candidate
    raise TemplateError(
        f"resource folder {name!r} not found next to {package_dir}",
        hint="reinstall judge: `pip install .` ships prompts/ and rubrics/ inside the package",
    )


def cache_root() -> Path:
    """Where judge keeps its caches (``$JUDGE_CACHE_DIR`` or the user cache dir)."""
    configured = os.environ.get("JUDGE_CACHE_DIR")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("judge"))

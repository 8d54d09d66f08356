"""Find the README's code snippets by their marker line (``<!-- snippet: NAME -->``)."""

from __future__ import annotations

import pytest

from tests.conftest import REPO

SOURCES = (REPO / "README.md",)


def snippet(name: str) -> str:
    """The first fenced code block after the marker, from README.md (or the draft)."""
    marker = f"<!-- snippet: {name} -->"
    for path in SOURCES:
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        if marker not in lines:
            continue
        rest = lines[lines.index(marker) + 1 :]
        start = next(i for i, line in enumerate(rest) if line.startswith("```"))
        end = next(
            i for i, line in enumerate(rest[start + 1 :], start + 1) if line.startswith("```")
        )
        return "\n".join(rest[start + 1 : end]) + "\n"
    pytest.fail(f"README.md has no {marker} block: the README snippet tests need it")

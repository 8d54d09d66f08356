"""Find the docs' code snippets by their marker line (``<!-- snippet: NAME -->``).

The snippets live in the docs pages (docs/**/*.md) and the README; each marker names one block,
in one file, and the tests run that block as written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO


def sources() -> list[Path]:
    """Every Markdown file a snippet may live in."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def snippet(name: str) -> str:
    """The first fenced code block after the marker, from the one file that has the marker."""
    marker = f"<!-- snippet: {name} -->"
    found = [path for path in sources() if marker in path.read_text(encoding="utf-8").splitlines()]
    if len(found) != 1:
        where = ", ".join(str(path.relative_to(REPO)) for path in found) or "no file"
        pytest.fail(f"{marker} must be in exactly one docs page or the README; found in {where}")
    lines = found[0].read_text(encoding="utf-8").splitlines()
    rest = lines[lines.index(marker) + 1 :]
    start = next(i for i, line in enumerate(rest) if line.startswith("```"))
    end = next(i for i, line in enumerate(rest[start + 1 :], start + 1) if line.startswith("```"))
    return "\n".join(rest[start + 1 : end]) + "\n"

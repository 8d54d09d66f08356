"""MkDocs hook: render the Typer app's commands and options into the CLI reference page.

The page holds a marker line; the hook replaces it with Typer's own Markdown for the app
(what ``typer judge._cli utils docs`` prints), so the reference is the code's `--help`.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- cli-reference -->"


def _reference() -> str:
    import typer
    import typer.main
    from typer.cli import MARKUP_MODE_KEY, get_docs_for_click

    from judge._cli import app

    command = typer.main.get_command(app)
    context = typer.Context(command)
    context.obj = {MARKUP_MODE_KEY: app.rich_markup_mode}
    text = get_docs_for_click(obj=command, ctx=context, name="judge", title="`judge`")
    # One level below the page title; Typer escapes quotes as HTML entities, which Markdown keeps.
    lines = [f"#{line}" if line.startswith("#") else line for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Put the rendered reference where the page has the marker."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, _reference())

"""`judge doctor`: which backends work on this machine, and why the others do not."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from judge.commands.render import console

DOCTOR_HELP = "Which backends work here, and why not. Example: judge doctor"


def doctor(
    sglang_url: Annotated[
        str | None,
        typer.Option(help="SGLang server to probe (default: $SGLANG_URL or 127.0.0.1:30000)."),
    ] = None,
    openai_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL to probe (…/v1).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per HTTP probe.")] = 2.0,
) -> None:
    """Check every backend; exit 0 if at least one works, 3 if none does.

    Example: judge doctor --sglang-url http://127.0.0.1:30000
    """
    from judge.backends.doctor import diagnose

    statuses = diagnose(sglang_url=sglang_url, openai_url=openai_url, timeout=timeout)
    table = Table("backend", "status", "detail", show_header=True, header_style="bold")
    colour = {"ok": "green", "unavailable": "red", "not checked": "yellow"}
    for status in statuses:
        hint = f"\n[dim]{escape(status.hint)}[/dim]" if status.hint else ""
        detail = escape(status.detail) + hint
        table.add_row(status.name, f"[{colour[status.status]}]{status.status}[/]", detail)
    console.print(table)
    if not any(status.available for status in statuses):
        raise typer.Exit(3)

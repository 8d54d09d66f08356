"""`judge view`: see, compare and label judgments in the browser, or write a static site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from judge.commands.render import console

VIEW_HELP = "See, compare and label judgments in the browser. Example: judge view scored.jsonl"


def view(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="One run (judgments JSONL, batch output .jsonl/.parquet, a Ray output folder, "
            "an eval or probe report folder), or two to compare by id."
        ),
    ],
    host: Annotated[
        str, typer.Option(help="Address to listen on; any but loopback needs the token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(help="The token the page must send (default: a fresh one off loopback)."),
    ] = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="View without labelling (takes no lock).")
    ] = False,
    bundle: Annotated[
        Path | None,
        typer.Option(help="Write a static, read-only site to this folder instead of serving."),
    ] = None,
) -> None:
    """Serve a page over judge outputs: filter, open a sample, label it, compare two runs.

    Labels go to <run>.labels.jsonl beside the run (judge calibrate fit --labels reads them).
    Example: judge view scored.jsonl
    """
    if bundle is not None:
        from judge.view.bundle import write_bundle

        index = write_bundle(runs, bundle)
        console.print(f"static site written: open {index}")
        return
    from judge.view.server import serve_view

    server = serve_view(runs, host=host, port=port, token=token, read_only=read_only)
    console.print(f"judge view: {server.url}  (Ctrl-C to stop)", highlight=False, soft_wrap=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()

"""Commands are thin: parse, one library call, render. No command body is a pipeline."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

from typer.main import get_command

from judge import _cli as cli

MAX_BODY_LINES = 60


def command_bodies() -> dict[str, int]:
    """Every command of the CLI -> the lines of its body below the options and the docstring."""
    bodies: dict[str, int] = {}

    def walk(command: Any, path: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])
        callback = getattr(command, "callback", None)
        if hasattr(command, "commands") or callback is None:
            return
        function = inspect.unwrap(callback)
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        definition = tree.body[0]
        assert isinstance(definition, ast.FunctionDef)
        body = definition.body
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring is the command's help, not its body
        last = body[-1].end_lineno or body[-1].lineno
        bodies[" ".join(path)] = last - body[0].lineno + 1

    walk(get_command(cli.app), [])
    return bodies


def test_no_command_body_is_a_pipeline():
    bodies = command_bodies()
    assert {"eval", "batch", "probe", "score", "compare", "serve"} <= set(bodies)
    long = {name: lines for name, lines in bodies.items() if lines > MAX_BODY_LINES}
    assert not long, f"command bodies over {MAX_BODY_LINES} lines: {long}"

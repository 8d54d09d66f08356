"""Run the `judge` command line in-process, as a user's shell would: exit code, stdout, stderr."""

from __future__ import annotations

from typing import Any

from judge import _cli as cli


def run_judge(monkeypatch: Any, capsys: Any, *args: str) -> tuple[int, str, str]:
    """``judge ARGS...`` through `cli.main` (pytest's monkeypatch and capsys fixtures).

    The exit code is the SystemExit's (0 when the command returns or exits without a code).
    """
    monkeypatch.setattr("sys.argv", ["judge", *args])
    try:
        cli.main()
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err

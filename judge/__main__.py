"""Entry point of the `judge` command (and ``python -m judge``)."""

from __future__ import annotations

import os


def main() -> None:
    """Run the CLI."""
    # This is the `judge` command's own process, so it may set process-wide state; the library
    # never does (it runs inside trainers). Set before torch and transformers load (the CLI
    # imports them lazily). libgomp's default busy-wait makes every small matmul much slower as
    # soon as another process competes for the cores; a passive wait costs nothing when the
    # cores are free. Transformers' load chatter and progress bars are not the CLI's output.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # The repository's top-level cli.py: judge/_cli.py is a symlink to it in a checkout, and the
    # wheel ships the file under that name.
    from judge._cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()

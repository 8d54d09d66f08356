"""Entry point of the `judge` command (and ``python -m judge``)."""

from __future__ import annotations

import os


def main() -> None:
    """Run the CLI."""
    # Set before torch loads (the CLI imports it lazily): see backends/transformers/backend.py.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # The repository's top-level cli.py: judge/_cli.py is a symlink to it in a checkout, and the
    # wheel ships the file under that name.
    from judge._cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()

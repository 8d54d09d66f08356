"""Entry point of the `judge` command (and ``python -m judge``)."""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def _cli_module() -> ModuleType:
    # In a wheel, cli.py ships as judge/_cli.py; in a source checkout it is the top-level cli.py.
    try:
        return importlib.import_module("judge._cli")
    except ModuleNotFoundError:
        return importlib.import_module("cli")


def main() -> None:
    """Run the CLI."""
    # Set before torch loads (the CLI imports it lazily): see backends/transformers/backend.py.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _cli_module().main()


if __name__ == "__main__":
    main()

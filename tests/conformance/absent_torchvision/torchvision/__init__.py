"""Placeholder package (see torchvision/_absent.py)."""

from torchvision._absent import Absent

__version__ = "0.0"


def __getattr__(name: str) -> Absent:
    return Absent(name)

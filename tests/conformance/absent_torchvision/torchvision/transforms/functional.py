"""Placeholder module (see torchvision/_absent.py)."""

from torchvision._absent import Absent


def __getattr__(name: str) -> Absent:
    return Absent(name)

"""Stopping work nobody waits for: request deadlines checked between decode steps and layers.

A request's `deadline` (``time.monotonic()`` seconds) passes when every caller waiting for it
has given up. Between decode steps a row past it stops producing tokens; when every row of a
batch is past it, a pre-hook on each of the model's repeated blocks stops the forward pass
itself (a long prefill of a large batch included), so a stopped batch frees the model within
one layer's time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from judge.backends.base import seconds_left
from judge.types import GenerationRequest


class Abandoned(Exception):
    """Raised inside the model's forward pass when every row of the batch is past its deadline."""


def model_layers(model: Any) -> list[Any]:
    """The model's repeated blocks (its largest ModuleList): where a forward pass can stop."""
    import torch

    lists: list[torch.nn.ModuleList] = [
        m for m in model.modules() if isinstance(m, torch.nn.ModuleList)
    ]
    return list(max(lists, key=lambda blocks: sum(1 for _ in blocks))) if lists else []


def batch_deadline(requests: Sequence[GenerationRequest]) -> float | None:
    """When nobody waits for any row of a batch: the latest deadline (None if a row has none)."""
    deadlines = [request.deadline for request in requests]
    return None if None in deadlines else max(d for d in deadlines if d is not None)


def deadline_error(request: GenerationRequest, when: str) -> str | None:
    """The error of a request whose deadline has passed (None while it has not)."""
    left = seconds_left(request)
    if left is None or left > 0:
        return None
    return f"the deadline passed {when}: generation stopped (nobody waits for it)"


class AbandonCheck:
    """A forward pre-hook that raises `Abandoned` once `at` (monotonic seconds) has passed."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self, module: Any, args: Any) -> None:
        """Called by torch before each block's forward."""
        if self.at is not None and time.monotonic() >= self.at:
            raise Abandoned

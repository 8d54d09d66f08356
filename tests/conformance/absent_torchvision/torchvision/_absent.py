"""An inert stand-in for torchvision, which sglang's multimodal config modules import.

No CPU torchvision wheel matching torch 2.13 installs here; the conformance tests never touch
image code, and anything that does call into this placeholder fails loudly.
"""

from typing import Any


class Absent:
    """A torchvision attribute that exists only so sglang's imports succeed."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> "Absent":
        return Absent(f"{self._name}.{attr}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"torchvision is absent in the conformance tests: {self._name}")

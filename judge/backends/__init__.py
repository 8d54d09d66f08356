"""Model backends behind one protocol, created by name; heavy libraries load only when chosen."""

from __future__ import annotations

import importlib
from typing import Any

from judge.backends.base import Backend, Capabilities
from judge.errors import ConfigError

# name -> "module:factory"; modules are imported only when that backend is created,
# so `import judge` never loads torch, CUDA or sglang.
_REGISTRY: dict[str, str] = {
    "transformers": "judge.backends.transformers:TransformersBackend",
    "sglang": "judge.backends.sglang.engine:SGLangEngineBackend",
    "sglang-server": "judge.backends.sglang.server:SGLangServerBackend",
    "openai": "judge.backends.openai:OpenAIBackend",
}


def register_backend(name: str, target: str) -> None:
    """Register a backend factory as ``"package.module:callable"``."""
    _REGISTRY[name] = target


def backend_target(name: str) -> str:
    """The ``"module:factory"`` a backend name stands for (to register it in another process)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown backend {name!r}",
            hint=f"choose one of: {', '.join(available_backends())}",
        ) from None


def available_backends() -> list[str]:
    """Names that `create_backend` accepts."""
    return sorted(_REGISTRY)


def create_backend(name: str, **options: Any) -> Backend:
    """Create the backend called `name` with its options (e.g. ``model=...``)."""
    target = backend_target(name)
    module_name, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    backend: Backend = factory(**options)
    return backend


__all__ = [
    "Backend",
    "Capabilities",
    "available_backends",
    "backend_target",
    "create_backend",
    "register_backend",
]

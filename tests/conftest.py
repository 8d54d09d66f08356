"""Shared fixtures: a scripted backend that answers verdict requests, and the repo paths."""

from __future__ import annotations

import os

# Before anything imports torch: libgomp's busy-wait makes small matmuls much slower whenever
# another process (a test server) competes for the 2 cores (judge/backends/transformers/backend.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from collections.abc import Callable
from pathlib import Path

import pytest

from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.types import GenerationRequest
from tests.doubles.scripted import verdict_reply

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data_dir() -> Path | None:
    """The released benchmarks the tests read: ``$JUDGE_DATA_DIR``, else ``../shared/data``.

    None where neither exists, so the tests that need them skip. Only tests and benchmarks look
    for this folder; the package reads the paths it is given.
    """
    configured = os.environ.get("JUDGE_DATA_DIR")
    candidate = Path(configured) if configured else SHARED_DATA
    return candidate if candidate.is_dir() else None


@pytest.fixture
def scripted() -> Callable[..., ScriptedBackend]:
    """Make a ScriptedBackend whose P(yes) per request comes from a function of the request."""

    def make(
        p_yes: Callable[[GenerationRequest], float] | float = 0.8, **kwargs: object
    ) -> ScriptedBackend:
        def responder(request: GenerationRequest, index: int) -> ScriptedReply:
            value = p_yes(request) if callable(p_yes) else p_yes
            return verdict_reply(value)

        return ScriptedBackend(responder, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the dequantized-model cache out of the user's home unless one is configured."""
    os.environ.setdefault("JUDGE_CACHE_DIR", str(Path.home() / ".cache" / "judge"))
    # The judgment cache is on by default; a store shared by tests would answer one test with
    # another's judgment (and hide model calls a test counts). Cache tests give their own path.
    os.environ.setdefault("JUDGE_JUDGMENT_CACHE", "off")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs llama-cpp-python's server `llama_server`.

    CI runs the other tests first and builds the server (minutes) only after them, so a failure
    shows early (`make check`).
    """
    for item in items:
        if "llama_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.llama_server)

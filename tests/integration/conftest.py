"""Fixtures for tests that run the real embedded model."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedded_backend():
    """The embedded SmolLM2-135M on CPU, loaded once per test session."""
    from judge.backends.transformers import TransformersBackend

    backend = TransformersBackend()
    yield backend
    backend.close()

"""One answer per input: a sample's verdicts do not depend on the batch it lands in.

On the real embedded model with the default compute dtype (float32 on every CPU): each sample
judged alone, in one batch with samples of other lengths, in small batches in another order,
and without shared-prefix groups, gives the same P(yes) within `TOLERANCE` (the figure
docs/determinism.md states). bfloat16 is the counter-example the default avoids.
"""

from __future__ import annotations

import pytest

from judge.errors import ConfigError
from judge.runner.judge import Judge
from judge.types import Sample

pytestmark = [pytest.mark.slow, pytest.mark.embedded_model]

TOLERANCE = 1e-4
"""Largest |P(yes) difference| allowed between two batch layouts of the same sample."""

SAMPLES = [
    Sample(id="short", prompt="What is 12 * 12?", response="144"),
    Sample(id="wrong", prompt="What is the capital of France?", response="Berlin."),
    Sample(
        id="haiku",
        prompt="Write a haiku about rain.",
        response="Rain taps on the roof\nsoft drums in the quiet night\nthe garden drinks deep",
    ),
    Sample(
        id="long",
        prompt="Explain in two sentences why the sky is blue.",
        response="Air molecules scatter short blue wavelengths of sunlight far more than red "
        "ones (Rayleigh scattering). So light reaching us from every part of the sky is "
        "mostly blue.",
    ),
]


def _p_yes(backend, samples, *, batch_size, prefix_sharing, reasoning="none"):
    backend.batch_size, backend.prefix_sharing = batch_size, prefix_sharing
    judge = Judge(backend, "helpfulness", reasoning=reasoning, max_rationale_chars=60)
    judgments = judge.score(samples)
    assert all(j.error is None for j in judgments), [j.error for j in judgments]
    return {
        (j.sample_id, v.criterion_id): (v.p_yes, v.rationale, j.score)
        for j in judgments
        for v in j.verdicts
    }


@pytest.fixture
def restore_layout(embedded_backend):
    saved = embedded_backend.batch_size, embedded_backend.prefix_sharing
    yield embedded_backend
    embedded_backend.batch_size, embedded_backend.prefix_sharing = saved


def test_default_compute_is_float32_and_declared_batch_invariant(embedded_backend):
    capabilities = embedded_backend.capabilities
    assert capabilities.compute_dtype == "float32"
    assert capabilities.batch_invariant is True
    # a judge that requires it accepts the default backend
    assert Judge(embedded_backend, "helpfulness", batch_invariant=True).settings.batch_invariant


def test_p_yes_is_the_same_whatever_batch_the_sample_lands_in(restore_layout):
    backend = restore_layout
    alone: dict = {}
    for sample in SAMPLES:
        alone.update(_p_yes(backend, [sample], batch_size=1, prefix_sharing=True))
    layouts = {
        "one mixed batch": _p_yes(backend, SAMPLES, batch_size=16, prefix_sharing=True),
        "batches of 3, reversed": _p_yes(backend, SAMPLES[::-1], batch_size=3, prefix_sharing=True),
        "no shared prefixes": _p_yes(backend, SAMPLES, batch_size=16, prefix_sharing=False),
    }
    for name, got in layouts.items():
        assert got.keys() == alone.keys(), name
        worst = max(abs(got[key][0] - alone[key][0]) for key in alone)
        assert worst <= TOLERANCE, f"{name}: P(yes) moved by {worst:.2e}"
        worst_score = max(abs(got[key][2] - alone[key][2]) for key in alone)
        assert worst_score <= TOLERANCE, f"{name}: score moved by {worst_score:.2e}"


def test_bfloat16_is_not_declared_batch_invariant_and_a_strict_judge_refuses_it():
    from judge.backends.transformers import TransformersBackend

    backend = TransformersBackend(dtype="bfloat16")
    try:
        assert backend.capabilities.batch_invariant is False
        with pytest.raises(ConfigError, match="batch_invariant") as caught:
            Judge(backend, "helpfulness", batch_invariant=True)
        assert "float32" in (caught.value.hint or "")
    finally:
        backend.close()

"""generate, refine -> score on the embedded model: the mechanics, not the tiny model's taste."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from judge.errors import RubricError
from judge.library import dump_rubric, load_rubric_file, parse_rubric
from judge.rubric.cache import RubricCache
from judge.rubric.generate import generate_rubric
from judge.rubric.refine import refine
from judge.rubric.settings import GenerateSettings, RefineSettings
from judge.runner.judge import Judge
from judge.types import Generation, GenerationRequest, Sample

pytestmark = pytest.mark.slow

PROMPT = "Write a two-line poem about rain."
POOL = [
    "Rain taps the glass,\nthe gray hours pass.",
    "Rain is wet.",
    "I like sunny days at the beach.",
]
REASONS = (
    "screened:",
    "zero-pass:",
    "misaligned:",
    "redundant:",
    "polarity conflict",
    "unevaluated:",
)


class Counting:
    """Delegates to a backend and counts its batch calls."""

    def __init__(self, backend):
        self.backend = backend
        self.calls = 0

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    @property
    def capabilities(self):
        return self.backend.capabilities

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.calls += 1
        return self.backend.generate(requests)

    def close(self) -> None:
        return None


def test_generation_on_the_embedded_model_is_screened_not_copied(embedded_backend):
    """The 135M model echoes the template's example criteria: the screen drops every one and
    generation fails with the reason, rather than returning the template as a rubric."""
    backend = Counting(embedded_backend)
    with pytest.raises(RubricError) as caught:
        generate_rubric(
            backend,
            PROMPT,
            settings=GenerateSettings(
                min_criteria=2, max_criteria=2, max_criterion_chars=80, samples=2
            ),
        )
    assert backend.calls == 1, "every sample of the proposal in one batch"
    assert "copies the prompt template's example" in str(caught.value)
    assert (
        caught.value.hint
        and "stronger model" in caught.value.hint
        and "--proposals" in caught.value.hint
    )


def test_refine_score_on_the_embedded_model(embedded_backend, tmp_path):
    backend = Counting(embedded_backend)
    rubric = parse_rubric(
        {
            "name": "rain_poem",
            "description": "Judges a two-line poem about rain.",
            "criteria": [
                {"id": "two_lines", "kind": "hard_rule", "text": "The poem has two lines."},
                {"id": "about_rain", "kind": "principle", "text": "The poem is about rain."},
            ],
        },
        "test",
    )
    settings = RefineSettings(
        coarse_threshold=1,
        max_depth=1,
        max_rationale_chars=40,
        max_criterion_chars=80,
        max_examples=2,
        max_example_chars=200,
    )
    cache = RubricCache(tmp_path / "rubrics")
    backend.calls = 0
    result = refine(rubric, PROMPT, POOL, backend, settings=settings, cache=cache)
    stats = result.stats
    assert stats.backend_calls == len(stats.rounds) == backend.calls
    assert 1 <= len(stats.rounds) <= 3, "evaluate; decompose; evaluate the children"
    assert stats.evaluations >= len(rubric.criteria) * len(POOL)
    refined = result.rubric
    assert refined.leaves(), "never an empty rubric"
    assert sum(leaf.weight for leaf in refined.leaves()) == pytest.approx(1.0, abs=1e-4)
    assert refined.weighting.startswith("uniform: a pool of 3 responses")
    for dropped in refined.dropped:
        assert dropped.reason.startswith(REASONS), dropped.reason
    for criterion in refined.all_criteria():
        if criterion.provenance.source == "decomposed":
            assert criterion.provenance.parent in {c.id for c in refined.all_criteria()}
    path = tmp_path / "refined.yaml"
    path.write_text(dump_rubric(refined))
    assert load_rubric_file(path) == refined

    backend.calls = 0
    again = refine(rubric, PROMPT, POOL, backend, settings=settings, cache=cache)
    assert again.stats.cached and backend.calls == 0 and again.rubric == refined

    judge = Judge(backend=embedded_backend, rubric=refined, max_rationale_chars=40)
    [judgment] = judge.score([Sample(id="poem", prompt=PROMPT, response=POOL[0])])
    assert judgment.error is None and 0.0 <= judgment.score <= 1.0
    assert [v.criterion_id for v in judgment.verdicts] == [c.id for c in refined.leaves()]

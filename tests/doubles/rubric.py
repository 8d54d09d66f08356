"""A scripted backend factory for `judge rubric generate/refine` CLI tests (registered by name)."""

from __future__ import annotations

from judge.backends.scripted import ScriptedBackend
from tests.doubles.rubric_world import RubricWorld, keyword_judge

PROPOSAL = [
    ("The response is exactly two lines long.", "hard_rule"),
    ("The response evokes the sound of rain.", "principle"),
]
SPLIT = [
    ("The response names a sound that rain makes.", "principle"),
    ("The response describes how rain feels on skin.", "principle"),
]


def rubric_world(**options: object) -> ScriptedBackend:
    """Proposes PROPOSAL; 'sound' is met by every pool response and splits into SPLIT."""
    world = RubricWorld(
        satisfies=keyword_judge(
            {
                "two lines": {"Rain taps the glass,\nthe gray hours pass."},
                "evokes": {
                    "Rain taps the glass,\nthe gray hours pass.",
                    "Rain drums, rain hums.",
                    "Soft rain, loud rain.",
                },
                "names a sound": {"Rain drums, rain hums."},
                "feels": {"Soft rain, loud rain."},
            }
        ),
        proposal=PROPOSAL,
        decompositions={PROPOSAL[1][0]: SPLIT},
        pool=lambda seed, index: (
            ["Rain drums, rain hums.", "Soft rain, loud rain.", "Dry."][index % 3] + f" ({index})"
        ),
    )
    return ScriptedBackend(world, model_id="scripted-rubric-world")

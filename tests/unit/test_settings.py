import pytest

from judge import Judge, RubricReward, backends
from judge.errors import ConfigError
from judge.settings import DEFAULTS, JudgeSettings
from tests.doubles.scripted import RECORDED_OPTIONS, always_yes

CHANGED = {
    "strategy": "depth",
    "max_rationale_chars": 50,
    "reasoning": "after",
    "temperature": 0.3,
    "seed": 7,
    "score_rule": "cap",
    "reference_anchor": True,
    "retries": 3,
    "samples": 3,
    "sample_temperature": 0.9,
    "principles": 2,
    "likert": 5,
    "depth_criteria": 2,
    "max_solution_tokens": 128,
    "tie_margin": 0.1,
    "content_gate": True,
    "reference_depth": True,
    "batch_invariant": True,
    "abstain_band": 0.1,
}


def test_every_setting_is_documented_and_tested_here():
    assert set(JudgeSettings.model_fields) == set(CHANGED), "add the new setting to CHANGED"
    for name, info in JudgeSettings.model_fields.items():
        assert info.description, f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_every_setting_changes_the_fingerprint(name):
    assert DEFAULTS.updated(**{name: CHANGED[name]}).fingerprint != DEFAULTS.fingerprint


def test_a_new_field_changes_the_fingerprint_without_being_listed_anywhere():
    class Extended(JudgeSettings):
        rationale_language: str = "en"
        """A setting added later."""

    assert Extended().fingerprint != DEFAULTS.fingerprint
    french = Extended().updated(rationale_language="fr")
    assert isinstance(french, Extended) and french.fingerprint != Extended().fingerprint
    backend = always_yes()
    judges = [Judge(backend, "helpfulness", settings=s) for s in (Extended(), french)]
    assert judges[0].settings_fingerprint != judges[1].settings_fingerprint
    assert Judge(backend, "helpfulness", settings=french, retries=2).settings == french.updated(
        retries=2
    ), "keywords apply on the given settings and keep their class"


def test_judge_keywords_are_settings_and_the_rest_go_to_the_backend(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "recording", "tests.doubles.scripted:recording")
    judge = Judge("recording", "helpfulness", max_rationale_chars=60, model="m")
    assert judge.settings.max_rationale_chars == 60 and RECORDED_OPTIONS == {"model": "m"}
    assert judge.builder.max_rationale_chars == 60


@pytest.mark.parametrize(
    "values, message",
    [
        ({"strategy": "wide"}, "unknown strategy 'wide'"),
        ({"samples": 0}, "samples 0 < 1"),
        ({"likert": 10}, "likert scale 10 is outside 2..9"),
        ({"tie_margin": 0.5}, "tie_margin 0.5"),
        ({"reasoning": "later"}, "unknown reasoning 'later'"),
        ({"reasoning": "none", "samples": 3, "temperature": 0.5}, "samples 3 > 1 with reasoning"),
        ({"retries": "many"}, "retries: Input should be a valid integer"),
        ({"max_rationale_char": 5}, "max_rationale_char: unknown field"),
    ],
)
def test_bad_settings_are_one_line_config_errors(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        JudgeSettings.of(**values)
    assert "\n" not in str(info.value)


def test_settings_are_frozen():
    with pytest.raises(Exception, match="frozen"):
        DEFAULTS.retries = 5  # type: ignore[misc]


def test_reward_takes_the_reasoning_through_its_settings():
    reward = RubricReward("helpfulness", always_yes(), settings=JudgeSettings(reasoning="none"))
    assert reward.judge.builder.reasoning == "none"
    assert (
        reward.judge.settings_fingerprint
        != RubricReward("helpfulness", always_yes()).judge.settings_fingerprint
    )


def test_reward_takes_settings_and_applies_its_keywords_on_them():
    settings = JudgeSettings(max_rationale_chars=40)
    reward = RubricReward(
        "helpfulness",
        always_yes(),
        settings=settings,
        strategy="depth",
        judge_options={"retries": 2},
    )
    assert reward.settings == settings.updated(strategy="depth", retries=2)
    assert reward.judge.settings == reward.settings

import ast

import pytest

from judge import Judge, RubricReward, backends
from judge.errors import ConfigError
from judge.settings import DEFAULTS, JudgeSettings
from tests.conftest import REPO
from tests.doubles.scripted import RECORDED_OPTIONS, always_yes

CHANGED = {
    "strategy": "depth",
    "max_rationale_chars": 50,
    "reasoning": "after",
    "temperature": 0.3,
    "seed": 7,
    "score_rule": "cap",
    "reference_anchor": True,
    "holistic_weight": 0.5,
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


def test_judge_settings_are_keywords_and_backend_options_a_mapping_of_their_own(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "recording", "tests.doubles.scripted:recording")
    judge = Judge(
        "recording", "helpfulness", max_rationale_chars=60, backend_options={"model": "m"}
    )
    assert judge.settings.max_rationale_chars == 60 and RECORDED_OPTIONS == {"model": "m"}
    assert judge.builder.settings is judge.settings


def test_settings_given_either_way_are_equal():
    given = JudgeSettings(strategy="depth", retries=2, reasoning="after")
    keywords = {"strategy": "depth", "retries": 2, "reasoning": "after"}
    assert Judge(always_yes(), settings=given).settings == Judge(always_yes(), **keywords).settings
    reward = RubricReward("helpfulness", always_yes(), settings=given)
    assert reward.settings == RubricReward("helpfulness", always_yes(), **keywords).settings
    assert reward.settings == JudgeSettings.with_keywords(None, **keywords) == given


@pytest.mark.parametrize("make", [Judge, RubricReward])
def test_an_unknown_keyword_is_refused_with_the_list_of_settings(make, monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "recording", "tests.doubles.scripted:recording")
    RECORDED_OPTIONS.clear()
    with pytest.raises(ConfigError, match="unknown judge setting 'model'") as info:
        make("helpfulness" if make is RubricReward else "recording", model="m")
    assert "strategy, max_rationale_chars" in (info.value.hint or "")
    assert "backend_options" in (info.value.hint or "")
    assert RECORDED_OPTIONS == {}, "the unknown name reached the backend factory"


def test_a_built_backend_takes_no_backend_options():
    with pytest.raises(ConfigError, match="backend_options"):
        Judge(always_yes(), backend_options={"model": "m"})


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
    assert reward.judge.builder.settings.reasoning == "none"
    assert (
        reward.judge.settings_fingerprint
        != RubricReward("helpfulness", always_yes()).judge.settings_fingerprint
    )


def test_reward_takes_settings_and_applies_its_keywords_on_them():
    settings = JudgeSettings(max_rationale_chars=40)
    reward = RubricReward(
        "helpfulness", always_yes(), settings=settings, strategy="depth", retries=2
    )
    assert reward.settings == settings.updated(strategy="depth", retries=2)
    assert reward.judge.settings == reward.settings


# Fields named like a setting that mean something else; every other class reads JudgeSettings.
NOT_SETTINGS = {
    ("judge/backends/base.py", "Capabilities", "batch_invariant"): "what a backend guarantees",
    ("judge/generations.py", "SamplingParams", "temperature"): "one request's, from the settings",
    ("judge/generations.py", "SamplingParams", "seed"): "one request's, from the settings",
    ("judge/judgment_parts.py", "Agreement", "samples"): "draws a judgment holds (output)",
    ("judge/judgments.py", "Judgment", "strategy"): "the strategy that ran (output)",
    ("judge/judgments.py", "Judgment", "likert"): "the Likert rating (output)",
    ("judge/judgments.py", "PairJudgment", "strategy"): "the method that ran (output)",
    ("judge/prompting.py", "PromptContext", "max_rationale_chars"): "what a template renders",
    ("judge/prompting.py", "PromptContext", "reasoning"): "what a template renders",
    ("judge/runner/formats.py", "ChoiceFormat", "reasoning"): "one grammar's field order",
    ("judge/reward/serve.py", "ScoreRequest", "samples"): "the items of an HTTP request",
    ("judge/rubric/selection.py", "GeneratedRubric", "samples"): "proposals drawn (output)",
    ("calibration/jsonl.py", "EvalSet", "samples"): "the labelled items",
    ("calibration/recalibrate.py", "Calibrator", "temperature"): "temperature scaling's fit",
    ("calibration/tune_report.py", "TuneSummary", "seed"): "the bootstrap's seed (output)",
    **{
        ("judge/rubric/settings.py", "GenerateSettings", name): "rubric generation's own calls"
        for name in (
            "temperature",
            "seed",
            "retries",
            "samples",
            "sample_temperature",
            "max_rationale_chars",
        )
    },
    **{
        ("judge/rubric/settings.py", "RefineSettings", name): "refinement's own calls"
        for name in ("seed", "retries", "max_rationale_chars")
    },
}


def _setting_fields_declared_elsewhere() -> set[tuple[str, str, str]]:
    found = set()
    modules = [
        *sorted((REPO / "judge").rglob("*.py")),
        *sorted((REPO / "calibration").rglob("*.py")),
    ]
    for path in modules:
        if path.is_relative_to(REPO / "judge" / "calibration"):
            continue  # the symlink to calibration/, read once
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef) or node.name == "JudgeSettings":
                continue
            for item in node.body:
                target = item.target if isinstance(item, ast.AnnAssign) else None
                if isinstance(target, ast.Name) and target.id in JudgeSettings.model_fields:
                    found.add((path.relative_to(REPO).as_posix(), node.name, target.id))
    return found


def test_no_second_class_redeclares_a_setting():
    """RequestBuilder, the scoring and pair plans read the judge's JudgeSettings, never a copy."""
    redeclared = _setting_fields_declared_elsewhere()
    assert redeclared - set(NOT_SETTINGS) == set(), "read JudgeSettings instead of copying fields"
    assert set(NOT_SETTINGS) <= redeclared, "a listed field is gone: drop it from NOT_SETTINGS"

import json
import math

import pytest

from judge.backends.base import Capabilities
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.library import load_rubric
from judge.prompting import default_prompts
from judge.runner.aggregate import aggregate
from judge.runner.formats import verdict_regex
from judge.runner.judge import Judge
from judge.runner.parse import parse_verdict_text, read_verdict
from judge.runner.requests import RequestBuilder
from judge.types import Criterion, CriterionVerdict, ErrorKind, Generation, Rubric, Sample
from tests.doubles.scripted import verdict_reply

SAMPLES = [
    Sample(id="a", prompt="What is 2+2?", response="4"),
    Sample(id="b", prompt="Name a prime.", response="9", reference="7"),
]


def _rubric() -> Rubric:
    return Rubric(
        name="t",
        criteria=(
            Criterion(id="rule", text="Obeys the rule?", kind="hard_rule", weight=1),
            Criterion(id="good", text="Is it good?", weight=3),
        ),
    )


def test_plan_is_one_request_per_sample_and_criterion_prefix_first():
    planner = RequestBuilder(
        prompts=default_prompts(), capabilities=Capabilities(structured_output=True)
    )
    rubric = load_rubric("helpfulness")
    planned = planner.plan_verdicts(SAMPLES, rubric)
    assert len(planned) == 2 * len(rubric.leaves())
    # Requests of a sample are adjacent and share a group.
    assert [p.sample_index for p in planned] == [0] * 5 + [1] * 5
    assert {p.request.prefix_group for p in planned[:5]} == {"s0"}
    # The system message is identical everywhere; each user message differs only after the
    # shared part, and that part ends right before the criterion.
    for group in (planned[:5], planned[5:]):
        texts = [p.request.messages[1].content for p in group]
        assert len({p.request.messages[0] for p in planned}) == 1
        shared = len(_common_prefix(texts))
        for p, text in zip(group, texts, strict=True):
            assert p.criterion.text in text[shared - 20 :]
            assert text.index("</response>") < shared
    assert all(p.request.constraint and p.request.constraint.kind == "regex" for p in planned)
    assert planned[0].request.probe.marker == '"verdict": "'


def _common_prefix(texts):
    prefix = texts[0]
    for text in texts[1:]:
        while not text.startswith(prefix):
            prefix = prefix[:-1]
    return prefix


def test_plan_degrades_constraint_to_what_the_backend_honours():
    def constraint(caps):
        planner = RequestBuilder(prompts=default_prompts(), capabilities=caps)
        return planner.plan_verdicts(SAMPLES[:1], _rubric())[0].request.constraint

    assert constraint(Capabilities(structured_output=True)).kind == "regex"
    schema = constraint(Capabilities(structured_output=True, constraint_kinds=("json_schema",)))
    assert schema.kind == "json_schema" and json.loads(schema.value)["properties"]["verdict"][
        "enum"
    ] == ["yes", "no"]
    assert constraint(Capabilities(structured_output=False)) is None


def test_verdict_regex_accepts_well_formed_and_bounds_rationale():
    import re

    pattern = re.compile(verdict_regex(10))
    assert pattern.fullmatch('{"rationale": "short", "verdict": "no"}')
    assert not pattern.fullmatch('{"rationale": "far too long a text", "verdict": "no"}')
    assert not pattern.fullmatch('{"rationale": "a"b", "verdict": "yes"}')


@pytest.mark.parametrize(
    "text, verdict, rationale",
    [
        ('{"rationale": "fine", "verdict": "yes"}', "yes", "fine"),
        ('Sure! ```json\n{"rationale": "bad", "verdict": "NO"}\n```', "no", "bad"),
        ('{"verdict": "no"}', "no", ""),
    ],
)
def test_parse_reads_constrained_and_wrapped_outputs(text, verdict, rationale):
    assert parse_verdict_text(text) == (verdict, rationale)


def test_parse_failures_become_verdict_errors_never_scores():
    for generation in [
        Generation(request_id="x", text="I think it is fine"),
        Generation(request_id="x", text='{"rationale": "cut', finish_reason="length"),
        Generation(request_id="x", finish_reason="error", error="boom"),
    ]:
        verdict = read_verdict("c", generation)
        assert verdict.error and verdict.verdict is None and verdict.p_yes is None


def test_p_yes_is_renormalised_over_the_choices():
    verdict = read_verdict(
        "c",
        Generation(
            request_id="x",
            text='{"rationale": "", "verdict": "yes"}',
            choice_probs={"yes": 0.3, "no": 0.1},
        ),
    )
    assert verdict.p_yes == pytest.approx(0.75)


def test_aggregate_weighted_mean_and_hard_rule_cap_by_hand():
    criteria = list(_rubric().leaves())
    verdicts = [
        CriterionVerdict(criterion_id="rule", verdict="yes", p_yes=0.9),
        CriterionVerdict(criterion_id="good", verdict="yes", p_yes=0.7),
    ]
    result = aggregate(criteria, verdicts)
    assert result.score == pytest.approx((0.9 + 3 * 0.7) / 4)
    assert result.capped_by == ()
    assert result.confidence == pytest.approx((0.9 + 3 * 0.7) / 4)
    failed = [
        CriterionVerdict(criterion_id="rule", verdict="no", p_yes=0.2),
        CriterionVerdict(criterion_id="good", verdict="yes", p_yes=0.9),
    ]
    capped = aggregate(criteria, failed)
    assert capped.score == pytest.approx(0.2) and capped.capped_by == ("rule",)
    assert capped.confidence == pytest.approx((0.8 + 3 * 0.9) / 4)
    assert aggregate(criteria, failed, hard_rule_cap=False).score == pytest.approx((0.2 + 2.7) / 4)


def test_aggregate_without_probabilities_uses_verdicts_and_no_confidence():
    criteria = list(_rubric().leaves())
    verdicts = [
        CriterionVerdict(criterion_id="rule", verdict="yes"),
        CriterionVerdict(criterion_id="good", verdict="no"),
    ]
    result = aggregate(criteria, verdicts)
    assert result.score == pytest.approx(0.25) and result.confidence is None


def test_certain_verdicts_under_weights_summing_past_one_score_with_confidence_one(scripted):
    # weights [0.3, 2.0, 0.3] normalise to a sum of 1 + 1 ulp: the weighted confidence of
    # certain verdicts was 1.0000000000000002, and the Judgment failed validation (<= 1).
    weights = {"c0": 0.3, "c1": 2.0, "c2": 0.3}
    rubric = Rubric(
        name="ulp",
        criteria=[
            Criterion(id=key, text=f"Criterion {key} holds.", weight=weight)
            for key, weight in weights.items()
        ],
    )
    judgment = Judge(backend=scripted(lambda request: 1.0), rubric=rubric).score(SAMPLES[:1])[0]
    assert judgment.error is None and judgment.confidence == 1.0 and judgment.score == 1.0


def test_judge_scores_a_whole_call_in_one_backend_batch(scripted):
    backend = scripted(lambda request: 0.9 if request.id.endswith("/rule") else 0.6)
    judge = Judge(backend=backend, rubric=_rubric())
    judgments = judge.score(SAMPLES)
    assert backend.calls == 1 and len(backend.batches[0]) == 4
    assert judge.last_stats.backend_calls == 1
    for judgment in judgments:
        assert judgment.error is None
        assert judgment.score == pytest.approx((0.9 + 3 * 0.6) / 4)
        assert [v.criterion_id for v in judgment.verdicts] == ["rule", "good"]
        assert judgment.rubric_fingerprint == _rubric().fingerprint
        assert judgment.model == "scripted" and judgment.settings_fingerprint
    assert [j.sample_id for j in judgments] == ["a", "b"]


def test_malformed_output_is_retried_in_one_batch_then_recorded_as_failure():
    attempts: dict[str, int] = {}

    def responder(request, index):
        attempts[request.id] = attempts.get(request.id, 0) + 1
        if request.id == "s0/good" and attempts[request.id] == 1:
            return ScriptedReply(text="I refuse to answer in JSON")
        if request.id == "s1/good":
            return ScriptedReply(text="never valid")
        return verdict_reply(0.8)

    backend = ScriptedBackend(responder)
    judge = Judge(backend=backend, rubric=_rubric())
    first, second = judge.score(SAMPLES)
    assert backend.calls == 2
    assert [r.id for r in backend.batches[1]] == ["s0/good", "s1/good"]
    assert backend.batches[1][0].sampling.temperature > 0, "a greedy retry would repeat the failure"
    assert first.error is None and first.score is not None
    assert second.score is None and "good" in second.error and "no yes/no verdict" in second.error
    assert judge.last_stats.retried == 2


def test_backend_errors_are_values_per_sample():
    def responder(request, index):
        if request.id.startswith("s1/"):
            return ScriptedReply(
                text="",
                finish_reason="error",
                error="prompt is 9000 tokens > the model's context of 8192 tokens",
                error_kind=ErrorKind.CONTEXT_OVERFLOW,
            )
        return verdict_reply(0.7)

    backend = ScriptedBackend(responder)
    first, second = Judge(backend=backend, rubric=_rubric()).score(SAMPLES)
    assert first.score is not None
    assert second.score is None and "context" in second.error
    assert second.error_kind == ErrorKind.CONTEXT_OVERFLOW
    assert {v.error_kind for v in second.verdicts} == {ErrorKind.CONTEXT_OVERFLOW}
    assert backend.calls == 1, "an over-long prompt is not retried"


def test_no_probabilities_means_confidence_unavailable():
    backend = ScriptedBackend(
        lambda r, i: verdict_reply(0.9), capabilities=Capabilities(structured_output=True)
    )
    [judgment] = Judge(backend=backend, rubric=_rubric()).score(SAMPLES[:1])
    assert judgment.score == 1.0 and judgment.confidence is None
    assert "unavailable" in judgment.details["confidence"]
    assert all(v.p_yes is None for v in judgment.verdicts)


def test_settings_fingerprint_tracks_rubric_and_settings(scripted):
    base = Judge(backend=scripted(), rubric=_rubric())
    other_rubric = Judge(backend=scripted(), rubric=load_rubric("helpfulness"))
    other_setting = Judge(backend=scripted(), rubric=_rubric(), max_rationale_chars=50)
    assert (
        len(
            {
                base.settings_fingerprint,
                other_rubric.settings_fingerprint,
                other_setting.settings_fingerprint,
            }
        )
        == 3
    )
    assert (
        base.settings_fingerprint
        == Judge(backend=scripted(), rubric=_rubric()).settings_fingerprint
    )


def test_usage_is_summed_per_judgment(scripted):
    [judgment] = Judge(backend=scripted(), rubric=_rubric()).score(SAMPLES[:1])
    assert judgment.usage.prompt_tokens > 0 and judgment.usage.completion_tokens > 0
    assert not math.isnan(judgment.score)


def test_judgments_record_where_probabilities_came_from(scripted):
    [judgment] = Judge(backend=scripted(), rubric=_rubric()).score(SAMPLES[:1])
    assert judgment.details["probs_source"] == "scripted"


def test_judge_applies_a_calibrator_and_refuses_a_foreign_one(scripted, tmp_path):
    import numpy as np

    from judge.calibration.recalibrate import fit_calibrator, load_calibrator
    from judge.calibration.records import JudgeFingerprint
    from judge.errors import ConfigError

    judge = Judge(backend=scripted(0.9), rubric=_rubric())
    [raw] = judge.score(SAMPLES[:1])
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 400)
    y = rng.uniform(size=400) < 0.5 + (p - 0.5) / 3  # overconfident judge: truth is flatter
    calibrator = fit_calibrator(p, y, method="temperature", fingerprint=JudgeFingerprint.of(raw))
    path = calibrator.save(tmp_path / "cal.json")
    loaded = load_calibrator(path)
    [calibrated] = Judge(backend=scripted(0.9), rubric=_rubric(), calibrator=loaded).score(
        SAMPLES[:1]
    )
    assert calibrated.details["uncalibrated_score"] == pytest.approx(raw.score)
    assert 0.5 < calibrated.score < raw.score, "an overconfident score is pulled toward 0.5"
    other = Judge(backend=scripted(0.9), rubric=load_rubric("helpfulness"), calibrator=loaded)
    with pytest.raises(ConfigError, match="another judge configuration"):
        other.score(SAMPLES[:1])
    forced = Judge(
        backend=scripted(0.9),
        rubric=load_rubric("helpfulness"),
        calibrator=loaded,
        force_calibrator=True,
    )
    assert forced.score(SAMPLES[:1])[0].details["calibrator"] == "temperature"

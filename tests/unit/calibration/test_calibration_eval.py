"""`run_eval`: our Judge (on a scripted backend) over labelled sets, evaluated and reported."""

from __future__ import annotations

import json
import re

import pytest

from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.calibration.jsonl import EvalSet
from judge.calibration.recalibrate import fit_calibrator
from judge.calibration.records import JudgeFingerprint, LabelledPair, LabelledSample
from judge.calibration.report import write_report
from judge.calibration.run import run_eval
from judge.errors import ConfigError
from judge.runner.calibrating import apply_calibrator
from judge.runner.judge import Judge
from judge.types import GenerationRequest, Sample
from tests.doubles.scripted import verdict_reply

_RESPONSE = re.compile(r"<response>\n(.*?)\n</response>", re.DOTALL)
_FIRST = re.compile(r"<response_a>\n(.*?)\n</response_a>", re.DOTALL)
_SECOND = re.compile(r"<response_b>\n(.*?)\n</response_b>", re.DOTALL)


def response_of(request: GenerationRequest) -> str:
    match = _RESPONSE.search(request.messages[-1].content)
    assert match is not None, "the pointwise template shows the response in <response> tags"
    return match.group(1)


def direct_reply(p_first: float) -> ScriptedReply:
    winner = "A" if p_first >= 0.5 else "B"
    text = json.dumps({"rationale": "compared", "winner": winner})
    return ScriptedReply(text=text, choice_probs={"A": p_first, "B": 1.0 - p_first})


def length_loving_judge() -> Judge:
    """Prefers the longer response: P(yes) grows with length; in a direct comparison, the longer."""

    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        content = request.messages[-1].content
        first, second = _FIRST.search(content), _SECOND.search(content)
        if first and second:
            return direct_reply(0.9 if len(first.group(1)) > len(second.group(1)) else 0.1)
        length = len(response_of(request))
        return verdict_reply(length / (length + 50))

    return Judge(backend=ScriptedBackend(reply, model_id="scripted-long"), rubric="helpfulness")


def first_loving_judge() -> Judge:
    """In a direct comparison, always 80% sure the response shown first is better."""
    backend = ScriptedBackend(lambda request, _: direct_reply(0.8), model_id="scripted-first")
    return Judge(backend=backend, rubric="helpfulness")


def keyword_judge() -> Judge:
    """Says yes (P = 0.95) to responses containing 'correct', else no (P(yes) = 0.1)."""

    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        return verdict_reply(0.95 if "correct" in response_of(request) else 0.1)

    return Judge(backend=ScriptedBackend(reply, model_id="scripted-keyword"), rubric="helpfulness")


PAIRS = EvalSet(
    name="constructed",
    kind="pairwise",
    pairs=tuple(
        LabelledPair(
            id=f"p{i}",
            prompt=f"Question {i}?",
            response_a="short" if i % 2 else "a much longer answer " * (1 + i % 3),
            response_b="a much longer answer " * (1 + i % 3) if i % 2 else "short",
            label="a" if i % 3 else "b",
            category="even" if i % 2 == 0 else "odd",
        )
        for i in range(12)
    ),
)

SAMPLES = EvalSet(
    name="keywords",
    kind="pointwise",
    samples=tuple(
        LabelledSample(
            id=f"s{i}",
            prompt="Is it right?",
            response="this is correct" if i % 3 else "wrong",
            label=i % 3 != 0 or i == 9,
            category="x",
        )
        for i in range(12)
    ),
)


def longer_is_gold() -> list[bool]:
    return [(len(p.response_a) > len(p.response_b)) == (p.label == "a") for p in PAIRS.pairs]


def test_pairwise_eval_with_the_rubric_comparison_finds_the_length_bias(tmp_path):
    judge = length_loving_judge()
    progress: list[tuple[int, int]] = []
    evaluation = run_eval(
        judge, PAIRS, chunk_size=5, n_boot=50, progress=lambda d, t: progress.append((d, t))
    )
    assert progress == [(5, 12), (10, 12), (12, 12)]
    assert evaluation.judge == "scripted-long" and evaluation.n == 12
    assert evaluation.fingerprint is not None
    assert evaluation.fingerprint.rubric_fingerprint == judge.rubric.fingerprint
    # The rubric comparison judges each response on its own: no order, so no position bias.
    assert all(r.orders == "ab" and r.p_a_ab is not None for r in evaluation.records)
    assert evaluation.position is None and "one order" in evaluation.position_note
    assert evaluation.length is not None and evaluation.length.judge_prefers_longer == 1.0
    assert evaluation.length.accuracy_gap.value == 1.0
    assert evaluation.accuracy == pytest.approx(sum(longer_is_gold()) / 12)
    report = write_report(evaluation, tmp_path / "report")
    assert "judged in one order only" in report.read_text()


def test_pairwise_eval_with_the_direct_comparison_finds_the_position_bias():
    evaluation = run_eval(first_loving_judge(), PAIRS, pair_method="direct", n_boot=50)
    assert all(r.both_orders and r.p_a_ab == pytest.approx(0.8) for r in evaluation.records)
    assert all(r.p_a_ba == pytest.approx(0.2) for r in evaluation.records)
    position = evaluation.position
    assert position is not None and position.first_position_wins.value == 1.0
    assert position.consistency.value == 0.0 and position.accuracy_both == 0.0
    assert evaluation.accuracy == 0.0  # every pair flips with the order: never a decision
    assert evaluation.fingerprint is not None and evaluation.fingerprint.model == "scripted-first"


def test_pointwise_eval_reads_the_score_as_p_yes_and_applies_a_calibrator():
    judge = keyword_judge()
    evaluation = run_eval(judge, SAMPLES, n_boot=50)
    assert evaluation.kind == "pointwise" and evaluation.failed == 0
    assert evaluation.accuracy == pytest.approx(11 / 12)  # s9 is good but says "wrong"
    assert evaluation.records[0].p == pytest.approx(0.1)
    assert evaluation.fingerprint is not None and evaluation.fingerprint.model == "scripted-keyword"
    calibrator = fit_calibrator(
        [0.95] * 8 + [0.1] * 4, [1] * 7 + [0] + [0] * 3 + [1], fingerprint=evaluation.fingerprint
    )
    calibrated_judge = Judge(backend=judge.backend, rubric="helpfulness", calibrator=calibrator)
    calibrated = run_eval(calibrated_judge, SAMPLES, n_boot=0)
    assert calibrated.records[1].p == pytest.approx(float(calibrator.transform([0.95])[0]))
    stranger = calibrator.model_copy(update={"fingerprint": JudgeFingerprint(model="other")})
    with pytest.raises(ConfigError, match="fitted for another judge configuration"):
        run_eval(Judge(backend=judge.backend, calibrator=stranger), SAMPLES, n_boot=0)
    forced = Judge(backend=judge.backend, calibrator=stranger, force_calibrator=True)
    assert run_eval(forced, SAMPLES, n_boot=0).n == 12


def test_the_calibrated_value_in_an_eval_is_the_runners_calibrator_apply():
    """One place applies a calibrator: the eval's records hold what `apply_calibrator` gives."""
    judge = keyword_judge()
    raw = judge.score(
        [Sample(id=s.id, prompt=s.prompt, response=s.response) for s in SAMPLES.samples]
    )
    fingerprint = JudgeFingerprint.common(raw)
    calibrator = fit_calibrator(
        [0.95] * 8 + [0.1] * 4,
        [1] * 7 + [0] + [0] * 3 + [1],
        method="platt",
        fingerprint=fingerprint,
    )
    expected = [j.score for j in apply_calibrator(calibrator, raw)]
    assert expected != [j.score for j in raw]  # the calibrator moves the scores
    calibrated_judge = Judge(backend=judge.backend, rubric="helpfulness", calibrator=calibrator)
    evaluation = run_eval(calibrated_judge, SAMPLES, chunk_size=5, n_boot=0)
    assert [r.p for r in evaluation.records] == expected


def test_limit_takes_the_first_items():
    assert run_eval(keyword_judge(), SAMPLES, limit=4, n_boot=0).n == 4

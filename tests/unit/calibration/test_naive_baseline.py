"""The naive baseline in `run_eval`: same batches as the judge, paired differences, the report."""

from __future__ import annotations

import json
import re

import pytest

from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.calibration.drift import compare_with_naive
from judge.calibration.jsonl import EvalSet, load_eval_set
from judge.calibration.records import LabelledPair, LabelledSample
from judge.calibration.report import write_report
from judge.calibration.run import run_eval
from judge.errors import ConfigError
from judge.runner.judge import Judge
from judge.types import GenerationRequest
from tests.doubles.scripted import verdict_reply
from tests.unit.calibration.test_calibration_eval import SAMPLES, direct_reply

_FIRST = re.compile(r"<response_a>\n(.*?)\n</response_a>", re.DOTALL)
_SECOND = re.compile(r"<response_b>\n(.*?)\n</response_b>", re.DOTALL)
_RESPONSE = re.compile(r"<response>\n(.*?)\n</response>", re.DOTALL)


def is_naive(request: GenerationRequest) -> bool:
    return "#naive" in request.id


def keyword_backend(naive_p: float = 0.6) -> ScriptedBackend:
    """Criteria: yes (0.95) to 'correct', else 0.1. The naive question: `naive_p` to everything."""

    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        if is_naive(request):
            return verdict_reply(naive_p)
        match = _RESPONSE.search(request.messages[-1].content)
        assert match is not None
        return verdict_reply(0.95 if "correct" in match.group(1) else 0.1)

    return ScriptedBackend(reply, model_id="scripted-keyword")


def test_pointwise_baseline_runs_in_the_judges_batch_and_is_compared_per_metric(tmp_path):
    backend = keyword_backend()
    judge = Judge(backend=backend, rubric="helpfulness")
    evaluation = run_eval(judge, SAMPLES, chunk_size=12, n_boot=200, naive=True)
    # One backend call for 12 samples: the judge's verdicts and the baseline's question together.
    assert backend.calls == 1
    batch = backend.batches[0]
    naive_ids = [r.id for r in batch if is_naive(r)]
    assert len(naive_ids) == 12 and len(batch) == 12 * (1 + len(judge.rubric.leaves()))
    naive = evaluation.naive
    assert naive is not None and naive.naive_failed == 0
    checks = {check.measure: check for check in naive.checks}
    assert set(checks) == {"accuracy", "AUROC", "ECE"}
    assert not naive.skipped
    # The keyword judge separates the labels (all but item 9); the constant baseline cannot.
    auroc = checks["AUROC"]
    assert auroc.naive == pytest.approx(0.5) and auroc.judge > 0.9
    assert auroc.difference.value == pytest.approx(auroc.judge - auroc.naive)
    assert auroc.difference.low is not None and auroc.difference.high is not None
    assert auroc.difference.low <= auroc.difference.value <= auroc.difference.high
    assert not auroc.worse and auroc.paired
    # The baseline's records carry its own P(yes), not the judge's scores.
    assert [record.p for record in naive.naive_records] == pytest.approx([0.6] * 12)
    assert naive.naive_cost.prompt_tokens > 0 and naive.judge_cost.prompt_tokens > 0
    assert naive.judge_cost.prompt_tokens > naive.naive_cost.prompt_tokens
    report = write_report(evaluation, tmp_path / "report")
    text = report.read_text()
    assert "## Against the naive baseline" in text and "| AUROC | higher |" in text
    saved = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert [c["measure"] for c in saved["naive"]["checks"]] == ["accuracy", "AUROC", "ECE"]


def test_a_judge_worse_than_the_baseline_is_marked_worse():
    # The baseline knows the keyword; the judge answers 0.5 +/- noise unrelated to it.
    def reply(request: GenerationRequest, index: int) -> ScriptedReply:
        match = _RESPONSE.search(request.messages[-1].content)
        assert match is not None
        right = "correct" in match.group(1)
        if is_naive(request):
            return verdict_reply(0.9 if right else 0.1)
        return verdict_reply(0.9 if len(request.id) % 2 else 0.1)

    samples = EvalSet(
        name="many",
        kind="pointwise",
        samples=tuple(
            LabelledSample(
                id=f"s{i}", prompt="Q?", response="correct" if i % 2 else "no", label=i % 2 == 1
            )
            for i in range(40)
        ),
    )
    judge = Judge(backend=ScriptedBackend(reply), rubric="helpfulness")
    evaluation = run_eval(judge, samples, chunk_size=40, n_boot=200, naive=True)
    assert evaluation.naive is not None and evaluation.naive.judge_worse
    accuracy = next(c for c in evaluation.naive.checks if c.measure == "accuracy")
    assert accuracy.naive == 1.0 and accuracy.worse and accuracy.difference.high < 0


def test_the_reference_reaches_the_baseline_and_the_judge():
    seen: list[str] = []

    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        seen.append(request.messages[-1].content)
        return verdict_reply(0.7)

    data = EvalSet(
        name="ref",
        kind="pointwise",
        samples=(
            LabelledSample(id="a", prompt="2+2?", response="4", label=True, reference="four"),
            LabelledSample(id="b", prompt="2+3?", response="6", label=False),
        ),
    )
    judge = Judge(backend=ScriptedBackend(reply), rubric="helpfulness")
    run_eval(judge, data, n_boot=0, naive=True)
    with_reference = [text for text in seen if "<reference>\nfour\n</reference>" in text]
    # Every criterion of sample a and the baseline's question on it show the reference.
    assert len(with_reference) == len(judge.rubric.leaves()) + 1
    assert sum("Is the response correct?" in text for text in with_reference) == 1


def test_pairwise_baseline_asks_both_orders_and_measures_position_consistency():
    # Judge (direct): prefers the longer response. Baseline: always 80% for the first shown.
    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        if is_naive(request):
            return direct_reply(0.8)
        content = request.messages[-1].content
        first, second = _FIRST.search(content), _SECOND.search(content)
        if first is None or second is None:  # the rubric method's verdicts: by length
            response = _RESPONSE.search(content)
            assert response is not None
            return verdict_reply(0.9 if len(response.group(1)) > 10 else 0.1)
        return direct_reply(0.9 if len(first.group(1)) > len(second.group(1)) else 0.1)

    pairs = EvalSet(
        name="pairs",
        kind="pairwise",
        pairs=tuple(
            LabelledPair(
                id=f"p{i}",
                prompt=f"Q{i}?",
                response_a="long answer " * 3 if i % 2 else "short",
                response_b="short" if i % 2 else "long answer " * 3,
                label="a" if i % 2 else "b",
            )
            for i in range(20)
        ),
    )
    backend = ScriptedBackend(reply)
    judge = Judge(backend=backend, rubric="helpfulness")
    evaluation = run_eval(judge, pairs, pair_method="direct", chunk_size=20, n_boot=200, naive=True)
    assert backend.calls == 1
    ids = {r.id for r in backend.batches[0]}
    assert {"p0/#naive-ab", "p0/#naive-ba", "p0/ab", "p0/ba"} <= ids
    assert evaluation.naive is not None
    checks = {check.measure: check for check in evaluation.naive.checks}
    consistency = checks["position consistency"]
    assert consistency.judge == 1.0 and consistency.naive == 0.0
    assert consistency.difference.value == 1.0 and not consistency.worse
    # The baseline's swap-averaged P(a) is 1/2 on every pair: accuracy 0 (a tie is wrong).
    assert checks["accuracy"].naive == 0.0 and checks["accuracy"].judge == 1.0
    # The rubric method is order-free: its consistency is not compared, and the note says why.
    rubric_eval = run_eval(judge, pairs, n_boot=50, naive=True)
    assert rubric_eval.naive is not None
    assert any("order-free" in reason for reason in rubric_eval.naive.skipped)


def test_compare_with_naive_refuses_mixed_kinds():
    judge = Judge(backend=keyword_backend(), rubric="helpfulness")
    point = run_eval(judge, SAMPLES, n_boot=0)
    pairs = EvalSet(
        name="p",
        kind="pairwise",
        pairs=(LabelledPair(id="x", prompt="q", response_a="correct", response_b="no", label="a"),),
    )
    pair = run_eval(judge, pairs, n_boot=0)
    with pytest.raises(ConfigError):
        compare_with_naive(point, pair)


def test_jsonl_reference_is_read_and_must_be_text(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps({"prompt": "q", "response": "r", "label": True, "reference": "ref"}) + "\n"
    )
    assert load_eval_set(good).samples[0].reference == "ref"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "q", "response": "r", "label": True, "reference": 3}))
    with pytest.raises(Exception, match="reference 3 is not text"):
        load_eval_set(bad)

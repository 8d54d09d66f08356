"""Score rules: cap, mean, fitted (criteria fit through the calibrator path) and the anchor."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest

from judge import backends
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.calibration.criteria_fit import (
    CriteriaFit,
    fit_criteria,
    fit_from_judgments,
    fit_pair_criteria,
    load_criteria_fit,
    load_score_calibrator,
)
from judge.errors import ConfigError, InputError
from judge.runner.aggregate import aggregate, anchored
from judge.runner.judge import ANCHOR_ID, Judge
from judge.settings import DEFAULTS, JudgeSettings
from judge.types import Criterion, CriterionVerdict, GenerationRequest, Rubric, Sample
from tests.cli_main import run_judge
from tests.doubles.scripted import verdict_reply

RUBRIC = Rubric(
    name="two",
    description="d",
    criteria=(
        Criterion(id="rule", text="It follows the rule.", kind="hard_rule", weight=1.0),
        Criterion(id="style", text="It reads well.", weight=1.0),
    ),
)


def _verdict(criterion_id: str, p: float) -> CriterionVerdict:
    return CriterionVerdict(criterion_id=criterion_id, verdict="yes" if p >= 0.5 else "no", p_yes=p)


@pytest.mark.parametrize(
    ("agreement", "rest", "expected"),
    [(0.9, 1.0, 0.9), (0.9, 0.0, 0.7), (0.2, 0.0, 0.2), (0.2, 1.0, 0.35), (0.5, 0.0, 0.5)],
)
def test_anchored_keeps_the_side_of_the_anchor_and_moves_at_most_half_way(
    agreement, rest, expected
):
    assert anchored(agreement, rest) == pytest.approx(expected)


def test_anchored_is_monotone_in_both_arguments_and_never_crosses_one_half():
    grid = np.linspace(0.0, 1.0, 21)
    for agreement in grid:
        scores = [anchored(agreement, rest) for rest in grid]
        assert all(b >= a - 1e-12 for a, b in itertools.pairwise(scores))
        side = [s >= 0.5 for s in scores]
        assert all(value == (agreement >= 0.5) for value in side)
    for rest in grid:
        scores = [anchored(agreement, rest) for agreement in grid]
        assert all(b >= a - 1e-12 for a, b in itertools.pairwise(scores))


def test_cap_binds_to_the_weakest_hard_rule_and_mean_does_not():
    criteria = list(RUBRIC.criteria)
    verdicts = [_verdict("rule", 0.2), _verdict("style", 0.9)]
    assert aggregate(criteria, verdicts, hard_rule_cap=True).score == pytest.approx(0.2)
    assert aggregate(criteria, verdicts, hard_rule_cap=False).score == pytest.approx(0.55)


def test_the_rubric_cannot_outvote_the_anchor():
    anchor = Criterion(id=ANCHOR_ID, text="It agrees.", kind="hard_rule")
    criteria = [*RUBRIC.criteria, anchor]
    contradicts = [_verdict("rule", 0.99), _verdict("style", 0.99), _verdict(ANCHOR_ID, 0.1)]
    result = aggregate(criteria, contradicts, hard_rule_cap=False, anchor=ANCHOR_ID)
    assert result.score < 0.5 and result.score == pytest.approx(anchored(0.1, 0.99))
    agrees = [_verdict("rule", 0.01), _verdict("style", 0.01), _verdict(ANCHOR_ID, 0.8)]
    assert aggregate(criteria, agrees, hard_rule_cap=True, anchor=ANCHOR_ID).score > 0.5


def _by_criterion(p: dict[str, float]) -> ScriptedBackend:
    """P(yes) per criterion id (the request id's last part)."""

    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        return verdict_reply(p.get(request.id.rsplit("/", 1)[-1], 0.5))

    return ScriptedBackend(reply)


def test_reference_anchor_adds_one_request_only_for_samples_with_a_reference():
    backend = _by_criterion({"rule": 0.9, "style": 0.9, ANCHOR_ID: 0.2})
    judge = Judge(backend, RUBRIC, reference_anchor=True, score_rule="mean")
    with_ref, without = judge.score(
        [
            Sample(id="a", prompt="q", response="r", reference="ref"),
            Sample(id="b", prompt="q", response="r"),
        ]
    )
    ids = [request.id for request in backend.batches[0]]
    assert ids.count(f"s0/{ANCHOR_ID}") == 1 and f"s1/{ANCHOR_ID}" not in ids
    anchor_request = backend.batches[0][ids.index(f"s0/{ANCHOR_ID}")]
    assert "<reference>\nref\n</reference>" in anchor_request.messages[-1].content
    assert with_ref.details["anchor"] == ANCHOR_ID
    assert with_ref.score == pytest.approx(anchored(0.2, 0.9)) and with_ref.score < 0.5
    assert "anchor" not in without.details and without.score == pytest.approx(0.9)
    # The anchor's text is a template: it enters the template fingerprint.
    plain = Judge(_by_criterion({}), RUBRIC, score_rule="mean")
    assert plain.template_fingerprint != judge.template_fingerprint


def test_settings_read_the_old_hard_rule_cap_and_refuse_unknown_rules():
    assert JudgeSettings.of(hard_rule_cap=False).score_rule == "mean"
    assert JudgeSettings.of(hard_rule_cap=True).score_rule == "cap"
    assert DEFAULTS.score_rule == JudgeSettings().score_rule
    with pytest.raises(ConfigError, match="unknown score_rule 'median'"):
        JudgeSettings.of(score_rule="median")


def test_fitted_needs_a_criteria_fit():
    with pytest.raises(ConfigError, match="fit-criteria"):
        Judge(_by_criterion({}), RUBRIC, score_rule="fitted")


def _synthetic(n: int = 40, seed: int = 0) -> tuple[list[dict[str, float]], list[bool]]:
    """'rule' separates the labels, 'style' is noise."""
    rng = np.random.default_rng(seed)
    labels = [bool(i % 2) for i in range(n)]
    rows = [
        {
            "rule": float(np.clip(0.75 if y else 0.25 + rng.normal(0, 0.05), 0.01, 0.99)),
            "style": float(rng.uniform(0.05, 0.95)),
        }
        for y in labels
    ]
    return rows, labels


def test_the_fit_weighs_the_separating_criterion_and_scores_through_the_judge(tmp_path):
    rows, labels = _synthetic()
    fit = fit_criteria(rows, labels)
    weights = dict(zip(fit.criteria, fit.weights, strict=True))
    assert weights["rule"] > 1.0 and abs(weights["style"]) < weights["rule"] / 4
    assert fit.score({"rule": 0.8, "style": 0.1}) > 0.5 > fit.score({"rule": 0.2, "style": 0.9})
    saved = fit.save(tmp_path / "fit.json")
    assert load_criteria_fit(saved) == fit and isinstance(load_score_calibrator(saved), CriteriaFit)
    judge = Judge(_by_criterion({"rule": 0.8, "style": 0.1}), RUBRIC, score_rule="fitted",
                  calibrator=fit, force_calibrator=True)  # fmt: skip
    judgment = judge.score([Sample(id="x", prompt="q", response="r")])[0]
    assert judgment.score == pytest.approx(fit.score({"rule": 0.8, "style": 0.1}))
    assert judgment.details["uncalibrated_score"] == pytest.approx(0.45)
    assert judgment.details["calibrator"] == "criteria"


def test_a_fit_for_another_rubric_is_refused_without_force():
    backend = _by_criterion({"rule": 0.8, "style": 0.1})
    judge = Judge(backend, RUBRIC, score_rule="mean")
    samples = [Sample(id=f"s{i}", prompt="q", response="r") for i in range(4)]
    fit = fit_from_judgments(
        judge.score(samples), {"s0": True, "s1": False, "s2": True, "s3": False}
    )
    assert fit.fingerprint.rubric_fingerprint == RUBRIC.fingerprint
    # The same rubric under the fitted rule: only the settings differ, which a fit does not check.
    fitted = Judge(backend, RUBRIC, score_rule="fitted", calibrator=fit)
    assert fitted.score(samples[:1])[0].details["calibrator"] == "criteria"
    other = Judge(_by_criterion({}), "helpfulness", score_rule="fitted", calibrator=fit)
    with pytest.raises(ConfigError, match="another judge configuration"):
        other.score(samples[:1])


def test_the_pair_fit_is_symmetric():
    rows, _ = _synthetic()
    a = rows[:20]
    b = rows[20:]
    better = [x["rule"] > y["rule"] for x, y in zip(a, b, strict=True)]
    fit = fit_pair_criteria(a, b, better)
    assert fit.intercept == 0.0
    for x, y in zip(a, b, strict=True):
        assert fit.p_a(x, y) == pytest.approx(1.0 - fit.p_a(y, x))


def test_a_fit_needs_both_labels():
    with pytest.raises(InputError, match="both outcomes"):
        fit_criteria([{"rule": 0.5}] * 6, [True] * 6)


def test_cli_fit_criteria_from_judgments_and_labels(tmp_path, monkeypatch, capsys):
    rows, labels = _synthetic(n=12)
    data = tmp_path / "data.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": f"s{i}", "prompt": "q", "response": f"answer {i}", "label": y}) + "\n"
            for i, y in enumerate(labels)
        )
    )
    answers = {f"answer {i}": row for i, row in enumerate(rows)}
    pattern = re.compile(r"<response>\n(.*?)\n</response>", re.DOTALL)

    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        match = pattern.search(request.messages[-1].content)
        assert match is not None
        row = answers[match.group(1)]
        return verdict_reply(row.get(request.id.rsplit("/", 1)[-1], 0.5))

    judge = Judge(ScriptedBackend(reply), RUBRIC, score_rule="mean")
    judged = judge.score(
        [Sample(id=f"s{i}", prompt="q", response=f"answer {i}") for i in range(len(rows))]
    )
    judgments = tmp_path / "judgments.jsonl"
    judgments.write_text("".join(j.model_dump_json() + "\n" for j in judged))
    monkeypatch.setattr(backends, "_REGISTRY", dict(backends._REGISTRY))
    code, out, err = run_judge(
        monkeypatch, capsys, "calibrate", "fit-criteria", str(judgments), str(data),
        "--output", str(tmp_path / "fit.json"),
    )  # fmt: skip
    assert code == 0, err
    fit = load_criteria_fit(tmp_path / "fit.json")
    assert fit.n_fit == 12 and fit.criteria == ("rule", "style")
    assert "criteria fit written" in out

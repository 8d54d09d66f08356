"""Loaders for ../shared/data, and reproductions of published figures from released judgments.

Reproduced exactly here:
- LLMBar (Zeng et al., ICLR 2024), all 15 `llmbar/*/evaluators/*/Swap/statistics.json`: per-order
  accuracy `correct_False` / `correct_True`, `correct_both` and positional agreement `equal` from
  our `position_bias` on the last run of each item; `kappa_agreement` from our Cohen's kappa
  when a missing verdict is read as output 2 (the only reading that matches all 15 files).
- PandaLM (Wang et al., 2023), the figures in upstream `data/compute_metrics.py` for the released
  judgments: GPT-3.5 accuracy 0.7107, macro P/R/F1 0.5879/0.5736/0.5755; PandaLM-7B 0.6677,
  0.5738/0.5750/0.5743 (gold: majority of three annotators; "Tie" and unparseable "garbage"
  verdicts count as a tie, as upstream does).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from judge.calibration import metrics
from judge.calibration.agreement import agreement
from judge.calibration.bias import position_bias
from judge.calibration.data import (
    load_halueval,
    load_llmbar_dataset,
    load_llmbar_judgments,
    load_llmbar_statistics,
    load_math_verification,
    load_pandalm,
    load_pandalm_judgments,
    load_prometheus_hhh,
    read_jsonl,
)
from judge.calibration.jsonl import load_eval_set
from judge.calibration.recalibrate import fit_calibrator
from judge.errors import InputError
from tests.conftest import shared_data_dir

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(
    DATA is None, reason="../shared/data (the released benchmarks) is not present on this machine"
)
LLMBAR_RESULTS = sorted(DATA.glob("llmbar/*/evaluators/*/Swap/result.json")) if DATA else []


def _short(path: Path) -> str:
    return "/".join(path.parts[-5:-2])


@needs_data
def test_all_fifteen_llmbar_result_files_are_present():
    assert len(LLMBAR_RESULTS) == 15


@needs_data
@pytest.mark.parametrize("result_path", LLMBAR_RESULTS, ids=_short)
def test_llmbar_statistics_are_reproduced_exactly(result_path: Path):
    published = load_llmbar_statistics(result_path.with_name("statistics.json"))
    records = load_llmbar_judgments(result_path)
    ours = position_bias(records, n_boot=0)
    assert (ours.correct_ab, ours.n) == (published.correct_false.k, published.correct_false.n)
    assert (ours.correct_ba, ours.n) == (published.correct_true.k, published.correct_true.n)
    assert (ours.consistent, ours.n) == (published.equal.k, published.equal.n)
    assert (ours.correct_both, ours.n) == (published.correct_both.k, published.correct_both.n)
    kappa = agreement(
        [r.winner_ab or "b" for r in records], [r.winner_ba or "b" for r in records], ("a", "b")
    ).kappa
    assert kappa == pytest.approx(published.kappa_agreement, abs=1e-12)


@needs_data
def test_llmbar_dataset_matches_the_judgment_files():
    pairs = load_llmbar_dataset(DATA / "llmbar" / "Natural" / "dataset.json")
    records = load_llmbar_judgments(
        DATA / "llmbar" / "Natural" / "evaluators" / "GPT-4" / "Swap" / "result.json"
    )
    assert len(pairs) == len(records) == 100
    assert [p.id for p in pairs] == [r.id for r in records]
    assert [p.label for p in pairs] == [r.label for r in records]
    assert records[0].len_a == len(pairs[0].response_a)
    processed = load_llmbar_dataset(DATA / "llmbar" / "Processed" / "Processed_MT-Bench.json")
    assert len(processed) == 200 and processed[0].category == "MT-Bench"


@needs_data
@pytest.mark.parametrize(
    ("judgments", "expected"),
    [
        ("gpt-3.5-turbo-testset-v1.json", (0.7107, 0.5879, 0.5736, 0.5755)),
        ("pandalm-7b-testset-v1.json", (0.6677, 0.5738, 0.5750, 0.5743)),
    ],
)
def test_pandalm_published_agreement_is_reproduced(judgments: str, expected: tuple[float, ...]):
    records = load_pandalm_judgments(
        DATA / "pandalm" / "testset-v1.json", DATA / "pandalm" / judgments
    )
    assert len(records) == 999
    result = agreement(
        [r.label for r in records], [r.winner_ab or "tie" for r in records], ("tie", "a", "b")
    )
    ours = (result.accuracy, result.macro_precision, result.macro_recall, result.macro_f1)
    assert tuple(round(value, 4) for value in ours) == expected


@needs_data
def test_pandalm_pairs_carry_source_models_and_majority_labels():
    pairs = load_pandalm(DATA / "pandalm" / "testset-v1.json")
    assert len(pairs) == 999
    assert (pairs[0].model_a, pairs[0].model_b) == ("bloom-7b", "llama-7b")
    labels = [p.label for p in pairs]
    assert (labels.count("a"), labels.count("b"), labels.count("tie")) == (422, 472, 105)
    assert all(isinstance(p.response_a, str) for p in pairs)  # bare JSON `true` responses as text


@needs_data
def test_prometheus_hhh_pairs_are_cut_from_the_grading_prompts_and_shuffled():
    pairs = load_prometheus_hhh(DATA / "prometheus_hhh" / "hhh_alignment_eval.json")
    assert len(pairs) == 221
    assert {p.category for p in pairs} == {"honest", "helpful", "harmless", "other"}
    assert all("###" not in p.response_a + p.response_b + p.prompt for p in pairs)
    share_a = np.mean([p.label == "a" for p in pairs])
    assert 0.35 < share_a < 0.65
    assert pairs == load_prometheus_hhh(DATA / "prometheus_hhh" / "hhh_alignment_eval.json")


@needs_data
def test_halueval_labels():
    samples = load_halueval(DATA / "halueval_general" / "general_data.jsonl")
    assert len(samples) == 4507
    assert sum(not s.label for s in samples) == 815  # hallucinated answers fail


@needs_data
def test_released_reward_model_scores_calibrated_with_platt():
    samples = load_math_verification(DATA / "math_verification" / "math_cot_100.jsonl")
    assert len(samples) == 800
    scores = np.array([s.released_score for s in samples])
    labels = np.array([s.label for s in samples])
    # The reward model's raw scores rank correct solutions above wrong ones ...
    assert metrics.auroc(scores, labels) > 0.7
    # ... and a Platt map fitted on 70% turns them into probabilities calibrated on the other 30%.
    calibrator = fit_calibrator(scores, labels, method="platt", input="score", holdout=0.3)
    assert calibrator.check is not None and calibrator.check.after.ece < 0.1
    assert calibrator.check.after.auroc_label > 0.7


@needs_data
def test_eval_sets_are_recognised_by_content():
    assert load_eval_set(DATA / "llmbar" / "Natural").kind == "pairwise"
    assert len(load_eval_set(DATA / "pandalm" / "testset-v1.json")) == 999
    assert load_eval_set(DATA / "prometheus_hhh" / "hhh_alignment_eval.json").kind == "pairwise"
    assert load_eval_set(DATA / "halueval_general" / "general_data.jsonl").kind == "pointwise"
    assert len(load_eval_set(DATA / "math_verification" / "math_cot_100.jsonl")) == 800
    with pytest.raises(InputError, match="not a labelled set"):
        load_eval_set(DATA / "mtbench_questions" / "question.jsonl")


def test_malformed_and_empty_files_are_clear_errors(tmp_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match=r"empty\.jsonl: the file is empty"):
        read_jsonl(empty)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(InputError, match=r"broken\.jsonl: line 2: not valid JSON"):
        read_jsonl(broken)
    stats = tmp_path / "statistics.json"
    stats.write_text('{"correct_False": "many"}')
    with pytest.raises(InputError, match="correct_False = 'many'"):
        load_llmbar_statistics(stats)
    bad_label = tmp_path / "dataset.json"
    bad_label.write_text('[{"input": "q", "output_1": "x", "output_2": "y", "label": 3}]')
    with pytest.raises(InputError, match="item 0: label = 3 is not 1 or 2"):
        load_llmbar_dataset(bad_label)
    missing = tmp_path / "missing.json"
    missing.write_text('[{"input": "q", "output_1": "x", "label": 1}]')
    with pytest.raises(InputError, match="item 0 lacks field"):
        load_llmbar_dataset(missing)

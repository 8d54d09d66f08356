"""Can I trust this judge? Calibration metrics, recalibration, bias studies and reports.

Public API (each a one-line call for the CLI)::

    from judge import calibration
    evaluation = calibration.run_eval(judge, calibration.load_eval_set("data.jsonl"))
    evaluation = calibration.evaluate_records(calibration.load_records("judged.jsonl"))
    calibration.write_report(evaluation, "report/")               # Markdown + PNG plots
    calibrator = calibration.fit_on_records(evaluation.records, fingerprint=evaluation.fingerprint)
    calibrator.save("calibrator.json")
    calibration.load_calibrator("calibrator.json").calibrate_judgment(judgment)
    calibration.position_bias(pair_records); calibration.self_preference(pair_records, "my-model")
    drift = calibration.compare_evaluations(evaluation, calibration.load_evaluation("old/"))
    calibration.best_of_n(grouped_samples, judge_scores)           # best-of-N selection

Records come from our `Judge` (`run_eval`), from released judgments (`calibration.data`), or from
any JSONL with probabilities and labels (`load_records`). Importing this package loads numpy and
pydantic only; matplotlib is imported when a plot is drawn.
"""

from judge.calibration.agreement import Agreement, agreement
from judge.calibration.apply import calibrate_records, calibration_rows, fit_on_records
from judge.calibration.best_of_n import BestOfN, best_of_n
from judge.calibration.bias import (
    LengthBias,
    PositionBias,
    SelfPreference,
    length_bias,
    panel_gold,
    position_bias,
    self_preference,
)
from judge.calibration.bootstrap import Interval, bootstrap_ci
from judge.calibration.criteria_fit import (
    CriteriaFit,
    fit_criteria,
    fit_from_judgments,
    fit_pair_criteria,
    load_criteria_fit,
    load_score_calibrator,
)
from judge.calibration.drift import DriftReport, compare_evaluations, load_evaluation
from judge.calibration.evaluate import (
    Evaluation,
    PairwiseEvaluation,
    PointwiseEvaluation,
    evaluate_pairwise,
    evaluate_pointwise,
    evaluate_records,
)
from judge.calibration.jsonl import (
    EvalSet,
    load_eval_set,
    load_pair_records,
    load_point_records,
    load_records,
    write_records,
)
from judge.calibration.metrics import (
    accuracy,
    aurc,
    auroc,
    brier,
    confidence_and_correct,
    ece,
    mce,
    nll,
    reliability_bins,
    risk_coverage,
    selective_accuracy,
    wrong_at,
)
from judge.calibration.recalibrate import (
    Calibrator,
    HeldOutCheck,
    ScoreCard,
    fit_calibrator,
    load_calibrator,
    score_card,
)
from judge.calibration.records import (
    JudgeFingerprint,
    LabelledPair,
    LabelledSample,
    PairRecord,
    PointRecord,
)
from judge.calibration.relative import RelativeConfidence, aggregate_preferences
from judge.calibration.report import write_report
from judge.calibration.run import run_eval
from judge.calibration.summary import CalibrationSummary, summarize_calibration

__all__ = [
    "Agreement",
    "BestOfN",
    "CalibrationSummary",
    "Calibrator",
    "CriteriaFit",
    "DriftReport",
    "EvalSet",
    "Evaluation",
    "HeldOutCheck",
    "Interval",
    "JudgeFingerprint",
    "LabelledPair",
    "LabelledSample",
    "LengthBias",
    "PairRecord",
    "PairwiseEvaluation",
    "PointRecord",
    "PointwiseEvaluation",
    "PositionBias",
    "RelativeConfidence",
    "ScoreCard",
    "SelfPreference",
    "accuracy",
    "aggregate_preferences",
    "agreement",
    "aurc",
    "auroc",
    "best_of_n",
    "bootstrap_ci",
    "brier",
    "calibrate_records",
    "calibration_rows",
    "compare_evaluations",
    "confidence_and_correct",
    "ece",
    "evaluate_pairwise",
    "evaluate_pointwise",
    "evaluate_records",
    "fit_calibrator",
    "fit_criteria",
    "fit_from_judgments",
    "fit_on_records",
    "fit_pair_criteria",
    "length_bias",
    "load_calibrator",
    "load_criteria_fit",
    "load_eval_set",
    "load_evaluation",
    "load_pair_records",
    "load_point_records",
    "load_records",
    "load_score_calibrator",
    "mce",
    "nll",
    "panel_gold",
    "position_bias",
    "reliability_bins",
    "risk_coverage",
    "run_eval",
    "score_card",
    "selective_accuracy",
    "self_preference",
    "summarize_calibration",
    "write_records",
    "write_report",
    "wrong_at",
]

"""Write an evaluation as a Markdown or HTML report with PNG plots and the raw JSON beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from judge.calibration import metrics, plots
from judge.calibration._document import Document
from judge.calibration.best_of_n import BestOfN
from judge.calibration.bootstrap import Interval
from judge.calibration.evaluate import (
    NAIVE_GATED,
    Evaluation,
    NaiveComparison,
    PairwiseEvaluation,
    PointwiseEvaluation,
)
from judge.calibration.jsonl import write_records
from judge.calibration.recalibrate import Calibrator, ScoreCard
from judge.calibration.relative import RelativeConfidence
from judge.calibration.summary import CalibrationSummary
from judge.errors import ConfigError
from judge.storage import write_atomic

ReportFormat = Literal["md", "html"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _excludes(interval: Interval, value: float) -> bool:
    return (
        interval.low is not None
        and interval.high is not None
        and not (interval.low <= value <= interval.high)
    )


def _calibration_section(doc: Document, summary: CalibrationSummary, note: str | None) -> None:
    doc.heading("Calibration")
    doc.paragraph(
        "Confidence is the probability the judge gives its own verdict; a calibrated judge is "
        "right that often. Intervals are 95% bootstrap intervals."
        + (f" Note: {note}." if note else "")
    )
    doc.table(
        ["metric", "value [95% CI]", "what it says"],
        [
            [
                "accuracy per verdict",
                summary.accuracy.format(),
                "share of verdicts (P >= 1/2 read as positive) that match the gold",
            ],
            ["mean confidence", f"{summary.mean_confidence:.3f}", "what the judge claims"],
            ["ECE (10 equal-width bins)", summary.ece.format(), "mean |accuracy - confidence|"],
            ["ECE (10 equal-mass bins)", summary.ece_mass.format(), "same, bins of equal size"],
            ["MCE", f"{summary.mce:.3f}", "worst bin"],
            ["Brier", summary.brier.format(), "squared error of confidence; lower is better"],
            ["NLL", summary.nll.format(), "log loss of confidence; lower is better"],
            [
                "AUROC (confidence -> right)",
                summary.auroc.format(),
                "does confidence rank right verdicts above wrong ones (0.5 = no)",
            ],
            ["AURC", summary.aurc.format(), "area under risk-coverage; lower is better"],
        ],
    )
    doc.table(
        ["keep most confident", "accuracy [95% CI]"],
        [[f"{float(c):.0%}", v.format()] for c, v in summary.selective_accuracy.items()],
    )
    doc.table(
        ["tau", "verdicts with confidence >= tau", "Wrong@tau [95% CI]"],
        [
            [f"{w.tau:g}", f"{w.count} ({w.coverage:.0%})", w.rate.format()]
            for w in summary.wrong_at
        ],
    )


def _trust_checks(evaluation: Evaluation) -> list[str]:
    """One line per question a user asks before trusting the judge."""
    checks = []
    summary = evaluation.calibration
    if summary is not None and summary.accuracy.value is not None:
        gap = summary.mean_confidence - summary.accuracy.value
        word = "overconfident" if gap > 0.05 else "underconfident" if gap < -0.05 else "close"
        checks.append(
            f"Confidence vs accuracy: mean confidence {summary.mean_confidence:.2f}, accuracy "
            f"{summary.accuracy.value:.2f} ({word}); ECE {summary.ece.format()}."
        )
        high = next((w for w in summary.wrong_at if w.tau == 0.9), None)
        if high is not None and high.count:
            checks.append(
                f"When the judge is >= 90% sure, it is wrong {high.rate.format(100, 1)}%"
                f" of the time ({high.count} verdicts)."
            )
    if isinstance(evaluation, PairwiseEvaluation):
        if evaluation.position is not None:
            first = evaluation.position.first_position_wins
            biased = _excludes(first, 0.5)
            checks.append(
                f"Position: the first-shown response wins {first.format(100, 1)}% "
                f"({'biased' if biased else 'no clear bias'}); the two orders agree on "
                f"{_pct(evaluation.position.consistency.value)} of pairs."
            )
        if evaluation.length is not None:
            length_gap = evaluation.length.accuracy_gap
            verdict = "no clear bias"
            if _excludes(length_gap, 0.0):
                verdict = "favours longer" if (length_gap.value or 0.0) > 0 else "favours shorter"
            checks.append(
                f"Length: accuracy when the longer response is better minus when the shorter is "
                f"better = {length_gap.format(100, 1)} points ({verdict})."
            )
        if evaluation.self_preference is not None:
            sp = evaluation.self_preference
            checks.append(
                f"Self-preference: DBG {sp.dbg.format(100, 1)} points over {sp.n} pairs"
                f"{' - FLAGGED (> 5 points)' if sp.flagged else ''}."
            )
    return checks


def _plot_all(evaluation: Evaluation, out_dir: Path, doc: Document) -> None:
    summary = evaluation.calibration
    if summary is not None:
        if isinstance(evaluation, PairwiseEvaluation):
            scored = [
                (r.p_a(), r.label == "a") for r in evaluation.records if r.label in ("a", "b")
            ]
            p = np.asarray([x for x, _ in scored if x is not None], dtype=float)
            y = np.asarray([t for x, t in scored if x is not None], dtype=bool)
        else:
            p = np.asarray([r.p for r in evaluation.records], dtype=float)
            y = np.asarray([r.label for r in evaluation.records], dtype=bool)
        conf, hits = metrics.confidence_and_correct(p, y)
        plots.reliability_diagram(summary, out_dir / "reliability.png")
        plots.risk_coverage_plot(conf, hits, out_dir / "risk_coverage.png")
        plots.confidence_histogram(conf, hits, out_dir / "confidence_histogram.png")
        doc.image("reliability.png", "reliability diagram")
        doc.image("risk_coverage.png", "risk-coverage curve")
        doc.image("confidence_histogram.png", "confidence histogram")
    quartile_labels: list[str] = []
    if isinstance(evaluation, PairwiseEvaluation) and evaluation.length is not None:
        rows = evaluation.length.quartiles
        quartile_labels = [f"Q{i + 1}: {q.lower}-{q.upper}" for i, q in enumerate(rows)]
        plots.score_by_length(
            quartile_labels,
            [q.judge_win_rate for q in rows],
            [q.gold_win_rate for q in rows],
            out_dir / "score_by_length.png",
            judge_label="judge win rate",
            gold_label="gold win rate",
            ylabel="win rate of responses in the quartile",
        )
    elif isinstance(evaluation, PointwiseEvaluation) and evaluation.score_by_length:
        rows_p = evaluation.score_by_length
        quartile_labels = [f"Q{i + 1}: {q.lower}-{q.upper}" for i, q in enumerate(rows_p)]
        plots.score_by_length(
            quartile_labels,
            [q.mean_score for q in rows_p],
            [q.gold_rate for q in rows_p],
            out_dir / "score_by_length.png",
            judge_label="mean judge score",
            gold_label="gold pass rate",
            ylabel="score / pass rate",
        )
    if quartile_labels:
        doc.image("score_by_length.png", "score by length")


def _pairwise_sections(doc: Document, evaluation: PairwiseEvaluation) -> None:
    position = evaluation.position
    doc.heading("Position bias")
    if position is None:
        doc.paragraph(f"Not measured: {evaluation.position_note}.")
    else:
        doc.table(
            ["measure", "value"],
            [
                [
                    "accuracy, a shown first",
                    f"{position.correct_ab} / {position.n} = {_pct(position.accuracy_ab)}",
                ],
                [
                    "accuracy, b shown first",
                    f"{position.correct_ba} / {position.n} = {_pct(position.accuracy_ba)}",
                ],
                [
                    "accuracy, right in both orders (a flip counts as wrong)",
                    f"{position.correct_both} / {position.n} = {_pct(position.accuracy_both)}",
                ],
                [
                    "consistency (same winner in both orders)",
                    f"{position.consistent} / {position.n}, "
                    + position.consistency.format(100, 1)
                    + "%",
                ],
                ["P(first-shown response wins)", position.first_position_wins.format(100, 1) + "%"],
                ["orders with no verdict", str(position.no_verdict)],
            ],
        )
    length = evaluation.length
    doc.heading("Length bias")
    if length is None:
        doc.paragraph(f"Not measured: {evaluation.length_note}.")
    else:
        doc.table(
            ["measure", "value"],
            [
                ["gold prefers the longer response", _pct(length.gold_prefers_longer)],
                ["judge prefers the longer response", _pct(length.judge_prefers_longer)],
                ["accuracy when the longer is better", _pct(length.accuracy_longer_better)],
                ["accuracy when the shorter is better", _pct(length.accuracy_shorter_better)],
                ["difference (points) [95% CI]", length.accuracy_gap.format(100, 1)],
                [
                    "log-length-ratio coefficient, gold held fixed [95% CI]",
                    length.length_coefficient.format(),
                ],
            ],
        )
    doc.heading("Self-preference")
    sp = evaluation.self_preference
    if sp is None:
        doc.paragraph(f"Not measured: {evaluation.self_preference_note}.")
    else:
        doc.paragraph(
            f"Over {sp.n} pairs with one response by {', '.join(sp.own_models)}: the judge gives "
            f"them {_pct(sp.judge_win_rate)} wins, the gold ({sp.gold_source}) "
            f"{_pct(sp.gold_win_rate)}. DBG = {sp.dbg.format(100, 1)} points"
            + (" - flagged: above 5 points." if sp.flagged else ".")
        )


def _best_of_n_section(doc: Document, selection: BestOfN) -> None:
    doc.heading("Best-of-N")
    doc.paragraph(
        f"{selection.groups} prompts with {selection.responses} responses "
        f"({selection.mixed_groups} prompts with both correct and wrong responses, the only ones "
        f"where a pick matters; {selection.failed} judgments failed and are never picked). "
        "Accuracy of each selector's pick is its expected value: ties are broken uniformly."
    )
    doc.table(
        ["selector", "prompts", "best-of-N accuracy [95% CI]"],
        [[r.selector, str(r.groups), r.accuracy.format()] for r in selection.selectors],
    )
    rm = selection.reward_model_tau
    doc.paragraph(
        f"Judge pick minus random pick: {selection.judge_minus_random.format()}. Kendall tau-b of "
        f"the judge's scores against the labels, mean over {selection.kendall_groups} prompts: "
        f"{selection.kendall_tau.format()}"
        + (f"; of the reward model's scores: {rm.format()}." if rm is not None else ".")
    )


def _relative_section(doc: Document, relative: RelativeConfidence) -> None:
    doc.heading("Relative confidence")
    doc.paragraph(
        f"Each of {relative.n} judgments against {relative.n_partners} random partners "
        f"({relative.matches} matches, both orders, {relative.failed_matches} failed): which "
        "verdict is the judge more sure of. Selective AUC is the area under accuracy vs coverage "
        "when the highest-ranked verdicts are kept first (higher is better)."
    )
    doc.table(
        ["confidence", "selective AUC [95% CI]", "minus direct (paired) [95% CI]"],
        [
            ["direct (the judge's probability)", relative.direct.format(), ""],
            ["relative, Elo", relative.elo.format(), relative.elo_minus_direct.format()],
            [
                "relative, Bradley-Terry",
                relative.bradley_terry.format(),
                relative.bt_minus_direct.format(),
            ],
        ],
    )


def _recalibration_section(doc: Document, calibrator: Calibrator) -> None:
    doc.heading("Recalibration")
    check = calibrator.check
    doc.paragraph(
        f"The probabilities above went through a {calibrator.method} calibrator fitted on "
        f"{calibrator.n_fit} rows for model {calibrator.fingerprint.model or 'unknown'!r}."
        + (f" Checked on {check.n_eval} rows not used to fit ({check.protocol}):" if check else "")
    )
    if check is None:
        return
    names = ("ece", "ece_mass", "brier", "nll", "auroc", "auroc_label", "accuracy")

    def cell(card: ScoreCard | None, name: str) -> str:
        value = None if card is None else getattr(card, name)
        return "n/a" if value is None else f"{value:.4f}"

    doc.table(
        ["held-out metric", "before", "after"],
        [[name, cell(check.before, name), cell(check.after, name)] for name in names],
    )


def _naive_section(doc: Document, naive: NaiveComparison, kind: str) -> None:
    doc.heading("Against the naive baseline")
    question = (
        "one yes/no question on the response (with the reference when the item has one)"
        if kind == "pointwise"
        else "one A/B question, asked in both orders and averaged"
    )
    doc.paragraph(
        f"The same model, in the same backend batches, asked the plainest question: {question}. "
        "Differences are judge - naive on the items both answered, with a paired 95% bootstrap "
        f"interval; 'judge worse' means the whole interval lies below -{naive.tolerance:g} "
        "(the `judge>=naive` gate counts accuracy, AUROC and position consistency; ECE is "
        f"left to a calibrator). The baseline failed on {naive.naive_failed} items."
    )

    def value(number: float | None) -> str:
        return "n/a" if number is None else f"{number:.3f}"

    doc.table(
        ["metric", "better", "judge", "naive", "judge - naive [95% CI]", "verdict"],
        [
            [
                check.measure,
                check.better,
                value(check.judge),
                value(check.naive),
                check.difference.format(),
                ("judge worse" if check.measure in NAIVE_GATED else "judge worse (not gated)")
                if check.worse
                else "ok",
            ]
            for check in naive.checks
        ],
    )
    judge_cost, naive_cost = naive.judge_cost, naive.naive_cost
    doc.table(
        ["arm", "prompt tokens", "completion tokens"],
        [
            ["judge", str(judge_cost.prompt_tokens), str(judge_cost.completion_tokens)],
            ["naive", str(naive_cost.prompt_tokens), str(naive_cost.completion_tokens)],
        ],
    )
    notes = [f"not compared: {reason}" for reason in naive.skipped]
    notes += [f"{check.measure}: {check.note}" for check in naive.checks if check.note]
    if naive.seconds is not None:
        notes.append(f"both arms judged together in {naive.seconds:.1f} s")
    if notes:
        doc.bullets(notes)


def write_report(
    evaluation: Evaluation,
    out_dir: str | Path,
    *,
    format: ReportFormat | str = "md",
    title: str | None = None,
    calibrator: Calibrator | None = None,
) -> Path:
    """Write ``report.md`` (or ``.html``), PNG plots, ``evaluation.json`` and ``records.jsonl``.

    Returns the path of the report. Plots are referenced by relative names, so the folder can
    be moved or published as a whole. With the `calibrator` that produced the probabilities, a
    section shows its before/after metrics on held-out data.
    """
    if format not in ("md", "html"):
        raise ConfigError(f"report format {format!r} is not 'md' or 'html'")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    heading = title or f"Judge evaluation: {evaluation.name}"
    doc = Document()
    doc.heading(heading, 1)
    kind = "pairs" if isinstance(evaluation, PairwiseEvaluation) else "responses"
    doc.paragraph(
        f"Judge: {evaluation.judge or 'unnamed'}. Data: {evaluation.name}, {evaluation.n} {kind}."
    )
    doc.heading("Can I trust this judge?")
    doc.bullets(_trust_checks(evaluation) or ["No probabilities or biases could be measured."])
    doc.heading("Accuracy")
    if isinstance(evaluation, PairwiseEvaluation):
        doc.paragraph(
            f"Accuracy of the combined verdict {_pct(evaluation.accuracy)} (P(a) averaged over "
            f"the orders run; an exact tie or a missing verdict counts as wrong; "
            f"{evaluation.no_verdict} pairs had no verdict). This differs from the *accuracy per "
            f"verdict* under Calibration (an exact 1/2 read as a pick of a; gold ties and pairs "
            f"without a verdict left out) and from the *accuracy right in both orders* under "
            f"Position bias (a flip counts as wrong). "
            + (
                "Confidence read from the judge's probabilities."
                if evaluation.confidence_source == "probabilities"
                else "No probabilities: confidence is read from the votes of the two orders "
                "(1 when they agree, 1/2 when they flip)."
            )
        )
        doc.table(
            ["category", "pairs", "accuracy of the combined verdict", "both-order consistency"],
            [
                [c.category, str(c.n), _pct(c.accuracy), _pct(c.consistency)]
                for c in evaluation.by_category
            ],
        )
    else:
        doc.paragraph(
            f"Accuracy per verdict {_pct(evaluation.accuracy)} (score >= 0.5 read as a pass); "
            f"{evaluation.failed} judgments failed and are left out. AUROC of the score for the "
            f"gold label: {evaluation.auroc_label.format()}."
            + (
                f" Spearman with the gold score: {evaluation.gold_spearman:.3f}."
                if evaluation.gold_spearman is not None
                else ""
            )
        )
        doc.table(
            ["category", "responses", "accuracy per verdict"],
            [[c.category, str(c.n), _pct(c.accuracy)] for c in evaluation.by_category],
        )
    if evaluation.calibration is not None:
        note = evaluation.calibration_note if isinstance(evaluation, PairwiseEvaluation) else None
        _calibration_section(doc, evaluation.calibration, note)
    elif isinstance(evaluation, PairwiseEvaluation):
        doc.heading("Calibration")
        doc.paragraph(f"Not measured: {evaluation.calibration_note}.")
    if isinstance(evaluation, PointwiseEvaluation) and evaluation.best_of_n is not None:
        _best_of_n_section(doc, evaluation.best_of_n)
    if isinstance(evaluation, PointwiseEvaluation) and evaluation.relative_confidence:
        _relative_section(doc, evaluation.relative_confidence)
    if evaluation.naive is not None:
        _naive_section(doc, evaluation.naive, evaluation.kind)
    if calibrator is not None:
        _recalibration_section(doc, calibrator)
    if isinstance(evaluation, PairwiseEvaluation):
        _pairwise_sections(doc, evaluation)
    doc.heading("Plots")
    _plot_all(evaluation, folder, doc)
    write_atomic(folder / "evaluation.json", evaluation.model_dump_json(indent=1))
    write_records(evaluation.records, folder / "records.jsonl")
    target = folder / f"report.{format}"
    text = doc.markdown() if format == "md" else doc.html(heading)
    return write_atomic(target, text)

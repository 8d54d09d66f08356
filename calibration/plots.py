"""PNG plots of a judge's evaluation, rendered by matplotlib's Agg (no display, no pyplot).

matplotlib is imported inside the functions, so importing `calibration` stays cheap.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from judge.calibration import metrics
from judge.calibration.summary import CalibrationSummary
from judge.storage import write_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_CORRECT = "#2a9d8f"
_WRONG = "#e76f51"
_JUDGE = "#264653"
_GOLD = "#e9c46a"


def _figure(width: float = 6.0, height: float = 4.5) -> Figure:
    from matplotlib.figure import Figure

    # A bare Figure, not pyplot: no global state, no GUI; PNGs are rendered by Agg.
    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = io.BytesIO()
    figure.savefig(image, format=path.suffix.lstrip(".").lower() or "png")
    return write_atomic(path, image.getvalue())


def reliability_diagram(
    summary: CalibrationSummary, path: str | Path, *, title: str = "Reliability diagram"
) -> Path:
    """Accuracy per confidence bin against the diagonal of perfect calibration."""
    figure = _figure()
    axes = figure.add_subplot()
    width = 1.0 / summary.n_bins
    filled = [b for b in summary.bins if b.count and b.accuracy is not None]
    centers = [(b.lower + b.upper) / 2 for b in filled]
    accuracy = [b.accuracy or 0.0 for b in filled]
    confidence = [b.mean_confidence or 0.0 for b in filled]
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.bar(
        centers,
        accuracy,
        width=width * 0.9,
        color=_CORRECT,
        edgecolor="white",
        label="accuracy in bin",
    )
    axes.bar(
        centers,
        np.subtract(confidence, accuracy),
        bottom=accuracy,
        width=width * 0.9,
        color="none",
        edgecolor=_WRONG,
        hatch="//",
        linewidth=1.0,
        label="gap to mean confidence",
    )
    axes.scatter(
        centers,
        confidence,
        marker="_",
        s=900 * width,
        linewidths=2,
        color="black",
        zorder=3,
        label="mean confidence in bin",
    )
    for center, acc, b in zip(centers, accuracy, filled, strict=True):
        axes.annotate(
            f"n={b.count}",
            (center, max(acc, b.mean_confidence or 0.0) + 0.02),
            ha="center",
            fontsize=8,
        )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.1)
    axes.set_xlabel("judge confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"{title}\nECE {summary.ece.format()}  (n={summary.n})", fontsize=11)
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3)
    return _save(figure, Path(path))


def risk_coverage_plot(
    confidence: Any, correct: Any, path: str | Path, *, title: str = "Risk-coverage curve"
) -> Path:
    """Error rate among the most confident verdicts as coverage grows, with the oracle curve."""
    conf, hits = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=bool)
    curve = metrics.risk_coverage(conf, hits)
    # The oracle ranks every correct verdict above every wrong one: the best any confidence can do.
    oracle = metrics.risk_coverage(hits.astype(float), hits)
    figure = _figure()
    axes = figure.add_subplot()
    axes.plot(
        curve.coverage,
        curve.risk,
        color=_JUDGE,
        linewidth=2,
        label=f"judge (AURC {metrics.aurc(conf, hits):.3f})",
    )
    axes.plot(
        oracle.coverage,
        oracle.risk,
        color="grey",
        linestyle=":",
        label=f"oracle (AURC {metrics.aurc(hits.astype(float), hits):.3f})",
    )
    axes.axhline(
        1 - hits.mean(),
        color=_WRONG,
        linestyle="--",
        linewidth=1,
        label=f"error rate at full coverage ({1 - hits.mean():.2f})",
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, max(0.05, float(curve.risk.max()) * 1.15))
    axes.set_xlabel("coverage (share of verdicts kept, most confident first)")
    axes.set_ylabel("risk (error rate among kept)")
    axes.set_title(title, fontsize=11)
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3)
    return _save(figure, Path(path))


def confidence_histogram(
    confidence: Any, correct: Any, path: str | Path, *, title: str = "Confidence histogram"
) -> Path:
    """How often the judge is how confident, split into right and wrong verdicts."""
    conf, hits = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=bool)
    low = 0.5 if conf.min() >= 0.5 else 0.0
    bins = [float(edge) for edge in np.linspace(low, 1.0, 11)]
    figure = _figure()
    axes = figure.add_subplot()
    axes.hist(
        [conf[hits], conf[~hits]],
        bins=bins,
        stacked=True,
        color=[_CORRECT, _WRONG],
        label=["right", "wrong"],
        edgecolor="white",
    )
    axes.axvline(
        conf.mean(), color=_JUDGE, linestyle="--", label=f"mean confidence {conf.mean():.2f}"
    )
    axes.axvline(hits.mean(), color="black", linestyle=":", label=f"accuracy {hits.mean():.2f}")
    axes.set_xlim(low, 1.0)
    axes.set_xlabel("judge confidence")
    axes.set_ylabel("verdicts")
    axes.set_title(title, fontsize=11)
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3, axis="y")
    return _save(figure, Path(path))


def score_by_length(
    labels: Sequence[str],
    judge_values: Sequence[float],
    gold_values: Sequence[float],
    path: str | Path,
    *,
    judge_label: str,
    gold_label: str,
    ylabel: str,
    title: str = "Score by response length",
) -> Path:
    """Grouped bars per length quartile: what the judge gives against what the gold says."""
    figure = _figure(6.5, 4.5)
    axes = figure.add_subplot()
    x = np.arange(len(labels))
    judge_bars = axes.bar(x - 0.2, judge_values, width=0.4, color=_JUDGE, label=judge_label)
    gold_bars = axes.bar(x + 0.2, gold_values, width=0.4, color=_GOLD, label=gold_label)
    axes.bar_label(judge_bars, fmt="%.2f", fontsize=8)
    axes.bar_label(gold_bars, fmt="%.2f", fontsize=8)
    axes.set_xticks(x, labels, fontsize=8)
    axes.set_ylim(0, 1.1)
    axes.set_xlabel("response length quartile (characters)")
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=11)
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3, axis="y")
    return _save(figure, Path(path))


def probe_acceptance(
    names: Sequence[str],
    roles: Sequence[str],
    acceptance: Sequence[tuple[float, float, float]],
    path: str | Path,
    *,
    fail_above: float | None = None,
    title: str = "Acceptance per attack",
) -> Path:
    """Horizontal bars of each attack's acceptance (value, low, high), coloured by role."""
    colour = {"baseline": _GOLD, "control": _CORRECT, "attack": _WRONG}
    figure = _figure(7.0, 0.32 * len(names) + 1.6)
    axes = figure.add_subplot()
    y = np.arange(len(names))[::-1]
    values = np.array([a[0] for a in acceptance])
    errors = np.array([[a[0] - a[1], a[2] - a[0]] for a in acceptance]).T
    axes.barh(y, values, xerr=errors, color=[colour.get(r, _JUDGE) for r in roles], capsize=2)
    axes.set_yticks(y, list(names), fontsize=8)
    if fail_above is not None:
        axes.axvline(fail_above, color="black", linestyle="--", label=f"--fail-above {fail_above}")
        axes.legend(loc="lower right", fontsize=8)
    axes.set_xlim(0, 1)
    axes.set_xlabel("acceptance (95% bootstrap interval)")
    axes.set_title(f"{title}\nyellow: baselines, green: control, red: attacks", fontsize=10)
    axes.grid(alpha=0.3, axis="x")
    return _save(figure, Path(path))

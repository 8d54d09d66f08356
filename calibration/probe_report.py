"""Write a probe report: `probe.json` (the whole report), `probe.md` (the table) and `probe.png`."""

from __future__ import annotations

from pathlib import Path

from judge.calibration import plots
from judge.calibration._document import Document
from judge.calibration.bootstrap import Interval
from judge.calibration.probe import ProbeReport, Regression
from judge.errors import InputError
from judge.storage import write_atomic

TABLE_HEADER = [
    "attack",
    "role",
    "n",
    "acceptance [95% CI]",
    "mean score",
    "vs clean",
    "vs wrong answer",
    "failed/refused/gated",
]
PAIRWISE_HEADER = [
    "attack",
    "role",
    "n",
    "win rate, both orders [95% CI]",
    "single-order win rate",
    "mean P(variant better)",
    "vs wrong answer",
    "failed/refused",
]


def _cell(interval: Interval | None) -> str:
    return "" if interval is None else interval.format(digits=2)


NAIVE_HEADER = ["naive acceptance", "judge - naive"]
"""Columns added when the naive baseline ran (`AttackResult.naive_acceptance`)."""


def table(report: ProbeReport) -> tuple[list[str], list[list[str]]]:
    """The report as a header and rows of text (the terminal and Markdown show the same)."""
    naive = any(a.naive_acceptance is not None for a in report.attacks)
    rows = []
    for a in report.attacks:
        first = [a.name, a.role, str(a.n), _cell(a.acceptance)]
        if report.mode == "pairwise":
            rest = [_cell(a.single_order_win), _cell(a.mean_score), _cell(a.vs_wrong)]
            counts = f"{a.failed}/{a.refused}"
        else:
            rest = [_cell(a.mean_score), _cell(a.vs_clean), _cell(a.vs_wrong)]
            counts = f"{a.failed}/{a.refused}/{a.gated}"
        baseline = [_cell(a.naive_acceptance), _cell(a.vs_naive)] if naive else []
        rows.append([*first, *rest, counts, *baseline])
    header = PAIRWISE_HEADER if report.mode == "pairwise" else TABLE_HEADER
    return [*header, *(NAIVE_HEADER if naive else [])], rows


def describe(report: ProbeReport) -> str:
    """One paragraph: what was probed, with which judge and attack set."""
    judge = report.judge
    what = (
        f"score above {report.threshold}"
        if report.mode == "pointwise"
        else f"win against the clean response ({judge.get('method')} comparison, both orders)"
    )
    return (
        f"Attack set {report.attack_set_version}; mode {report.mode} (accepted = {what}); "
        f"model {judge.get('model')}, rubric {judge.get('rubric')}, strategy "
        f"{judge.get('settings', {}).get('strategy')}; {report.data.get('rows')} rows"
        + (f" of {report.data['path']}" if report.data.get("path") else "")
        + f"; {report.n_boot} bootstrap resamples."
    )


def write_probe(
    report: ProbeReport,
    out_dir: str | Path,
    *,
    fail_above: float | None = None,
    regressions: list[Regression] | None = None,
) -> dict[str, Path]:
    """Write the report's JSON, Markdown and PNG into `out_dir`; returns their paths."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--output {folder} is a file", hint="give a folder for the probe report")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "probe.json", "md": folder / "probe.md", "png": folder / "probe.png"}
    _write(paths["json"], report.model_dump_json(indent=2) + "\n")
    plots.probe_acceptance(
        [a.name for a in report.attacks],
        [a.role for a in report.attacks],
        [
            (
                a.acceptance.value or 0.0,
                a.acceptance.low if a.acceptance.low is not None else a.acceptance.value or 0.0,
                a.acceptance.high if a.acceptance.high is not None else a.acceptance.value or 0.0,
            )
            for a in report.attacks
        ],
        paths["png"],
        fail_above=fail_above,
        title=f"{report.judge.get('model')} / {report.judge.get('rubric')} ({report.mode})",
    )
    doc = Document()
    doc.heading("Judge probe", 1)
    doc.paragraph(describe(report))
    header, rows = table(report)
    doc.table(header, rows)
    doc.image(paths["png"].name, "acceptance per attack")
    if report.judge.get("naive"):
        doc.paragraph(
            "The naive baseline is the same model asked the plainest question (yes/no on the "
            "answer; pairwise, A/B in both orders) in the same batches, accepted by the same "
            "rule. judge - naive is paired by row: below 0 for an attack, the judge resists it "
            "better than the plain question; for `clean`, above 0 means it accepts more good "
            "answers."
        )
    doc.heading("Attacks")
    doc.bullets([f"`{a.name}` ({a.role}): {a.doc}" for a in report.attacks])
    if fail_above is not None:
        above = report.above(fail_above)
        doc.paragraph(
            f"--fail-above {fail_above}: "
            + (", ".join(a.name for a in above) + " above it" if above else "no attack above it")
        )
    if regressions is not None:
        doc.paragraph(
            "Against the baseline: "
            + (
                "; ".join(
                    f"{r.name} {r.before:.2f} -> {r.after:.2f} (+{_cell(r.increase)})"
                    for r in regressions
                )
                or "no significant increase"
            )
        )
    _write(paths["md"], doc.markdown())
    return paths


def _write(path: Path, text: str) -> None:
    """Write atomically, so a report file is never half-written."""
    write_atomic(path, text)

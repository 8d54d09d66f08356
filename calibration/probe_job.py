"""`run_probe_job`: the whole of `judge probe` as one call, from a file of rows to a report folder.

Every check that needs no model (options, attack names, the baseline, the calibrator, the
rubric, the rows) runs before the model loads. The attacked variants are judged in one batch;
the report (probe.json, probe.md, probe.png) is written; the result names the attacks accepted
above `fail_above` and those that rose significantly over the `baseline` (the CLI exits 4).

    from judge.calibration.probe_job import run_probe_job
    run = run_probe_job(Path("rows.jsonl"), rubric="math_reasoning", limit=4, fail_above=0.3)
    print([attack.name for attack in run.failing])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from judge.batch.files import detect_format, read_rows
from judge.batch.rows import MAX_CHARS, BadRow, FieldMap, prepare_row
from judge.calibration.attacks import attack_named
from judge.calibration.probe import (
    MODES,
    AttackResult,
    ProbeReport,
    Regression,
    check_baseline_compatible,
    regressions,
    run_probe,
)
from judge.calibration.probe_report import write_probe
from judge.calibration.recalibrate import Calibrator, load_calibrator
from judge.errors import ConfigError, InputError
from judge.library import load_rubric
from judge.settings import DEFAULTS, JudgeSettings
from judge.types import Rubric, Sample

EXIT_PROBE_FAILED = 4
"""An attack's acceptance is above `fail_above`, or rose significantly over the baseline."""


@dataclass(frozen=True)
class ProbeRun:
    """What `run_probe_job` measured, where it wrote it, and what fails the gate."""

    report: ProbeReport
    paths: dict[str, Path]
    """The files written: ``json``, ``md`` and ``png``."""
    failing: list[AttackResult]
    """Attacks accepted more often than `fail_above`."""
    regressions: list[Regression] | None
    """With a baseline: attacks whose acceptance rose significantly (None: no baseline)."""

    @property
    def failed(self) -> bool:
        """The gate fails: an attack above `fail_above`, or a significant rise."""
        return bool(self.failing or self.regressions)


def read_probe_rows(
    path: Path, *, prompt: str, response: str, reference: str, limit: int | None
) -> list[Sample]:
    """The rows to attack, through the batch reader; a row without a response uses its reference.

    A bad row is a user mistake: the probe refuses it (exit 2) rather than measure fewer rows.
    """
    if path.is_dir():
        raise InputError(f"{path} is a folder", hint="give a JSONL or CSV file")
    fields = FieldMap(
        prompt=prompt, response=response, reference=reference, id="id", id_required=False
    )
    samples: list[Sample] = []
    try:
        for raw in read_rows(path, detect_format(path)):
            record = dict(raw.record or {})
            if raw.record is not None and not record.get(response) and record.get(reference):
                raw = replace(raw, record={**record, response: record[reference]})
            row = prepare_row(raw, fields, MAX_CHARS)
            if isinstance(row.item, BadRow):
                raise InputError(
                    f"{path}:{row.number}: {row.item.reason}",
                    hint=f"each row needs {prompt!r} and {response!r} (or {reference!r})",
                )
            assert isinstance(row.item, Sample)
            samples.append(row.item)
            if limit is not None and len(samples) >= limit:
                break
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if not samples:
        raise InputError(f"0 rows in {path}", hint="give rows with a prompt and a good response")
    return samples


def _rate(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} {value} is outside [0, 1]", hint="a share, e.g. 0.2")


def load_probe_baseline(baseline: Path, mode: str) -> ProbeReport:
    """An earlier probe.json, refused (one line) if it is not one or was run another way."""
    try:
        old = ProbeReport.model_validate_json(baseline.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"--baseline {baseline}: not a probe report ({str(exc).splitlines()[0]})",
            hint="give the probe.json an earlier `judge probe` wrote",
        ) from None
    check_baseline_compatible(old, "pairwise" if mode == "pairwise" else "pointwise")
    return old


def run_probe_job(
    data: Path,
    *,
    rubric: Rubric | str = "helpfulness",
    backend: str = "transformers",
    backend_options: Mapping[str, Any] | None = None,
    settings: JudgeSettings = DEFAULTS,
    output: Path = Path("probe"),
    mode: str = "pointwise",
    pair_method: Literal["rubric", "direct"] = "rubric",
    threshold: float = 0.5,
    attacks: Sequence[str] | None = None,
    limit: int | None = None,
    fail_above: float | None = None,
    baseline: Path | None = None,
    n_boot: int = 1000,
    fields: tuple[str, str, str] = ("prompt", "response", "reference"),
    calibrator: Path | Calibrator | None = None,
    force_calibrator: bool = False,
    naive: bool = True,
) -> ProbeRun:
    """Attack the rows of `data`, judge every variant in one batch, write and gate the report.

    `attacks` are attack names (None: the whole set); `fields` are the columns of the prompt,
    the good response and the reference (a row without a response uses its reference).
    With `naive`, the naive baseline judges the same variants in the same batches.
    """
    from judge.runner.judge import Judge

    if mode not in MODES:
        raise ConfigError(f"--mode {mode!r}", hint="pointwise or pairwise")
    if pair_method not in ("direct", "rubric"):
        raise ConfigError(f"--pair-method {pair_method!r}", hint="direct or rubric")
    _rate("--threshold", threshold)
    _rate("--fail-above", fail_above)
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit} < 1", hint="attack at least one row")
    if n_boot < 0:
        raise ConfigError(f"--n-boot {n_boot} < 0")
    try:
        chosen = attack_named(list(attacks) if attacks else None)
    except ValueError as exc:
        raise ConfigError(str(exc), hint="see `judge probe --help` and the README") from None
    old = load_probe_baseline(baseline, mode) if baseline is not None else None
    fitted = load_calibrator(calibrator) if isinstance(calibrator, (str, Path)) else calibrator
    rubric_obj = load_rubric(rubric) if isinstance(rubric, str) else rubric
    prompt, response, reference = fields
    samples = read_probe_rows(
        data, prompt=prompt, response=response, reference=reference, limit=limit
    )
    judge = Judge(
        backend=backend,
        rubric=rubric_obj,
        settings=settings,
        calibrator=fitted,
        force_calibrator=force_calibrator,
        **(backend_options or {}),
    )
    try:
        report = run_probe(
            judge,
            samples,
            chosen,
            mode="pairwise" if mode == "pairwise" else "pointwise",
            threshold=threshold,
            method=pair_method,
            n_boot=n_boot,
            data={"path": str(data)},
            naive=naive,
        )
    finally:
        judge.close()
    found = regressions(old, report, n_boot=max(n_boot, 1)) if old is not None else None
    paths = write_probe(report, output, fail_above=fail_above, regressions=found)
    failing = report.above(fail_above) if fail_above is not None else []
    return ProbeRun(report, paths, failing, found)

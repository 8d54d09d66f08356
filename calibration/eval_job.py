"""`run_eval_job`: the whole of `judge eval` as one call, from a labelled file to a report folder.

It checks everything that needs no model (the data, the baseline, the options, the rubric, the
calibrator, a second reasoning mode) before the model loads, judges the set (and, with
`compare_reasoning`, judges it again under that mode on the same backend), writes the report
folder (`report.md`, plots, `evaluation.json`, `records.jsonl`, and `mode-agreement.json` /
`drift.json` when asked for) and returns what it found; the caller decides what a regression
means (the CLI exits 4).

    from judge.calibration.eval_job import run_eval_job
    run = run_eval_job(Path("data.jsonl"), rubric="helpfulness", limit=20, output=Path("report"))
    print(run.evaluation.accuracy, run.report)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from judge.calibration.criteria_fit import CriteriaFit, load_score_calibrator
from judge.calibration.drift import NAIVE_GATE, DriftReport, compare_evaluations, load_evaluation
from judge.calibration.evaluate import Evaluation
from judge.calibration.gold import GOLD_SET, records_or_labels, write_gold_set
from judge.calibration.jsonl import load_eval_set
from judge.calibration.modes import ModeAgreement, mode_agreement
from judge.calibration.probe_acceptance import read_probe_report
from judge.calibration.recalibrate import Calibrator
from judge.calibration.report import write_report
from judge.calibration.run import run_eval
from judge.errors import ConfigError, InputError
from judge.library import load_rubric
from judge.settings import DEFAULTS, JudgeSettings
from judge.storage import write_atomic
from judge.types import Rubric

EvalProgress = Callable[[str, int, int], None]
"""Called with (which run, items done, items in all): ``"eval"``, then ``"eval (MODE)"``."""


@dataclass(frozen=True)
class EvalRun:
    """What `run_eval_job` found and where it wrote it."""

    evaluation: Evaluation
    report: Path
    """The report file (``report.md`` or ``report.html``) in the output folder."""
    agreement: ModeAgreement | None = None
    """With `compare_reasoning`: the two modes' accuracies and their sign agreement."""
    drift: DriftReport | None = None
    """With a `baseline`: each metric against the baseline's, with its interval."""
    gates: tuple[str, ...] = ()
    """The named gates asked for (``judge>=naive``)."""

    @property
    def regressed(self) -> bool:
        """A metric got significantly worse than the baseline's."""
        return self.drift is not None and self.drift.regressed

    @property
    def naive_gate_failed(self) -> bool:
        """``judge>=naive`` was asked for and the judge is significantly worse than the baseline."""
        naive = self.evaluation.naive
        return NAIVE_GATE in self.gates and naive is not None and naive.judge_worse


def labelled_set(data: Path | None, labels: Path | None, output: Path) -> Path:
    """The labelled set to evaluate: `data`, or the labels of `judge view` written into `output`."""
    records_or_labels(data, labels, "a labelled set")
    if labels is None:
        assert data is not None
        return data
    return write_gold_set(labels, output / GOLD_SET)


def run_eval_job(
    data: Path,
    *,
    rubric: Rubric | str = "helpfulness",
    backend: str = "transformers",
    backend_options: Mapping[str, Any] | None = None,
    settings: JudgeSettings = DEFAULTS,
    output: Path = Path("eval-report"),
    report_format: str = "md",
    limit: int | None = None,
    batch_size: int = 16,
    pair_method: Literal["rubric", "direct"] | None = None,
    calibrator: Path | Calibrator | None = None,
    force_calibrator: bool = False,
    own_models: str | Collection[str] | None = None,
    gold_threshold: float | None = None,
    mixed_groups: bool = False,
    relative_confidence: int = 0,
    compare_reasoning: str | None = None,
    baseline: Path | None = None,
    tolerance: float = 0.0,
    probe_report: Path | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    naive: bool = True,
    gates: Collection[str] = (),
    progress: EvalProgress | None = None,
) -> EvalRun:
    """Judge a labelled set with a `Judge`, write the report folder, gate on a baseline.

    `data` is anything `calibration.load_eval_set` reads; `seed` places pairs and seeds the
    bootstrap; `pair_method` None is `Judge.compare`'s default. With `baseline` (an earlier
    evaluation.json), `drift` says whether a metric regressed by more than `tolerance`;
    `probe_report` (a `judge probe` probe.json) is stored with the run and gated on too.
    With `naive`, the same model is also asked the plainest question in the same batches and the
    report gives judge - naive per metric; `gates` may name ``judge>=naive``. `calibrator` is a
    probability calibrator (`judge calibrate fit`) or, with score_rule ``fitted``, a criteria fit
    (`judge calibrate fit-criteria`).
    """
    from judge.runner.judge import Judge

    # Every check that needs no model comes first: a mistake costs seconds, not a model load.
    if pair_method not in (None, "rubric", "direct"):
        raise ConfigError(f"pair method {pair_method!r}", hint="rubric or direct")
    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size} < 1", hint="items per backend batch: 1+")
    eval_set = load_eval_set(data, seed=seed, gold_threshold=gold_threshold)
    if mixed_groups:
        eval_set = eval_set.mixed_groups()
        if not eval_set.samples:
            raise InputError(
                f"{data}: no prompt group has both right and wrong responses",
                hint="--mixed-groups needs best-of-N data (N labelled responses per prompt)",
            )
    old = load_evaluation(baseline) if baseline is not None else None
    if old is not None and old.kind != eval_set.kind:
        raise ConfigError(
            f"baseline {baseline} is a {old.kind} evaluation, {data} is {eval_set.kind} data",
            hint="give the evaluation.json of a run on the same data",
        )
    if not 0.0 <= tolerance < 1.0:
        raise ConfigError(f"--tolerance {tolerance} is not in [0, 1)")
    if relative_confidence < 0 or (relative_confidence and eval_set.kind != "pointwise"):
        raise ConfigError(
            f"--relative-confidence {relative_confidence}",
            hint="partners per judgment, 1 or more, on pointwise data (0: off)",
        )
    gates = tuple(dict.fromkeys(gates))
    for name in gates:
        if name != NAIVE_GATE:
            raise ConfigError(f"--gate {name!r} is not a known gate", hint=f"known: {NAIVE_GATE}")
    if NAIVE_GATE in gates and not naive:
        raise ConfigError(f"--gate {NAIVE_GATE} needs the naive baseline", hint="drop --no-naive")
    probe = read_probe_report(probe_report) if probe_report is not None else None
    other = None if compare_reasoning is None else settings.updated(reasoning=compare_reasoning)
    rubric_obj = load_rubric(rubric) if isinstance(rubric, str) else rubric
    loaded = (
        load_score_calibrator(calibrator) if isinstance(calibrator, (str, Path)) else calibrator
    )
    criteria_fit = loaded if isinstance(loaded, CriteriaFit) else None
    if (settings.score_rule == "fitted") != (criteria_fit is not None):
        raise ConfigError(
            f"score_rule {settings.score_rule!r} with --calibrator {calibrator}",
            hint="score_rule fitted takes a criteria fit (judge calibrate fit-criteria) as "
            "--calibrator; the other rules take a probability calibrator (judge calibrate fit)",
        )
    fitted = loaded if isinstance(loaded, Calibrator) else None
    # One calibrator, applied where every user of a Judge gets it applied: in the Judge.
    judge = Judge(
        backend=backend,
        rubric=rubric_obj,
        settings=settings,
        calibrator=criteria_fit or fitted,
        force_calibrator=force_calibrator,
        backend_options=backend_options,
    )
    total = len(eval_set) if limit is None else min(limit, len(eval_set))

    def tell(label: str) -> Callable[[int, int], None] | None:
        return None if progress is None else lambda done, _: progress(label, done, total)

    common: dict[str, Any] = {
        "limit": limit,
        "chunk_size": batch_size,
        "own_models": own_models,
        "pair_method": pair_method,
        "n_boot": n_boot,
        "seed": seed,
    }
    try:
        evaluation = run_eval(
            judge,
            eval_set,
            progress=tell("eval"),
            relative_partners=relative_confidence,
            naive=naive,
            naive_tolerance=tolerance,
            **common,
        )
        agreement = None
        if other is not None:
            # The same backend, judged again under the other mode (no second model load).
            second = Judge(backend=judge.backend, rubric=rubric_obj, settings=other)
            compared = run_eval(
                second, eval_set, progress=tell(f"eval ({other.reasoning})"), **common
            )
            agreement = mode_agreement((settings.reasoning, other.reasoning), evaluation, compared)
    finally:
        judge.close()
    if probe is not None:
        evaluation = evaluation.model_copy(update={"probe": probe})
    report = write_report(evaluation, output, format=report_format, calibrator=fitted)
    if agreement is not None:
        write_atomic(output / "mode-agreement.json", agreement.model_dump_json(indent=2) + "\n")
    drift = None
    if old is not None:
        drift = compare_evaluations(
            evaluation, old, baseline_name=str(baseline), tolerance=tolerance, n_boot=n_boot,
            seed=seed,
        )  # fmt: skip
        write_atomic(output / "drift.json", drift.model_dump_json(indent=1))
    return EvalRun(evaluation, report, agreement, drift, gates)

"""Every file the project writes whole is replaced atomically: a dying writer leaves the old file.

Each output kind is written once, then again with a write that fails between writing the
temporary file and renaming it (the rename refuses with ENOSPC, as a full disk would). The old
file must be byte for byte what it was, no temporary file may stay behind, and the failure is a
`StorageError`. One test kills a real writer process at that moment with SIGKILL.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from judge import backends, storage
from judge.batch.files import Journal, write_parquet
from judge.batch.preflight import plan_path, record_plan
from judge.calibration.apply import calibrate_file, fit_on_records
from judge.calibration.evaluate import evaluate_pointwise
from judge.calibration.jsonl import load_point_records, write_records
from judge.calibration.plots import reliability_diagram
from judge.calibration.probe import run_probe
from judge.calibration.probe_report import write_probe
from judge.calibration.recalibrate import fit_calibrator
from judge.calibration.report import write_report
from judge.errors import StorageError
from judge.rubric.cache import RubricCache
from judge.runner.judge import Judge
from judge.storage import write_atomic
from judge.types import Criterion, Rubric
from tests.conftest import REPO
from tests.doubles.scripted import gullible
from tests.unit.calibration.test_calibration_report import external_pointwise
from tests.unit.calibration.test_probe import ATTACKS, ROWS
from tests.unit.commands.test_calibration_cli import run_main

FULL = OSError(errno.ENOSPC, "No space left on device")


def refuse_rename(monkeypatch: pytest.MonkeyPatch, *names: str) -> list[str]:
    """Make the atomic helper's rename onto a file called one of `names` fail like a full disk."""
    real = os.replace
    refused: list[str] = []

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        name = Path(target).name
        if name in names:
            assert Path(source).is_file(), "the temporary file is written before the rename"
            refused.append(name)
            raise OSError(FULL.errno, FULL.strerror)
        real(source, target)

    monkeypatch.setattr(storage.os, "replace", replace)
    return refused


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def assert_untouched(folder: Path, before: dict[str, bytes], *names: str) -> None:
    """No temporary file in `folder`; the files `names` (default: all) are as they were."""
    after = snapshot(folder)
    assert not [name for name in after if name.endswith(storage.TEMPORARY_SUFFIX)]
    kept = names or tuple(before)
    assert {n: after.get(n) for n in kept} == {n: before[n] for n in kept}


# -- the helper ------------------------------------------------------------------------------


def test_a_write_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_atomic(target, "first\n")
    os.chmod(target, 0o640)
    assert write_atomic(target, b"second\n") == target
    assert target.read_bytes() == b"second\n" and target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_full_disk_at_the_rename_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.json"
    write_atomic(target, "old\n")
    refuse_rename(monkeypatch, "out.json")
    with pytest.raises(StorageError, match=r"cannot write .*out\.json: .*ENOSPC.*unchanged"):
        write_atomic(target, "new\n")
    assert_untouched(tmp_path, {"out.json": b"old\n"})


def test_other_os_errors_stay_os_errors_and_leave_no_temporary(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "out.json", "x")
    target = tmp_path / "out.json"
    write_atomic(target, "old")

    class Interrupted(Exception):
        pass

    with pytest.raises(Interrupted), storage.atomic_path(target) as temporary:
        temporary.write_text("half")
        raise Interrupted
    assert_untouched(tmp_path, {"out.json": b"old"})


KILLED_WRITER = """
import os, sys, time
from judge import storage
target, ready = sys.argv[1], sys.argv[2]
def stop_before_rename(source, destination):
    open(ready, "w").close()
    time.sleep(60)
storage.os.replace = stop_before_rename
storage.write_atomic(target, "new " * 100_000)
"""


def test_a_writer_killed_between_write_and_rename_leaves_the_old_file(tmp_path: Path) -> None:
    target, ready = tmp_path / "out.json", tmp_path / "ready"
    write_atomic(target, "old\n")
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target), str(ready)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        for _ in range(600):
            if ready.exists() or writer.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert ready.exists(), "the writer did not reach the rename"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"old\n"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("out.json", "ready")]
    assert all(name.startswith(".out.json.") for name in leftovers), leftovers
    write_atomic(target, "after\n")
    assert target.read_text() == "after\n"


# -- every output kind -----------------------------------------------------------------------


def _twice(
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[int], object],
    *names: str,
) -> None:
    """Write once; write again with the rename onto `names` refused; those files stay as they were.

    A writer of several files replaces each on its own, so the files written before the refused
    one may be new; the refused file itself must be whole and old.
    """
    write(1)
    before = snapshot(folder)
    assert set(names) <= set(before), sorted(before)
    refused = refuse_rename(monkeypatch, *names)
    with pytest.raises(StorageError):
        write(2)
    assert refused, "the writer went through the atomic helper"
    assert_untouched(folder, before, *names)


def _probabilities(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, 200)
    return p, rng.uniform(size=200) < p


def test_calibrator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def write(seed: int) -> object:
        return fit_calibrator(*_probabilities(seed)).save(tmp_path / "calibrator.json")

    _twice(tmp_path, monkeypatch, write, "calibrator.json")


def test_criteria_fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from judge.calibration.criteria_fit import fit_criteria

    def write(seed: int) -> object:
        p, labels = _probabilities(seed)
        rows = [{"a": float(x), "b": float(1 - x)} for x in p]
        return fit_criteria(rows, [bool(x) for x in labels]).save(tmp_path / "criteria-fit.json")

    _twice(tmp_path, monkeypatch, write, "criteria-fit.json")


def test_records_and_calibrated_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = load_point_records(external_pointwise(tmp_path / "judged.jsonl", n=60))
    out = tmp_path / "out"
    out.mkdir()
    _twice(out, monkeypatch, lambda n: write_records(records[:n], out / "r.jsonl"), "r.jsonl")
    calibrator = fit_on_records(records)
    target = out / "calibrated.jsonl"
    source = tmp_path / "judged.jsonl"
    _twice(
        out, monkeypatch, lambda n: calibrate_file(calibrator, source, target, force=n > 1),
        "calibrated.jsonl",
    )  # fmt: skip


@pytest.mark.parametrize(
    "name", ["report.md", "evaluation.json", "records.jsonl", "reliability.png"]
)
def test_evaluation_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    out = tmp_path / "report"

    def write(seed: int) -> object:
        path = external_pointwise(tmp_path / f"judged{seed}.jsonl", n=80, seed=seed)
        evaluation = evaluate_pointwise(load_point_records(path), n_boot=10)
        return write_report(evaluation, out)

    _twice(out, monkeypatch, write, name)


def test_a_plot_is_rendered_to_bytes_then_written_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write(seed: int) -> object:
        path = external_pointwise(tmp_path / f"judged{seed}.jsonl", n=80, seed=seed)
        evaluation = evaluate_pointwise(load_point_records(path), n_boot=0)
        return reliability_diagram(evaluation.calibration, tmp_path / "plots" / "r.png")

    _twice(tmp_path / "plots", monkeypatch, write, "r.png")
    assert (tmp_path / "plots" / "r.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("suffix", ["json", "md", "png"])
def test_probe_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    out = tmp_path / "probe"

    def write(fail_above: int) -> object:
        report = run_probe(Judge(gullible(), "helpfulness"), ROWS, ATTACKS, n_boot=20)
        return write_probe(report, out, fail_above=fail_above / 4)

    write(1)
    name = next(path.name for path in out.iterdir() if path.suffix == f".{suffix}")
    _twice(out, monkeypatch, write, name)


def test_rubric_cache_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = RubricCache(tmp_path)

    def write(weight: int) -> object:
        criterion = Criterion(id="c", text="The response is correct.", weight=weight)
        return cache.put("key", Rubric(name="r", criteria=(criterion,)), {"rounds": weight})

    _twice(tmp_path, monkeypatch, write, "key.json")


def test_batch_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    columns = ["row", "id", "score"]

    def parquet(rows: int) -> object:
        records = ({"row": n, "id": f"r{n}", "score": 0.5} for n in range(rows))
        return write_parquet(tmp_path / "out.parquet", columns, None, records)

    _twice(tmp_path, monkeypatch, parquet, "out.parquet")

    journal = Journal(tmp_path / "out.parquet.journal.jsonl")
    journal.append([{"row": 1, "id": "a"}, {"row": 1, "id": "a"}, {"row": 2, "id": "b"}])
    before = snapshot(tmp_path)
    refuse_rename(monkeypatch, journal.path.name)
    with pytest.raises(StorageError):
        journal.keep_first()
    assert_untouched(tmp_path, before)


def test_the_plan_sidecar_stays_whole_and_its_failure_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    output = tmp_path / "out.jsonl"
    record_plan(output, "plan-1", "job-1")
    before = snapshot(tmp_path)
    refuse_rename(monkeypatch, plan_path(output).name)
    record_plan(output, "plan-2", "job-2")
    assert "not written" in caplog.text
    assert_untouched(tmp_path, before)
    assert json.loads(plan_path(output).read_text())["plan"] == "plan-1"


def test_drift_json_and_mode_agreement_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.commands import test_calibration_cli

    monkeypatch.setitem(
        backends._REGISTRY, "modal", f"{test_calibration_cli.__name__}:mode_dependent"
    )
    rows = [
        {"id": f"r{i}", "prompt": f"Q{i}?", "response": "good" if i % 2 else "bad"}
        for i in range(8)
    ]
    rows = [{**row, "label": row["response"] == "good"} for row in rows]
    data = tmp_path / "points.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "eval"
    args = ["eval", str(data), "--backend", "modal", "--n-boot", "10", "--output", str(out)]
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 0, err
    baseline = tmp_path / "baseline.json"
    baseline.write_bytes((out / "evaluation.json").read_bytes())
    gated = [*args, "--reasoning", "none", "--compare-reasoning", "before"]
    code, _, err = run_main(monkeypatch, capsys, *gated, "--baseline", str(baseline))
    assert (out / "drift.json").is_file() and (out / "mode-agreement.json").is_file(), err
    for name in ("drift.json", "mode-agreement.json"):
        before = snapshot(out)
        refused = refuse_rename(monkeypatch, name)
        code, _, err = run_main(monkeypatch, capsys, *gated, "--baseline", str(baseline))
        assert code == 5 and refused == [name], err
        assert f"cannot write {out / name}" in err
        after = snapshot(out)
        assert after[name] == before[name]
        assert not [n for n in after if n.endswith(storage.TEMPORARY_SUFFIX)]
        monkeypatch.undo()
        monkeypatch.setitem(
            backends._REGISTRY, "modal", f"{test_calibration_cli.__name__}:mode_dependent"
        )


def test_rubric_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(backends._REGISTRY, "rubric-world", "tests.doubles.rubric:rubric_world")
    monkeypatch.setenv("JUDGE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "rubrics"
    out.mkdir()
    target = out / "poem.yaml"
    args = ["rubric", "generate", "--backend", "rubric-world", "--output", str(target)]
    code, _, err = run_main(monkeypatch, capsys, *args, "--prompt", "Write a poem about rain.")
    assert code == 0, err
    before = snapshot(out)
    refuse_rename(monkeypatch, "poem.yaml")
    code, _, err = run_main(monkeypatch, capsys, *args, "--prompt", "Write two lines on snow.")
    assert code == 5 and "cannot write" in err, err
    assert_untouched(out, before)

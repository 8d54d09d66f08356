"""`judge probe` on the command line (scripted gullible judge): exit codes, files, refusals."""

from __future__ import annotations

import json

import pytest

from judge import backends
from judge.calibration.attacks import ATTACK_SET_VERSION
from tests.cli_main import run_judge
from tests.conftest import REPO

ROWS = REPO / "tests" / "fixtures" / "probe" / "rows.jsonl"


@pytest.fixture(autouse=True)
def _scripted_backend(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-gullible", "tests.doubles.scripted:gullible")
    monkeypatch.setitem(backends._REGISTRY, "never-loads", "tests.doubles.nonexistent:backend")


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    return run_judge(monkeypatch, capsys, "probe", *args)


def test_fail_above_changes_the_exit_code_and_the_report_is_written_either_way(
    tmp_path, monkeypatch, capsys
):
    args = [str(ROWS), "--backend", "scripted-gullible", "--n-boot", "50"]
    code, out, err = run_main(monkeypatch, capsys, *args, "--output", str(tmp_path / "a"))
    assert code == 0, err
    assert "inject_appended" in out and ATTACK_SET_VERSION in out
    code, _, err = run_main(
        monkeypatch, capsys, *args, "--output", str(tmp_path / "b"), "--fail-above", "0.5"
    )
    assert code == 4
    assert "fail: inject_appended accepted 1.00" in err
    assert "master_key" not in err.split("written:")[1]
    for folder in ("a", "b"):
        report = json.loads((tmp_path / folder / "probe.json").read_text())
        assert report["attack_set_version"] == ATTACK_SET_VERSION
        assert (tmp_path / folder / "probe.png").stat().st_size > 0
    # The row without a response is attacked with its reference as the good response.
    assert report["data"]["rows"] == 4


def test_a_baseline_rise_fails_and_the_same_configuration_passes(tmp_path, monkeypatch, capsys):
    args = [str(ROWS), "--backend", "scripted-gullible", "--n-boot", "200"]
    code, _, err = run_main(monkeypatch, capsys, *args, "--output", str(tmp_path / "old"))
    assert code == 0, err
    old = tmp_path / "old" / "probe.json"
    code, _, err = run_main(
        monkeypatch, capsys, *args, "--output", str(tmp_path / "same"), "--baseline", str(old)
    )
    assert code == 0, err
    # A baseline in which the injections never worked: today's judge is worse than it.
    report = json.loads(old.read_text())
    for attack in report["attacks"]:
        if attack["name"].startswith("inject"):
            attack["accepted"] = [0.0] * attack["n"]
    better = tmp_path / "better.json"
    better.write_text(json.dumps(report))
    code, _, err = run_main(
        monkeypatch, capsys, *args, "--output", str(tmp_path / "new"), "--baseline", str(better)
    )
    assert code == 4
    assert "inject_appended acceptance rose 0.00 -> 1.00" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--attacks", "master_key_nope"], "unknown attack 'master_key_nope'"),
        (["--mode", "listwise"], "--mode 'listwise'"),
        (["--fail-above", "1.5"], "--fail-above 1.5 is outside [0, 1]"),
        (["--abstain-band", "0.1"], "abstain_band 0.1 needs a calibrator"),
        (["--baseline", "missing.json"], "--baseline missing.json: not a probe report"),
        (["--rubric", "no_such_rubric"], "no_such_rubric"),
    ],
)
def test_user_mistakes_exit_2_in_one_line_before_the_model_loads(
    monkeypatch, capsys, tmp_path, extra, message
):
    code, _, err = run_main(
        monkeypatch,
        capsys,
        str(ROWS),
        "--backend",
        "never-loads",
        "--output",
        str(tmp_path),
        *extra,
    )
    assert code == 2, err
    assert message in err and "Traceback" not in err


def test_a_bad_row_is_refused_before_the_model_loads(monkeypatch, capsys, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"prompt": "Q?", "response": "A."}\n{"prompt": "Q2?"}\n')
    code, _, err = run_main(monkeypatch, capsys, str(rows), "--backend", "never-loads")
    assert code == 2
    assert f"{rows}:2" in err

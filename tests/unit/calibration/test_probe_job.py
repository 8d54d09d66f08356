"""`run_probe_job`: the whole of `judge probe` as one library call (a scripted gullible judge)."""

from __future__ import annotations

import json

import pytest

from judge import backends
from judge.calibration.attacks import ATTACK_SET_VERSION
from judge.calibration.probe_job import ProbeRun, read_probe_rows, run_probe_job
from judge.errors import ConfigError, InputError
from tests.conftest import REPO

ROWS = REPO / "tests" / "fixtures" / "probe" / "rows.jsonl"


@pytest.fixture(autouse=True)
def _scripted_backend(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-gullible", "tests.doubles.scripted:gullible")
    monkeypatch.setitem(backends._REGISTRY, "never-loads", "tests.doubles.nonexistent:backend")


def test_a_probe_writes_its_report_and_names_what_fails_the_gate(tmp_path):
    run = run_probe_job(
        ROWS, backend="scripted-gullible", output=tmp_path / "probe", n_boot=50, fail_above=0.5
    )
    assert isinstance(run, ProbeRun) and run.failed and run.regressions is None
    assert "inject_appended" in [attack.name for attack in run.failing]
    assert all((attack.acceptance.value or 0.0) > 0.5 for attack in run.failing)
    assert run.report.attack_set_version == ATTACK_SET_VERSION and run.report.data["rows"] == 4
    assert {path.name for path in run.paths.values()} == {"probe.json", "probe.md", "probe.png"}
    stored = json.loads(run.paths["json"].read_text())
    assert stored["attack_set_version"] == ATTACK_SET_VERSION

    same = run_probe_job(
        ROWS, backend="scripted-gullible", output=tmp_path / "again", n_boot=50,
        baseline=run.paths["json"],
    )  # fmt: skip
    assert same.regressions == [] and not same.failed


def test_limit_and_attack_names_choose_what_is_judged(tmp_path):
    run = run_probe_job(
        ROWS, backend="scripted-gullible", output=tmp_path / "p", n_boot=0, limit=2,
        attacks=["inject_appended"],
    )  # fmt: skip
    assert run.report.data["rows"] == 2
    assert "inject_appended" in [attack.name for attack in run.report.attacks]
    assert "master_key_solution" not in [attack.name for attack in run.report.attacks]


def test_a_row_without_a_response_is_attacked_with_its_reference(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"prompt": "Q?", "reference": "R."}\n')
    [sample] = read_probe_rows(
        rows, prompt="prompt", response="response", reference="reference", limit=None
    )
    assert sample.response == "R."


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"mode": "listwise"}, ConfigError, "--mode 'listwise'"),
        ({"pair_method": "vote"}, ConfigError, "--pair-method 'vote'"),
        ({"limit": 0}, ConfigError, "--limit 0 < 1"),
        ({"fail_above": 1.5}, ConfigError, "--fail-above 1.5"),
        ({"attacks": ["master_key_nope"]}, ConfigError, "master_key_nope"),
        ({"baseline": REPO / "missing.json"}, InputError, "not a probe report"),
    ],
)
def test_mistakes_are_refused_before_the_model_loads(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        run_probe_job(ROWS, backend="never-loads", output=tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()

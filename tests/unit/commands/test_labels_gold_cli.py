"""`judge calibrate fit --labels` and `judge eval --labels`: the labels of judge view as gold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge import backends
from judge.view import LabelStore, labels_path, open_run
from judge.view.labels import label_from
from tests.cli_main import run_judge
from tests.view_runs import judgment_record, standard_records, write_jsonl


@pytest.fixture(autouse=True)
def _backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(backends._REGISTRY, "scripted-yes", "tests.doubles.scripted:always_yes")


def labelled_run(tmp_path: Path, choices: dict[int, dict]) -> Path:
    run_file = write_jsonl(tmp_path / "scored.jsonl", standard_records())
    run = open_run(run_file)
    store = LabelStore(labels_path(run_file)).open()
    try:
        for position, choice in choices.items():
            store.add(label_from(run.record(position), choice))
    finally:
        store.close()
    return labels_path(run_file)


# scores 0.1 .. 0.9: right/wrong chosen so that the gold is pass above 0.5 except s6 and s1
CHOICES = {
    1: {"correct": False},  # said fail (0.1), wrong: gold pass
    2: {"correct": True},
    3: {"correct": True},
    5: {"correct": True},
    6: {"correct": False},  # said pass (0.6), wrong: gold fail
    8: {"correct": True, "criteria": {"clear": True, "correct": False}},
    9: {"correct": True, "criteria": {"clear": True, "correct": True}},
}


def test_calibrate_fit_takes_the_labels_as_gold(tmp_path, monkeypatch, capsys) -> None:
    labels = labelled_run(tmp_path, CHOICES)
    output = tmp_path / "cal.json"
    code, out, err = run_judge(
        monkeypatch, capsys, "calibrate", "fit", "--labels", str(labels), "--output", str(output)
    )
    assert code == 0, err
    fitted = json.loads(output.read_text())
    assert fitted["fingerprint"] == {
        "model": "m",
        "rubric_fingerprint": "rf",
        "template_fingerprint": "tf",
        "settings_fingerprint": "sf",
    }
    assert "calibrator written" in out

    # per criterion: s8 (clear yes, right; correct no, wrong) and s9 (both right) give
    # four P(yes) records with gold yes, yes, yes, no
    per_criterion = tmp_path / "per-criterion.json"
    code, out, err = run_judge(
        monkeypatch,
        capsys,
        "calibrate",
        "fit",
        "--labels",
        str(labels),
        "--labels-level",
        "criterion",
        "--output",
        str(per_criterion),
    )
    assert code == 0, err
    assert json.loads(per_criterion.read_text())["fingerprint"]["model"] == "m"


def test_records_and_labels_are_one_or_the_other(tmp_path, monkeypatch, capsys) -> None:
    labels = labelled_run(tmp_path, CHOICES)
    code, _, err = run_judge(
        monkeypatch, capsys, "calibrate", "fit", str(labels), "--labels", str(labels)
    )
    assert code == 2 and "not both" in err
    code, _, err = run_judge(monkeypatch, capsys, "calibrate", "fit")
    assert code == 2 and "--labels FILE" in err


def test_labels_of_two_judges_are_refused_together(tmp_path, monkeypatch, capsys) -> None:
    labels = labelled_run(tmp_path, CHOICES)
    store = LabelStore(labels).open()
    store.add(label_from(judgment_record(3, 0.3, model="another"), {"correct": True}))
    store.close()
    code, _, err = run_judge(monkeypatch, capsys, "calibrate", "fit", "--labels", str(labels))
    assert code == 2 and "2 judge configurations" in err and "'another'" in err


def test_eval_runs_the_judge_on_the_labelled_items(tmp_path, monkeypatch, capsys) -> None:
    labels = labelled_run(tmp_path, CHOICES)
    report = tmp_path / "eval"
    code, out, err = run_judge(
        monkeypatch,
        capsys,
        "eval",
        "--labels",
        str(labels),
        "--backend",
        "scripted-yes",
        "--output",
        str(report),
        "--n-boot",
        "20",
        "--no-naive",
    )
    assert code == 0, err
    gold = [
        json.loads(line) for line in (report / "gold-from-labels.jsonl").read_text().splitlines()
    ]
    assert {row["id"]: row["label"] for row in gold} == {
        "s1": True,
        "s2": False,
        "s3": False,
        "s5": True,
        "s6": False,
        "s8": True,
        "s9": True,
    }
    assert "n=7" in out


def test_pairwise_labels_are_gold_for_fit_and_eval(tmp_path, monkeypatch, capsys) -> None:
    pairs = [
        {
            "pair_id": f"p{i}",
            "p_a": p,
            "winner": "a" if p > 0.5 else "b",
            "p_a_ab": p,
            "p_a_ba": p,
            "winner_ab": "a" if p > 0.5 else "b",
            "winner_ba": "a" if p > 0.5 else "b",
            "model": "m",
            "prompt": f"question {i}",
            "response_a": f"answer a{i}",
            "response_b": f"answer b{i}",
        }
        for i, p in enumerate((0.9, 0.8, 0.7, 0.3, 0.2, 0.1))
    ]
    run_file = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    run = open_run(run_file)
    store = LabelStore(labels_path(run_file)).open()
    for position, better in enumerate(("a", "a", "b", "b", "b", "a")):
        store.add(label_from(run.record(position), {"better": better}))
    store.close()
    labels = labels_path(run_file)
    output = tmp_path / "cal.json"
    code, _, err = run_judge(
        monkeypatch, capsys, "calibrate", "fit", "--labels", str(labels), "--output", str(output)
    )
    assert code == 0, err
    assert json.loads(output.read_text())["fingerprint"]["model"] == "m"
    code, _, err = run_judge(
        monkeypatch, capsys, "eval", "--labels", str(labels), "--backend", "scripted-yes",
        "--output", str(tmp_path / "eval"), "--n-boot", "20", "--no-naive",
    )  # fmt: skip
    assert code == 0, err
    rows = (tmp_path / "eval" / "gold-from-labels.jsonl").read_text().splitlines()
    first, third = json.loads(rows[0]), json.loads(rows[2])
    assert (first["chosen"], first["rejected"]) == ("answer a0", "answer b0")
    assert (third["chosen"], third["rejected"]) == ("answer b2", "answer a2")

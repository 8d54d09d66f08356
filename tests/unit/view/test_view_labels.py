"""Labels beside the run: append-only, latest wins, keyed by id and judge, one writer at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from judge.errors import ConfigError, InputError
from judge.view import LabelStore, labels_path, open_run, read_labels
from judge.view.labels import label_from
from judge.view.server import serve_view
from tests.view_runs import judgment_record, standard_records, write_jsonl


@pytest.fixture
def run_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "scored.jsonl", standard_records())


def test_labels_append_and_the_latest_of_an_id_and_judge_wins(run_file: Path) -> None:
    store = LabelStore(labels_path(run_file)).open()
    run = open_run(run_file)
    try:
        store.add(label_from(run.record(9), {"correct": True}))
        store.add(label_from(run.record(9), {"correct": False, "criteria": {"clear": True}}))
        store.add(label_from(run.record(1), {"correct": True}))
    finally:
        store.close()
    path = run_file.with_name("scored.jsonl.labels.jsonl")
    assert len(path.read_text().splitlines()) == 3  # nothing is rewritten
    labels = read_labels(path)
    assert len(labels) == 2
    [latest] = [label for (sample_id, _), label in labels.items() if sample_id == "s9"]
    assert latest.correct is False and latest.criteria == {"clear": True}
    # the judge said pass (0.9) and was wrong: gold fail; its "clear" yes was right: gold yes
    assert latest.gold is False and latest.criterion_gold("clear") is True
    assert latest.prompt == "question 9" and latest.judge_score == 0.9
    # the same sample judged by another model is another key: another label
    other = label_from(judgment_record(9, 0.9, model="other"), {"correct": True})
    assert other.key != latest.key


def test_a_torn_last_label_is_cut_and_a_bad_one_refused(run_file: Path) -> None:
    store = LabelStore(labels_path(run_file)).open()
    store.add(label_from(open_run(run_file).record(0), {"correct": True}))
    store.close()
    path = labels_path(run_file)
    with path.open("a") as handle:
        handle.write('{"sample_id": "s1", "ke')
    assert len(read_labels(path)) == 1
    path.write_text('{"sample_id": "s1"}\n' + path.read_text())
    with pytest.raises(InputError, match=r"labels.jsonl:1: not a label"):
        read_labels(path)


def test_a_second_writer_is_refused_and_a_reader_is_not(run_file: Path) -> None:
    first = serve_view([run_file], port=0)
    try:
        with pytest.raises(ConfigError, match="being written by another judge view"):
            serve_view([run_file], port=0)
        reader = serve_view([run_file], port=0, read_only=True)
        with pytest.raises(ConfigError, match="read-only"):
            reader.viewer.add_label({"i": 0, "correct": True})
        reader.shutdown()
    finally:
        first.shutdown()
    again = serve_view([run_file], port=0)  # the lock went with the first viewer
    again.shutdown()

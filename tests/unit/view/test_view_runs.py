"""`judge view` reads what judge writes and pages, sorts and filters it on the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge.batch.files import records_table
from judge.errors import InputError
from judge.view import Query, open_run, query
from judge.view.query import facets
from tests.view_runs import standard_records, write_jsonl


@pytest.fixture
def run_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "scored.jsonl", standard_records())


def ids(page: dict) -> list[str]:
    return [row["id"] for row in page["rows"]]


def ask(path: Path, **params: str) -> dict:
    return query(open_run(path), Query.from_params(params))


def test_a_batch_jsonl_opens_with_its_index_and_records(run_file: Path) -> None:
    run = open_run(run_file)
    assert len(run) == 10
    assert run.record(3)["prompt"] == "question 3"
    found = facets(run)
    assert found["error_kind"] == [["unparseable", 1]]
    assert found["strategy"] == [["breadth", 9], ["depth", 1]]
    assert found["reasoning"] == [["none", 8], ["with rationale", 1]]
    assert found["capped"] == 1
    with pytest.raises(InputError, match="no record 10"):
        run.record(10)


def test_filters_sort_and_pages(run_file: Path) -> None:
    assert ids(ask(run_file, error_kind="any")) == ["s4"]
    assert len(ask(run_file, error_kind="none")["rows"]) == 9
    assert ids(ask(run_file, capped="yes")) == ["s7"]
    assert ids(ask(run_file, strategy="depth")) == ["s8"]
    assert ids(ask(run_file, reasoning="with rationale")) == ["s8"]
    assert ids(ask(run_file, score_min="0.55", score_max="0.75")) == ["s6", "s7"]
    assert ids(ask(run_file, q="SPIDER")) == ["s0", "s3", "s6", "s9"]  # case-insensitive
    ranked = ask(run_file, sort="score", order="desc")
    assert ids(ranked)[:3] == ["s9", "s8", "s7"] and ids(ranked)[-1] == "s4"  # no score: last
    page = ask(run_file, sort="score", offset="2", limit="3")
    assert page["total"] == 10 and ids(page) == ["s2", "s3", "s5"]
    assert ask(run_file, limit="100000")["total"] == 10  # a page is capped, the total is not


def test_a_search_never_matches_across_two_rows_and_many_matches_agree(run_file: Path) -> None:
    run = open_run(run_file)
    assert run.record(0)["response"].endswith("eight legs")
    assert ids(query(run, Query.from_params({"q": "eight legss1"}))) == []  # row 0's end + row 1
    # most rows match "question": past the share where pyarrow's kernel answers, same rows
    assert len(ids(query(run, Query.from_params({"q": "question"})))) == 10
    assert ids(query(run, Query.from_params({"q": "question 3"}))) == ["s3"]
    probe = run_file.parent / "probe"
    probe.mkdir()
    (probe / "probe.json").write_text("{}")
    assert query(open_run(probe), Query.from_params({"q": "x"}))["total"] == 0


def test_a_bad_query_is_refused_with_its_name(run_file: Path) -> None:
    with pytest.raises(Exception, match="sort='prompt'"):
        Query.from_params({"sort": "prompt"})
    with pytest.raises(Exception, match="score_min='high'"):
        Query.from_params({"score_min": "high"})


def test_a_torn_last_line_is_skipped_and_a_bad_line_refused(run_file: Path) -> None:
    with run_file.open("a") as handle:
        handle.write('{"row": 11, "id": "s1')  # a job still writing
    assert len(open_run(run_file)) == 10
    lines = run_file.read_text().splitlines()
    run_file.write_text("\n".join([lines[0], "not json", *lines[1:10]]) + "\n")
    with pytest.raises(InputError, match=r"scored.jsonl:2: not a JSON object"):
        open_run(run_file)


def test_parquet_files_and_ray_folders_open_like_jsonl(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    records = standard_records()
    columns = list(records[0])
    pq.write_table(records_table(columns, records), tmp_path / "scored.parquet")
    folder = tmp_path / "ray-out"
    folder.mkdir()
    pq.write_table(
        records_table(columns, records[:6]), folder / "part-000000001-000000006-a.parquet"
    )
    pq.write_table(
        records_table(columns, records[6:]), folder / "part-000000007-000000010-b.parquet"
    )
    for path in (tmp_path / "scored.parquet", folder):
        run = open_run(path)
        assert len(run) == 10
        assert ids(query(run, Query.from_params({"error_kind": "any"}))) == ["s4"]
        # the search text is built column-wise here, row by row from JSONL: the same matches
        assert ids(query(run, Query.from_params({"q": "BECAUSE"}))) == ["s8"]
        assert ids(query(run, Query.from_params({"q": "spider"}))) == ["s0", "s3", "s6", "s9"]
        assert ids(query(run, Query.from_params({"q": "it failed"}))) == ["s4"]
        assert facets(run)["reasoning"] == [["none", 8], ["with rationale", 1]]
        record = run.record(8)
        assert record["verdicts"][0]["rationale"] == "because"
        assert isinstance(record["details"], dict)  # JSON text in Parquet, an object here


def test_eval_and_probe_report_folders(tmp_path: Path) -> None:
    evaluation = tmp_path / "eval-report"
    evaluation.mkdir()
    rows = [{"id": f"e{i}", "p": i / 4, "label": i >= 2} for i in range(4)]
    write_jsonl(evaluation / "records.jsonl", rows)
    (evaluation / "evaluation.json").write_text(json.dumps({"name": "x"}))
    run = open_run(evaluation)
    assert len(run) == 4 and run.reports["evaluation"] == {"name": "x"}
    assert ids(query(run, Query.from_params({"label": "true"}))) == ["e2", "e3"]
    probe = tmp_path / "probe-report"
    probe.mkdir()
    (probe / "probe.json").write_text(json.dumps({"attacks": []}))
    assert len(open_run(probe / "probe.json")) == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"no part-\*\.parquet, records\.jsonl or probe\.json"):
        open_run(empty)
    with pytest.raises(InputError, match="cannot tell what it holds"):
        open_run(run_file_named(tmp_path / "scores.csv"))


def run_file_named(path: Path) -> Path:
    path.write_text("id,score\n")
    return path

"""Field, format and output-path mistakes: each is one line that says what its fix really is.

A field naming a column no row has, an output whose suffix names no format, an output under a
file, an input of unknown format: refused with exit 2 before the backend loads (the scripted
backend's factory leaves a marker file), with a hint that works.
"""

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.unit.commands.test_fail_fast import _batch, _main, _rows, _score, marker

__all__ = ["marker"]  # the fixture, used by name


def _refused(monkeypatch, capsys, marker: Path, args: list[str]) -> str:
    code, err = _main(monkeypatch, capsys, args)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not marker.exists(), "the backend loaded before the mistake was found"
    return err


ROWS = [{"id": f"r{i}", "prompt": f"Q{i}?", "response": f"A{i}."} for i in range(3)]


def _input(tmp_path: Path, fmt: str) -> Path:
    source = tmp_path / f"in.{fmt}"
    if fmt == "jsonl":
        return _rows(tmp_path)
    if fmt == "csv":
        with source.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "prompt", "response"])
            writer.writeheader()
            writer.writerows(ROWS)
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), source)
    return source


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_field_no_row_has_is_refused_naming_it_and_the_columns(
    fmt, tmp_path, monkeypatch, capsys, marker
):
    source = _input(tmp_path, fmt)
    err = _refused(monkeypatch, capsys, marker,
                   _batch(tmp_path, "--prompt-field", "question", source=source))  # fmt: skip
    assert f"--prompt-field: no row of {source} has a column 'question'" in err
    assert "(its columns: id, prompt, response)" in err
    assert "hint: pass --prompt-field with one of its columns" in err
    err = _refused(monkeypatch, capsys, marker,
                   _batch(tmp_path, "--response-field", "answer", source=source))  # fmt: skip
    assert "--response-field: no row of" in err and "'answer'" in err


def test_id_and_pair_fields_are_checked_too_and_the_ray_engine_checks_them(
    tmp_path, monkeypatch, capsys, marker
):
    err = _refused(monkeypatch, capsys, marker, _batch(tmp_path, "--id-field", "uid"))
    assert "--id-field: no row of" in err and "'uid'" in err
    err = _refused(monkeypatch, capsys, marker, _batch(tmp_path, "--a-field", "first"))
    assert "--a-field: no row of" in err and "'first'" in err
    err = _refused(
        monkeypatch, capsys, marker,
        _batch(tmp_path, "--engine", "ray", "--prompt-field", "question", out="scored"),
    )  # fmt: skip
    assert "--prompt-field: no row of" in err


def test_a_field_present_in_a_later_row_only_is_not_refused(tmp_path, monkeypatch, capsys, marker):
    source = tmp_path / "in.jsonl"
    rows = [{"id": "r0", "prompt": "Q?"}, {"id": "r1", "prompt": "Q?", "response": "A."}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    code, err = _main(monkeypatch, capsys, _batch(tmp_path, "--id-field", "id", source=source))
    assert code == 1 and marker.exists(), "judged: one row judged, one bad row"
    assert "bad rows" in err


def test_messages_stand_in_for_the_prompt_column(tmp_path, monkeypatch, capsys, marker):
    source = tmp_path / "chat.jsonl"
    row = {"messages": [{"role": "user", "content": "Q?"}], "response": "A."}
    source.write_text(json.dumps(row) + "\n", encoding="utf-8")
    code, err = _main(monkeypatch, capsys, _batch(tmp_path, source=source))
    assert code == 0, err


@pytest.mark.parametrize("name", ["out.txt", "out.csv", "out.json", "out"])
def test_an_output_whose_suffix_names_no_format_is_refused(
    name, tmp_path, monkeypatch, capsys, marker
):
    err = _refused(monkeypatch, capsys, marker, _batch(tmp_path, out=name))
    assert f"output {tmp_path / name}: the suffix" in err and "names no output format" in err
    assert "hint: name it .jsonl or .ndjson or .parquet or .pq" in err
    assert not (tmp_path / name).exists()
    err = _refused(monkeypatch, capsys, marker, _score(tmp_path, "--output", str(tmp_path / name)))
    assert "hint: name it .jsonl or .ndjson (JSON lines)" in err
    err = _refused(
        monkeypatch, capsys, marker, _score(tmp_path, "--output", str(tmp_path / "o.parquet"))
    )
    assert "'.parquet' names no output format" in err, "score writes JSON lines only"


def test_an_output_under_a_file_says_so_and_never_suggests_mkdir(
    tmp_path, monkeypatch, capsys, marker
):
    (tmp_path / "notes").write_text("a file\n")
    for out in ("notes/out.jsonl", "notes/deeper/out.jsonl"):
        err = _refused(monkeypatch, capsys, marker, _batch(tmp_path, out=out))
        assert f"{tmp_path / 'notes'} is a file, not a folder" in err and "mkdir" not in err
    err = _refused(
        monkeypatch, capsys, marker, _score(tmp_path, "--output", str(tmp_path / "notes/o.jsonl"))
    )
    assert "is a file, not a folder" in err and "mkdir" not in err
    err = _refused(monkeypatch, capsys, marker, _batch(tmp_path, out="missing/out.jsonl"))
    assert f"mkdir -p {tmp_path / 'missing'}" in err, "a missing folder: mkdir -p is the fix"


def test_the_input_format_hint_names_an_option_that_exists_and_works(
    tmp_path, monkeypatch, capsys, marker
):
    source = _rows(tmp_path, "rows.txt")
    err = _refused(monkeypatch, capsys, marker, _batch(tmp_path, source=source))
    assert "suffix '.txt'" in err and "pass --input-format jsonl|parquet|csv" in err
    err = _refused(
        monkeypatch, capsys, marker, _batch(tmp_path, "--input-format", "xml", source=source)
    )
    assert "--input-format 'xml'" in err and "use jsonl, parquet or csv" in err
    code, err = _main(
        monkeypatch, capsys, _batch(tmp_path, "--input-format", "jsonl", "--id-field", "id",
                                    source=source),
    )  # fmt: skip
    assert code == 0, err
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["r0", "r1", "r2"]

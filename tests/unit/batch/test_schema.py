"""Result shards load together: one schema whatever a shard's rows held (failures or none)."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from judge import backends
from judge.backends import create_backend
from judge.batch import BatchJob, BatchOptions, FieldMap, record_schema
from judge.runner.judge import Judge

datasets = pytest.importorskip("datasets", reason="datasets (installed with trl) loads shards")


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", "tests.doubles.reward:graded")


def _source(tmp_path: Path) -> Path:
    # Shard 0/2 takes rows 1, 3, 5, ... (all good); shard 1/2 takes rows 2, 4, ... (all failing:
    # over the 100 characters of --max-chars).
    rows = [
        {"id": f"r{i}", "prompt": f"Q{i}?", "response": "x" * 101 if i % 2 else f"A{i}."}
        for i in range(8)
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return source


def _shards(tmp_path: Path, suffix: str) -> list[Path]:
    source, shards = _source(tmp_path), []
    for index in range(2):
        output = tmp_path / f"shard{index}{suffix}"
        options = BatchOptions(fields=FieldMap(id="id"), shard=(index, 2), max_chars=100)
        judge = Judge(create_backend("scripted-graded"), "helpfulness")
        BatchJob(judge, source, output, options).run()
        shards.append(output)
    return shards


def test_parquet_shards_with_and_without_failures_have_one_schema_and_load_together(tmp_path):
    good, failed = _shards(tmp_path, ".parquet")
    assert pq.read_table(good).column("error").null_count == 4  # no failure in this shard
    assert pq.read_table(failed).column("score").null_count == 4  # only failures here
    assert pq.read_schema(good) == pq.read_schema(failed)
    assert pq.read_schema(good) == record_schema(False, ["id", "prompt", "response"])
    loaded = datasets.load_dataset(
        "parquet", data_files=[str(good), str(failed)], split="train", cache_dir=str(tmp_path)
    )
    assert loaded.num_rows == 8 and sorted(loaded["row"]) == list(range(1, 9))
    assert loaded.features["error"].dtype == "string"
    assert isinstance(loaded[0]["details"], str)


def test_jsonl_shards_load_together_with_the_record_schema(tmp_path):
    good, failed = _shards(tmp_path, ".jsonl")
    features = datasets.Features.from_arrow_schema(
        record_schema(False, ["id", "prompt", "response"])
    )
    files = [str(good), str(failed)]
    loaded = datasets.load_dataset(
        "json", data_files=files, features=features, split="train", cache_dir=str(tmp_path)
    )
    assert loaded.num_rows == 8
    assert sorted(loaded["prompt"]) == sorted(f"Q{i}?" for i in range(8))
    assert [json.loads(d) for d in loaded["details"]]  # details is JSON text in JSONL too

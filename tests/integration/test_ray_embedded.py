"""The README's Ray Data recipes, run as written: the Python one on the real embedded model.

One local Ray cluster (started by the snippet itself, on this machine's CPUs); the embedded
model loads inside the actor. Deselect with ``-m "not ray"``.
"""

import json
import os

import pyarrow.parquet as pq
import pytest

from judge.batch import record_schema
from tests.snippets import snippet

ray = pytest.importorskip(
    "ray", reason="the ray engine needs ray[data] (pip install rubric-judge[ray])"
)

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.embedded_model,
    # Ray's own DataContext warns about its deprecated fields when it is created.
    pytest.mark.filterwarnings("ignore:.*is deprecated.*:DeprecationWarning"),
]

ROWS = [
    {"prompt": "What is 2 + 2?", "response": "2 + 2 = 4.", "source": "arith"},
    {"prompt": "Name a primary colour.", "response": "Blue.", "source": "colours"},
    {
        "prompt": "Capital of France?",
        "response": "Paris is the capital of France.",
        "source": "geo",
    },
]


def test_readme_python_recipe_judges_a_file_with_the_embedded_model(tmp_path, monkeypatch):
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    monkeypatch.chdir(tmp_path)
    if ray.is_initialized():  # the snippet starts its own cluster
        ray.shutdown()
    try:
        exec(compile(snippet("ray-python"), "README:ray-python", "exec"), {})
    finally:
        ray.shutdown()
    table = pq.read_table(tmp_path / "judged")
    records = sorted(table.to_pylist(), key=lambda r: r["row"])
    assert [r["id"] for r in records] == ["1", "2", "3"]
    assert [r["source"] for r in records] == ["arith", "colours", "geo"]
    for record in records:
        assert record["error"] is None, record["error"]
        assert 0.0 <= record["score"] <= 1.0
        assert record["model"] != "scripted" and len(record["verdicts"]) == 5
        assert all(0.0 <= v["p_yes"] <= 1.0 for v in record["verdicts"])
    expected = record_schema(False, ["prompt", "response", "source"])
    assert table.schema.remove_metadata().equals(expected), table.schema


def test_readme_cli_recipe_names_only_options_judge_batch_has():
    from typer.testing import CliRunner

    from judge._cli import app

    command = snippet("ray-cli").replace("\\\n", " ").split()
    assert command[:2] == ["judge", "batch"]
    help_text = CliRunner().invoke(app, ["batch", "--help"], env={"COLUMNS": "200"}).output
    for option in (word for word in command if word.startswith("--")):
        assert option in help_text, option
    assert os.path.basename(command[3].rstrip("/")) == "scored"

from pathlib import Path

import pytest

from judge.backends.base import Capabilities
from judge.errors import RubricError
from judge.library import (
    dump_rubric,
    library_dir,
    list_rubrics,
    load_rubric,
    load_rubric_file,
)
from judge.prompting import default_prompts
from judge.runner.requests import RequestBuilder
from judge.types import Sample

NEEDED = {
    "helpfulness",
    "harmlessness",
    "honesty",
    "instruction_following",
    "math_reasoning",
    "code_correctness",
    "writing_quality",
    "summarization_faithfulness",
}


def test_library_has_the_rubrics_people_need():
    assert set(list_rubrics()) >= NEEDED


@pytest.mark.parametrize("name", list_rubrics())
def test_every_library_rubric_loads_renders_and_round_trips(name, tmp_path):
    rubric = load_rubric(name)
    leaves = rubric.leaves()
    assert len(leaves) >= 3
    assert all(c.kind in ("hard_rule", "principle") for c in leaves)
    assert all(c.text.endswith((".", "?")) for c in leaves), "criteria are full yes/no statements"
    planner = RequestBuilder(
        prompts=default_prompts(), capabilities=Capabilities(structured_output=True)
    )
    planned = planner.plan_verdicts([Sample(id="1", prompt="Q?", response="A.")], rubric)
    assert len(planned) == len(leaves)
    assert load_rubric_file(library_dir() / f"{name}.yaml") == rubric
    tmp = tmp_path / f"{name}.yaml"
    tmp.write_text(dump_rubric(rubric))
    assert load_rubric_file(tmp) == rubric


def _write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "name: x\ncriteria:\n  - id: a\n    text: ok?\n    weight: -1\n",
            r"criteria\[0\]\.weight \(criterion 'a'\): .*greater than or equal to 0",
        ),
        (
            "name: x\ncriteria:\n  - id: a\n    text: ok?\n    wieght: 1\n",
            r"criteria\[0\]\.wieght .*unknown field",
        ),
        (
            "name: x\ncriteria:\n  - id: a\n    text: ok?\n    kind: rule\n",
            r"criteria\[0\]\.kind .*'hard_rule' or 'principle'",
        ),
        ("name: x\ncriteria: []\n", r"criteria: .*at least 1"),
        (
            "name: x\ncriteria:\n  - id: a\n    text: one?\n  - id: a\n    text: two?\n",
            "appears more than once",
        ),
        ("name: x\ncriteria:\n  - id: a\n  text: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_rubric_files_name_file_field_and_problem(tmp_path, text, expected):
    path = _write(tmp_path, text)
    with pytest.raises(RubricError, match=expected) as info:
        load_rubric_file(path)
    assert str(path) in str(info.value)


def test_non_utf8_rubric_file(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"name: \xff\n")
    with pytest.raises(RubricError, match="not valid UTF-8"):
        load_rubric_file(path)


def test_unknown_rubric_lists_the_library():
    with pytest.raises(RubricError, match="unknown rubric 'nope'") as info:
        load_rubric("nope")
    assert "helpfulness" in (info.value.hint or "")

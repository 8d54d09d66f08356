"""docs/failures.md lists every exit code, error class and failure kind the code has."""

import re

import judge.errors
from judge import _cli as cli
from judge.types import ErrorKind
from tests.conftest import REPO

DOC = (REPO / "docs" / "failures.md").read_text(encoding="utf-8")


def _table_codes() -> set[int]:
    return {int(code) for code in re.findall(r"^\| (\d+) \|", DOC, flags=re.MULTILINE)}


def test_every_exit_code_of_the_cli_is_a_row_of_the_table():
    documented = {int(code) for code in re.findall(r"\b(\d+) [a-z(`]", cli.__doc__ or "")}
    assert documented >= {0, 1, 2, 3, 4, 5, 130}
    assert _table_codes() == documented


def test_every_error_class_and_failure_kind_is_described():
    classes = [
        name
        for name, value in vars(judge.errors).items()
        if isinstance(value, type) and issubclass(value, judge.errors.JudgeError)
    ]
    for name in classes:
        if name != "JudgeError" and name != "BackendError":
            assert f"| `{name}` |" in DOC, name
    for kind in ErrorKind:
        assert f"| `{kind.value}` |" in DOC, kind

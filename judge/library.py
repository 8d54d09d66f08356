"""Load and validate rubrics: library names, YAML/JSON files, and errors that name the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from judge.errors import RubricError
from judge.paths import resource_dir
from judge.types import Rubric


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: what is wrong and where."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def library_dir() -> Path:
    """The folder of the shipped rubric library."""
    return resource_dir("rubrics")


def list_rubrics(directory: Path | None = None) -> list[str]:
    """Names of the rubrics in the library."""
    folder = directory or library_dir()
    return sorted(path.stem for path in folder.glob("*.yaml"))


def _location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _describe(exc: ValidationError, data: Any) -> str:
    problems = []
    errors = exc.errors()
    failing = [tuple(error["loc"]) for error in errors]
    for error in errors:
        loc_full = tuple(error["loc"])
        # A list whose items failed also reports "too short"; the item errors say it better.
        if error["type"] == "too_short" and any(
            other[: len(loc_full)] == loc_full and other != loc_full for other in failing
        ):
            continue
        loc = tuple(part for part in error["loc"] if part not in ("function-after[_ids_unique()]",))
        where = _location(loc)
        # Name the criterion by id when the path goes through one, so users find it in the file.
        if (
            len(loc) >= 2
            and loc[0] == "criteria"
            and isinstance(loc[1], int)
            and isinstance(data, dict)
        ):
            criteria = data.get("criteria") or []
            if loc[1] < len(criteria) and isinstance(criteria[loc[1]], dict):
                where += f" (criterion {criteria[loc[1]].get('id', '?')!r})"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def parse_rubric(data: Any, source: str) -> Rubric:
    """Validate already-loaded rubric data; errors name `source`, the field and the problem."""
    if not isinstance(data, dict):
        raise RubricError(
            f"rubric {source}: expected a mapping at the top level, got {type(data).__name__}"
        )
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(
            f"rubric {source}: {_describe(exc, data)}",
            hint="see rubrics/helpfulness.yaml for the format; `judge rubric check FILE` validates",
        ) from None


def load_rubric_file(path: Path) -> Rubric:
    """Load a rubric from a YAML or JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RubricError(f"rubric file {path} not found") from None
    except IsADirectoryError:
        raise RubricError(
            f"rubric {path} is a folder", hint="give a rubric YAML file or a library name"
        ) from None
    except OSError as exc:
        raise RubricError(f"cannot read rubric file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise RubricError(f"rubric file {path}: not valid UTF-8 at byte {exc.start}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RubricError(f"rubric file {path}: not valid YAML: {yaml_problem(exc)}") from None
    except json.JSONDecodeError as exc:
        raise RubricError(
            f"rubric file {path}: not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    return parse_rubric(data, str(path))


def load_rubric(name_or_path: str | Path) -> Rubric:
    """Load a library rubric by name (``"helpfulness"``) or a rubric file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml", ".json") or path.exists():
        return load_rubric_file(path)
    candidate = library_dir() / f"{name_or_path}.yaml"
    if candidate.is_file():
        return load_rubric_file(candidate)
    raise RubricError(
        f"unknown rubric {str(name_or_path)!r}",
        hint=f"library rubrics: {', '.join(list_rubrics())}; or pass a path to a YAML file",
    )


def dump_rubric(rubric: Rubric) -> str:
    """Render a rubric as YAML that `load_rubric` reads back to an equal rubric."""
    data = rubric.model_dump(mode="json", exclude={"fingerprint"}, exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)

"""The floor rule of docs/architecture.md, read from the imports (function bodies included).

A module imports only from its own floor or below: types/errors (1) -> settings, paths,
storage, prompting, library, inputs (2) -> backends (3) -> runner (4) -> rubric engine, reward,
batch and calibration (5) -> commands (6) -> cli.py (7). Nothing in judge/ below the commands
imports calibration (the commands sit above it and run it); only judge/commands/ and cli.py
import typer or rich. No two modules import each other, directly or through others (imports
that only type checkers run count too). A module over ~400 lines is reported, not refused: it is
a hint to split it by concept. The top-level calibration/ and cli.py are imported as
`judge.calibration` and `judge._cli` (symlinks in judge/ in the repository; the wheel ships them
there).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import REPO

# module prefix -> floor; the longest matching prefix wins
FLOORS = {
    "judge.types": 1,
    "judge.values": 1,
    "judge.generations": 1,
    "judge.judgments": 1,
    "judge.judgment_parts": 1,
    "judge.errors": 1,
    "judge.settings": 2,
    "judge.paths": 2,
    "judge.storage": 2,
    "judge.prompting": 2,
    "judge.library": 2,
    "judge.inputs": 2,
    "judge.backends": 3,
    "judge.runner": 4,
    "judge.rubric": 5,
    "judge.reward": 5,
    "judge.batch": 5,
    "judge.calibration": 5,
    "judge.view": 5,
    "judge.commands": 6,
    "judge._cli": 7,
    # The public API and the entry point sit above everything: nothing inside may import them.
    "judge": 8,
    "judge.__main__": 8,
}
UI_LIBRARIES = ("typer", "rich", "click")
UI_ALLOWED = ("judge.commands", "judge._cli")
EXEMPT = ("judge", "judge.__main__")  # they import the floors they expose; they are not imported


def floor_of(module: str) -> int | None:
    """The floor of a first-party module, or None for a third-party one."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in FLOORS:
            return FLOORS[prefix]
    return None


# Top-level paths of the repository and the import names they have (in the wheel too).
IMPORT_NAMES = {"calibration": "judge.calibration", "cli": "judge._cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    parts[0] = IMPORT_NAMES.get(parts[0], parts[0])
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))  # judge/calibration and judge/_cli.py are symlinks
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every import in `source`, at any depth; `from a import b` is `a.b`
    when `b` is a module, else `a`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                package = package if is_package else package[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if _is_module(candidate) else base))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """What breaks the floor rule in `source`, the text of `module`."""
    own = floor_of(module)
    assert own is not None, f"{module} has no floor: add it to FLOORS (and docs/architecture.md)"
    problems = []
    for line, target in imported_modules(source, module, is_package):
        top = target.split(".")[0]
        if top in UI_LIBRARIES and not module.startswith(UI_ALLOWED):
            problems.append(f"{module}:{line} imports {target} (only commands/ and cli.py may)")
        below_commands = own < FLOORS["judge.commands"] and not module.startswith(
            "judge.calibration"
        )
        if below_commands and (target + ".").startswith("judge.calibration."):
            problems.append(f"{module}:{line} imports {target} (only commands/ in judge/ may)")
            continue
        floor = floor_of(target)
        if floor is not None and module not in EXEMPT and floor > own:
            problems.append(f"{module}:{line} (floor {own}) imports {target} (floor {floor})")
    return problems


def _sources() -> list[Path]:
    # rglob does not enter the judge/calibration symlink; judge/_cli.py is cli.py under its name
    judge = [path for path in sorted((REPO / "judge").rglob("*.py")) if not path.is_symlink()]
    return [*judge, *sorted((REPO / "calibration").rglob("*.py")), REPO / "cli.py"]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_module_imports_only_from_its_floor_or_below(path):
    source = path.read_text(encoding="utf-8")
    assert violations(source, module_name(path), path.name == "__init__.py") == []


def test_the_checker_sees_upward_imports_in_function_bodies():
    source = (
        "from judge.types import Rubric\n"
        "def load(path):\n"
        "    from judge.calibration.recalibrate import load_calibrator\n"
        "    from judge.library import load_rubric\n"
        "    import rich\n"
        "    return load_calibrator(path)\n"
    )
    assert violations(source, "judge.runner.judge") == [
        "judge.runner.judge:3 imports judge.calibration.recalibrate (only commands/ in judge/ may)",
        "judge.runner.judge:5 imports rich (only commands/ and cli.py may)",
    ]
    assert violations("from judge import calibration\n", "judge.commands.score") == []
    assert violations("from judge.runner.judge import Judge\n", "judge.library") == [
        "judge.library:1 (floor 2) imports judge.runner.judge (floor 4)"
    ]
    assert violations("from judge import Judge\n", "judge.batch.job") == [
        "judge.batch.job:1 (floor 5) imports judge (floor 8)"
    ]
    assert violations("from . import wire\n", "judge.backends.sglang.engine") == []
    assert violations("from ... import runner\n", "judge.backends.sglang", True) == [
        "judge.backends.sglang:1 (floor 3) imports judge.runner (floor 4)"
    ]


def import_graph(paths: list[Path]) -> dict[str, set[str]]:
    """First-party module -> the first-party modules it imports (any depth, type-only too)."""
    modules = {module_name(path): path for path in paths}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        source = path.read_text(encoding="utf-8")
        targets = imported_modules(source, module, path.name == "__init__.py")
        graph[module] = {t for _, t in targets if t in modules and t != module}
    return graph


def import_circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import each other (directly or through others), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(circles)


def test_no_import_circle() -> None:
    circles = import_circles(import_graph(_sources()))
    assert circles == [], "modules that import each other: " + "; ".join(
        " <-> ".join(group) for group in circles
    )


def test_the_checker_finds_circles_through_type_only_and_indirect_imports(tmp_path) -> None:
    type_only = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from judge.batch.job import BatchOptions\n"
    )
    graph = {
        "judge.batch.job": {"judge.batch.preflight"},
        "judge.batch.preflight": {
            t for _, t in imported_modules(type_only, "judge.batch.preflight") if t != "typing"
        },
        "judge.inputs": {"judge.errors"},
        "judge.settings": {"judge.inputs"},
        "judge.prompting": {"judge.settings"},
        "judge.errors": {"judge.prompting"},
    }
    assert import_circles(graph) == [
        ["judge.batch.job", "judge.batch.preflight"],
        ["judge.errors", "judge.inputs", "judge.prompting", "judge.settings"],
    ]
    del graph["judge.errors"]
    graph["judge.batch.preflight"] = set()
    assert import_circles(graph) == []


SPLIT_HINT_LINES = 400


# A warning, not an error (the suite turns other warnings into errors): it shows in the summary.
@pytest.mark.filterwarnings("default:.* lines; is it more than one concept")
@pytest.mark.parametrize("path", _sources()[:-1], ids=lambda p: str(p.relative_to(REPO)))
def test_a_long_module_is_reported(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines > SPLIT_HINT_LINES:
        warnings.warn(
            f"{path.relative_to(REPO)}: {lines} lines; is it more than one concept?",
            UserWarning,
            stacklevel=1,
        )


def test_cli_root_stays_thin():
    lines = len((REPO / "cli.py").read_text(encoding="utf-8").splitlines())
    assert lines < 300, f"cli.py: {lines} lines; command bodies belong in judge/commands/"

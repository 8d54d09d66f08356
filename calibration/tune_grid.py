"""The grid `judge tune` evaluates: configurations read from a YAML file, or the default grid.

A grid file is a mapping from a key to its values (a list, or one value), whose configurations
are every combination; or a list of such mappings, whose configurations are the union (so a
combination that makes no sense can be left out). The keys are the `JudgeSettings` fields
(``reasoning``, ``strategy``, ``score_rule``, ``reference_anchor``, ``samples``, ...) plus
``rubric`` (a library name or a rubric file) and ``pair_method`` (``rubric`` or ``direct``,
pairwise data only)::

    reasoning: [none, before]
    score_rule: [mean, cap]

Every configuration is checked here, before any model loads: an unknown key, a value the
settings refuse or a combination they refuse is one line naming it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from judge.errors import ConfigError, JudgeError
from judge.library import load_rubric, yaml_problem
from judge.runner.pairwise import DEFAULT_METHOD
from judge.settings import JudgeSettings
from judge.types import Rubric, stable_hash

PairMethod = Literal["rubric", "direct"]
PAIR_METHODS: tuple[PairMethod, ...] = ("rubric", "direct")
EXTRA_KEYS = ("rubric", "pair_method")
"""Grid keys that are not settings: they are options of the commands that judge."""
REFUSED = {
    "score_rule": (
        "fitted",
        "it needs a criteria fit from labelled items, and tune cannot fit and measure on the "
        "same items: fit it with `judge calibrate fit-criteria`, check it with `judge eval`",
    ),
}
"""Setting values a grid may not hold, and why."""


def grid_keys() -> tuple[str, ...]:
    """Every key a grid may vary."""
    return (*JudgeSettings.model_fields, *EXTRA_KEYS)


@dataclass(frozen=True)
class TuneConfig:
    """One configuration of the grid: settings, rubric and (pairwise) the comparison method."""

    name: str
    """``c0``, ``c1``, ... in grid order."""
    settings: JudgeSettings
    rubric: Rubric
    rubric_source: str
    """The rubric as the grid or the command named it (a library name or a file path)."""
    pair_method: PairMethod | None
    """None for pointwise data."""
    changes: dict[str, Any] = field(default_factory=dict)
    """What the grid set, key by key (the rest comes from the flags and `--config`)."""

    @property
    def label(self) -> str:
        """The grid's values of this configuration, ``reasoning=none score_rule=cap``."""
        shown = {key: value for key, value in self.changes.items() if key != "rubric"}
        if "rubric" in self.changes:
            shown["rubric"] = self.rubric.name
        return " ".join(f"{key}={_text(value)}" for key, value in shown.items()) or "(base)"

    def key(self, common: Mapping[str, Any]) -> str:
        """What its results depend on, with `common` (model, data, templates): the resume key."""
        return stable_hash(
            {
                **common,
                "settings": self.settings.fingerprint,
                "rubric": self.rubric.fingerprint,
                "pair_method": self.pair_method,
            }
        )


def _text(value: Any) -> str:
    return (
        "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )


def read_grid(path: Path) -> list[dict[str, list[Any]]]:
    """The grid file as a list of mappings, each key with a non-empty list of values."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"grid {path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"grid {path}: not valid YAML: {yaml_problem(exc)}") from None
    parts = loaded if isinstance(loaded, list) else [loaded]
    if not parts or not all(isinstance(part, dict) and part for part in parts):
        raise ConfigError(
            f"grid {path}: expected a mapping of key to values, or a list of such mappings",
            hint="e.g. `reasoning: [none, before]` on one line, `score_rule: [mean, cap]` on the "
            "next",
        )
    return [_part(part, str(path)) for part in parts]


def _part(part: Mapping[Any, Any], where: str) -> dict[str, list[Any]]:
    known = grid_keys()
    grid: dict[str, list[Any]] = {}
    for key, values in part.items():
        if key not in known:
            raise ConfigError(
                f"grid {where}: unknown key {key!r}",
                hint=f"keys: {', '.join(known)}",
            )
        listed = list(values) if isinstance(values, list) else [values]
        if not listed:
            raise ConfigError(f"grid {where}: {key}: no values", hint="give one value or more")
        grid[str(key)] = listed
    return grid


def default_grid(kind: str, has_references: bool) -> list[dict[str, list[Any]]]:
    """The grid when none is given: the choices that mattered most where we measured.

    ``holistic_weight`` 0.5 asks the naive baseline's own question as part of the judgment;
    tune sends that request once for the baseline and every configuration (shared batches),
    so trying it costs no model time.
    """
    holistic = [0.0, 0.5]
    if kind == "pairwise":
        return [
            {
                "reasoning": ["none", "before"],
                "pair_method": list(PAIR_METHODS),
                "holistic_weight": holistic,
            }
        ]
    grid: dict[str, list[Any]] = {
        "reasoning": ["none", "before"],
        "score_rule": ["mean", "cap"],
        "holistic_weight": holistic,
    }
    if has_references:
        grid["reference_anchor"] = [False, True]
    return [grid]


def expand(
    grid: Sequence[Mapping[str, Sequence[Any]]],
    *,
    base: JudgeSettings,
    rubric: str,
    kind: str,
    pair_method: PairMethod | None = None,
    where: str = "grid",
) -> list[TuneConfig]:
    """Every configuration of `grid` on top of `base`, checked, duplicates dropped, in order.

    `rubric` and `pair_method` are the command's (for keys the grid does not vary); a rubric
    is loaded once per name. Raises `ConfigError` naming the key, value or combination.
    """
    rubrics: dict[str, Rubric] = {}
    configs: list[TuneConfig] = []
    seen: set[str] = set()
    for part in grid:
        _check_values(part, kind, where)
        keys = list(part)
        for values in itertools.product(*(part[key] for key in keys)):
            changes = dict(zip(keys, values, strict=True))
            config = _config(changes, base, rubric, kind, pair_method, rubrics, where)
            identity = config.key({})
            if identity in seen:
                continue
            seen.add(identity)
            configs.append(
                TuneConfig(
                    name=f"c{len(configs)}",
                    settings=config.settings,
                    rubric=config.rubric,
                    rubric_source=config.rubric_source,
                    pair_method=config.pair_method,
                    changes=changes,
                )
            )
    return configs


def _check_values(part: Mapping[str, Sequence[Any]], kind: str, where: str) -> None:
    """Each value on its own: a bad one is named before any combination is tried."""
    for key, values in part.items():
        for value in values:
            refused = REFUSED.get(key)
            if refused is not None and value == refused[0]:
                raise ConfigError(f"{where}: {key}: {value!r}", hint=refused[1])
            if key == "pair_method":
                if kind != "pairwise":
                    raise ConfigError(
                        f"{where}: pair_method: the data is pointwise",
                        hint="pair_method applies to pairwise data; drop it from the grid",
                    )
                if value not in PAIR_METHODS:
                    raise ConfigError(f"{where}: pair_method: {value!r}", hint="rubric or direct")
            elif key == "rubric":
                if not isinstance(value, str):
                    raise ConfigError(
                        f"{where}: rubric: {value!r}", hint="a library name or a rubric file"
                    )
            else:
                try:
                    JudgeSettings.of(**{key: value})
                except JudgeError as exc:
                    raise ConfigError(f"{where}: {key}: {value!r}: {exc.message}") from None


def _config(
    changes: Mapping[str, Any],
    base: JudgeSettings,
    rubric: str,
    kind: str,
    pair_method: PairMethod | None,
    rubrics: dict[str, Rubric],
    where: str,
) -> TuneConfig:
    settings_changes = {k: v for k, v in changes.items() if k not in EXTRA_KEYS}
    try:
        settings = base.updated(**settings_changes)
    except JudgeError as exc:
        shown = " ".join(f"{k}={_text(v)}" for k, v in changes.items())
        raise ConfigError(
            f"{where}: the configuration {shown}: {exc.message}",
            hint="write the grid as a list of grids to leave this combination out",
        ) from None
    rule, why = REFUSED["score_rule"]
    if settings.score_rule == rule:
        raise ConfigError(f"{where}: score_rule {rule!r}", hint=why)
    if settings.abstain_band > 0:
        raise ConfigError(
            f"{where}: abstain_band {settings.abstain_band}: it needs a calibrator",
            hint="tune measures the judge uncalibrated; set abstain_band 0",
        )
    source = str(changes.get("rubric", rubric))
    if source not in rubrics:
        try:
            rubrics[source] = load_rubric(source)
        except JudgeError as exc:
            raise ConfigError(f"{where}: rubric {source!r}: {exc.message}", hint=exc.hint) from None
    method: PairMethod | None = None
    if kind == "pairwise":
        method = changes.get("pair_method", pair_method or DEFAULT_METHOD)
    return TuneConfig(
        name="",
        settings=settings,
        rubric=rubrics[source],
        rubric_source=source,
        pair_method=method,
        changes=dict(changes),
    )

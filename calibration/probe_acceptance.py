"""Probe acceptance carried by an evaluation, so the drift gate can compare it across runs.

The seam to `judge probe`: of its ``probe.json`` this reads only
``attack_set_version`` and, per entry of ``attacks``, ``name``, ``role`` and ``accepted`` (one
value per row: 1 accepted, 0 not, 1/2 a pairwise tie). Any other field is ignored, so the probe
report may grow without breaking `judge eval --probe-report`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from judge.errors import InputError


class AttackAcceptance(BaseModel):
    """One attack's per-row acceptance (1 accepted, 0 not, 1/2 a tie)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: str
    accepted: tuple[float, ...]


class ProbeAcceptance(BaseModel):
    """The attacks of one probe run; comparable only with a run of the same attack set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    attack_set_version: str
    attacks: tuple[AttackAcceptance, ...]


def _field(entry: Any, name: str, where: str) -> Any:
    if not isinstance(entry, dict) or name not in entry:
        raise InputError(f"{where}: no {name!r}", hint="give the probe.json `judge probe` wrote")
    return entry[name]


def read_probe_report(path: str | Path) -> ProbeAcceptance:
    """Read the acceptance per attack and row from a `judge probe` report (``probe.json``)."""
    source = Path(path)
    try:
        report = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read probe report {source}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: not JSON ({exc.msg}, line {exc.lineno})") from None
    version = _field(report, "attack_set_version", str(source))
    attacks = []
    for index, entry in enumerate(_field(report, "attacks", str(source))):
        where = f"{source}: attacks[{index}]"
        accepted = _field(entry, "accepted", where)
        if not isinstance(accepted, list) or not all(
            isinstance(v, int | float) and 0 <= v <= 1 for v in accepted
        ):
            raise InputError(f"{where}: 'accepted' is not a list of values in [0, 1]")
        attacks.append(
            AttackAcceptance(
                name=str(_field(entry, "name", where)),
                role=str(_field(entry, "role", where)),
                accepted=tuple(float(v) for v in accepted),
            )
        )
    return ProbeAcceptance(
        source=str(source), attack_set_version=str(version), attacks=tuple(attacks)
    )

"""The rubric engine: generation and RRD refinement (the YAML library is `judge.library`).

``from judge.rubric import generate_rubric, refine`` works; the names load on first use, so
importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "generate_rubric": "judge.rubric.generate",
    "generate_contrastive_rubric": "judge.rubric.contrastive",
    "generate_contrastive_rubrics": "judge.rubric.contrastive",
    "RankedResponses": "judge.rubric.contrastive",
    "generate_rubric_report": "judge.rubric.generate",
    "GeneratedRubric": "judge.rubric.generate",
    "refine": "judge.rubric.refine",
    "RefineResult": "judge.rubric.refine",
    "RefineStats": "judge.rubric.refine",
    "GenerateSettings": "judge.rubric.settings",
    "RefineSettings": "judge.rubric.settings",
    "PoolResponse": "judge.rubric.pool",
    "RubricCache": "judge.rubric.cache",
    "rubric_margin": "judge.runner.aggregate",
    "whitened_uniform_weights": "judge.rubric.weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'judge.rubric' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

"""`prevalidated` builds the same objects as the validating constructors, without validating."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from judge.runner.prevalidated import prevalidated, prevalidated_factory
from judge.types import (
    ChoiceProbe,
    CriterionVerdict,
    ErrorKind,
    GenerationRequest,
    Message,
    SamplingParams,
)

CASES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (CriterionVerdict, {"criterion_id": "a", "verdict": "yes", "p_yes": 0.25, "rationale": "ok"}),
    (CriterionVerdict, {"criterion_id": "a", "error": "cut", "error_kind": ErrorKind.TRUNCATED}),
    (Message, {"role": "user", "content": "hi"}),
    (
        GenerationRequest,
        {
            "id": "s0/c",
            "messages": (Message(role="user", content="x"),),
            "sampling": SamplingParams(n=2),
            "constraint": None,
            "probe": ChoiceProbe(marker='"v": "', choices=("yes", "no")),
            "prefix_group": "s0",
        },
    ),
]


@pytest.mark.parametrize(("model", "values"), CASES)
def test_prevalidated_equals_the_validated_model(
    model: type[BaseModel], values: dict[str, Any]
) -> None:
    built, validated = prevalidated(model, **values), model(**values)
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump_json() == validated.model_dump_json()
    assert repr(built) == repr(validated)
    assert hash(built) == hash(validated)
    with pytest.raises(ValueError, match="frozen"):
        built.__setattr__(next(iter(values)), None)


def test_prevalidated_skips_validation_so_callers_must_pass_valid_values() -> None:
    """The point: no validator runs (a validating call would refuse this p_yes)."""
    built = prevalidated(CriterionVerdict, criterion_id="a", p_yes=2.0)
    assert built.p_yes == 2.0
    with pytest.raises(ValueError):
        CriterionVerdict(criterion_id="a", p_yes=2.0)


@pytest.mark.parametrize(("model", "values"), CASES)
def test_a_prevalidated_factory_equals_the_validated_model(
    model: type[BaseModel], values: dict[str, Any]
) -> None:
    fixed_name = next(iter(values))
    factory = prevalidated_factory(model, **{fixed_name: values[fixed_name]})
    rest = {name: value for name, value in values.items() if name != fixed_name}
    built, validated = factory(**rest), model(**values)
    assert built == validated and factory(**rest) is not built
    assert built.model_fields_set == validated.model_fields_set
    assert type(built.model_fields_set) is set
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_copy(update={fixed_name: values[fixed_name]}) == validated

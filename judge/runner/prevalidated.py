"""Build the runner's pydantic objects from parts that were validated when they were built.

The hot path of a batch (issue 14, item 3) makes a request, a generation and a verdict per
criterion-judgment; validating a value assembled from validated parts again, or pydantic's
`model_construct` (which costs more than validating in pydantic 2.14), is most of their cost.
Public types stay validated wherever a user's value enters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)


_PLAIN_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}
"""Each model's fields that have a plain default, with it (filled on a model's first use)."""
_set_slot = object.__setattr__
# The slot descriptors every pydantic model has, set directly (cheaper than by name).
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _plain_defaults(model: type[BaseModel]) -> dict[str, Any]:
    defaults = _PLAIN_DEFAULTS.get(model)
    if defaults is None:
        defaults = {
            name: field.default
            for name, field in model.model_fields.items()
            if field.default_factory is None
        }
        _PLAIN_DEFAULTS[model] = defaults
    return defaults


def prevalidated(model: type[Model], **values: Any) -> Model:
    """An instance of `model` from values the caller has already validated: no validator runs.

    For the runner's hot path (issue 14), where every part was validated when it was built:
    pydantic's `model_construct` costs more than validating again. Fields not given take their
    plain defaults (a field with a default factory must be given); the given ones are the
    instance's `model_fields_set`, as with the validating constructor.
    """
    return _instance(model, {**_plain_defaults(model), **values}, set(values))


def _instance(model: type[Model], data: dict[str, Any], fields_set: set[str]) -> Model:
    """An instance of `model` with `data` as its fields, set without validation."""
    instance = model.__new__(model)
    _set_slot(instance, "__dict__", data)
    _set_fields_set(instance, fields_set)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


def prevalidated_factory(model: type[Model], **fixed: Any) -> Callable[..., Model]:
    """`prevalidated` with some values fixed, merged with the defaults once, not per instance.

    ``factory(**values)`` builds what ``prevalidated(model, **fixed, **values)`` builds.
    """
    base = {**_plain_defaults(model), **fixed}
    fixed_names = frozenset(fixed)

    def build(**values: Any) -> Model:
        return _instance(model, {**base, **values}, {*fixed_names, *values})

    return build

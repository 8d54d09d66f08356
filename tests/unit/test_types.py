import pytest
from pydantic import ValidationError

from judge.types import (
    ChoiceProbe,
    Constraint,
    Criterion,
    CriterionVerdict,
    Generation,
    GenerationRequest,
    Judgment,
    Message,
    Pair,
    PairJudgment,
    Provenance,
    Rubric,
    Sample,
    SamplingParams,
    Usage,
)


def _rubric() -> Rubric:
    return Rubric(
        name="r",
        criteria=(
            Criterion(id="a", text="Is it correct?", kind="hard_rule", weight=2),
            Criterion(
                id="b",
                text="Is it clear?",
                children=(
                    Criterion(
                        id="b1",
                        text="Short sentences?",
                        provenance=Provenance(source="decomposed", parent="b"),
                    ),
                    Criterion(id="b2", text="No jargon?"),
                ),
            ),
        ),
    )


EXAMPLES = [
    _rubric(),
    Sample(id="1", prompt="p", response="r", reference="ref", metadata={"k": [1, 2]}),
    Sample(id="2", messages=(Message(role="user", content="hi"),), response="hello"),
    Pair(id="p", prompt="p", response_a="a", response_b="b"),
    GenerationRequest(
        id="x",
        messages=(Message(role="user", content="hi"),),
        sampling=SamplingParams(max_new_tokens=5, temperature=0.7, seed=3, n=2),
        constraint=Constraint(kind="regex", value="(yes|no)"),
        probe=ChoiceProbe(marker="", choices=("yes", "no")),
        prefix_group="g",
    ),
    Generation(
        request_id="x",
        text="yes",
        choice_probs={"yes": 0.7, "no": 0.3},
        usage=Usage(prompt_tokens=3),
    ),
    Judgment(
        sample_id="1",
        score=0.5,
        confidence=0.9,
        verdicts=(CriterionVerdict(criterion_id="a", verdict="yes", p_yes=0.9, rationale="ok"),),
        usage=Usage(prompt_tokens=10, completion_tokens=2, cached_tokens=4),
        details={"route": "objective"},
    ),
    PairJudgment(pair_id="p", p_a=0.6, winner="a", consistent=True),
]


@pytest.mark.parametrize("model", EXAMPLES, ids=lambda m: type(m).__name__)
def test_json_round_trip_is_exact(model):
    again = type(model).model_validate_json(model.model_dump_json())
    assert again == model
    assert again.model_dump_json() == model.model_dump_json()


def test_rubric_fingerprint_is_stable_and_tracks_content():
    assert _rubric().fingerprint == _rubric().fingerprint
    changed = _rubric().model_copy(update={"description": "other"})
    assert Rubric.model_validate(changed.model_dump()).fingerprint != _rubric().fingerprint


def test_rubric_with_edited_fingerprint_is_refused():
    data = _rubric().model_dump(mode="json")
    data["criteria"][0]["text"] = "Edited after the fact?"
    with pytest.raises(ValidationError, match="fingerprint"):
        Rubric.model_validate(data)


def test_leaves_are_judged_criteria_in_order():
    assert [c.id for c in _rubric().leaves()] == ["a", "b1", "b2"]


def test_duplicate_criterion_ids_are_refused():
    with pytest.raises(ValidationError, match="more than once"):
        Rubric(
            name="r",
            criteria=(
                Criterion(id="a", text="x"),
                Criterion(id="b", text="y", children=(Criterion(id="a", text="z"),)),
            ),
        )


def test_unknown_fields_are_errors():
    with pytest.raises(ValidationError, match="extra"):
        Criterion.model_validate({"id": "a", "text": "x", "wieght": 2})


@pytest.mark.parametrize(
    "fields, problem",
    [
        ({"response": "r"}, "prompt or messages"),
        ({"prompt": "  ", "response": "r"}, "prompt is empty"),
        ({"prompt": "p", "response": "bad \udcff byte"}, "not valid UTF-8"),
        (
            {"prompt": "p", "messages": [{"role": "user", "content": "x"}], "response": "r"},
            "not both",
        ),
    ],
)
def test_bad_samples_say_what_is_wrong(fields, problem):
    with pytest.raises(ValidationError, match=problem):
        Sample(id="1", **fields)


def test_usage_adds_up():
    assert Usage(prompt_tokens=1, completion_tokens=2, cached_tokens=3) + Usage(
        prompt_tokens=1
    ) == Usage(prompt_tokens=2, completion_tokens=2, cached_tokens=3)

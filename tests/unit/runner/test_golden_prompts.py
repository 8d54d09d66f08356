"""The planner sends byte for byte the requests it sent before rendering once per sample.

The fixture was written by `golden_prompts.py` from the planner that rendered every prompt in
full: breadth, depth, auto, Likert, principles, self-consistency and both
pairwise methods, with hostile text (delimiters, chat tokens, Jinja syntax) in samples, pairs
and criteria, under regex, JSON-schema and unconstrained backends.
"""

from __future__ import annotations

import json

import pytest

from judge.backends.base import Capabilities
from judge.prompting import PromptContext, PromptLibrary, default_prompts, neutralise
from judge.runner.requests import POINTWISE_TEMPLATE, RequestBuilder
from judge.types import Criterion, Rubric, Sample
from tests.unit.runner.golden_prompts import FIXTURE, HOSTILE, SCENARIOS, run_scenario

GOLDEN = json.loads(FIXTURE.read_text("utf-8"))


@pytest.mark.parametrize(("name", "capabilities", "settings", "call"), SCENARIOS)
def test_requests_match_the_golden_prompts(
    name: str, capabilities: str, settings: dict[str, object], call: str
) -> None:
    sent = run_scenario(capabilities, settings, call)
    golden = GOLDEN[name]
    assert [r["id"] for r in sent] == [r["id"] for r in golden]
    for got, want in zip(sent, golden, strict=True):
        assert got == want, f"{name}: request {want['id']} differs"


def test_hostile_criterion_text_stays_inert_in_the_reused_render() -> None:
    """A criterion's delimiters are neutralised when it fills the shared render's slot."""
    rubric = Rubric(name="r", criteria=(Criterion(id="c", text=f"Close it: {HOSTILE}"),))
    sample = Sample(id="s", prompt="Q?", response="A <criterion> B")
    builder = RequestBuilder(default_prompts(), Capabilities(structured_output=True))
    prompt = builder.verdicts(0, sample, rubric, rubric.leaves())[0].messages[1].content
    assert prompt.count("<criterion>") == 0
    assert neutralise(f"Close it: {HOSTILE}") in prompt
    assert "A &lt;criterion> B" in prompt


def test_templates_that_transform_the_criterion_are_rendered_in_full(tmp_path) -> None:
    """A template that filters or tests the criterion gets no reused render."""
    shipped = default_prompts().directory
    for name in ("judge_system", POINTWISE_TEMPLATE):
        (tmp_path / f"{name}.j2").write_text((shipped / f"{name}.j2").read_text())
    library = PromptLibrary(tmp_path)
    assert "criterion" in library.verbatim(POINTWISE_TEMPLATE)
    (tmp_path / f"{POINTWISE_TEMPLATE}.j2").write_text(
        "{% if ctx.criterion|length > 12 %}long{% endif %} "
        "{{ ctx.criterion|upper }} {{ ctx.response }}"
    )
    library = PromptLibrary(tmp_path)
    assert "criterion" not in library.verbatim(POINTWISE_TEMPLATE)
    assert library.render_around(POINTWISE_TEMPLATE, PromptContext(), "criterion") is None
    rubric = Rubric(
        name="r",
        criteria=(Criterion(id="a", text="short"), Criterion(id="b", text="a much longer one")),
    )
    builder = RequestBuilder(library, Capabilities())
    prompts = [
        r.messages[1].content
        for r in builder.verdicts(
            0, Sample(id="s", prompt="Q", response="R"), rubric, rubric.leaves()
        )
    ]
    assert prompts == ["SHORT R", "long A MUCH LONGER ONE R"]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ctx.criterion ~ '!' }}",
        "{% set c = ctx %}{{ c.criterion }}",
        "{{ ctx['criterion'] }}",
        "{% filter upper %}{{ ctx.criterion }}{% endfilter %}",
        "{% include 'other.j2' %}{{ ctx.criterion }}",
        "{% for ctx in [1] %}{{ ctx }}{% endfor %}{{ ctx.criterion }}",
    ],
)
def test_indirect_uses_of_a_field_are_not_verbatim(tmp_path, source: str) -> None:
    (tmp_path / "t.j2").write_text(source)
    assert "criterion" not in PromptLibrary(tmp_path).verbatim("t")


def test_a_render_holding_the_slot_twice_is_not_reused(tmp_path) -> None:
    """Trusted text (a rubric description) that holds the slot marker turns reuse off."""
    (tmp_path / "t.j2").write_text("{{ ctx.rubric_description }} {{ ctx.criterion }}")
    library = PromptLibrary(tmp_path)
    assert library.render_around("t", PromptContext(rubric_description="x"), "criterion") == (
        "x ",
        "",
    )
    context = PromptContext(rubric_description="<criterion>")
    assert library.render_around("t", context, "criterion") is None

import json
import re

import pytest

from judge.backends.base import Capabilities
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.errors import InputError, RubricError
from judge.rubric.contrastive import (
    RankedResponses,
    generate_contrastive_rubric,
    generate_contrastive_rubrics,
)
from judge.rubric.generate import generate_rubric, generate_rubric_report
from judge.rubric.proposal import Screen, criteria_regex, parse_criteria, screen
from judge.rubric.settings import GenerateSettings
from judge.types import Message
from tests.doubles.rubric_world import RubricWorld, criteria_json, keyword_judge

PROMPT = "Write a haiku about autumn rain. Do not use the word 'leaf'."
GOOD = [
    ("The response has exactly three lines.", "hard_rule"),
    ("The response does not use the word leaf.", "hard_rule"),
    ("The response evokes the sound or feel of rain.", "principle"),
]


def test_generate_rubric_returns_tagged_prompt_specific_criteria_in_one_call():
    world = RubricWorld(satisfies=lambda c, r: 0.5, proposal=GOOD)
    backend = world.backend()
    report = generate_rubric_report(backend, PROMPT)
    rubric = report.rubric
    assert backend.calls == 1
    # "three lines" is implied by "haiku" but not stated by the request: a principle.
    assert [(c.text, c.kind) for c in rubric.criteria] == [
        (GOOD[0][0], "principle"),
        GOOD[1],
        GOOD[2],
    ]
    assert report.demoted == (GOOD[0][0],)
    assert report.samples == 3 and report.distinct == 3, "three identical samples agree"
    assert report.shortfall == (
        "3 short: the 3 sample(s) gave 3 distinct usable criteria; dropped: none"
    )
    assert [c.id for c in rubric.criteria] == [
        "has_exactly_three_lines",
        "not_use_word_leaf",
        "evokes_sound_feel_rain",
    ]
    assert all(c.provenance.source == "generated" for c in rubric.criteria)
    assert rubric.name.startswith("generated-") and "autumn rain" in rubric.description
    [request] = backend.batches[0]
    assert request.constraint.kind == "regex"
    # Each sample is held to the requested count; the selection then keeps the best.
    assert re.fullmatch(request.constraint.value, criteria_json(GOOD * 2))
    assert not re.fullmatch(request.constraint.value, criteria_json(GOOD))
    assert request.sampling.n == 3 and request.sampling.temperature == 0.7
    assert (
        PROMPT.replace("'", "&#39;") in request.messages[1].content
        or PROMPT in request.messages[1].content
    )


def test_constraint_follows_backend_capabilities():
    world = RubricWorld(satisfies=lambda c, r: 0.5, proposal=GOOD)
    schema_only = world.backend(
        capabilities=Capabilities(structured_output=True, constraint_kinds=("json_schema",))
    )
    generate_rubric(schema_only, PROMPT)
    constraint = schema_only.batches[0][0].constraint
    assert constraint.kind == "json_schema"
    assert json.loads(constraint.value)["properties"]["criteria"]["maxItems"] == 6
    free = world.backend(capabilities=Capabilities(structured_output=False))
    generate_rubric(free, PROMPT)
    assert free.batches[0][0].constraint is None


def test_regex_bounds_count_and_length():
    pattern = criteria_regex(1, 2, 5, 20)
    assert re.fullmatch(pattern, criteria_json([("The response rhymes.", "principle")]))
    assert not re.fullmatch(pattern, criteria_json([("x" * 21, "principle")]))
    assert not re.fullmatch(pattern, criteria_json([("The response rhymes.", "principle")] * 3))
    assert not re.fullmatch(pattern, criteria_json([("The response rhymes.", "other")]))


@pytest.mark.parametrize(
    "text",
    [
        "Sure! Here you go:\n```json\n"
        '{"criteria": [{"text": "The response rhymes.", "kind": "principle"}]}\n```',
        'Criteria: [{"criterion": "The response rhymes.", "type": "principle"}] hope that helps',
        '{"criteria": [{"text": "The response rhymes.", "kind": "principle"}, {"text": "The resp',
        "Here are criteria:\n1. The response rhymes.\n2) [hard rule] The response has three lines.",
        "- The response rhymes.\n* hard_rule: The response has three lines.",
    ],
)
def test_unconstrained_output_is_parsed_tolerantly(text):
    parsed = parse_criteria(text)
    assert parsed[0].text == "The response rhymes." and parsed[0].kind == "principle"
    if len(parsed) > 1:
        assert parsed[1].text == "The response has three lines." and parsed[1].kind == "hard_rule"


def test_screen_drops_answers_copies_duplicates_and_non_criteria():
    rules = Screen(
        prompt="What is the capital of France? Answer in one word.",
        reference="Paris",
        responses=("The capital of France is Paris, a city on the Seine with many museums.",),
        min_chars=12,
        max_chars=80,
        copy_words=6,
    )
    proposals = parse_criteria(
        criteria_json(
            [
                ("The response names Paris as the capital.", "principle"),
                ("The response answers in one word.", "hard_rule"),
                ("The response says it is a city on the Seine with many museums.", "principle"),
                ("The response answers in ONE word!", "hard_rule"),
                ("Short.", "principle"),
                ("The response " + "is very good " * 10, "principle"),
                ("The response mentions the capital of France.", "principle"),
            ]
        )
    )
    kept, dropped = screen(proposals, rules)
    assert [k.text for k in kept] == [
        "The response answers in one word.",
        "The response mentions the capital of France.",
    ], "phrases of the prompt may be quoted"
    reasons = [reason for _, reason in dropped]
    assert reasons[0] == "screened: states the answer (contains the reference 'Paris')"
    assert reasons[1] == "screened: copies response 1 ('a city on the seine with')"
    assert reasons[2].startswith(
        "screened: near-duplicate of 'The response answers in one word.' (similarity 1.00)"
    )
    assert reasons[3].startswith("screened: too short")
    assert reasons[4].startswith("screened: too long")


def test_dropped_proposals_are_recorded_in_the_rubric():
    world = RubricWorld(
        satisfies=lambda c, r: 0.5,
        proposal=[*GOOD, ("The response is the haiku: rain on the roof tonight.", "principle")],
    )
    rubric = generate_rubric(world.backend(), PROMPT, reference="rain on the roof tonight")
    assert len(rubric.criteria) == 3
    [dropped] = rubric.dropped
    assert dropped.reason.startswith("screened: states the answer")
    assert dropped.criterion.provenance.source == "generated"


def test_no_criteria_is_a_clear_rubric_error():
    backend = ScriptedBackend(lambda request, index: "I cannot help with that.")
    with pytest.raises(RubricError, match=r"returned no criteria in 'I cannot help with that\.'"):
        generate_rubric(backend, PROMPT)
    backend = ScriptedBackend(lambda request, index: '{"criteria": []}')
    with pytest.raises(RubricError, match="returned no criteria"):
        generate_rubric(backend, PROMPT)


def test_only_unusable_criteria_is_a_rubric_error_naming_the_reasons():
    world = RubricWorld(satisfies=lambda c, r: 0.5, proposal=[("Too short", "principle")])
    with pytest.raises(RubricError, match=r"every proposed criterion was dropped.*too short"):
        generate_rubric(world.backend(), PROMPT)


def test_generation_settings_reach_the_request_and_messages_are_accepted():
    world = RubricWorld(satisfies=lambda c, r: 0.5, proposal=GOOD[:2])
    backend = world.backend()
    settings = GenerateSettings(min_criteria=2, max_criteria=2, max_criterion_chars=60, seed=7)
    rubric = generate_rubric(
        backend,
        [Message(role="system", content="Be brief."), Message(role="user", content=PROMPT)],
        settings=settings,
        name="haiku",
    )
    assert rubric.name == "haiku" and len(rubric.criteria) == 2
    [request] = backend.batches[0]
    assert request.sampling.seed == 7
    assert "{1,1}" in request.constraint.value and "{12,60}" in request.constraint.value
    assert "Write 2 criteria" in request.messages[1].content
    with pytest.raises(InputError):
        generate_rubric(backend, "   ")


CHOSEN = "Rain taps the window\ncold drops gather on the glass\nthe gray hours pass"
REJECTED = "Autumn rain is falling down on every leaf in the park today and it is wet."
CONTRASTIVE = [
    ("The response has exactly three lines.", "hard_rule"),
    ("The response avoids the forbidden word.", "hard_rule"),
]


def test_contrastive_rubric_is_kept_when_it_reproduces_the_labels():
    world = RubricWorld(
        satisfies=keyword_judge({"three lines": {CHOSEN}, "forbidden": {CHOSEN}}),
        proposal=CONTRASTIVE,
    )
    backend = world.backend()
    rubric = generate_contrastive_rubric(backend, PROMPT, [CHOSEN, REJECTED])
    assert backend.calls == 2, "one proposal call, one validation call"
    assert len(backend.batches[1]) == 2 * 2
    assert [c.text for c in rubric.criteria] == [t for t, _ in CONTRASTIVE]
    detail = rubric.criteria[0].provenance.detail
    assert rubric.criteria[0].provenance.source == "contrastive"
    assert "pairwise accuracy 1.00 over 1 pair(s); source pair margin +0.80" in detail
    shown = backend.batches[0][0].messages[1].content
    assert (
        shown.index('rank="1"')
        < shown.index(CHOSEN)
        < shown.index('rank="2"')
        < shown.index(REJECTED)
    )


def test_contrastive_rows_share_two_backend_calls_and_keep_their_own_outcomes():
    third = "Rain taps the window, three soft lines, no forbidden word."
    world = RubricWorld(
        satisfies=keyword_judge({"three lines": {CHOSEN, third}, "forbidden": {CHOSEN, third}}),
        proposal=CONTRASTIVE,
    )
    items = [
        RankedResponses(PROMPT, [CHOSEN, REJECTED], name="one"),
        RankedResponses(PROMPT, [REJECTED, CHOSEN], name="backwards"),
        RankedResponses(PROMPT, [third, REJECTED], name="three"),
    ]
    backend = world.backend()
    outcomes = generate_contrastive_rubrics(backend, items)
    assert backend.calls == 2, "every row's proposals in one call, every validation in the next"
    assert [len(batch) for batch in backend.batches] == [3, 3 * 2 * 2]
    first, backwards, three = outcomes
    assert isinstance(backwards, RubricError) and "not consistent" in str(backwards)
    assert [first.name, three.name] == ["one", "three"]
    # A row's rubric does not depend on the rows batched with it.
    alone = generate_contrastive_rubric(world.backend(), PROMPT, [CHOSEN, REJECTED], name="one")
    assert first == alone


def test_contrastive_rows_with_a_bad_row_are_refused_before_any_call():
    backend = RubricWorld(satisfies=lambda c, r: 0.5, proposal=CONTRASTIVE).backend()
    items = [RankedResponses(PROMPT, [CHOSEN, REJECTED]), RankedResponses(PROMPT, [CHOSEN, CHOSEN])]
    with pytest.raises(InputError, match="item 2: the ranked responses contain duplicates"):
        generate_contrastive_rubrics(backend, items)
    assert backend.calls == 0


def test_contrastive_rubric_inconsistent_with_labels_is_refused():
    world = RubricWorld(
        satisfies=keyword_judge({"three lines": {REJECTED}, "forbidden": {REJECTED}}),
        proposal=CONTRASTIVE,
    )
    with pytest.raises(RubricError, match=r"not consistent with the labels.*minimum margin 0\.05"):
        generate_contrastive_rubric(world.backend(), PROMPT, [CHOSEN, REJECTED])


def test_contrastive_ranked_list_accuracy_threshold_and_source_pair():
    third = "Rain rain rain rain."
    # Orders (1, 2) and (1, 3) right but (2, 3) wrong: accuracy 2/3, source pair right.
    world = RubricWorld(
        satisfies=keyword_judge({"three lines": {CHOSEN}, "forbidden": {CHOSEN, third}}),
        proposal=CONTRASTIVE,
    )
    rubric = generate_contrastive_rubric(world.backend(), PROMPT, [CHOSEN, REJECTED, third])
    assert "pairwise accuracy 0.67 over 3 pair(s)" in rubric.criteria[0].provenance.detail
    with pytest.raises(RubricError, match=r"accuracy 0\.67 \(minimum 0\.8\)"):
        generate_contrastive_rubric(
            world.backend(),
            PROMPT,
            [CHOSEN, REJECTED, third],
            settings=GenerateSettings(min_pairwise_accuracy=0.8),
        )


def test_contrastive_candidates_are_sampled_together_and_the_consistent_one_wins():
    proposals = {
        0: [("The response uses the forbidden word freely.", "principle")],
        1: CONTRASTIVE,
    }

    def respond(request, index):
        if request.id == "contrastive":
            return criteria_json(proposals[index % 2])
        return world(request, index)

    world = RubricWorld(
        satisfies=keyword_judge({"three lines": {CHOSEN}, "avoids": {CHOSEN}, "freely": {REJECTED}})
    )
    backend = ScriptedBackend(respond)
    rubric = generate_contrastive_rubric(
        backend, PROMPT, [CHOSEN, REJECTED], settings=GenerateSettings(candidates=2)
    )
    assert backend.calls == 2
    request = backend.batches[0][0]
    assert request.sampling.n == 2 and request.sampling.temperature == 0.7
    assert [c.text for c in rubric.criteria] == [t for t, _ in CONTRASTIVE]


def test_contrastive_drops_criteria_that_copy_a_response():
    world = RubricWorld(
        satisfies=keyword_judge({"three lines": {CHOSEN}}),
        proposal=[
            *CONTRASTIVE[:1],
            ("The response says cold drops gather on the glass.", "principle"),
        ],
    )
    rubric = generate_contrastive_rubric(
        world.backend(), PROMPT, [CHOSEN, REJECTED], settings=GenerateSettings(copy_words=5)
    )
    assert [d.reason for d in rubric.dropped] == [
        "screened: copies response 1 ('cold drops gather on the')"
    ]


@pytest.mark.parametrize("ranked", [[CHOSEN], [CHOSEN, CHOSEN + " "], [CHOSEN, ""]])
def test_contrastive_bad_input(ranked):
    world = RubricWorld(satisfies=lambda c, r: 0.5, proposal=CONTRASTIVE)
    backend = world.backend()
    with pytest.raises(InputError):
        generate_contrastive_rubric(backend, PROMPT, ranked)
    assert backend.calls == 0


def test_contrastive_validation_works_without_probabilities():
    world = RubricWorld(
        satisfies=keyword_judge({"three lines": {CHOSEN}, "forbidden": {CHOSEN}}),
        proposal=CONTRASTIVE,
    )
    backend = world.backend(capabilities=Capabilities(structured_output=True))
    rubric = generate_contrastive_rubric(backend, PROMPT, [CHOSEN, REJECTED])
    assert "source pair margin +1.00" in rubric.criteria[0].provenance.detail


def test_proposal_error_from_the_backend_is_a_generation_error():
    from judge.errors import GenerationError

    backend = ScriptedBackend(lambda request, index: ScriptedReply(text="", error="timeout"))
    with pytest.raises(GenerationError, match="timeout"):
        generate_rubric(backend, PROMPT)


def test_an_unreadable_proposal_is_asked_again_through_the_model_loop():
    def responder(request, index):
        if request.sampling.temperature == 0:  # the first, greedy try
            return ScriptedReply(text="I would rather not list criteria.")
        return ScriptedReply(text=criteria_json(GOOD))

    backend = ScriptedBackend(responder)
    one = GenerateSettings(samples=1)
    rubric = generate_rubric(backend, PROMPT, settings=one)
    assert backend.calls == 2 and [c.text for c in rubric.criteria] == [t for t, _ in GOOD]
    with pytest.raises(RubricError, match="returned no criteria"):
        generate_rubric(
            ScriptedBackend(responder), PROMPT, settings=GenerateSettings(samples=1, retries=0)
        )


def test_a_criterion_copied_from_the_template_is_dropped():
    # The case: both prompts got the old template's own example back, word for word.
    copied = [
        *GOOD,
        ("The response stays within the length the request sets.", "hard_rule"),
        ("The response is written in French.", "hard_rule"),
        ("The response keeps every ingredient quantity of the pancake recipe!", "principle"),
    ]
    world = RubricWorld(satisfies=lambda c, r: 0.5, proposal=copied)
    backend = world.backend()
    rubric = generate_rubric(backend, PROMPT, settings=GenerateSettings(max_criteria=3))
    assert [c.text for c in rubric.criteria] == [t for t, _ in GOOD]
    reasons = {d.criterion.text: d.reason for d in rubric.dropped}
    assert reasons["The response is written in French."] == (
        "screened: copies the prompt template's example 'The response is written in French.' "
        "(similarity 1.00)"
    )
    assert reasons[copied[5][0]].startswith("screened: copies the prompt template's example")
    # The old example is no longer in the template; generic, it ranks below specific criteria.
    assert reasons[copied[3][0]].startswith("not selected: ranked below the 3 kept")
    rendered = backend.batches[0][0].messages[1].content
    assert "The response stays within the length" not in rendered
    assert "The response answers every part" not in rendered


def test_a_template_example_stated_by_the_request_itself_is_kept():
    prompt = "Translate this note into French: see you at noon."
    world = RubricWorld(
        satisfies=lambda c, r: 0.5,
        proposal=[("The response is written in French.", "hard_rule")],
    )
    rubric = generate_rubric(world.backend(), prompt)
    assert [(c.text, c.kind) for c in rubric.criteria] == [
        ("The response is written in French.", "hard_rule")
    ]


def test_samples_are_kept_by_specificity_then_agreement_and_the_count_is_honoured():
    samples = {
        0: [
            ("The response gives a clear and complete answer.", "principle"),
            ("The response evokes the sound or feel of rain.", "principle"),
            ("The response is polite and friendly overall.", "principle"),
        ],
        1: [
            ("The response evokes the feel or sound of rain.", "principle"),
            ("The response does not use the word leaf.", "hard_rule"),
            ("The response uses only one type of rhyme.", "hard_rule"),
        ],
        2: [
            ("The response sets the haiku in autumn.", "principle"),
            ("The response does not use the word leaf.", "hard_rule"),
            ("The response is polite and friendly overall.", "principle"),
        ],
    }

    def respond(request, index):
        return criteria_json(samples[index % 3])

    backend = ScriptedBackend(respond)
    settings = GenerateSettings(max_criteria=3, samples=3)
    report = generate_rubric_report(backend, PROMPT, settings=settings)
    assert backend.calls == 1 and backend.batches[0][0].sampling.n == 3
    assert [c.text for c in report.rubric.criteria] == [
        "The response evokes the sound or feel of rain.",
        "The response does not use the word leaf.",
        "The response sets the haiku in autumn.",
    ]
    assert report.shortfall is None and report.distinct == 6
    reasons = {d.criterion.text: d.reason for d in report.rubric.dropped}
    assert reasons["The response uses only one type of rhyme."].startswith(
        "not selected: ranked below the 3 kept (prompt specificity 0.00"
    )
    assert "3 of 3 requested criteria from 3 sample(s)" in report.summary()


def test_a_shortfall_is_reported_not_padded():
    world = RubricWorld(satisfies=lambda c, r: 0.5, proposal=GOOD[1:])
    report = generate_rubric_report(
        world.backend(), PROMPT, settings=GenerateSettings(max_criteria=4)
    )
    assert len(report.rubric.criteria) == 2
    assert report.shortfall.startswith("2 short: the 3 sample(s) gave 2 distinct usable criteria")
    assert "shortfall: 2 short" in report.summary()


def test_a_contrastive_criterion_under_the_minimum_margin_is_rejected():
    # P(yes) 0.903 on the chosen, 0.900 on the rejected response: a gap of noise.
    rhyme = ("The response uses only one type of rhyme.", "hard_rule")

    def satisfies(criterion, response):
        if "rhyme" in criterion:
            return 0.903 if response == CHOSEN else 0.9
        return 0.9 if response == CHOSEN else 0.1

    world = RubricWorld(satisfies=satisfies, proposal=[CONTRASTIVE[0], rhyme])
    rubric = generate_contrastive_rubric(world.backend(), PROMPT, [CHOSEN, REJECTED])
    assert [c.text for c in rubric.criteria] == [CONTRASTIVE[0][0]]
    [dropped] = rubric.dropped
    assert dropped.criterion.text == rhyme[0]
    assert dropped.reason == (
        "not contrastive: best-minus-worst P(yes) margin +0.003 is below min_margin 0.05"
    )
    world = RubricWorld(satisfies=satisfies, proposal=[rhyme])
    with pytest.raises(RubricError, match=r"by the minimum margin 0\.05"):
        generate_contrastive_rubric(world.backend(), PROMPT, [CHOSEN, REJECTED])
    rubric = generate_contrastive_rubric(
        world.backend(), PROMPT, [CHOSEN, REJECTED], settings=GenerateSettings(min_margin=0.001)
    )
    assert [c.text for c in rubric.criteria] == [rhyme[0]]


def test_contrastive_hard_rules_only_for_requirements_the_request_states():
    proposal = [
        ("The response uses only one type of rhyme.", "hard_rule"),
        ("The response does not use the word leaf.", "hard_rule"),
    ]
    world = RubricWorld(
        satisfies=keyword_judge({"rhyme": {CHOSEN}, "leaf": {CHOSEN}}), proposal=proposal
    )
    rubric = generate_contrastive_rubric(world.backend(), PROMPT, [CHOSEN, REJECTED])
    assert [(c.text, c.kind) for c in rubric.criteria] == [
        (proposal[0][0], "principle"),
        (proposal[1][0], "hard_rule"),
    ]


def test_template_examples_come_from_the_instructions_not_from_the_data():
    from judge.rubric.proposal import template_examples

    rendered = (
        '<conversation>\n<message role="user">\nSay "the quick brown fox jumps".\n</message>\n'
        "</conversation>\n"
        'Tag each "hard_rule" if it is stated, or "principle" otherwise. For example '
        '"The response is written in French." fits another task.'
    )
    assert template_examples(rendered) == ("The response is written in French.",)


STORY = (
    "Could you write a captivating short story beginning with the sentence: The old abandoned "
    "house at the end of the street held a secret that no one had ever discovered."
)
BEGINS = "The response must begin with the sentence 'The old abandoned house held a secret.'"
STARTS = "The response must start with the given sentence about the house."
STORY_CRITERIA = [
    (BEGINS, "hard_rule"),
    (STARTS, "principle"),
    ("The response is an original short story about the abandoned house.", "principle"),
    ("The response is engaging to read.", "principle"),
]


def test_the_meaning_check_drops_a_candidate_the_model_rates_as_the_same_check():
    # Wording alone keeps both "begin with the sentence" and "start with the given sentence".
    world = RubricWorld(
        satisfies=lambda c, r: 0.5,
        proposal=STORY_CRITERIA,
        overlaps={(STARTS, BEGINS): (90, False), (BEGINS, STARTS): (80, False)},
    )
    plain = generate_rubric(world.backend(), STORY, settings=GenerateSettings(max_criteria=3))
    assert [c.text for c in plain.criteria] == [t for t, _ in STORY_CRITERIA[:3]]
    backend = world.backend()
    report = generate_rubric_report(
        backend, STORY, settings=GenerateSettings(max_criteria=3, meaning_check=True)
    )
    # The duplicate goes; the next candidate (generic, so ranked last) takes its place.
    kept = [c.text for c in report.rubric.criteria]
    assert kept == [BEGINS, STORY_CRITERIA[2][0], STORY_CRITERIA[3][0]]
    reasons = {d.criterion.text: d.reason for d in report.rubric.dropped}
    assert reasons[STARTS] == (
        f"screened: the same check as {BEGINS!r} (model-rated overlap 0.80 >= 0.7)"
    )
    assert backend.calls == 2, "the proposals, then every meaning check in one batch"
    asked = [r.id for r in backend.batches[1]]
    # Only pairs that read somewhat alike are asked (wording similarity >= 0.2).
    # Only pairs that read somewhat alike are asked (wording similarity >= 0.2), both ways.
    assert 0 < len(asked) < 12 and len(asked) % 2 == 0
    assert all(i.startswith("meaning:") for i in asked)
    assert "meaning check on" in report.notes[-1]


def test_the_meaning_check_keeps_distinct_checks_and_reports_a_shortfall_honestly():
    world = RubricWorld(
        satisfies=lambda c, r: 0.5,
        proposal=STORY_CRITERIA[:2],
        overlaps={(STARTS, BEGINS): (90, False), (BEGINS, STARTS): (90, False)},
    )
    report = generate_rubric_report(
        world.backend(), STORY, settings=GenerateSettings(max_criteria=2, meaning_check=True)
    )
    assert [c.text for c in report.rubric.criteria] == [BEGINS]
    assert report.shortfall is not None and "1 short" in report.shortfall


def test_the_meaning_check_keeps_a_pair_the_model_finds_covered_one_way_only():
    # "Begins with the sentence" is part of the compound criterion, not the same check.
    compound = "The response is a short story that must start with the given sentence."
    world = RubricWorld(
        satisfies=lambda c, r: 0.5,
        proposal=[(STARTS, "principle"), (compound, "principle")],
        overlaps={(compound, STARTS): (100, False), (STARTS, compound): (30, False)},
    )
    report = generate_rubric_report(
        world.backend(), STORY, settings=GenerateSettings(max_criteria=2, meaning_check=True)
    )
    assert [c.text for c in report.rubric.criteria] == [STARTS, compound]

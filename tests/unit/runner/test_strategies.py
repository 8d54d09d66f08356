"""Strategies on the scripted backend: requests, rounds, merges and the numbers they produce."""

import json
import re

import pytest

from judge.backends.base import Capabilities
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.errors import ConfigError, VerdictParseError
from judge.runner.consistency import merge_principles, merge_verdicts
from judge.runner.judge import Judge
from judge.runner.likert import expected_score, read_likert
from judge.runner.strategies import critical_criteria
from judge.types import Criterion, Generation, Rubric, Sample
from tests.doubles.scripted import verdict_reply

SAMPLES = [
    Sample(id="math", prompt="What is 6 * 7?", response="42"),
    Sample(id="poem", prompt="Write a line about rain.", response="Rain taps the glass."),
]


def rubric(task_type="auto") -> Rubric:
    return Rubric(
        name="t",
        task_type=task_type,
        criteria=(
            Criterion(id="style", text="Is it well written?", weight=1),
            Criterion(id="correct", text="Is it correct?", kind="hard_rule", weight=1),
            Criterion(id="complete", text="Is it complete?", weight=3),
            Criterion(id="brief", text="Is it brief?", weight=0.5),
        ),
    )


def common_prefix(texts):
    prefix = texts[0]
    for text in texts[1:]:
        while not text.startswith(prefix):
            prefix = prefix[:-1]
    return prefix


def user_text(request) -> str:
    return request.messages[-1].content


class Script:
    """A scripted model: verdict P(yes) per criterion, a route per prompt, solutions, Likert."""

    def __init__(
        self, p_yes=None, routes=None, solution="The answer is 42.", likert=None, principles=None
    ):
        self.p_yes = p_yes or {}
        self.routes = routes or {}
        self.solution = solution
        self.likert = likert
        self.principles = principles or []

    def __call__(self, request, index):
        role = request.id.split("/")[-1]
        if role == "#route":
            route = next(r for word, r in self.routes.items() if word in user_text(request))
            probs = (
                {"objective": 0.9, "subjective": 0.1}
                if route == "objective"
                else {"objective": 0.2, "subjective": 0.8}
            )
            return ScriptedReply(text=json.dumps({"task_type": route}), choice_probs=probs)
        if role == "#solve":
            return ScriptedReply(text=self.solution)
        if role == "#likert":
            probs = self.likert or {"3": 1.0}
            best = max(probs, key=probs.get)
            return ScriptedReply(
                text=json.dumps({"rationale": "ok", "score": best}), choice_probs=probs
            )
        if role == "#principles":
            items = self.principles[index % len(self.principles)]
            return ScriptedReply(
                text=json.dumps({"principles": [{"principle": p, "verdict": v} for p, v in items]})
            )
        value = self.p_yes.get(role, 0.8)
        return verdict_reply(value(index) if callable(value) else value)


def test_breadth_is_one_batch_and_unchanged_by_default():
    backend = ScriptedBackend(Script())
    judge = Judge(backend=backend, rubric=rubric())
    judgments = judge.score(SAMPLES)
    assert backend.calls == 1 and judge.last_stats.backend_calls == 1
    assert [r.id for r in backend.batches[0]] == [
        f"s{i}/{c}" for i in (0, 1) for c in ("style", "correct", "complete", "brief")
    ]
    assert all(
        j.strategy == "breadth" and j.mode == "pointwise" and "route" not in j.details
        for j in judgments
    )
    assert judgments[0].details["samples"] == 1
    assert judge.last_stats.rounds == ["judge"]


def test_depth_solves_then_verifies_critical_criteria_in_two_batches():
    backend = ScriptedBackend(Script(p_yes={"correct": 0.9, "complete": 0.6}))
    samples = [*SAMPLES, Sample(id="ref", prompt="What is 2+2?", response="4", reference="2+2 = 4")]
    judge = Judge(backend=backend, rubric=rubric(), strategy="depth", depth_criteria=2)
    judgments = judge.score(samples)
    assert backend.calls == 2 and judge.last_stats.backend_calls == 2
    assert judge.last_stats.rounds == ["solve+judge", "judge"]
    first_round, verify_round = backend.batches
    # Round 1: a solve request per sample without a reference (the response is never shown);
    # the sample with a reference needs no solution and is verified at once.
    solve_round = first_round[:2]
    assert [r.id for r in first_round] == ["s0/#solve", "s1/#solve", "s2/correct", "s2/complete"]
    assert "<response>" not in user_text(solve_round[0]) and "Rain taps" not in user_text(
        solve_round[1]
    )
    assert all(r.constraint is None and r.sampling.n == 1 for r in solve_round)
    assert "<solution>\n2+2 = 4\n</solution>" in user_text(first_round[2])
    assert "reference solution" in user_text(first_round[2])
    # Round 2: the hard rule first, then the heaviest principle; the solution is in the prompt.
    assert [r.id for r in verify_round] == [
        f"s{i}/{c}" for i in (0, 1) for c in ("correct", "complete")
    ]
    assert "<solution>\nThe answer is 42.\n</solution>" in user_text(verify_round[0])
    assert "independently" in user_text(verify_round[0])
    for group in (verify_round[:2], verify_round[2:4]):
        shared = common_prefix([user_text(r) for r in group])
        assert shared.endswith("</solution>\n\nCritical criterion (")
        assert len({r.prefix_group for r in group}) == 1
    first = judgments[0]
    assert first.strategy == "depth" and first.error is None
    assert [v.criterion_id for v in first.verdicts] == ["correct", "complete"]
    assert first.score == pytest.approx(min(0.9, (0.9 + 3 * 0.6) / 4))
    assert (
        first.details["solution_source"] == "model"
        and first.details["solution"] == "The answer is 42."
    )
    assert first.details["skipped_criteria"] == ["style", "brief"]
    assert judgments[2].details["solution_source"] == "reference"
    verify_tokens = sum(len(m.content.split()) for r in verify_round[:2] for m in r.messages)
    assert first.usage.prompt_tokens > verify_tokens, "the solve request's tokens are counted"


def test_depth_with_references_only_needs_one_batch():
    backend = ScriptedBackend(Script())
    samples = [
        Sample(id=str(i), prompt=f"{i}+1?", response=str(i + 1), reference=str(i + 1))
        for i in range(3)
    ]
    judge = Judge(backend=backend, rubric=rubric(), strategy="depth")
    assert all(j.error is None for j in judge.score(samples))
    assert backend.calls == 1 and len(backend.batches[0]) == 3 * 3


def test_depth_solve_failure_is_retried_then_a_judgment_error():
    backend = ScriptedBackend(Script(solution="   "))
    judge = Judge(backend=backend, rubric=rubric(), strategy="depth")
    [judgment] = judge.score(SAMPLES[:1])
    assert judgment.score is None and "solve step failed: the solution is empty" in judgment.error
    assert backend.calls == 2 and judge.last_stats.retried == 1
    assert backend.batches[1][0].sampling.temperature > 0


def test_critical_criteria_hard_rules_first_then_weight_then_order():
    leaves = Rubric(
        name="c",
        criteria=(
            Criterion(id="a", text="a", weight=2),
            Criterion(id="b", text="b", kind="hard_rule", weight=0.5),
            Criterion(id="c", text="c", weight=2),
            Criterion(id="d", text="d", kind="hard_rule", weight=1),
        ),
    )
    assert [c.id for c in critical_criteria(leaves, 3)] == ["d", "b", "a"]
    assert [c.id for c in critical_criteria(leaves, 1)] == ["d"]


def test_auto_routes_each_sample_and_costs_three_batches():
    script = Script(routes={"6 * 7": "objective", "rain": "subjective"})
    backend = ScriptedBackend(script)
    judge = Judge(backend=backend, rubric=rubric(), strategy="auto")
    math, poem = judge.score(SAMPLES)
    assert judge.last_stats.backend_calls == 3
    assert judge.last_stats.rounds == ["route", "solve+judge", "judge"]
    route_round, second, third = backend.batches
    assert [r.id for r in route_round] == ["s0/#route", "s1/#route"]
    for request in route_round:
        assert (
            request.constraint.kind == "regex"
            and "objective|subjective" in request.constraint.value
        )
        assert (
            request.probe.choices == ("objective", "subjective")
            and request.sampling.temperature == 0
        )
        assert "<response>" not in user_text(request)
    assert [r.id for r in second] == [
        "s0/#solve",
        *[f"s1/{c}" for c in ("style", "correct", "complete", "brief")],
    ]
    assert [r.id for r in third] == ["s0/correct", "s0/complete", "s0/style"]
    assert math.strategy == "depth" and math.route.route == "objective"
    assert math.route.p_route == pytest.approx(0.9) and math.route.source == "model"
    assert poem.strategy == "breadth" and poem.route.route == "subjective"
    assert poem.route.p_route == pytest.approx(0.8)
    # The routing request's tokens are part of the sample's usage.
    assert poem.usage.prompt_tokens > sum(
        sum(len(m.content.split()) for m in r.messages) for r in second[1:]
    )
    assert math.template_fingerprint == poem.template_fingerprint == judge.template_fingerprint


@pytest.mark.parametrize("task_type, strategy", [("objective", "depth"), ("subjective", "breadth")])
def test_a_rubric_task_type_fixes_the_route_without_asking(task_type, strategy):
    backend = ScriptedBackend(Script())
    judge = Judge(backend=backend, rubric=rubric(task_type), strategy="auto")
    [judgment] = judge.score(SAMPLES[:1])
    assert not any(r.id.endswith("#route") for batch in backend.batches for r in batch)
    assert judgment.strategy == strategy
    assert judgment.route.route == task_type and judgment.route.source == "rubric"
    assert judgment.route.p_route is None


def test_routing_without_probabilities_uses_the_text_answer():
    backend = ScriptedBackend(
        Script(routes={"6 * 7": "objective"}), capabilities=Capabilities(structured_output=True)
    )
    [judgment] = Judge(backend=backend, rubric=rubric(), strategy="auto").score(SAMPLES[:1])
    assert judgment.route.route == "objective" and judgment.route.p_route is None
    assert judgment.route.source == "model" and judgment.strategy == "depth"
    assert judgment.confidence is None


def test_unreadable_route_without_probabilities_falls_back_to_breadth_with_a_note():
    def responder(request, index):
        if request.id.endswith("#route"):
            return ScriptedReply(text="It depends.")
        return Script()(request, index)

    backend = ScriptedBackend(responder, capabilities=Capabilities(structured_output=False))
    judge = Judge(backend=backend, rubric=rubric(), strategy="auto")
    [judgment] = judge.score(SAMPLES[:1])
    assert judgment.strategy == "breadth" and judgment.error is None
    assert judgment.route.source == "fallback" and judgment.route.p_route is None
    assert "routing failed" in judgment.route.note
    assert judge.last_stats.rounds == ["route", "judge"]
    assert judge.last_stats.backend_calls == 3 and judge.last_stats.retried == 1, "retried once"
    assert backend.batches[0][0].constraint is None


def test_unreadable_route_text_with_probabilities_takes_the_likelier_route():
    def responder(request, index):
        if request.id.endswith("#route"):
            return ScriptedReply(
                text="objective, I think", choice_probs={"objective": 0.3, "subjective": 0.7}
            )
        return Script()(request, index)

    [judgment] = Judge(
        backend=ScriptedBackend(responder), rubric=rubric(), strategy="auto", retries=0
    ).score(SAMPLES[:1])
    assert judgment.route.route == "subjective" and judgment.route.p_route == pytest.approx(0.7)
    assert "unreadable" in judgment.route.note


def test_self_consistency_draws_k_in_one_batch_and_reports_agreement():
    draws = {
        "style": [0.9, 0.8, 0.3],
        "correct": [0.9, 0.9, 0.9],
        "complete": [0.2, 0.6, 0.7],
        "brief": [0.6] * 3,
    }
    backend = ScriptedBackend(
        Script(p_yes={cid: (lambda i, v=v: v[i]) for cid, v in draws.items()})
    )
    judge = Judge(backend=backend, rubric=rubric(), samples=3)
    [judgment] = judge.score(SAMPLES[:1])
    assert backend.calls == 1 and len(backend.batches[0]) == 4
    assert all(
        r.sampling.n == 3 and r.sampling.temperature == pytest.approx(0.7)
        for r in backend.batches[0]
    )
    by_id = {v.criterion_id: v for v in judgment.verdicts}
    assert by_id["style"].verdict == "yes" and by_id["style"].p_yes == pytest.approx(2.0 / 3)
    assert by_id["complete"].verdict == "yes" and by_id["complete"].p_yes == pytest.approx(0.5)
    agreement = judgment.consistency.by_criterion
    assert agreement == pytest.approx(
        {"style": 2 / 3, "correct": 1.0, "complete": 2 / 3, "brief": 1.0}
    )
    weights = {"style": 1, "correct": 1, "complete": 3, "brief": 0.5}
    expected = sum(weights[c] * agreement[c] for c in weights) / 5.5
    assert judgment.confidence == pytest.approx(expected)
    assert judgment.consistency.agreement == pytest.approx(expected)
    mean = {c: sum(v) / 3 for c, v in draws.items()}
    assert judgment.score == pytest.approx(
        min(mean["correct"], sum(weights[c] * mean[c] for c in weights) / 5.5)
    )
    assert len(judgment.consistency.sample_scores) == 3 and judgment.consistency.samples == 3
    assert judgment.details["samples"] == 3


def test_merge_verdicts_counts_failed_draws_against_agreement():
    generations = [
        Generation(
            request_id="x",
            sample_index=0,
            text='{"rationale": "a", "verdict": "no"}',
            choice_probs={"yes": 0.4, "no": 0.6},
        ),
        Generation(request_id="x", sample_index=1, text="garbage"),
        Generation(
            request_id="x",
            sample_index=2,
            text='{"rationale": "b", "verdict": "no"}',
            choice_probs={"yes": 0.2, "no": 0.8},
        ),
    ]
    merged = merge_verdicts("c", generations)
    assert merged.verdict.verdict == "no" and merged.verdict.p_yes == pytest.approx(0.3)
    assert merged.agreement == pytest.approx(2 / 3) and merged.valid == 2
    # A 1-1 tie goes to the mean P(yes).
    tie = merge_verdicts(
        "c",
        [
            generations[0],
            generations[2].model_copy(
                update={
                    "text": '{"rationale": "", "verdict": "yes"}',
                    "choice_probs": {"yes": 0.9, "no": 0.1},
                }
            ),
        ],
    )
    assert tie.verdict.verdict == "yes" and tie.agreement == 0.5


def test_merge_principles_dedupes_counts_and_keeps_the_top_ten():
    rationales = [
        [("Gives the answer 42.", "yes"), ("Shows the steps", "no"), ("gives the ANSWER 42", "no")],
        [("gives the answer 42", "no"), ("Uses units", "yes")],
        [("Gives the answer: 42", "yes"), ("shows the steps!", "yes"), ("Uses units", "yes")],
    ]
    merged = merge_principles(rationales)
    assert [(p.text, p.count, p.yes) for p in merged] == [
        ("Gives the answer 42.", 3, 2),
        ("Shows the steps", 2, 1),
        ("Uses units", 2, 2),
    ]
    assert [p.verdict for p in merged] == ["yes", "no", "yes"], "a 1-1 split is not a yes"
    many = [
        [(f"principle {i}", "yes") for i in range(12)],
        [(f"principle {i}", "no") for i in range(11, 3, -1)],
    ]
    top = merge_principles(many)
    assert len(top) == 10 and [p.text for p in top[:8]] == [f"principle {i}" for i in range(4, 12)]


def test_breadth_principles_join_the_same_batch_and_the_score():
    principles = [
        [("States 42", "yes"), ("Explains", "no")],
        [("States 42", "yes")],
        [("states 42.", "no"), ("Explains", "no")],
        [("States 42", "yes"), ("Is polite", "yes")],
    ]
    backend = ScriptedBackend(
        Script(
            p_yes={"style": 0.5, "correct": 1.0, "complete": 0.5, "brief": 0.5},
            principles=principles,
        )
    )
    judge = Judge(backend=backend, rubric=rubric(), principles=4)
    [judgment] = judge.score(SAMPLES[:1])
    [batch] = backend.batches
    assert [r.id for r in batch][-1] == "s0/#principles"
    request = batch[-1]
    assert (
        request.sampling.n == 4
        and request.sampling.temperature > 0
        and request.prefix_group == "s0"
    )
    shared = common_prefix([user_text(r) for r in batch])
    assert "</response>" in shared and shared.endswith("\n\n")
    ids = [v.criterion_id for v in judgment.verdicts]
    assert ids == [
        "style",
        "correct",
        "complete",
        "brief",
        "principle.1",
        "principle.2",
        "principle.3",
    ]
    listed = judgment.details["principles"]
    assert [(p["principle"], p["count"], p["verdict"]) for p in listed] == [
        ("States 42", 4, "yes"),
        ("Explains", 2, "no"),
        ("Is polite", 1, "yes"),
    ]
    mean_weight = 5.5 / 4
    extra = [(mean_weight * 4 / 4, 0.75), (mean_weight * 2 / 4, 0.0), (mean_weight / 4, 1.0)]
    total = 5.5 + sum(w for w, _ in extra)
    expected = (0.5 * 1 + 1.0 + 0.5 * 3 + 0.5 * 0.5 + sum(w * p for w, p in extra)) / total
    assert judgment.score == pytest.approx(expected)
    assert "breadth_principles" in judge._score_templates()


def test_likert_expected_score_is_probability_weighted():
    assert expected_score({"1": 0.1, "2": 0.2, "3": 0.4, "4": 0.2, "5": 0.1}, 5) == pytest.approx(
        3.0
    )
    assert expected_score({"1": 0.0, "2": 0.5, "3": 0.5}, 3) == pytest.approx(2.5)
    assert expected_score({"4": 2.0, "5": 2.0, "x": 9.0}, 5) == pytest.approx(4.5), (
        "renormalised over the scale"
    )
    text_only = [
        Generation(request_id="l", sample_index=i, text=json.dumps({"rationale": "", "score": s}))
        for i, s in enumerate("45")
    ]
    reading = read_likert(text_only, 5, 50)
    assert (
        reading.expected == pytest.approx(4.5)
        and reading.probabilities is None
        and reading.scores == (4, 5)
    )


def test_likert_request_shares_the_prefix_and_is_recorded():
    probs = {"1": 0.05, "2": 0.05, "3": 0.2, "4": 0.5, "5": 0.2}
    backend = ScriptedBackend(Script(likert=probs))
    judge = Judge(backend=backend, rubric=rubric(), likert=5, max_rationale_chars=40)
    [judgment] = judge.score(SAMPLES[:1])
    [batch] = backend.batches
    likert = batch[-1]
    assert likert.id == "s0/#likert" and likert.probe.choices == ("1", "2", "3", "4", "5")
    assert re.fullmatch(likert.constraint.value, '{"rationale": "fine", "score": "4"}')
    assert not re.fullmatch(likert.constraint.value, '{"rationale": "fine", "score": "6"}')
    assert "</response>" in common_prefix([user_text(r) for r in batch])
    likert = judgment.likert
    assert likert.expected == pytest.approx(0.05 + 0.1 + 0.6 + 2.0 + 1.0)
    assert likert.normalised == pytest.approx((likert.expected - 1) / 4)
    assert likert.scores == (4,) and likert.scale == 5


def test_bad_options_are_config_errors():
    backend = ScriptedBackend(Script())
    with pytest.raises(ConfigError, match="unknown strategy 'wide'"):
        Judge(backend=backend, rubric=rubric(), strategy="wide")
    with pytest.raises(ConfigError, match="likert scale 10"):
        Judge(backend=backend, rubric=rubric(), likert=10)
    with pytest.raises(ConfigError, match="samples 0"):
        Judge(backend=backend, rubric=rubric(), samples=0)
    with pytest.raises(ConfigError, match="depth_criteria 4"):
        Judge(backend=backend, rubric=rubric(), depth_criteria=4)


def test_fingerprints_follow_the_strategy_and_sampling():
    backend = ScriptedBackend(Script())
    fingerprints = {
        (s, k): Judge(backend=backend, rubric=rubric(), strategy=s, samples=k).settings_fingerprint
        for s in ("breadth", "depth", "auto")
        for k in (1, 3)
    }
    assert len(set(fingerprints.values())) == 6
    breadth = Judge(backend=backend, rubric=rubric())
    assert breadth.template_fingerprint == breadth.prompts.fingerprint(
        "judge_system", "pointwise_breadth"
    )


# --- the CLI ---------------------------------------------------------------------------------

from judge import _cli as cli  # noqa: E402
from judge import backends  # noqa: E402


def run_cli(monkeypatch, capsys, *args):
    monkeypatch.setitem(backends._REGISTRY, "scripted-roles", "tests.doubles.strategy:all_roles")
    monkeypatch.setattr("sys.argv", ["judge", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return info.value.code, out, err


AUTO_RUBRIC = """\
name: general
task_type: auto
criteria:
  - id: correct
    kind: hard_rule
    text: The response is correct.
  - id: clear
    text: The response is clear.
"""


def test_cli_score_auto_records_route_and_probability(tmp_path, monkeypatch, capsys):
    rubric_file = tmp_path / "general.yaml"
    rubric_file.write_text(AUTO_RUBRIC)
    base = [
        "score",
        "--backend",
        "scripted-roles",
        "--strategy",
        "auto",
        "--rubric",
        str(rubric_file),
    ]
    code, out, _ = run_cli(
        monkeypatch, capsys, *base, "--prompt", "2+2?", "--response", "4", "--json"
    )
    assert code == 0
    judgment = json.loads(out)
    assert judgment["strategy"] == "depth" and judgment["route"]["route"] == "objective"
    assert judgment["route"]["p_route"] == pytest.approx(0.85)
    assert judgment["details"]["solution"] == "Worked out: the answer is 4."
    code, out, _ = run_cli(
        monkeypatch, capsys, *base, "--prompt", "A haiku?", "--response", "Leaves."
    )
    assert code == 0 and "strategy breadth  route subjective (P=0.70, from model)" in out
    # A library rubric with a fixed task type routes without asking.
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        *base[:-2],
        "--rubric",
        "writing_quality",
        "--prompt",
        "2+2?",
        "--response",
        "4",
    )
    assert code == 0 and "route subjective (P=n/a, from rubric)" in out


def test_cli_score_samples_and_likert(monkeypatch, capsys):
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "score",
        "--backend",
        "scripted-roles",
        "--samples",
        "3",
        "--prompt",
        "Hi",
        "--response",
        "Hello",
        "--json",
    )
    assert code == 0 and json.loads(out)["consistency"]["agreement"] == 1.0
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "score",
        "--backend",
        "scripted-roles",
        "--strategy",
        "wide",
        "--prompt",
        "Hi",
        "--response",
        "Hello",
    )
    assert code == 2 and "unknown strategy 'wide'" in err and len(err.strip().splitlines()) == 1


def test_output_formats_degrade_to_schemas_and_read_unconstrained_text():
    from judge.runner.formats import PrincipleFormat, pair_format

    schema_only = Capabilities(structured_output=True, constraint_kinds=("json_schema",))
    constraint = pair_format(30).constraint(schema_only)
    schema = json.loads(constraint.value)
    assert constraint.kind == "json_schema" and schema["properties"]["winner"]["enum"] == ["A", "B"]
    assert pair_format(30).constraint(Capabilities()) is None
    assert pair_format(30).parse('Sure. {"rationale": "b is right", "winner": "b"}') == (
        "B",
        "b is right",
    )
    principles = PrincipleFormat(max_items=2)
    assert re.fullmatch(
        principles.regex(),
        '{"principles": [{"principle": "Says 42", "verdict": "yes"}, '
        '{"principle": "Shows work", "verdict": "no"}]}',
    )
    prose = (
        'Here: "principle": "Says 42", "verdict": "yes" and "principle": "Polite", "verdict": "NO"'
    )
    assert principles.parse(prose) == [("Says 42", "yes"), ("Polite", "no")]
    with pytest.raises(VerdictParseError, match="no principles"):
        principles.parse("nothing to see")


def test_an_unreadable_likert_answer_fails_the_judgment_after_a_retry():
    def responder(request, index):
        if request.id.endswith("#likert"):
            return ScriptedReply(text='{"rationale": "", "score": "seven"}')
        return Script()(request, index)

    backend = ScriptedBackend(responder)
    [judgment] = Judge(backend=backend, rubric=rubric(), likert=5).score(SAMPLES[:1])
    assert judgment.score is None and judgment.error.startswith("likert: no score")
    assert backend.calls == 2 and [r.id for r in backend.batches[1]] == ["s0/#likert"]


@pytest.mark.parametrize("strategy", ["breadth", "depth", "auto"])
def test_a_blank_response_fails_every_criterion_by_rule_without_a_model_call(strategy):
    backend = ScriptedBackend(lambda request, index: verdict_reply(0.99))
    judge = Judge(backend=backend, rubric=rubric(), strategy=strategy)
    [blank] = judge.score([Sample(id="blank", prompt="Q?", response=" \n\t")])
    assert backend.calls == 0
    assert blank.error is None and blank.score == 0.0 and blank.strategy == "empty"
    assert [v.criterion_id for v in blank.verdicts] == [c.id for c in rubric().leaves()]
    assert all(v.verdict == "no" and v.p_yes == 0.0 for v in blank.verdicts)
    assert "without a model call" in blank.details["note"]


def test_a_blank_response_among_others_costs_no_request():
    backend = ScriptedBackend(lambda request, index: verdict_reply(0.99))
    judge = Judge(backend=backend, rubric=rubric())
    samples = [Sample(id="ok", prompt="Q?", response="A"), Sample(id="b", prompt="Q?", response="")]
    answered, blank = judge.score(samples)
    assert answered.score is not None and answered.score > 0.9 and blank.score == 0.0
    assert len(backend.batches) == 1 and len(backend.batches[0]) == len(list(rubric().leaves()))

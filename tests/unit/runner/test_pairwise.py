"""Pairwise judging on the scripted backend: both orders, swap-averaging, flips, ties, margins."""

import json
import re

import pytest

from judge.backends.base import Capabilities
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.errors import InputError
from judge.inputs import pair_from_record
from judge.runner.judge import Judge
from judge.runner.pairwise import OrderReading, combine_orders, decide
from judge.types import Criterion, Pair, Rubric
from tests.doubles.scripted import verdict_reply

_FIRST = re.compile(r"<response_a>\n(.*?)\n</response_a>", re.DOTALL)
_POINTWISE = re.compile(r"<response>\n(.*?)\n</response>", re.DOTALL)


def rubric() -> Rubric:
    return Rubric(
        name="p",
        criteria=(
            Criterion(id="right", text="Is it right?", kind="hard_rule", weight=3),
            Criterion(id="clear", text="Is it clear?", weight=1),
        ),
    )


def pair(a="Paris.", b="Lyon, I think.", pair_id="q"):
    return Pair(id=pair_id, prompt="Capital of France?", response_a=a, response_b=b)


def direct_backend(p_first, **kwargs):
    """P("A") for the response shown first, as a function of (first response, order id)."""

    def responder(request, index):
        first = _FIRST.search(request.messages[-1].content).group(1)
        value = p_first(first, request.id, index)
        text = json.dumps({"rationale": "compared", "winner": "A" if value >= 0.5 else "B"})
        return ScriptedReply(text=text, choice_probs={"A": value, "B": 1 - value})

    return ScriptedBackend(responder, **kwargs)


def test_both_orders_run_in_one_batch_and_are_swap_averaged():
    # a shown first: P(first) = 0.8; b shown first: P(first) = 0.3, so P(a) in that order is 0.7.
    backend = direct_backend(lambda first, rid, i: 0.8 if first == "Paris." else 0.3)
    judge = Judge(backend=backend)
    [result] = judge.compare([pair()], method="direct")
    assert backend.calls == 1 and judge.last_stats.backend_calls == 1
    ab, ba = backend.batches[0]
    assert (ab.id, ba.id) == ("p0/ab", "p0/ba") and ab.prefix_group == ba.prefix_group == "p0"
    assert _FIRST.search(ab.messages[-1].content).group(1) == "Paris."
    assert _FIRST.search(ba.messages[-1].content).group(1) == "Lyon, I think."
    assert ab.probe.choices == ("A", "B") and ab.probe.marker == '"winner": "'
    assert ab.constraint.kind == "regex" and "(A|B)" in ab.constraint.value
    shared = ab.messages[-1].content[: ab.messages[-1].content.index("\n<response_a>\n")]
    assert ba.messages[-1].content.startswith(shared) and "</conversation>" in shared
    assert "Criteria:" not in ab.messages[-1].content, "direct comparison does not use the rubric"
    assert result.p_a_ab == pytest.approx(0.8) and result.p_a_ba == pytest.approx(0.7)
    assert result.p_a == pytest.approx(0.75) and result.winner == "a" and result.consistent is True
    assert result.confidence == pytest.approx(0.75)
    assert result.winner_ab == "a" and result.winner_ba == "a"
    assert result.strategy == "direct" and result.rubric_fingerprint == ""
    assert result.usage.prompt_tokens > 0


def test_a_flip_between_orders_is_reported_and_halves_confidence():
    # The judge prefers whatever is shown first: P(first) = 0.9 in one order, 0.6 in the other.
    backend = direct_backend(lambda first, rid, i: 0.9 if rid.endswith("ab") else 0.6)
    [result] = Judge(backend=backend).compare([pair()], method="direct")
    assert result.p_a_ab == pytest.approx(0.9) and result.p_a_ba == pytest.approx(0.4)
    assert result.p_a == pytest.approx(0.65) and result.winner == "a"
    assert result.consistent is False and "orders disagree" in result.details["flip"]
    assert result.confidence == pytest.approx(0.65 * 0.5)


def test_pure_position_bias_is_a_tie():
    backend = direct_backend(lambda first, rid, i: 0.8)
    [result] = Judge(backend=backend).compare([pair()], method="direct")
    assert (
        result.p_a == pytest.approx(0.5) and result.winner == "tie" and result.consistent is False
    )


@pytest.mark.parametrize(
    "p_a, margin, winner",
    [
        (0.53, 0.05, "tie"),
        (0.56, 0.05, "a"),
        (0.44, 0.05, "b"),
        (0.53, 0.0, "a"),
        (0.5, 0.0, "tie"),
    ],
)
def test_tie_margin(p_a, margin, winner):
    assert decide(p_a, margin) == winner


def test_tie_margin_applies_to_the_swap_averaged_probability():
    backend = direct_backend(lambda first, rid, i: 0.54 if first == "Paris." else 0.48)
    [result] = Judge(backend=backend, tie_margin=0.05).compare([pair()], method="direct")
    assert (
        result.p_a == pytest.approx(0.53) and result.winner == "tie" and result.consistent is True
    )
    [strict] = Judge(backend=backend, tie_margin=0.01).compare([pair()], method="direct")
    assert strict.winner == "a"


def test_identical_responses_are_a_tie_without_a_model_call():
    backend = direct_backend(lambda first, rid, i: 0.9)
    judge = Judge(backend=backend)
    same, other = judge.compare(
        [pair("Paris.", " Paris.\n", "same"), pair(pair_id="other")], method="direct"
    )
    assert same.winner == "tie" and same.p_a == 0.5 and same.strategy == "identical"
    assert "identical" in same.details["note"] and same.usage.prompt_tokens == 0
    assert [r.id for r in backend.batches[0]] == ["p1/ab", "p1/ba"]
    # Every judgment of one call carries the same fingerprints (calibration relies on it).
    assert (
        same.settings_fingerprint == other.settings_fingerprint
        and same.template_fingerprint == other.template_fingerprint
    )


def test_identical_only_pairs_cost_no_backend_call():
    backend = direct_backend(lambda first, rid, i: 0.9)
    judge = Judge(backend=backend)
    judge.compare([pair("x", "x")])
    assert backend.calls == 0 and judge.last_stats.backend_calls == 0


@pytest.mark.parametrize("field", ["response_a", "response_b"])
def test_a_blank_response_loses_by_rule_without_a_model_call(field):
    blank = pair().model_copy(update={field: "  \n"})
    both = pair(pair_id="both").model_copy(update={"response_a": " ", "response_b": ""})
    backend = direct_backend(lambda first, rid, i: 0.9)
    for method in ("rubric", "direct"):
        lost, tied = Judge(backend=backend).compare([blank, both], method=method)
        assert lost.winner == ("b" if field == "response_a" else "a")
        assert lost.p_a == (0.0 if field == "response_a" else 1.0) and lost.strategy == "empty"
        assert tied.winner == "tie" and tied.strategy == "identical"
    assert backend.calls == 0


def test_pair_records_name_the_missing_field():
    with pytest.raises(InputError, match="args: pair: needs a prompt or messages"):
        pair_from_record({"id": "x", "response_a": "a", "response_b": "b"}, where="args")
    with pytest.raises(InputError, match="args: response_b: missing"):
        pair_from_record({"id": "x", "prompt": "q", "response_a": "a"}, where="args")
    with pytest.raises(InputError, match="response_a: missing"):
        pair_from_record({"id": "x", "prompt": "q", "response_b": "b"}, where="args")
    assert (
        pair_from_record(
            {"id": "x", "prompt": "q", "response_a": "a", "response_b": "b"}, where="args"
        ).id
        == "x"
    )


def test_without_probabilities_votes_decide_and_confidence_is_unavailable():
    backend = direct_backend(
        lambda first, rid, i: 0.9 if first == "Paris." else 0.1,
        capabilities=Capabilities(structured_output=True),
    )
    [result] = Judge(backend=backend).compare([pair()], method="direct")
    assert result.p_a == 1.0 and result.winner == "a" and result.consistent is True
    assert result.p_a_ab is None and result.p_a_ba is None and result.confidence is None
    assert "unavailable" in result.details["probabilities"]


def test_combine_orders_math():
    fields = combine_orders(OrderReading(0.6, 1.0), OrderReading(0.1, 0.0), 0.05)
    assert fields["p_a"] == pytest.approx((0.6 + 1 - 0.1) / 2) and fields["consistent"] is True


def pointwise_backend(p_yes_by_response, pairwise_first=None):
    def responder(request, index):
        if request.id.endswith(("/ab", "/ba")):
            first = _FIRST.search(request.messages[-1].content).group(1)
            value = pairwise_first(first)
            text = json.dumps({"rationale": "", "winner": "A" if value >= 0.5 else "B"})
            return ScriptedReply(text=text, choice_probs={"A": value, "B": 1 - value})
        response = _POINTWISE.search(request.messages[-1].content).group(1)
        criterion = request.id.rsplit("/", 1)[1]
        return verdict_reply(p_yes_by_response[response][criterion])

    return ScriptedBackend(responder)


def test_rubric_pairwise_is_the_weighted_margin_of_pointwise_verdicts_in_one_batch():
    p_yes = {"Paris.": {"right": 0.9, "clear": 0.8}, "Lyon, I think.": {"right": 0.2, "clear": 0.6}}
    backend = pointwise_backend(p_yes)
    judge = Judge(backend=backend, rubric=rubric())
    [result] = judge.compare([pair()])
    assert backend.calls == 1
    assert [r.id for r in backend.batches[0]] == [
        "p0/a/right",
        "p0/a/clear",
        "p0/b/right",
        "p0/b/clear",
    ]
    assert [r.prefix_group for r in backend.batches[0]] == ["p0/a", "p0/a", "p0/b", "p0/b"]
    margin = 0.75 * (0.9 - 0.2) + 0.25 * (0.8 - 0.6)
    assert result.margin == pytest.approx(margin)
    assert result.p_a == pytest.approx((1 + margin) / 2) and result.winner == "a"
    assert result.strategy == "rubric" and result.consistent is None and result.p_a_ab is None
    assert result.confidence == pytest.approx((1 + margin) / 2)
    assert result.rubric_fingerprint == rubric().fingerprint
    assert [v["criterion_id"] for v in result.details["verdicts_b"]] == ["right", "clear"]


def test_rubric_tie_falls_back_to_direct_comparison_in_both_orders():
    p_yes = {
        "Paris.": {"right": 0.7, "clear": 0.5},
        "Lyon, I think.": {"right": 0.7, "clear": 0.55},
    }
    backend = pointwise_backend(
        p_yes, pairwise_first=lambda first: 0.3 if first == "Paris." else 0.9
    )
    judge = Judge(backend=backend, rubric=rubric(), tie_margin=0.05)
    [result] = judge.compare([pair()])
    assert backend.calls == 2 and judge.last_stats.rounds == ["judge", "pairwise"]
    ab, _ = backend.batches[1]
    assert "Criteria:\n- Is it right?\n- Is it clear?" in ab.messages[-1].content
    assert result.strategy == "rubric+direct" and "tie margin" in result.details["fallback"]
    assert (
        result.p_a == pytest.approx((0.3 + 0.1) / 2)
        and result.winner == "b"
        and result.consistent is True
    )
    assert result.margin == pytest.approx(-0.0125)


def test_many_pairs_share_each_round_and_k_samples_are_averaged():
    draws = [0.9, 0.7, 0.2]
    backend = direct_backend(lambda first, rid, i: draws[i] if rid.endswith("ab") else 1 - draws[i])
    judge = Judge(backend=backend, samples=3)
    results = judge.compare([pair(pair_id=str(i)) for i in range(3)], method="direct")
    assert backend.calls == 1 and len(backend.batches[0]) == 6
    assert all(r.sampling.n == 3 and r.sampling.temperature > 0 for r in backend.batches[0])
    for result in results:
        assert result.p_a_ab == pytest.approx(0.6) and result.p_a_ba == pytest.approx(0.6)
        assert result.details["samples"] == 3


def test_a_failed_order_is_an_error_value():
    def responder(request, index):
        if request.id.endswith("ba"):
            return ScriptedReply(text="I cannot decide")
        return ScriptedReply(
            text='{"rationale": "", "winner": "A"}', choice_probs={"A": 0.7, "B": 0.3}
        )

    judge = Judge(backend=ScriptedBackend(responder))
    [result] = judge.compare([pair()], method="direct")
    assert result.p_a is None and result.winner is None and "order ba" in result.error
    assert judge.last_stats.retried == 1


# --- the CLI ---------------------------------------------------------------------------------

from judge import _cli as cli  # noqa: E402
from judge import backends  # noqa: E402


@pytest.fixture
def cli_backend(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-roles", "tests.doubles.strategy:all_roles")


def run_cli(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.argv", ["judge", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_cli_compare_prints_swap_averaged_p_consistency_and_winner(
    cli_backend, monkeypatch, capsys
):
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "compare",
        "--backend",
        "scripted-roles",
        "--prompt",
        "Capital of France?",
        "--a",
        "Paris is the capital.",
        "--b",
        "Lyon",
        "--pair-method",
        "direct",
    )
    assert code == 0
    assert "P(A better) 0.775 (swap-averaged: A first 0.800, B first 0.750)" in out
    assert "orders: consistent" in out and "winner A" in out and "method direct" in out


def test_cli_compare_json_and_rubric(cli_backend, monkeypatch, capsys):
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "compare",
        "--backend",
        "scripted-roles",
        "--prompt",
        "Q?",
        "--a",
        "x",
        "--b",
        "y",
        "--rubric",
        "helpfulness",
        "--json",
    )
    assert code == 0
    result = json.loads(out)
    # Equal pointwise verdicts: the rubric margin is a tie, so the direct comparison decides.
    assert result["strategy"] == "rubric+direct" and result["margin"] == 0.0
    assert result["p_a_ab"] == pytest.approx(0.25) and result["consistent"] is False


@pytest.mark.parametrize(
    "args, message",
    [
        (["--a", "x", "--b", "y"], "judge compare: pair: needs a prompt or messages"),
        (
            ["--prompt", "Q", "--a", "x", "--b", "y", "--pair-method", "vote"],
            "--pair-method 'vote'",
        ),
        (["--prompt", "Q", "--a", "x"], "judge compare: response_b: missing"),
    ],
)
def test_cli_compare_bad_input_is_one_line(cli_backend, monkeypatch, capsys, args, message):
    code, _, err = run_cli(monkeypatch, capsys, "compare", "--backend", "scripted-roles", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_cli_compare_identical_is_a_tie(cli_backend, monkeypatch, capsys):
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "compare",
        "--backend",
        "scripted-roles",
        "--prompt",
        "Q?",
        "--a",
        "same",
        "--b",
        "same",
    )
    assert code == 0 and "winner tie" in out and "identical" in out

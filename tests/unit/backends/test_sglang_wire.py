"""Request building and response parsing for SGLang's native API, against documented fixtures."""

from __future__ import annotations

import inspect
import json
import math

import pytest

from judge.backends import choice_probs
from judge.backends.chat_prompt import PromptEncoder
from judge.backends.sglang import batching, wire
from judge.backends.sglang.wire import NotSent
from judge.errors import ConfigError
from judge.types import (
    ChoiceProbe,
    Constraint,
    ErrorKind,
    GenerationRequest,
    Message,
    SamplingParams,
)
from tests.doubles.sglang import MARKER, SGLangDouble, fixture, make_tokenizer

PROBE = ChoiceProbe(marker=MARKER, choices=("yes", "no"))
REGEX = Constraint(kind="regex", value=r'\{"rationale": "[^"\\\n]{0,50}", "verdict": "(yes|no)"\}')

# Engine.async_generate's parameters, from python/sglang/srt/entrypoints/engine.py @ 001067ff.
ENGINE_ASYNC_GENERATE_PARAMS = {
    "prompt", "sampling_params", "input_ids", "image_data", "audio_data", "video_data",
    "mm_hashes", "mm_content_hashes", "return_logprob", "logprob_start_len", "top_logprobs_num",
    "token_ids_logprob", "lora_path", "custom_logit_processor", "require_reasoning",
    "return_hidden_states", "return_routed_experts", "routed_experts_start_len", "stream",
    "bootstrap_host", "bootstrap_port", "bootstrap_room", "routed_dp_rank",
    "disagg_prefill_dp_rank", "data_parallel_rank", "kv_router_hint", "external_trace_header",
    "rid", "session_params", "priority", "session_id", "cache_salt",
}  # fmt: skip


@pytest.fixture(scope="module")
def encoder() -> PromptEncoder:
    return PromptEncoder(make_tokenizer())


def request(
    rid: str = "r",
    *,
    text: str = "Is this good?",
    n: int = 1,
    probe: ChoiceProbe | None = None,
    constraint: Constraint | None = None,
    group: str | None = None,
    max_new_tokens: int = 64,
    seed: int | None = None,
) -> GenerationRequest:
    return GenerationRequest(
        id=rid,
        messages=(Message(role="user", content=text),),
        sampling=SamplingParams(max_new_tokens=max_new_tokens, n=n, seed=seed),
        probe=probe,
        constraint=constraint,
        prefix_group=group,
    )


def wired(encoder: PromptEncoder, req: GenerationRequest) -> wire.WireRequest:
    text = encoder.render(req.messages)
    ids = tuple(encoder.encode(text))
    choice_ids = encoder.choice_token_ids(req.probe) if req.probe else None
    return wire.WireRequest(req, text, ids, choice_ids)


# -- documented responses ------------------------------------------------------------------


def test_fixtures_cite_their_source() -> None:
    for name in (
        "generate_plain.json",
        "generate_json_schema.json",
        "generate_n3.json",
        "generate_regex.json",
        "model_info.json",
        "error_400.json",
        "generate_logprobs_verdict.json",
    ):
        assert "github.com/" in fixture(name)["_source"], name


def test_plain_response_gives_text_usage_and_length_finish(encoder: PromptEncoder) -> None:
    doc = fixture("generate_plain.json")
    [generation] = wire.parse_outputs(
        doc["response"], [wired(encoder, request())], encoder.decode, top_logprobs_num=0
    )
    assert generation.text.startswith(" Paris. It is the largest city")
    assert generation.finish_reason == "length"
    assert (generation.usage.prompt_tokens, generation.usage.completion_tokens) == (5, 32)
    assert generation.usage.cached_tokens == 2
    assert generation.choice_probs is None and generation.error is None


def test_structured_responses_finish_with_stop(encoder: PromptEncoder) -> None:
    for name in ("generate_json_schema.json", "generate_regex.json"):
        doc = fixture(name)
        [generation] = wire.parse_outputs(
            doc["response"], [wired(encoder, request())], encoder.decode, top_logprobs_num=0
        )
        assert generation.finish_reason == "stop"
        assert generation.text == doc["response"]["text"]
    schema_doc = fixture("generate_json_schema.json")
    assert isinstance(schema_doc["request"]["sampling_params"]["json_schema"], str)


def test_n_samples_are_read_in_request_major_order(encoder: PromptEncoder) -> None:
    doc = fixture("generate_n3.json")
    generations = wire.parse_outputs(
        doc["response"], [wired(encoder, request(n=3))], encoder.decode, top_logprobs_num=0
    )
    assert [g.sample_index for g in generations] == [0, 1, 2]
    assert all(g.text == "Paris is the capital of France" for g in generations)
    assert sum(g.usage.cached_tokens for g in generations) == 135


def test_output_count_mismatch_is_a_wire_error(encoder: PromptEncoder) -> None:
    doc = fixture("generate_n3.json")
    with pytest.raises(wire.WireFormatError, match="3 outputs for 2 expected"):
        wire.parse_outputs(
            doc["response"],
            [wired(encoder, request("a")), wired(encoder, request("b"))],
            encoder.decode,
            top_logprobs_num=0,
        )


def test_error_body_message_is_extracted() -> None:
    doc = fixture("error_400.json")
    assert wire.error_message(doc["response"]).startswith("Requested token count exceeds")
    assert wire.error_message({"object": "error", "message": "bad", "code": 400}) == "bad"
    assert wire.error_message("plain text") == "plain text"


def test_abort_finish_becomes_an_error() -> None:
    meta = {"finish_reason": {"type": "abort", "message": "grammar failed", "status_code": 400}}
    finish, error = wire.finish_of(meta)
    assert finish == "error" and error is not None and "grammar failed" in error
    assert wire.finish_of({"finish_reason": {"type": "stop", "matched": 2}}) == ("stop", None)
    assert wire.finish_of({"finish_reason": None}) == ("stop", None)


# -- choice probabilities from documented logprob shapes -------------------------------------


def test_verdict_probs_read_from_token_ids_logprob(encoder: PromptEncoder) -> None:
    doc = fixture("generate_logprobs_verdict.json")
    batch = [wired(encoder, request(f"r{i}", probe=PROBE, constraint=REGEX)) for i in range(2)]
    assert sorted(batch[0].choice_ids.values()) == doc["request"]["token_ids_logprob"]  # type: ignore[union-attr]
    yes, no = wire.parse_outputs(doc["response"], batch, encoder.decode, top_logprobs_num=3)
    assert yes.choice_probs == pytest.approx({"yes": 0.9, "no": 0.1})
    assert no.choice_probs == pytest.approx({"yes": 0.25, "no": 0.75})
    assert yes.probs_source == "sglang:token_ids_logprob+grammar"
    assert yes.text.endswith('"verdict": "yes"}')


def test_verdict_probs_fall_back_to_top_logprobs(encoder: PromptEncoder) -> None:
    doc = fixture("generate_logprobs_verdict.json")
    response = json.loads(json.dumps(doc["response"]))
    for output in response:
        del output["meta_info"]["output_token_ids_logprobs"]
    batch = [wired(encoder, request(f"r{i}", probe=PROBE)) for i in range(2)]
    yes, no = wire.parse_outputs(response, batch, encoder.decode, top_logprobs_num=3)
    assert yes.choice_probs == pytest.approx({"yes": 0.9, "no": 0.1})
    # 'x' begins no choice and is ignored; the choices renormalise to 0.6 / 0.8.
    assert no.choice_probs == pytest.approx({"yes": 0.25, "no": 0.75})
    assert no.probs_source == "sglang:top_logprobs"


def test_choice_absent_from_full_top_list_gets_the_kth_probability(encoder: PromptEncoder) -> None:
    doc = fixture("generate_logprobs_verdict.json")
    output = json.loads(json.dumps(doc["response"][1]))
    meta = output["meta_info"]
    del meta["output_token_ids_logprobs"]
    step = next(i for i, row in enumerate(meta["output_top_logprobs"]) if row[0][1] == 107)
    meta["output_top_logprobs"][step] = [
        row for row in meta["output_top_logprobs"][step] if row[1] != 106
    ]
    [generation] = wire.parse_outputs(
        output, [wired(encoder, request(probe=PROBE))], encoder.decode, top_logprobs_num=2
    )
    # K=2 listed (no 0.6, x 0.2): 'yes' may have at most 0.2, never 0.
    assert generation.choice_probs == pytest.approx({"yes": 0.25, "no": 0.75})


def test_no_marker_means_no_probabilities(encoder: PromptEncoder) -> None:
    doc = fixture("generate_regex.json")
    [generation] = wire.parse_outputs(
        doc["response"], [wired(encoder, request(probe=PROBE))], encoder.decode, top_logprobs_num=3
    )
    assert generation.choice_probs is None and generation.probs_source is None


def test_marker_sharing_a_token_with_the_choice() -> None:
    tokenizer = make_tokenizer(merge_quote=True)
    merged = PromptEncoder(tokenizer)
    assert merged.choice_token_ids(PROBE) is None  # '"yes' swallows the marker's last quote
    double = SGLangDouble(tokenizer, verdicts=lambda _: ("ok", {"yes": 0.35, "no": 0.65}))
    req = request(probe=PROBE, constraint=REGEX)
    item = wired(merged, req)
    payload = wire.generate_payload([item], top_logprobs_num=5)
    assert "token_ids_logprob" not in payload
    [generation] = wire.parse_outputs(
        double.generate(payload), [item], merged.decode, top_logprobs_num=5
    )
    assert generation.choice_probs == pytest.approx({"yes": 0.35, "no": 0.65})
    assert generation.probs_source == "sglang:top_logprobs+grammar"


def test_double_speaks_the_documented_shape(encoder: PromptEncoder) -> None:
    doc = fixture("generate_logprobs_verdict.json")
    double = SGLangDouble(make_tokenizer())
    item = wired(encoder, request(probe=PROBE, constraint=REGEX))
    output = double.generate(wire.generate_payload([item], top_logprobs_num=3))[0]
    assert set(output) == set(doc["response"][0])
    assert set(output["meta_info"]) == set(doc["response"][0]["meta_info"])
    triple = output["meta_info"]["output_top_logprobs"][0][0]
    assert isinstance(triple[0], float) and isinstance(triple[1], int) and len(triple) == 3


# -- request building ----------------------------------------------------------------------


def test_sampling_params_are_explicit() -> None:
    req = request(seed=7, constraint=REGEX, max_new_tokens=40)
    params = wire.sampling_params(req)
    assert params == {
        "max_new_tokens": 40,
        "temperature": 0.0,
        "top_p": 1.0,
        "top_k": -1,
        "min_p": 0.0,
        "repetition_penalty": 1.0,
        "n": 1,
        "sampling_seed": 7,
        "regex": REGEX.value,
    }
    schema = Constraint(kind="json_schema", value='{"type": "object"}')
    assert wire.sampling_params(request(constraint=schema))["json_schema"] == '{"type": "object"}'


def test_generate_payload_batches_with_scalar_logprob_fields(encoder: PromptEncoder) -> None:
    items = [
        wired(encoder, request("a", probe=PROBE, constraint=REGEX)),
        wired(encoder, request("b")),
        wired(encoder, request("c", probe=ChoiceProbe(marker="Answer: ", choices=("A", "B")))),
    ]
    payload = wire.generate_payload(items, top_logprobs_num=20)
    assert payload["text"] == [item.text for item in items]
    assert len(payload["sampling_params"]) == 3
    assert payload["return_logprob"] is True
    assert payload["logprob_start_len"] == -1
    assert payload["top_logprobs_num"] == 20
    ids = sorted(
        {*items[0].choice_ids.values(), *items[2].choice_ids.values()}  # type: ignore[union-attr]
    )
    assert payload["token_ids_logprob"] == ids
    assert "routed_dp_rank" not in payload
    as_ids = wire.generate_payload(
        items[:1], top_logprobs_num=5, input_field="input_ids", routed_dp_rank=1
    )
    assert as_ids["input_ids"] == [list(items[0].input_ids)] and as_ids["routed_dp_rank"] == 1


def test_payload_without_probes_asks_no_logprobs(encoder: PromptEncoder) -> None:
    payload = wire.generate_payload([wired(encoder, request())], top_logprobs_num=20)
    assert "return_logprob" not in payload and "token_ids_logprob" not in payload


def test_one_call_needs_one_n(encoder: PromptEncoder) -> None:
    with pytest.raises(ValueError, match="one value of n"):
        wire.generate_payload(
            [wired(encoder, request("a")), wired(encoder, request("b", n=2))], top_logprobs_num=0
        )


def test_warm_payload_generates_nothing() -> None:
    payload = wire.warm_payload([[1, 2, 3]], input_field="input_ids", routed_dp_rank=0)
    assert payload == {
        "input_ids": [[1, 2, 3]],
        "sampling_params": {"max_new_tokens": 0},
        "routed_dp_rank": 0,
    }


def test_engine_arguments_are_engine_parameters(encoder: PromptEncoder) -> None:
    item = wired(encoder, request(probe=PROBE))
    arguments = wire.engine_arguments(wire.generate_payload([item], top_logprobs_num=3))
    assert arguments["prompt"] == [item.text]
    assert set(arguments) <= ENGINE_ASYNC_GENERATE_PARAMS
    warm = wire.engine_arguments(wire.warm_payload([(1, 2)], input_field="input_ids"))
    assert set(warm) <= ENGINE_ASYNC_GENERATE_PARAMS


def test_length_and_constraint_checks_mirror_sglang() -> None:
    assert wire.length_error(100, 50, 200) is None
    assert wire.length_error(100, 50, None) is None
    message = wire.length_error(180, 50, 200)
    assert message is not None and "exceeds the context length 200" in message
    assert wire.length_error(200, 1, 200) is not None
    assert wire.length_error(150, 50, 200, reserved=1) is not None
    bad = request(constraint=Constraint(kind="json_schema", value="{not json"))
    assert "not valid JSON" in (wire.constraint_error(bad) or "")
    assert wire.constraint_error(request(constraint=REGEX)) is None


# -- prompt encoding -----------------------------------------------------------------------


def test_render_applies_the_chat_template(encoder: PromptEncoder) -> None:
    text = encoder.render((Message(role="system", content="S"), Message(role="user", content="U")))
    # This tokenizer adds no BOS itself, so the template's BOS stays in the text.
    assert text == (
        "<s><|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    )
    assert encoder.encode(text).count(1) == 1
    assert encoder.decode(encoder.encode("yes no")) == "yes no"


def test_leading_bos_is_not_doubled() -> None:
    bos_encoder = PromptEncoder(make_tokenizer(add_bos=True))
    text = bos_encoder.render((Message(role="user", content="U"),))
    assert not text.startswith("<s>")
    ids = bos_encoder.encode(text)
    assert ids[0] == 1 and ids.count(1) == 1


def test_choice_ids_are_read_in_context(encoder: PromptEncoder) -> None:
    vocab = encoder.tokenizer.get_vocab()
    assert encoder.choice_token_ids(PROBE) == {"yes": vocab["yes"], "no": vocab["no"]}
    same_start = ChoiceProbe(marker="> ", choices=("ab", "ac"))
    assert encoder.choice_token_ids(same_start) is None


def test_prefix_text_covers_the_first_tokens(encoder: PromptEncoder) -> None:
    text = "The answer is yes"
    ids = encoder.encode(text)
    assert encoder.prefix_text(text, 3) == "The answer"
    assert encoder.encode(encoder.prefix_text(text, 3)) == ids[:3]


def test_tokenizer_without_chat_template_is_a_config_error() -> None:
    tokenizer = make_tokenizer()
    tokenizer.chat_template = None
    with pytest.raises(ConfigError, match="no chat template"):
        PromptEncoder(tokenizer)
    assert (
        PromptEncoder(tokenizer, chat_template="{{ messages[0]['content'] }}").render(
            (Message(role="user", content="hi"),)
        )
        == "hi"
    )


# -- choice_probs helpers ------------------------------------------------------------------


def test_verdict_step_clean_boundary_and_straddle(encoder: PromptEncoder) -> None:
    ids = encoder.encode('{"verdict": "yes"}')
    index, rest = choice_probs.verdict_step(ids, MARKER, encoder.decode) or (None, None)
    assert rest == "" and encoder.decode(ids[index : index + 1]) == "yes"
    merged = PromptEncoder(make_tokenizer(merge_quote=True))
    ids = merged.encode('{"verdict": "yes"}')
    index, rest = choice_probs.verdict_step(ids, MARKER, merged.decode) or (None, None)
    assert rest == '"' and merged.decode(ids[index : index + 1]) == '"yes'
    assert choice_probs.verdict_step(encoder.encode('"verdict": "'), MARKER, encoder.decode) is None
    assert choice_probs.verdict_step(encoder.encode("no marker"), MARKER, encoder.decode) is None


def test_renormalise_counts_prefixes_and_punctuation_only() -> None:
    candidates = [("y", math.log(0.1)), ("yes", math.log(0.3)), ('no"', math.log(0.2)),
                  ("nothing", math.log(0.3)), (" yes", math.log(0.1))]  # fmt: skip
    probs = choice_probs.renormalise(candidates, "", ("yes", "no"))
    assert probs == pytest.approx({"yes": 0.4 / 0.6, "no": 0.2 / 0.6})
    assert choice_probs.renormalise([("maybe", 0.0)], "", ("yes", "no")) is None
    assert choice_probs.renormalise([("A", 0.0)], "", ("A", "AB")) is None  # ambiguous prefix
    assert choice_probs.from_choice_ids({5: -1.0}, {"yes": 5, "no": 6}) is None


# -- batch planning ------------------------------------------------------------------------


def test_prepare_reports_bad_rows_without_sending(encoder: PromptEncoder) -> None:
    requests = [
        request("ok"),
        request("long", text="x" * 500, max_new_tokens=100),
        request("schema", constraint=Constraint(kind="json_schema", value="[")),
    ]
    prepared = batching.prepare(requests, encoder, context_length=400)
    assert isinstance(prepared[0], wire.WireRequest)
    assert isinstance(prepared[1], NotSent) and "context length 400" in prepared[1].message
    assert prepared[1].kind == ErrorKind.CONTEXT_OVERFLOW
    assert isinstance(prepared[2], NotSent) and "json_schema" in prepared[2].message
    assert prepared[2].kind == ErrorKind.GENERATION


def test_prefix_groups_share_their_common_prefix(encoder: PromptEncoder) -> None:
    system = "You are a careful judge. " * 4
    requests = [
        GenerationRequest(
            id=f"{s}/{c}",
            messages=(
                Message(role="system", content=system),
                Message(role="user", content=f"{s}: {c}"),
            ),
            prefix_group=s,
        )
        for s in ("s0", "s1")
        for c in ("alpha", "beta", "gamma")
    ] + [request("loose")]
    prepared = batching.prepare(requests, encoder, context_length=None)
    groups = batching.prefix_groups(prepared)
    assert [g.key for g in groups] == ["s0", "s1", None]
    assert groups[0].members == (0, 1, 2) and groups[2].members == (6,)
    first = prepared[0]
    assert isinstance(first, wire.WireRequest)
    shared = encoder.decode(first.input_ids[: groups[0].shared_tokens])
    assert shared.endswith("s0: ") and system in shared
    assert batching.needs_warmup(groups[0], 8) and not batching.needs_warmup(groups[2], 0)


def test_dp_rank_is_stable_and_spread() -> None:
    ranks = [batching.dp_rank(f"s{i}", 0, 4) for i in range(40)]
    assert ranks == [batching.dp_rank(f"s{i}", 0, 4) for i in range(40)]
    assert set(ranks) == {0, 1, 2, 3}
    assert batching.dp_rank(None, 6, 4) == 2 and batching.dp_rank("x", 0, 1) == 0


def test_bisecting_isolates_bad_rows() -> None:
    calls: list[list[int]] = []

    def call(items: object) -> list[str]:
        batch = list(items)  # type: ignore[call-overload]
        calls.append(batch)
        if 5 in batch:
            raise ValueError("row 5 is bad")
        return [f"ok{i}" for i in batch]

    results = batching.run_bisecting(
        list(range(8)),
        call,
        splittable=lambda exc: isinstance(exc, ValueError),
        on_failure=lambda item, exc: [f"error{item}: {exc}"],
    )
    assert results == [*(f"ok{i}" for i in range(5)), "error5: row 5 is bad", "ok6", "ok7"]
    assert len(calls) == 7  # 8 -> 4+4 -> 2+2 -> 1+1: one bad row costs log2(8) extra levels


def test_module_imports_no_heavy_library() -> None:
    source = inspect.getsource(wire) + inspect.getsource(batching) + inspect.getsource(choice_probs)
    for name in ("import sglang", "import torch", "import httpx"):
        assert name not in source

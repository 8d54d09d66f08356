import asyncio
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from judge.errors import InputError
from judge.reward import RubricReward
from judge.reward.inputs import parse_rendered_prompt, split_query
from judge.reward.serve import DEFAULT_END_MARKERS, create_app, is_loopback
from tests.doubles.reward import SlowScriptedBackend
from tests.loopback import LOOPBACK_TIMEOUT, SERVER_START_S

CHATML_PROMPT = (
    "<|im_start|>system\nBe brief.<|im_end|>\n"
    "<|im_start|>user\nQ{i}?<|im_end|>\n<|im_start|>assistant\n"
)


@contextmanager
def running(reward, **app_options):
    """The app under uvicorn on 127.0.0.1 (an ephemeral port), stopped on exit."""
    import uvicorn

    config = uvicorn.Config(
        create_app(reward, **app_options), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_S
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        reward.close()


def _openrlhf_body(i: int) -> dict:
    prompt = CHATML_PROMPT.format(i=i)
    return {"query": [prompt + f"Answer {i}.<|im_end|>"], "prompts": [prompt], "labels": ["ref"]}


def test_openrlhf_requests_are_coalesced_into_fewer_backend_batches():
    backend = SlowScriptedBackend(0.05)
    reward = RubricReward("helpfulness", backend, on_error=0.0, max_wait_s=0.05)
    with running(reward) as url:

        async def send_all():
            async with httpx.AsyncClient(timeout=LOOPBACK_TIMEOUT) as client:
                return await asyncio.gather(
                    *(client.post(f"{url}/get_reward", json=_openrlhf_body(i)) for i in range(24))
                )

        responses = asyncio.run(send_all())
        stats = reward.worker().stats
    assert {r.status_code for r in responses} == {200}
    body = responses[0].json()
    assert set(body) == {"rewards", "scores", "extra_logs"}
    assert len(body["rewards"]) == 1 and 0.0 <= body["scores"][0] <= 1.0
    assert body["extra_logs"]["judge_failed"] == [0.0]
    assert set(body["extra_logs"]) >= {"judge_score_x_judged", "p_yes_x_judged/addresses_request"}
    assert backend.calls < 24 and stats.largest_batch > 1 and stats.items == 24
    # The rendered prompt was read back into messages and the end marker stripped.
    user = backend.batches[0][0].messages[1].content
    assert "Be brief." in user and "<|im_start|>" not in user and "<|im_end|>" not in user


def test_bearer_token_is_required_when_set():
    reward = RubricReward("helpfulness", SlowScriptedBackend(0.0))
    with running(reward, token="s3cret") as url:
        assert (
            httpx.post(
                f"{url}/get_reward", json=_openrlhf_body(0), timeout=LOOPBACK_TIMEOUT
            ).status_code
            == 401
        )
        wrong = {"Authorization": "Bearer nope"}
        assert (
            httpx.post(
                f"{url}/get_reward", json=_openrlhf_body(0), headers=wrong, timeout=LOOPBACK_TIMEOUT
            ).status_code
            == 401
        )
        assert httpx.get(f"{url}/health", timeout=LOOPBACK_TIMEOUT).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert (
            httpx.post(
                f"{url}/get_reward", json=_openrlhf_body(0), headers=good, timeout=LOOPBACK_TIMEOUT
            ).status_code
            == 200
        )
        # OpenRLHF cannot send headers: the token may ride in the URL.
        assert (
            httpx.post(
                f"{url}/get_reward?access_token=s3cret",
                json=_openrlhf_body(0),
                timeout=LOOPBACK_TIMEOUT,
            ).status_code
            == 200
        )


def test_score_endpoint_judges_valid_samples_and_reports_invalid_ones():
    reward = RubricReward("helpfulness", SlowScriptedBackend(0.0))
    with running(reward) as url:
        samples = [
            {"id": "a", "prompt": "Q?", "response": "A."},
            {"id": "b", "prompt": "Q?"},
            {"id": "c", "messages": [{"role": "user", "content": "Hi"}], "response": "Hello."},
            {"id": "d", "prompt": "Q?", "response": " "},
        ]
        body = httpx.post(
            f"{url}/score", json={"samples": samples}, timeout=LOOPBACK_TIMEOUT
        ).json()
        health = httpx.get(f"{url}/health", timeout=LOOPBACK_TIMEOUT).json()
    assert [j and j["sample_id"] for j in body["judgments"]] == ["a", None, "c", "d"]
    assert body["rewards"][1] is None and "samples[1]: Field required" in body["errors"][1]
    assert body["judgments"][0]["score"] == body["rewards"][0]
    # A blank response is judged as `judge score` judges it: failing by rule, reward 0.
    assert body["rewards"][3] == 0.0 and body["judgments"][3]["strategy"] == "empty"
    assert health["failures"] == {"invalid_input": 1} and health["items"] == 3


def test_a_full_queue_answers_503_with_retry_after():
    release = threading.Event()

    class Stuck(SlowScriptedBackend):
        def generate(self, requests):
            release.wait(LOOPBACK_TIMEOUT.read)
            return super().generate(requests)

    reward = RubricReward("helpfulness", Stuck(0.0), max_queue=1, max_wait_s=0.0)
    with running(reward) as url:

        async def until(condition):
            deadline = time.monotonic() + SERVER_START_S
            while not condition():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)

        async def flood():
            worker = reward.worker()
            async with httpx.AsyncClient(timeout=LOOPBACK_TIMEOUT) as client:
                first = asyncio.create_task(
                    client.post(f"{url}/get_reward", json=_openrlhf_body(0))
                )
                await until(lambda: worker.stats.batches == 1)  # the worker is stuck on it
                second = asyncio.create_task(
                    client.post(f"{url}/get_reward", json=_openrlhf_body(1))
                )
                await until(lambda: worker.queued_items == 1)  # waiting, at the queue's limit
                third = await client.post(f"{url}/get_reward", json=_openrlhf_body(2))
                release.set()
                return await first, await second, third

        first, second, third = asyncio.run(flood())
    assert third.status_code == 503 and third.headers["retry-after"] == "1"
    assert first.status_code == second.status_code == 200


def test_split_query_strips_the_prompt_and_end_markers():
    prompt = CHATML_PROMPT.format(i=1)
    assert split_query(prompt + "Hi there.<|im_end|>\n", prompt, DEFAULT_END_MARKERS) == "Hi there."
    # A prompt whose start was normalised by decoding is found by its tail.
    assert split_query("<s> " + prompt + "Yes.</s>", "<s>" + prompt, DEFAULT_END_MARKERS) == "Yes."
    with pytest.raises(InputError):
        split_query("something else", "a prompt that is not there", DEFAULT_END_MARKERS)


def test_parse_rendered_prompt_reads_chatml_and_llama3():
    llama = (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    [message] = parse_rendered_prompt(llama)["messages"]
    assert (message.role, message.content) == ("user", "Hello?")
    assert parse_rendered_prompt("plain text") == {"prompt": "plain text"}


def test_is_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")

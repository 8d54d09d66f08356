"""`judge serve` on the real embedded model over real HTTP: after a burst its callers gave up
on, the next caller is judged, because the abandoned batch stops at its deadline.

The burst is sized so that its batch (64 samples of ~1,000 tokens: minutes of prefill on any
CPU) far outlasts the server's deadline; without deadlines in the backend, the request sent
right after it waited behind that batch and got a 503 too.
"""

import asyncio

import httpx
import pytest

from judge.backends.transformers import TransformersBackend
from judge.reward import RubricReward
from tests.loopback import LOOPBACK_TIMEOUT
from tests.unit.reward.test_serve import CHATML_PROMPT, running

pytestmark = pytest.mark.slow

TIMEOUT_S = 60.0
"""Far above one small batch (seconds, even on a loaded 2-core machine), far below the burst."""


def _body(i: int, words: int) -> dict:
    prompt = CHATML_PROMPT.format(i=i)
    response = f"It is {2 * i}. " + "and so on " * (words // 3)
    return {"query": [prompt + response + "<|im_end|>"], "prompts": [prompt]}


def test_the_request_after_an_abandoned_burst_is_judged_not_refused():
    reward = RubricReward(
        "helpfulness",
        TransformersBackend(),
        on_error=0.0,
        timeout_s=TIMEOUT_S,
        max_rationale_chars=40,
        cache=False,
    )
    with running(reward) as url:

        async def scenario():
            async with httpx.AsyncClient(timeout=LOOPBACK_TIMEOUT) as client:
                post = client.post
                burst = [post(f"{url}/get_reward", json=_body(i, 1000)) for i in range(64)]
                answers = await asyncio.gather(*burst)
                after = await post(f"{url}/get_reward", json=_body(99, 10))
                return answers, after

        answers, after = asyncio.run(scenario())
    refused = [a for a in answers if a.status_code == 503]
    # The first few requests can reach the server before the rest and form a small batch of
    # their own that finishes in time (58 of 64 refused on a loaded CI machine); the bulk of
    # the burst is what must outlast the deadline.
    assert len(refused) >= 48, "the burst's batch was meant to outlast the deadline"
    assert all("deadline" in a.json()["detail"] for a in refused)
    assert after.status_code == 200, after.text
    assert after.json()["extra_logs"]["judge_failed"] == [0.0]
    assert 0.0 <= after.json()["rewards"][0] <= 1.0

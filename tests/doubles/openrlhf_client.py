"""OpenRLHF's remote reward client, reproduced verbatim for load tests against `judge serve`.

Source: OpenRLHF 0.11.2 (PyPI wheel ``openrlhf-0.11.2``), ``openrlhf/utils/agent.py``,
``SingleTurnAgentExecutor._fetch_rewards_via_http``: the nested ``_post_request`` below is copied
unchanged (Apache-2.0), with the two names it closes over (``timeout``, ``logger``) bound as that
method binds them. It retries 5 times at a fixed 1 s, ignores ``Retry-After``, and then raises:
OpenRLHF drops that sample's reward.
"""

# ruff: noqa: E501, G004, SIM117, RUF100
# (verbatim third-party code: its line lengths, nested `with` and f-string logging kept)

import asyncio
import logging

import aiohttp

logger = logging.getLogger("openrlhf.utils.agent")
timeout = aiohttp.ClientTimeout(total=180)


# --- verbatim from openrlhf 0.11.2, openrlhf/utils/agent.py (indentation of the nesting removed) ---
async def _post_request(url, data, try_max_times=5):
    for _ in range(try_max_times):
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(url, json=data) as response:
                    response.raise_for_status()
                    return await response.json()
        except aiohttp.ClientError as e:
            logger.info(f"Request error, please check: {e}")
        except Exception as e:  # pragma: no cover - defensive
            logger.info(f"Unexpected error, please check: {e}")
        await asyncio.sleep(1)

    raise RuntimeError(
        f"Request error for {try_max_times} times, returning None. Please check the API server."
    )


# --- end of the verbatim copy ---

post_request = _post_request
"""OpenRLHF's client function, under a public name."""

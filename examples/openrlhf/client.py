"""What OpenRLHF sends to a remote reward model, and what it reads back.

    python examples/openrlhf/client.py http://127.0.0.1:5000/get_reward

Posts the rows of examples/data/prompts.jsonl the way OpenRLHF 0.11's remote reward client does
(``{"query", "prompts", "labels"}``: the full chat text, the prompt part and the reference
answer; one sample per request, retried on failure) and prints ``rewards`` and ``extra_logs``.
Use it to check a `judge serve` deployment before a training run. CI runs it against
``examples/openrlhf/serve.sh`` on the embedded model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

import httpx

DATA = Path(__file__).resolve().parent.parent / "data" / "prompts.jsonl"
CHAT = "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


async def post(client: httpx.AsyncClient, url: str, payload: dict, tries: int = 5) -> dict:
    """One request; OpenRLHF retries 5 times, 1 s apart (a 503 from a full queue included)."""
    for attempt in range(tries):
        try:
            response = await client.post(url, json=payload)
            response.raise_for_status()
            return dict(response.json())
        except httpx.HTTPError:
            if attempt == tries - 1:
                raise
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def main() -> None:
    """Post the example prompts as OpenRLHF does and print the rewards."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="e.g. http://127.0.0.1:5000/get_reward")
    parser.add_argument("--limit", type=int, default=4)
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    rows = rows[: args.limit]
    headers = {}
    if token := os.environ.get("JUDGE_SERVE_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=180, headers=headers) as client:
        # One request per sample, all at once, as OpenRLHF sends a rollout batch.
        answers = await asyncio.gather(
            *(
                post(
                    client,
                    args.url,
                    {
                        "query": [CHAT.format(prompt=row["prompt"]) + row["reference"]],
                        "prompts": [CHAT.format(prompt=row["prompt"])],
                        "labels": [row["reference"]],
                    },
                )
                for row in rows
            )
        )
    for row, answer in zip(rows, answers, strict=True):
        failed = answer["extra_logs"]["judge_failed"][0]
        print(f"{row['id']}\treward {answer['rewards'][0]:.3f}\tjudge_failed {failed}")
    if any(answer["extra_logs"]["judge_failed"][0] for answer in answers):
        raise SystemExit("the judge failed on some samples: see the server's log")


if __name__ == "__main__":
    asyncio.run(main())

"""`judge serve` after an overload burst, embedded model over real HTTP: is the next caller served?

Starts the real `judge serve` CLI (embedded SmolLM2, a one-criterion rubric, `--timeout`
seconds) in a subprocess, then on loopback:
1. warm-up: one request alone (its latency is "one batch time");
2. burst: `--burst` concurrent one-sample requests, coalesced into one backend batch that takes
   longer than the timeout, so every one of them is answered 503 at the deadline;
3. right after: one more request; before deadlines reached the backend it waited behind the
   abandoned batch and got a 503 too; now the batch stops at its deadline and it is judged.

    python benchmarks/serve_deadline.py --burst 24 --timeout 20
    python benchmarks/serve_deadline.py --burst 24 --timeout 20 --code /path/to/old/checkout

`--code` runs the server from another checkout (PYTHONPATH), for the before/after figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PROMPT = "<|im_start|>user\nQuestion {i}: what is {i} + {i}?<|im_end|>\n<|im_start|>assistant\n"
RUBRIC = """name: correct
description: Is the answer right?
criteria:
  - id: correct
    text: The response gives the correct result of the sum.
"""


def _body(i: int) -> dict[str, object]:
    prompt = PROMPT.format(i=i)
    return {"query": [prompt + f"It is {2 * i}.<|im_end|>"], "prompts": [prompt]}


async def _post(client: httpx.AsyncClient, url: str, i: int) -> tuple[int, float, object]:
    started = time.monotonic()
    response = await client.post(f"{url}/get_reward", json=_body(i))
    payload = response.json() if response.status_code == 200 else None
    reward = payload["rewards"][0] if isinstance(payload, dict) else None
    return response.status_code, time.monotonic() - started, reward


async def _scenario(url: str, burst: int) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(900.0)) as client:
        warm = await _post(client, url, 0)
        started = time.monotonic()
        answers = await asyncio.gather(*(_post(client, url, i) for i in range(1, burst + 1)))
        burst_s = time.monotonic() - started
        after = await _post(client, url, burst + 1)
        health = (await client.get(f"{url}/health")).json()
    statuses: dict[int, int] = {}
    for status, _, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "single_before_burst": {"status": warm[0], "seconds": round(warm[1], 2), "reward": warm[2]},
        "burst": {
            "requests": burst,
            "statuses": statuses,
            "slowest_s": round(max(s for _, s, _ in answers), 2),
            "wall_s": round(burst_s, 2),
        },
        "single_after_burst": {
            "status": after[0],
            "seconds": round(after[1], 2),
            "reward": after[2],
        },
        "health_batches": health.get("batches"),
    }


def main() -> None:
    """Run the scenario against a fresh server and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=24)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--code", type=Path, default=REPO, help="checkout the server runs from")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rubric = Path(tmp) / "correct.yaml"
        rubric.write_text(RUBRIC, encoding="utf-8")
        config = Path(tmp) / "config.yaml"
        config.write_text("settings:\n  max_rationale_chars: 60\n", encoding="utf-8")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(args.code), "JUDGE_JUDGMENT_CACHE": "off"}
        launch = "import sys; from cli import main; sys.argv = ['judge', *sys.argv[1:]]; main()"
        command = [
            sys.executable, "-c", launch, "--config", str(config), "serve",
            "--rubric", str(rubric), "--port", str(port), "--timeout", str(args.timeout),
            "--on-error", "0.0",
        ]  # fmt: skip
        server = subprocess.Popen(command, cwd=args.code, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 600
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(1)
            figures = asyncio.run(_scenario(url, args.burst))
        finally:
            server.terminate()
            server.wait(30)
    print(json.dumps({"code": str(args.code), "timeout_s": args.timeout, **figures}, indent=1))


if __name__ == "__main__":
    main()

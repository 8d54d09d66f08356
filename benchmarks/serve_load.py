"""Load test of `judge serve` with OpenRLHF's own client code (0.11.2, verbatim in tests/doubles).

A scripted judge with a realistic batch latency (`--base-ms` per backend call plus `--per-ms` per
verdict request) runs behind the real server in a subprocess. Phases, on loopback:
1. steady: `--requests` one-sample requests at `--concurrency`, as OpenRLHF's rollout sends them;
2. burst: 4x the measured capacity (samples/s) for `--burst-s` seconds, open loop;
3. recovery: from the end of the burst until `/health` shows an empty queue and a probe request
   is answered within 2x the steady p50.
Reports requests lost (the client gave up after its 5 x 1 s retries), silent zero rewards (0.0
with ``judge_failed`` 0: the scripted judge never scores below 0.05), explicit failures, p50/p99
latency, backend batches per second and the time to recover.

    python benchmarks/serve_load.py --requests 2000 --concurrency 256
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROMPT = "<|im_start|>user\nQuestion {i}: what is {i} + {i}?<|im_end|>\n<|im_start|>assistant\n"


def serve(port: int, base_ms: float, per_ms: float, max_queue: int, timeout_s: float) -> None:
    """Server mode: the real `judge serve` app over a scripted judge with a batch latency."""
    from judge.backends.scripted import ScriptedBackend
    from judge.reward import RubricReward
    from judge.reward.serve import serve as run_server
    from judge.types import Generation, GenerationRequest
    from tests.doubles.reward import graded_reply

    class LatencyBackend(ScriptedBackend):
        def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
            time.sleep((base_ms + per_ms * len(requests)) / 1000)
            self.batches.clear()  # keep memory flat over thousands of batches
            return super().generate(requests)

    reward = RubricReward(
        "helpfulness",
        LatencyBackend(graded_reply),  # type: ignore[arg-type]
        on_error=0.0,
        timeout_s=timeout_s,
        max_queue=max_queue,
        max_wait_s=0.01,
    )
    run_server(reward, port=port)


def _body(i: int) -> dict[str, list[str]]:
    prompt = PROMPT.format(i=i)
    return {"query": [prompt + f"It is {2 * i}.<|im_end|>"], "prompts": [prompt], "labels": []}


class Tally:
    """Outcomes of the client's requests."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.lost = 0
        self.silent_zeros = 0
        self.explicit_failures = 0

    async def one(self, url: str, i: int) -> None:
        from tests.doubles.openrlhf_client import post_request

        started = time.monotonic()
        try:
            answer = await post_request(url, _body(i))
        except RuntimeError:
            self.lost += 1
            return
        self.latencies.append(time.monotonic() - started)
        reward, failed = answer["rewards"][0], answer["extra_logs"]["judge_failed"][0]
        if failed:
            self.explicit_failures += 1
        elif reward == 0.0:
            self.silent_zeros += 1

    def summary(self) -> dict[str, float | int]:
        ordered = sorted(self.latencies) or [float("nan")]
        return {
            "answered": len(self.latencies),
            "lost": self.lost,
            "silent_zeros": self.silent_zeros,
            "explicit_failures": self.explicit_failures,
            "p50_s": round(statistics.median(ordered), 3),
            "p99_s": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
        }


async def _health(base: str) -> dict[str, object]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{base}/health") as response:
        return dict(await response.json())


async def run(args: argparse.Namespace, base: str) -> dict[str, object]:
    url = f"{base}/get_reward"
    report: dict[str, object] = {}

    steady = Tally()
    gate = asyncio.Semaphore(args.concurrency)

    async def limited(i: int) -> None:
        async with gate:
            await steady.one(url, i)

    before = await _health(base)
    started = time.monotonic()
    await asyncio.gather(*(limited(i) for i in range(args.requests)))
    elapsed = time.monotonic() - started
    after = await _health(base)
    capacity = args.requests / elapsed
    batches = int(str(after["batches"])) - int(str(before["batches"]))
    report["steady"] = {
        **steady.summary(),
        "seconds": round(elapsed, 2),
        "samples_per_s": round(capacity, 1),
        "batches_per_s": round(batches / elapsed, 1),
        "mean_batch": round(args.requests / max(batches, 1), 1),
    }

    burst = Tally()
    rate = 4 * capacity
    count = int(rate * args.burst_s)
    tasks = []
    started = time.monotonic()
    for i in range(count):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(burst.one(url, args.requests + i)))
    sent = time.monotonic()
    peak = await _health(base)
    p50 = float(str(report["steady"]["p50_s"]))  # type: ignore[index]
    while True:
        health = await _health(base)
        probe = Tally()
        if health["queued"] == 0:
            await probe.one(url, -1)
            if probe.latencies and probe.latencies[0] <= 2 * p50:
                break
        await asyncio.sleep(0.05)
    recovered = time.monotonic() - sent
    await asyncio.gather(*tasks)
    final = await _health(base)
    report["burst"] = {
        **burst.summary(),
        "requests": count,
        "rate_per_s": round(rate, 1),
        "peak_queued": peak["queued"],
        "peak_status": peak["status"],
        "recovery_s": round(recovered, 2),
        "refused_total": final["refused"],
        "timeouts_total": final["timeouts"],
        "status_after": final["status"],
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--burst-s", type=float, default=2.0)
    parser.add_argument("--base-ms", type=float, default=40.0)
    parser.add_argument("--per-ms", type=float, default=0.2)
    parser.add_argument("--max-queue", type=int, default=4096)
    parser.add_argument("--timeout-s", type=float, default=170.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.base_ms, args.per_ms, args.max_queue, args.timeout_s)
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), *sys.argv[1:]],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not come up")
            time.sleep(0.2)
        report = asyncio.run(run(args, f"http://127.0.0.1:{port}"))
        print(json.dumps({"settings": vars(args), **report}, indent=2))
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()

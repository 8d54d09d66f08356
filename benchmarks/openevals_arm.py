"""Arm (e) of benchmarks/vllm_side_by_side.py: openevals' LLM-as-judge on the same server.

Runs in the vLLM venv (benchmarks/install_vllm_cpu.sh installs openevals 0.2.2 there), not in
the project's: it reads the judgments to make as JSON on stdin ({"base_url", "model", "tasks":
[{"id", "criterion", "prompt", "response"}]}) and writes one JSON line per judgment, then a
summary line, on stdout. Every judgment is one `create_async_llm_as_judge` evaluator call, all
of them gathered at once, as a user of openevals would write a batch.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from langchain_openai import ChatOpenAI
from openevals.llm import create_async_llm_as_judge

PROMPT = """You are an expert judge. Decide whether the response satisfies this criterion.

Criterion: {criterion}

<input>
{inputs}
</input>

<response>
{outputs}
</response>"""


async def judge_all(job: dict[str, Any]) -> list[dict[str, Any]]:
    """One openevals evaluator call per task, gathered."""
    model = ChatOpenAI(
        model=job["model"],
        base_url=job["base_url"],
        api_key="unused",
        temperature=0.0,
        max_tokens=job.get("max_tokens", 256),
        max_retries=0,
        timeout=900,
    )

    async def one(task: dict[str, Any]) -> dict[str, Any]:
        evaluator = create_async_llm_as_judge(
            prompt=PROMPT.replace("{criterion}", task["criterion"]),
            judge=model,
            feedback_key="criterion",
        )
        try:
            result = await evaluator(inputs=task["prompt"], outputs=task["response"])
        except Exception as exc:  # a parse or server failure counts against the peer
            return {"id": task["id"], "verdict": None, "error": f"{type(exc).__name__}: {exc}"}
        score = result.get("score") if isinstance(result, dict) else None
        verdict = {True: "yes", False: "no"}.get(score) if isinstance(score, bool) else None
        return {"id": task["id"], "verdict": verdict, "error": None}

    return list(await asyncio.gather(*(one(task) for task in job["tasks"])))


def main() -> None:
    job = json.load(sys.stdin)
    started = time.perf_counter()
    results = asyncio.run(judge_all(job))
    seconds = time.perf_counter() - started
    for result in results:
        print(json.dumps(result))
    print(json.dumps({"summary": True, "seconds": seconds}))


if __name__ == "__main__":
    main()

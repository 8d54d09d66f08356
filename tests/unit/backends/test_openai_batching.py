"""OpenAI-compatible backend: in-flight limit and prefix-group order, as a real server sees them.

The server is a real HTTP server on 127.0.0.1 that records when each chat-completions call
arrived and when it was answered, so the concurrency and order the backend produces are observed
on the wire, not inferred from the client's code. It holds every call, then answers all it
holds at once: when as many calls are in flight as the test's next gate says, or else once no
new call has arrived for a while. So whatever the client sends together is in flight together
however loaded the machine is, and nothing the client holds back can arrive meanwhile.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from judge.backends.openai import OpenAIBackend
from judge.backends.prefix_order import group_positions, run_leaders_first
from judge.types import GenerationRequest, Message, SamplingParams
from tests.loopback import send_json

QUIET_S = 0.5
"""Without gates, the server answers what it holds once no new call has arrived for this long."""
GATE_WAIT_S = 15.0
"""With gates, the longest a call is held (a client that never fills the gate fails the test)."""


@dataclass
class Call:
    """One chat-completions call as the server saw it."""

    content: str
    arrived: float
    answered: float = 0.0


@dataclass
class BatchingServer:
    """An OpenAI-look-alike that advertises a flavor and records concurrency and order."""

    owned_by: str
    server_info: dict[str, Any] | None = None
    gates: list[int] = field(default_factory=list)
    """In-flight counts at which all held calls are answered, in turn."""
    calls: list[Call] = field(default_factory=list)
    active: int = 0
    peak: int = 0
    last_arrival: float = 0.0
    releases: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def handle_chat(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        content = body["messages"][-1]["content"]
        with self.changed:
            call = Call(content, time.monotonic())
            self.calls.append(call)
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.last_arrival = call.arrived
            self.changed.notify_all()
            if self.gates:
                release = self.releases
                if self.gates and self.active >= self.gates[0]:
                    self.gates.pop(0)
                    self.releases += 1
                    self.changed.notify_all()
                deadline = call.arrived + GATE_WAIT_S
                while self.releases == release and time.monotonic() < deadline:
                    self.changed.wait(deadline - time.monotonic())
            else:
                while (quiet := time.monotonic() - self.last_arrival) < QUIET_S:
                    self.changed.wait(QUIET_S - quiet)
            self.active -= 1
            call.answered = time.monotonic()
        if content.startswith("fail"):
            return 400, {"error": {"message": "refused on purpose"}}
        message = {"role": "assistant", "content": f"echo {content}"}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
        return 200, {"object": "chat.completion", "choices": [choice], "usage": usage}

    def handle_get(self, path: str) -> tuple[int, Any]:
        if path == "/v1/models":
            model = {"id": "m", "object": "model", "owned_by": self.owned_by}
            return 200, {"object": "list", "data": [model]}
        if path == "/get_server_info" and self.server_info is not None:
            return 200, self.server_info
        return 404, {"error": "not found"}


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(state: BatchingServer) -> str:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, status: int, payload: Any) -> None:
                send_json(self, status, payload)

            def do_GET(self) -> None:
                self._send(*state.handle_get(self.path))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._send(*state.handle_chat(body))

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _grouped(
    groups: int, size: int, *, failing_leader: bool = False, max_new_tokens: int = 1
) -> list[GenerationRequest]:
    """`groups` samples x `size` criteria, each sample's requests adjacent, as planned."""
    requests = []
    for g in range(groups):
        for c in range(size):
            text = f"{'fail' if failing_leader and c == 0 else 'ok'} s{g} c{c}"
            requests.append(
                GenerationRequest(
                    id=f"s{g}c{c}",
                    messages=(Message(role="user", content=text),),
                    sampling=SamplingParams(max_new_tokens=max_new_tokens),
                    prefix_group=f"s{g}",
                )
            )
    return requests


def _by_content(server: BatchingServer) -> dict[str, Call]:
    return {call.content.split(" ", 1)[1]: call for call in server.calls}


def test_vllm_sends_a_decoding_batch_all_at_once(serve: Any) -> None:
    server = BatchingServer(owned_by="vllm", gates=[20])
    with OpenAIBackend(base_url=serve(server), check_logprobs=False) as backend:
        backend.generate(_grouped(4, 5, max_new_tokens=64))
    assert server.peak == 20, "a leader that decodes would hold its siblings for its decode"


def test_vllm_sends_each_scored_group_leader_first_then_all_siblings_at_once(serve: Any) -> None:
    server = BatchingServer(owned_by="vllm", gates=[4, 16])
    with OpenAIBackend(base_url=serve(server), check_logprobs=False) as backend:
        assert backend.max_in_flight == 512
        generations = backend.generate(_grouped(4, 5))
    assert [g.text for g in generations] == [
        f"echo ok s{g} c{c}" for g in range(4) for c in range(5)
    ]
    calls = _by_content(server)
    for g in range(4):
        leader = calls[f"s{g} c0"]
        for c in range(1, 5):
            assert calls[f"s{g} c{c}"].arrived >= leader.answered, f"s{g} c{c} before its leader"
    leaders_last = max(calls[f"s{g} c0"].arrived for g in range(4))
    siblings_first = min(calls[f"s{g} c{c}"].arrived for g in range(4) for c in range(1, 5))
    assert leaders_last < siblings_first, "leaders of all groups go out together, before siblings"
    arrivals = sorted(round(c.arrived - leaders_last, 2) for c in server.calls)
    assert server.peak == 16, f"16 siblings in flight at once (8 before); arrivals {arrivals}"


def test_sglang_in_flight_limit_is_the_advertised_width(serve: Any) -> None:
    server = BatchingServer(owned_by="sglang", server_info={"max_running_requests": 6})
    with OpenAIBackend(base_url=serve(server), check_logprobs=False) as backend:
        assert backend.max_in_flight == 6
        backend.generate(_grouped(2, 8))
    assert server.peak == 6


def test_explicit_max_concurrency_wins_over_the_flavor_default(serve: Any) -> None:
    server = BatchingServer(owned_by="vllm")
    with OpenAIBackend(base_url=serve(server), check_logprobs=False, max_concurrency=3) as backend:
        backend.generate(_grouped(1, 7))
    assert server.peak == 3


def test_llama_cpp_keeps_eight_in_flight_in_batch_order(serve: Any) -> None:
    server = BatchingServer(owned_by="llamacpp")
    with OpenAIBackend(base_url=serve(server), check_logprobs=False) as backend:
        assert backend.max_in_flight == 8
        backend.generate(_grouped(2, 6))
    assert server.peak == 8, "no prefix cache to warm: siblings do not wait for their leader"
    calls = _by_content(server)
    assert calls["s0 c1"].arrived < calls["s0 c0"].answered


def test_llama_cpp_python_gets_one_in_flight(serve: Any) -> None:
    # llama-cpp-python ("owned_by": "me") serves one request at a time: more only queue there.
    server = BatchingServer(owned_by="me")
    with OpenAIBackend(base_url=serve(server), check_logprobs=False) as backend:
        assert backend.flavor == "llama.cpp" and backend.max_in_flight == 1
        generations = backend.generate(_grouped(2, 3))
    assert server.peak == 1 and [g.error for g in generations] == [None] * 6
    assert [call.content.split(" ", 1)[1] for call in server.calls] == [
        f"s{g} c{c}" for g in range(2) for c in range(3)
    ], "one at a time, in planner order"


def test_a_failed_leader_still_releases_its_siblings(serve: Any) -> None:
    server = BatchingServer(owned_by="vllm")
    with OpenAIBackend(base_url=serve(server), check_logprobs=False, max_retries=0) as backend:
        generations = backend.generate(_grouped(2, 3, failing_leader=True))
    assert [g.error is not None for g in generations] == [True, False, False] * 2
    assert "400" in (generations[0].error or "")
    assert len(server.calls) == 6


def test_group_positions_keep_first_appearance_and_lone_requests() -> None:
    keys = ["a", None, "b", "a", None, "b", "a"]
    assert group_positions(keys) == [
        ("a", (0, 3, 6)),
        (None, (1,)),
        ("b", (2, 5)),
        (None, (4,)),
    ]


def test_run_leaders_first_rejects_mismatched_keys() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="3 jobs but 2"):
        run_leaders_first(pool, [lambda: 1] * 3, ["a", "b"])

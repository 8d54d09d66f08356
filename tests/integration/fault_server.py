"""A fault injector: an OpenAI-look-alike HTTP server on 127.0.0.1 that misbehaves on purpose.

Real sockets, real timeouts: the backend under test cannot tell it from a broken server. Each
chat-completions call gets the next behaviour of a script ("ok", "500", "stall", "trickle",
"drop"); the last one repeats.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.loopback import send_json

OK_BODY = {
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": '{"rationale": "ok", "verdict": "yes"}'},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 9, "total_tokens": 19},
}


class FaultServer:
    """Serves /v1/models and /v1/chat/completions following a script of behaviours."""

    def __init__(self, script: Sequence[str]) -> None:
        self.script = list(script)
        self.calls = 0
        self.release = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send_json(self, status: int, payload: object) -> None:
                send_json(self, status, payload)

            def do_GET(self) -> None:
                models = [{"id": "fault-model", "object": "model", "owned_by": "fault-injector"}]
                self._send_json(200, {"object": "list", "data": models})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                behaviour = owner.next_behaviour()
                try:
                    if behaviour == "ok":
                        self._send_json(200, OK_BODY)
                    elif behaviour == "500":
                        self._send_json(500, {"error": {"message": "injected failure"}})
                    elif behaviour == "stall":
                        owner.release.wait(timeout=60)
                    elif behaviour == "trickle":
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", "1000000")
                        self.end_headers()
                        while not owner.release.wait(timeout=0.1):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                    elif behaviour == "drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                except OSError:  # the client gave up and closed the socket: expected
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL of this server."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def next_behaviour(self) -> str:
        """The behaviour for the next chat-completions call."""
        with self._lock:
            behaviour = self.script[min(self.calls, len(self.script) - 1)]
            self.calls += 1
            return behaviour

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        time.sleep(0.05)  # let released handler threads finish writing

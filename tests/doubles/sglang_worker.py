"""The SGLang wire double as a process of its own, so a test can kill it (``kill -9``) mid-batch.

``python -m tests.doubles.sglang_worker PORT_FILE DELAY_S CALLS_FILE`` serves the double on an
ephemeral loopback port, writes its URL to PORT_FILE (write-then-rename) and serves until killed.
Each ``/generate`` call sleeps DELAY_S, so a batch takes long enough to be cut short, and
appends ``start DIGEST`` when it arrives and ``done DIGEST`` when its answer is ready to
CALLS_FILE (DIGEST: of the request's text), so a test can tell which requests a killed worker
never answered. P(yes)
is a function of the response text alone (`hashed_verdicts`), so whichever worker answers, a
sample's verdicts are the same, and a test can tell every row's expected answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.doubles.sglang import FakeSGLangServer, SGLangDouble, make_tokenizer


def hashed_p_yes(response: str) -> float:
    """A reproducible P(yes) in [0.05, 0.95] from the text under judgment."""
    digest = hashlib.sha256(response.strip().encode("utf-8")).digest()
    return round(0.05 + 0.9 * digest[0] / 255, 4)


def hashed_verdicts(prompt: str) -> tuple[str, dict[str, float]]:
    """The double's verdict: P(yes) from the text inside the prompt's last response tags."""
    response = prompt.rsplit("<response>", 1)[-1].split("</response>", 1)[0]
    p_yes = hashed_p_yes(response)
    return "checked", {"yes": p_yes, "no": 1 - p_yes}


def request_digest(payload: dict[str, Any]) -> str:
    """A short digest of a /generate call's prompt text(s)."""
    text = json.dumps(payload.get("text", payload.get("input_ids")), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class SlowDouble(SGLangDouble):
    """The double, each /generate call taking `delay_s` (the time a model would take)."""

    def __init__(self, tokenizer: Any, delay_s: float, calls: Path) -> None:
        super().__init__(tokenizer, verdicts=hashed_verdicts)
        self.delay_s = delay_s
        self.log = calls.open("a", encoding="utf-8", buffering=1)
        self.log_lock = threading.Lock()

    def _note(self, event: str, payload: dict[str, Any]) -> None:
        with self.log_lock:
            self.log.write(f"{event} {request_digest(payload)}\n")

    def generate(self, payload: dict[str, Any]) -> Any:
        self._note("start", payload)
        time.sleep(self.delay_s)
        answer = super().generate(payload)
        self._note("done", payload)
        return answer


def main(argv: list[str]) -> None:
    port_file, delay_s, calls = Path(argv[0]), float(argv[1]), Path(argv[2])
    server = FakeSGLangServer(SlowDouble(make_tokenizer(), delay_s, calls))
    server.__enter__()
    staging = port_file.with_suffix(".tmp")
    staging.write_text(server.url, encoding="utf-8")
    os.replace(staging, port_file)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.__exit__(None, None, None)


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main(sys.argv[1:])

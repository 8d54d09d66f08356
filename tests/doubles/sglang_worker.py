"""The SGLang wire double as a process of its own, so a test can kill it (``kill -9``) mid-batch.

``python -m tests.doubles.sglang_worker PORT_FILE [DELAY_S]`` serves the double on an ephemeral
loopback port, writes its URL to PORT_FILE (write-then-rename) and serves until killed. Each
``/generate`` call sleeps DELAY_S first, so a batch takes long enough to be cut short. P(yes)
is a function of the response text alone (`hashed_verdicts`), so whichever worker answers, a
sample's verdicts are the same, and a test can tell every row's expected answer.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
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


class SlowDouble(SGLangDouble):
    """The double, each /generate call taking `delay_s` (the time a model would take)."""

    def __init__(self, tokenizer: Any, delay_s: float) -> None:
        super().__init__(tokenizer, verdicts=hashed_verdicts)
        self.delay_s = delay_s

    def generate(self, payload: dict[str, Any]) -> Any:
        time.sleep(self.delay_s)
        return super().generate(payload)


def main(argv: list[str]) -> None:
    port_file = Path(argv[0])
    delay_s = float(argv[1]) if len(argv) > 1 else 0.0
    server = FakeSGLangServer(SlowDouble(make_tokenizer(), delay_s))
    server.__enter__()
    staging = port_file.with_suffix(".tmp")
    staging.write_text(server.url, encoding="utf-8")
    os.replace(staging, port_file)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.__exit__(None, None, None)


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main(sys.argv[1:])

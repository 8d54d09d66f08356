"""The reaper of a local Ray instance, on plain processes (no Ray): what it ends and what it spares.

A stand-in driver starts the reaper, then a "Ray" program (a script under a ``ray/`` folder, as
Ray's own are) whose child ignores SIGTERM and leaves the process group, as ``ray::`` agents do,
and a child of its own that is not Ray's. The driver is then killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from judge.batch.ray_reaper import alive, descendants
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="the reaper reads /proc")

AGENT = """
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import os, signal, time; os.setsid(); signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "time.sleep(120)"])
time.sleep(120)
"""

DRIVER = """
import subprocess, sys, time
from judge.batch.ray_reaper import start_reaper
start_reaper()
subprocess.Popen([sys.executable, sys.argv[1]])
subprocess.Popen(["sleep", "120"])
time.sleep(120)
"""


def _wait_for(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_driver_s_ray_processes_end_and_its_other_children_do_not(tmp_path):
    (tmp_path / "ray").mkdir()
    agent = tmp_path / "ray" / "agent.py"
    agent.write_text(AGENT, encoding="utf-8")
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(agent)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )
    everything: dict[int, int] = {}
    try:
        # the reaper, the Ray program, its agent, and `sleep`
        _wait_for(lambda: len(descendants(driver.pid)) >= 4)
        time.sleep(0.6)  # one scan of the reaper after the last child started
        everything = descendants(driver.pid)
        ray = descendants(driver.pid, ray_only=True)
        assert len(ray) == 2, ray  # the program and its agent; not the reaper, not `sleep`
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        started = time.monotonic()
        _wait_for(lambda: not alive(ray))
        assert time.monotonic() - started < 10, "the agent outlived the grace period by far"
        sleeping = [p for p in alive(everything) if _command(p).startswith(b"sleep")]
        assert sleeping, "a child that is not Ray's was ended"
    finally:
        driver.kill()
        for pid in alive(everything):
            os.kill(pid, signal.SIGKILL)


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""

"""A watchdog that ends the processes of a local Ray instance once the driver that started it ends.

``ray.init()`` without an address starts a whole Ray instance (GCS, raylet, dashboard, agents,
workers) as children of the driver. ``ray.shutdown()`` stops them, but a driver killed with
``kill -9`` runs no code: the GCS and raylet die with it, while the raylet's agents
(``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) are left running, orphaned, for good.

`start_reaper` runs this module as a process of its own (in its own session, so a signal to the
driver's process group does not reach it). While the driver lives, the reaper records the
driver's descendants (pid and start time, so a reused pid is never hit); when the driver's end of
a pipe closes -- its exit, however it came -- the reaper sends SIGTERM to every recorded process
still alive, then SIGKILL to those left after a grace period. Linux only (it reads ``/proc``);
elsewhere, and if the reaper itself is killed, ``ray stop`` ends a machine's Ray processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

PROC = Path("/proc")
SCAN_INTERVAL_S = 0.5
GRACE_S = 3.0


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, start time in clock ticks, state) of a process, or None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19]), fields[0]


def _is_ray(pid: int) -> bool:
    """Whether a process runs a program of the ray package (GCS, raylet, dashboard, monitors)."""
    try:
        command = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False
    return b"/ray/" in command


def descendants(root: int, *, ray_only: bool = False) -> dict[int, int]:
    """Every live descendant of `root` (pid -> start time).

    With `ray_only`, only the children of `root` that run a Ray program, and their descendants:
    a driver that is a user's own program may have other children, which are not Ray's to end.
    """
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
            starts[int(entry.name)] = stat[1]
    found: dict[int, int] = {}
    pending = [pid for pid in children.get(root, []) if not ray_only or _is_ray(pid)]
    while pending:
        pid = pending.pop()
        if pid not in found and pid in starts:
            found[pid] = starts[pid]
            pending.extend(children.get(pid, []))
    return found


def alive(tracked: dict[int, int]) -> list[int]:
    """The recorded processes that still run (same pid and start time, not a zombie)."""
    left = []
    for pid, start in tracked.items():
        stat = _stat(pid)
        if stat is not None and stat[1] == start and stat[2] != "Z":
            left.append(pid)
    return left


def _signal(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours
            os.kill(pid, signum)


def end_all(tracked: dict[int, int], grace_s: float = GRACE_S) -> list[int]:
    """SIGTERM every recorded process still alive, SIGKILL what is left after `grace_s`.

    Returns the processes that needed SIGKILL.
    """
    _signal(alive(tracked), signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while (left := alive(tracked)) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal(left, signal.SIGKILL)
    return left


def watch(driver: int, pipe: int, own: int) -> dict[int, int]:
    """Record the driver's descendants until `pipe` closes; the processes recorded."""
    tracked: dict[int, int] = {}
    while True:
        readable, _, _ = select.select([pipe], [], [], SCAN_INTERVAL_S)
        if readable and not os.read(pipe, 64):
            return tracked
        found = descendants(driver, ray_only=True)
        found.pop(own, None)
        tracked.update(found)


def start_reaper() -> int | None:
    """Start the reaper of this process's Ray instance; the write end of its pipe, or None.

    The pipe's write end is not inherited by other children (Python's default), so it closes
    exactly when this process ends, or when `stop_reaper` closes it.
    """
    if not PROC.is_dir():
        return None
    read_end, write_end = os.pipe()
    try:
        subprocess.Popen(
            # -I: the standard library is all it needs, so it neither imports judge nor reads
            # the environment's PYTHONPATH.
            [sys.executable, "-I", __file__, str(os.getpid()), str(read_end)],
            pass_fds=(read_end,),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            close_fds=True,
        )
    except OSError as exc:
        logger.warning("no reaper for the local Ray instance (%s); `ray stop` ends it", exc)
        os.close(write_end)
        return None
    finally:
        os.close(read_end)
    return write_end


def stop_reaper(write_end: int | None) -> None:
    """Tell the reaper the driver is done (after ``ray.shutdown()``): it ends what is left."""
    if write_end is not None:
        os.close(write_end)


def main(argv: list[str]) -> None:
    """``python ray_reaper.py DRIVER_PID PIPE_FD`` (see `start_reaper`)."""
    driver, pipe = int(argv[0]), int(argv[1])
    # The driver's Ctrl-C or `timeout` signals its process group; this session is another one,
    # and SIGHUP (a closed terminal) must not end the reaper before it has done its work.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tracked = watch(driver, pipe, os.getpid())
    end_all(tracked)


if __name__ == "__main__":
    main(sys.argv[1:])

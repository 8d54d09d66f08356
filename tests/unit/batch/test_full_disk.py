"""A full disk under a job's output: one line, exit 5, no completed row lost, an exact resume.

The disk is real: a small tmpfs the test mounts (as root, which CI here is) and grows again, as a
user frees space; or, where mounting is not permitted, RLIMIT_FSIZE, under which the kernel
refuses the write that would pass the limit (EFBIG). The jobs run the real CLI in a subprocess
with the scripted test backend (the model is not the point here).
"""

import json
import math
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

# The subprocess registers the scripted test backend, then runs the real CLI entry point.
LAUNCH = (
    "import sys; from judge import backends; "
    "backends.register_backend('scripted-graded', 'tests.doubles.reward:graded'); "
    "from judge.__main__ import main; sys.argv = ['judge', *sys.argv[1:]]; main()"
)
# The same under a file size limit (argv[1] bytes); SIGXFSZ ignored so the write gets EFBIG.
LAUNCH_LIMITED = (
    "import resource, signal, sys; limit = int(sys.argv.pop(1)); "
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)); " + LAUNCH
)
PAGE = os.sysconf("SC_PAGE_SIZE")
FULL_DISK_EXIT = 5


def _judge(
    *args: str, limit: int | None = None, marker: Path | None = None
) -> subprocess.CompletedProcess[str]:
    launch = [LAUNCH] if limit is None else [LAUNCH_LIMITED, str(limit)]
    env = {
        **os.environ,
        "JUDGE_JUDGMENT_CACHE": "off",
        "COLUMNS": "200",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if marker is not None:  # the scripted backend's factory creates it: "the model loaded"
        env["JUDGE_TEST_BACKEND_MARKER"] = str(marker)
    return subprocess.run(
        [sys.executable, "-c", *launch, *args, "--backend", "scripted-graded"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _batch(source: Path, output: Path) -> subprocess.CompletedProcess[str]:
    return _judge("batch", str(source), str(output), "--id-field", "id", "--batch-size", "4")


def _input(tmp_path: Path, rows: int = 40) -> Path:
    source = tmp_path / "in.jsonl"
    records = [
        {"id": f"r{i}", "prompt": f"Question {i}?", "response": f"Answer {i}."} for i in range(rows)
    ]
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return source


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def _pages(size: int) -> int:
    return math.ceil(size / PAGE)


class SmallDisk:
    """A tmpfs mounted on a folder of the test: full at `size` bytes, grown by `resize`."""

    def __init__(self, mount_point: Path) -> None:
        self.path = mount_point

    def mount(self, size: int) -> None:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", f"judge-test-{uuid.uuid4().hex[:8]}",
             str(self.path)],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")

    def resize(self, size: int) -> None:
        subprocess.run(
            ["mount", "-o", f"remount,size={size}", str(self.path)], check=True, timeout=30
        )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (test_score_output_over_a_file_size_limit runs)")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    disk = SmallDisk(mount_point)
    try:
        yield disk
    finally:
        if os.path.ismount(mount_point):
            subprocess.run(["umount", str(mount_point)], check=True, timeout=30)


class DyingDisk:
    """An ext4 file system on a sparse image that lives on a small tmpfs (thin provisioning).

    When the tmpfs is full, the block writes under ext4 fail: fsync returns EIO, ext4 aborts
    its journal and turns read-only (EROFS), as on a failing disk. `repair` gives the image
    room, checks it (e2fsck) and mounts it again, as an administrator would.
    """

    def __init__(self, root: Path) -> None:
        self.thin = root / "thin"
        self.path = root / "disk"
        self.image = self.thin / "disk.img"

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    def create(self, room: int) -> None:
        self.thin.mkdir()
        self.path.mkdir()
        steps = [
            ("mount", "-t", "tmpfs", "-o", "size=64m", "judge-test-thin", str(self.thin)),
            ("truncate", "-s", "64M", str(self.image)),
            ("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0",
             str(self.image)),
            ("mount", "-o", "loop", str(self.image), str(self.path)),
        ]  # fmt: skip
        for step in steps:
            done = self._run(*step)
            if done.returncode != 0:
                self.remove()
                pytest.skip(f"cannot build a loop-mounted ext4 here: {done.stderr.strip()}")
        used = shutil.disk_usage(self.thin).used
        self._run("mount", "-o", f"remount,size={used + room}", str(self.thin))

    def repair(self) -> None:
        subprocess.run(["umount", str(self.path)], check=True, timeout=60)
        subprocess.run(["mount", "-o", "remount,size=128m", str(self.thin)], check=True)
        fsck = self._run("e2fsck", "-f", "-y", str(self.image))
        assert fsck.returncode in (0, 1, 2), fsck.stdout + fsck.stderr  # 1, 2: errors fixed
        subprocess.run(["mount", "-o", "loop", str(self.image), str(self.path)], check=True)

    def remove(self) -> None:
        for mount_point in (self.path, self.thin):
            if os.path.ismount(mount_point):
                self._run("umount", str(mount_point))


@pytest.fixture
def dying_disk(tmp_path: Path) -> Iterator[DyingDisk]:
    if os.geteuid() != 0:
        pytest.skip("mounting a loop device needs root (the RLIMIT_FSIZE test runs)")
    if shutil.which("mkfs.ext4") is None or shutil.which("e2fsck") is None:
        pytest.skip("mkfs.ext4 and e2fsck (e2fsprogs) are not installed")
    disk = DyingDisk(tmp_path)
    try:
        yield disk
    finally:
        disk.remove()


def test_a_job_on_a_failing_disk_stops_with_exit_5_and_resumes_once_it_is_repaired(
    tmp_path, dying_disk
):
    source = _input(tmp_path, rows=200)
    reference = tmp_path / "reference.jsonl"
    assert _batch(source, reference).returncode == 0
    expected = reference.read_bytes()
    dying_disk.create(room=len(expected) // 2)
    output = dying_disk.path / "out.jsonl"

    done = _batch(source, output)
    assert done.returncode == FULL_DISK_EXIT, done.stderr
    line = _one_error_line(done.stderr)
    assert "(EIO)" in line or "(EROFS)" in line, line
    if f"cannot write {output}:" in line:  # else the disk died as the job took its lock
        assert "rows written before stay, and rerunning the same command resumes" in line
    else:
        assert f"cannot write {output}.lock:" in line, line

    dying_disk.repair()
    written = output.read_bytes() if output.exists() else b""
    assert expected.startswith(written[: written.rfind(b"\n") + 1]), "what stayed is right"
    done = _batch(source, output)
    assert done.returncode == 0, done.stderr
    assert output.read_bytes() == expected


def test_a_jsonl_job_on_a_full_disk_stops_with_exit_5_and_resumes_to_the_same_bytes(
    tmp_path, small_disk
):
    source = _input(tmp_path)
    reference = tmp_path / "reference.jsonl"
    done = _batch(source, reference)
    assert done.returncode == 0, done.stderr
    expected = reference.read_bytes()
    # Room for about half the results (plus a page for the lock file).
    small_disk.mount((_pages(len(expected)) // 2 + 1) * PAGE)
    output = small_disk.path / "out.jsonl"

    done = _batch(source, output)
    assert done.returncode == FULL_DISK_EXIT, done.stderr
    line = _one_error_line(done.stderr)
    assert f"cannot write {output}: No space left on device (ENOSPC)" in line
    assert "rerunning the same command resumes" in line and "free space on" in line
    written = output.read_bytes()
    kept = written.count(b"\n")
    assert 0 < kept < 40 and kept % 4 == 0, "whole batches only"
    assert written.endswith(b"\n") and expected.startswith(written), "every line whole and right"
    assert f"the {kept} rows written before stay" in line
    assert not (small_disk.path / "out.jsonl.lock").exists()

    small_disk.resize(4 * len(expected))  # the user frees space
    done = _batch(source, output)
    assert done.returncode == 0, done.stderr
    assert output.read_bytes() == expected


def test_a_full_disk_before_the_first_row_is_refused_before_judging(tmp_path, small_disk):
    source = _input(tmp_path, rows=8)
    small_disk.mount(PAGE)
    (small_disk.path / "filler").write_bytes(b"x" * PAGE)  # the disk is full from the start
    output = small_disk.path / "out.jsonl"
    marker = tmp_path / "backend-loaded"
    done = _judge("batch", str(source), str(output), marker=marker)
    assert done.returncode == FULL_DISK_EXIT, done.stderr
    line = _one_error_line(done.stderr)
    assert f"cannot write {output}.lock: No space left on device (ENOSPC)" in line
    assert f"free space on {small_disk.path}" in line
    assert not output.exists() and not marker.exists(), "refused before the model loaded"


def test_a_parquet_conversion_on_a_full_disk_keeps_the_journal_and_resumes_exactly(
    tmp_path, small_disk
):
    source = _input(tmp_path)
    reference = tmp_path / "reference.parquet"
    done = _batch(source, reference)
    assert done.returncode == 0, done.stderr
    plain = tmp_path / "plain.jsonl"
    assert _batch(source, plain).returncode == 0
    journal_pages = _pages(len(plain.read_bytes()))
    parquet_pages = _pages(reference.stat().st_size)
    assert parquet_pages >= 2, "the Parquet file must outgrow the space left for it"
    # The journal fits (with the lock file's page); the Parquet file written from it does not.
    small_disk.mount((journal_pages + 1 + parquet_pages - 1) * PAGE)
    output = small_disk.path / "out.parquet"

    done = _batch(source, output)
    assert done.returncode == FULL_DISK_EXIT, done.stderr
    line = _one_error_line(done.stderr)
    assert f"cannot write {output}" in line and "the 40 rows written before stay in" in line
    journal = small_disk.path / "out.parquet.journal.jsonl"
    assert journal.read_bytes().count(b"\n") == 40
    assert not output.exists()
    assert not [p.name for p in small_disk.path.iterdir() if p.name.endswith(".tmp")]

    small_disk.resize(4 * (journal_pages + parquet_pages + 1) * PAGE)
    done = _batch(source, output)
    assert done.returncode == 0, done.stderr
    assert output.read_bytes() == reference.read_bytes()
    assert not journal.exists()


def test_score_output_over_a_file_size_limit_is_one_line_and_keeps_whole_lines(tmp_path):
    """RLIMIT_FSIZE needs no privilege: the kernel refuses the write with EFBIG."""
    source = _input(tmp_path, rows=12)
    reference = tmp_path / "reference.jsonl"
    done = _judge("score", "--input", str(source), "--output", str(reference), "--chunk-size", "4")
    assert done.returncode == 0, done.stderr
    expected = reference.read_bytes()
    first_chunk = b"".join(expected.splitlines(keepends=True)[:4])
    limit = len(first_chunk) + 100  # the second chunk's write passes the limit

    output = tmp_path / "out.jsonl"
    done = _judge(
        "score", "--input", str(source), "--output", str(output), "--chunk-size", "4",
        limit=limit,
    )  # fmt: skip
    assert done.returncode == FULL_DISK_EXIT, done.stderr
    line = _one_error_line(done.stderr)
    assert f"cannot write {output}: File too large (EFBIG)" in line
    assert "the 4 judgments written before stay in it" in line
    assert output.read_bytes() == first_chunk, "the failed chunk's partial write is undone"


def test_any_other_output_on_a_full_disk_is_one_line_and_exit_5(tmp_path, small_disk):
    """`judge eval --out` (records, report, plots) on a disk that is full from the start."""
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {"id": f"q{i}", "prompt": f"Question {i}?", "chosen": "a full answer", "rejected": "no"}
        for i in range(6)
    ]
    pairs.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    small_disk.mount(2 * PAGE)
    (small_disk.path / "filler").write_bytes(b"x" * 2 * PAGE)
    done = _judge("eval", str(pairs), "--out", str(small_disk.path / "report"), "--n-boot", "10")
    assert done.returncode == FULL_DISK_EXIT, done.stderr
    line = _one_error_line(done.stderr)
    assert "No space left on device (ENOSPC)" in line and "free space on" in line

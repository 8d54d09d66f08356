#!/usr/bin/env bash
# Install the pinned sglang wheel WITHOUT its GPU dependencies (no CUDA torch, no kernels), plus
# only the pure-Python packages its request modules need to import, and the pinned sglang-router
# (a Rust binary in a wheel; tests/integration/test_sglang_router.py), into the active venv.
#
# Used by the SGLang conformance tests (tests/conformance/): they validate every payload our
# SGLang backends build through SGLang's own request classes. `pip install 'rubric-judge[sglang]'`
# would pull a CUDA torch, so the wheel goes in --no-deps, like .ci/install-llama-server.sh.
# torchvision (imported by sglang's multimodal config modules only) has no CPU wheel matching
# torch 2.13 here: tests/conformance/conftest.py puts an inert placeholder in its place.
#
# Environment:
#   SGLANG_VERSION  version to install (default below; the fixtures name it)
#   PYTHON          interpreter of the target venv (default: python on PATH)
set -euo pipefail

version="${SGLANG_VERSION:-0.5.23}"
router_version="${SGLANG_ROUTER_VERSION:-0.3.2}"
python="${PYTHON:-python}"
# What sglang.srt.managers.io_struct, sampling_params, entrypoints.api_contract and
# entrypoints.engine import at module level, pinned to the versions this suite passed with.
import_deps=(
    orjson==3.13.0 pybase64==1.5.1 msgspec==0.22.0 pyzmq==27.3.0 ipython==9.18.1
    traitlets==5.16.1 aiohttp==3.14.5 multidict==7.2.1 attrs==26.1.0 yarl==1.25.1
    propcache==0.5.4 aiohappyeyeballs==2.7.1 aiosignal==1.4.0 frozenlist==1.8.0
    sentencepiece==0.2.3 compressed-tensors==0.20.1 loguru==0.7.3 openai==3.57.0
    sniffio==1.3.1 partial-json-parser==0.2.1.1.post7
    # sglang-router's own (fastapi, uvicorn, aiohttp, orjson are already here)
    setproctitle==1.3.7
)

if "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('sglang') != '$version')" 2>/dev/null; then
    echo "install-sglang-conformance: sglang $version already installed"
else
    "$python" -m pip install -q --no-deps "sglang==$version"
fi
"$python" -m pip install -q --no-deps "${import_deps[@]}" "sglang-router==$router_version"
echo "install-sglang-conformance: sglang $version (no GPU dependencies), sglang-router $router_version in $("$python" -c 'import sys; print(sys.prefix)')"

#!/usr/bin/env bash
# Build llama-cpp-python (with its OpenAI-compatible server) once, cache the wheel outside the
# repository, and install it into the active virtual environment.
#
# Used by the OpenAI-backend integration tests (tests/integration/test_openai_backend.py) and by
# benchmarks/prefix_batching.py. The build takes ~4.5 minutes on 2 cores; later runs reuse the
# cached wheel and take seconds.
#
# GGML_NATIVE=OFF: the default native build enables CPU paths (AMX) that segfault on the CI
# machines' CPUs; the portable build works everywhere.
#
# Environment:
#   LLAMA_CPP_PYTHON_VERSION  version to build (default below)
#   JUDGE_CI_WHEEL_CACHE      cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/judge-ci/wheels)
#   PYTHON                    interpreter of the target venv (default: python on PATH,
#                             i.e. the activated venv)
#   JUDGE_CONSTRAINTS         pip constraints for the server's own dependencies (default: the
#                             repository's constraints.txt; "none" for the newest, as `make lock`)
set -euo pipefail

version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
python="${PYTHON:-python}"
cache="${JUDGE_CI_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/judge-ci/wheels}"
cmake_args="-DGGML_NATIVE=OFF"
source "$(dirname "$0")/constraint-args.sh"

echo "install-llama-server: target interpreter $(command -v "$python") ($("$python" -c 'import sys; print(sys.prefix)'))"

py_tag="$("$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
arch="$(uname -m)"
# One directory per (version, interpreter, arch, build flags): a cached wheel is never reused
# for a different configuration.
flags_key="$(printf '%s' "$cmake_args" | sha256sum | cut -c1-12)"
wheel_dir="$cache/llama-cpp-python-$version-$py_tag-$arch-$flags_key"

if "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('llama-cpp-python') != '$version')" 2>/dev/null \
    && "$python" -c "import llama_cpp.server, uvicorn" 2>/dev/null; then
    echo "install-llama-server: llama-cpp-python $version with server already installed"
    exit 0
fi

wheel="$(ls "$wheel_dir"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)"
if [[ -z "$wheel" ]]; then
    echo "install-llama-server: building llama-cpp-python $version into $wheel_dir (minutes)"
    mkdir -p "$wheel_dir"
    tmp_dir="$(mktemp -d "$wheel_dir.tmp.XXXXXX")"
    trap 'rm -rf "$tmp_dir"' EXIT
    CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        "$python" -m pip wheel --no-deps --no-binary llama-cpp-python \
        --wheel-dir "$tmp_dir" "llama-cpp-python==$version"
    # Move into place only after a complete build, so an interrupted build is never cached.
    mv "$tmp_dir"/llama_cpp_python-"$version"-*.whl "$wheel_dir"/
    wheel="$(ls "$wheel_dir"/llama_cpp_python-"$version"-*.whl | head -n 1)"
else
    echo "install-llama-server: reusing cached wheel $wheel"
fi

"$python" -m pip install "${constraint_args[@]}" "${wheel}[server]"
"$python" -c "import llama_cpp, llama_cpp.server; print('install-llama-server: llama_cpp', llama_cpp.__version__, 'ok')"

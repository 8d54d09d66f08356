#!/usr/bin/env bash
# GPU smoke test of the SGLang backends: the in-process engine and a launched server score
# end to end through the Backend protocol (tests/gpu/test_sglang_gpu.py).
#
# Needs a CUDA GPU, sglang installed (pip install -e '.[sglang,test]') and the model loadable
# (a local path, or a Hugging Face id with the hub reachable or cached):
#   JUDGE_GPU_MODEL=Qwen/Qwen2.5-0.5B-Instruct bash benchmarks/gpu_smoke.sh
# Optional: JUDGE_GPU_MEM_FRACTION (default 0.35) for the engine's and the server's KV cache.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_smoke: no CUDA GPU visible to torch; nothing to run" >&2
    exit 2
fi
if ! python -c "import sglang" 2>/dev/null; then
    echo "gpu_smoke: sglang is not installed; run: pip install -e '.[sglang,test]'" >&2
    exit 2
fi

export JUDGE_GPU_MODEL="${JUDGE_GPU_MODEL:-Qwen/Qwen2.5-0.5B-Instruct}"
python -c "import sglang, torch; print('sglang', sglang.__version__, '| torch', torch.__version__, '|', torch.cuda.get_device_name(0))"
judge doctor || true
# One command within 10 minutes on one GPU: the model download (if not cached), the engine
# start, the server start and ~10 judgments. Prints sglang/torch/GPU, `judge doctor`, then one
# PASSED/FAILED/SKIPPED line per test (-v) and the 5 slowest steps (--durations).
timeout "${JUDGE_GPU_SMOKE_TIMEOUT:-600}" \
    python -m pytest tests/gpu -m gpu -v -rs --durations=5 -p no:cacheprovider "$@"

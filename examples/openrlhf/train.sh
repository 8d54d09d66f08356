#!/usr/bin/env bash
# OpenRLHF PPO with the judge as its remote reward model (start serve.sh first; needs GPUs and
# `pip install openrlhf`). OpenRLHF sends one sample per request; `judge serve` batches them.
# OpenRLHF before its hierarchical options names the last flag `--remote_rm_url`.
set -euo pipefail
python -m openrlhf.cli.train_ppo_ray \
    --actor.model_name_or_path Qwen/Qwen2.5-0.5B-Instruct \
    --data.prompt_dataset "${PROMPTS:-your/prompts}" \
    --reward.remote_url "http://127.0.0.1:${PORT:-5000}/get_reward"

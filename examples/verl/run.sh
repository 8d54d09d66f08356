#!/usr/bin/env bash
# veRL GRPO with a judge reward on one GPU (start the judge's SGLang server first, e.g.
# `sglang serve --model-path Qwen/Qwen2.5-7B-Instruct --port 30000`; needs verl 0.9.x).
# Run from the repository root; extra arguments are Hydra overrides, e.g.
# actor_rollout_ref.model.path=... reward.custom_reward_function.reward_kwargs.rubric=honesty
set -euo pipefail
python examples/verl/prepare_data.py verl-data
python -m verl.trainer.main_ppo --config-path "$PWD/examples/verl" --config-name judge_grpo "$@"

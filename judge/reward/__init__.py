"""Rubric judgments as RL rewards: TRL reward functions, veRL functions, the HTTP reward server.

``from judge.reward import RubricReward`` is the entry point; veRL loads
``pkg://judge.reward.verl`` and `judge serve` runs `judge.reward.serve`.
"""

from judge.reward.rubric_reward import AsyncRubricReward, RewardBatch, RewardOutcome, RubricReward

__all__ = ["AsyncRubricReward", "RewardBatch", "RewardOutcome", "RubricReward"]

"""veRL reward functions: ``reward.custom_reward_function.path=pkg://judge.reward.verl``.

veRL's reward loop (verl 0.9) awaits ``compute_score_async(data_source, solution_str,
ground_truth, extra_info)`` once per item (or runs the sync `compute_score` in an executor), with
``reward.custom_reward_function.reward_kwargs`` as keyword options on every call;
`compute_score_batch` is the plural form for managers that pass lists. Those options are
`RubricReward`'s keywords (judge settings as flat keys, e.g. ``reasoning``; the backend's under
``backend_options``, e.g. ``backend_options.base_url``) and build it once per process (cached by
their value). veRL passes no prompt, so it is read
from ``extra_info["prompt"]`` (or ``"question"``, or ``prompt_key``); the ground truth becomes
the judge's reference answer.

veRL has no "no reward" value, so failed items score ``on_error`` (0.0 unless set; "raise" stops
training) and carry ``judge_failed = 1`` in the details. The first call of each configuration
logs (at WARNING, the level veRL's workers show) the rubric, backend and settings it loaded, so a
run whose log lacks that line never called the judge. Each result is a dict with the reward
under ``"score"``, the judge score, the failure flag and P(yes) per criterion, always the same
keys (veRL stacks them into columns), None where a failed item has no judgment;
``return_dict=False`` gives the bare float.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from judge.errors import ConfigError, InputError
from judge.reward.inputs import Invalid, RewardItem, build_item, prompt_fields
from judge.reward.rubric_reward import RewardOutcome, RubricReward
from judge.types import Judgment

logger = logging.getLogger(__name__)

# veRL's reward loop adds these for its own reward-model router; a rubric judge does not use them.
_VERL_OWN_OPTIONS = ("reward_router_address", "reward_model_tokenizer")


class RewardCache:
    """RubricRewards keyed by their options, so each configuration is built once per process."""

    def __init__(self) -> None:
        self._rewards: dict[str, RubricReward] = {}
        self._lock = threading.Lock()

    def get(self, options: Mapping[str, Any]) -> RubricReward:
        """The reward for these options, built on first use."""
        key = repr(sorted(options.items()))
        with self._lock:
            reward = self._rewards.get(key)
            if reward is None:
                reward = self._rewards[key] = RubricReward(**options)
                logger.warning("veRL loaded the judge reward: %s", describe(reward))
            return reward

    def clear(self) -> None:
        """Close and forget every reward."""
        with self._lock:
            rewards, self._rewards = list(self._rewards.values()), {}
        for reward in rewards:
            reward.close()


REWARDS = RewardCache()


def describe(reward: RubricReward) -> str:
    """One line naming the judge a veRL run loaded: rubric, backend, model, settings, policy."""
    backend = reward.backend if isinstance(reward.backend, str) else type(reward.backend).__name__
    given = reward.backend_options
    where = {k: given[k] for k in ("model", "base_url") if k in given}
    return (
        f"{reward.__name__} (rubric {reward.rubric.name!r}, backend {backend!r}"
        + "".join(f", {k} {v!r}" for k, v in where.items())
        + f", settings {reward.settings.fingerprint[:12]}, on_error {reward.on_error!r}"
        + f", cache {str(reward.cache.path) if reward.cache is not None else 'off'})"
    )


def _configure(options: Mapping[str, Any]) -> tuple[RubricReward, str | None, bool]:
    settings = {k: v for k, v in options.items() if k not in _VERL_OWN_OPTIONS}
    prompt_key = settings.pop("prompt_key", None)
    return_dict = bool(settings.pop("return_dict", True))
    settings.setdefault("on_error", 0.0)
    if "backend_options" in settings:  # a Hydra DictConfig: plain values for the factory
        settings["backend_options"] = dict(settings["backend_options"] or {})
    if settings["on_error"] == "none":
        raise ConfigError(
            "on_error='none': veRL needs a number for every item",
            hint="set reward_kwargs.on_error to a number (default 0.0) or 'raise'",
        )
    return REWARDS.get(settings), prompt_key, return_dict


def verl_items(
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None],
    prompt_key: str | None = None,
) -> list[RewardItem]:
    """Samples from veRL's fields; the prompt comes from ``extra_info``."""
    keys = (prompt_key,) if prompt_key else ("prompt", "question")
    items: list[RewardItem] = []
    for index, (solution, truth, extra) in enumerate(
        zip(solution_strs, ground_truths, extra_infos, strict=True)
    ):
        found = next((extra[k] for k in keys if extra and extra.get(k) is not None), None)
        if found is None:
            items.append(Invalid(f"item {index}: no prompt in extra_info[{' or '.join(keys)}]"))
            continue
        try:
            fields = prompt_fields(found)
        except InputError as exc:
            items.append(Invalid(f"item {index}: {exc.message}"))
            continue
        items.append(build_item(str(index), fields, str(solution), truth, None))
    return items


def verl_result(
    reward: RubricReward, outcome: RewardOutcome, return_dict: bool
) -> float | dict[str, float | None]:
    """The reward as veRL takes it: a float, or a dict of same-keyed details.

    A failed item's judge score and P(yes) are None, never 0.0 or NaN: veRL drops None from its
    metric means, so failures are counted by ``judge_failed`` alone.
    """
    value = outcome.reward if outcome.reward is not None else math.nan
    if not return_dict:
        return value
    result: dict[str, float | None] = {
        "score": value,
        "judge_score": outcome.score,
        "judge_failed": float(outcome.error is not None),
    }
    p_yes: dict[str, float | None] = {}
    if isinstance(outcome.judgment, Judgment) and outcome.error is None:
        p_yes = {v.criterion_id: v.p_yes for v in outcome.judgment.verdicts}
    for criterion in reward.rubric.leaves():
        result[f"p_yes/{criterion.id}"] = p_yes.get(criterion.id)
    return result


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **options: Any,
) -> float | dict[str, float | None]:
    """The veRL per-item reward function (naive reward manager)."""
    reward, prompt_key, return_dict = _configure(options)
    items = verl_items([solution_str], [ground_truth], [extra_info], prompt_key)
    [outcome] = reward.score_items(items).outcomes
    return verl_result(reward, outcome, return_dict)


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None],
    **options: Any,
) -> list[float | dict[str, float | None]]:
    """The veRL batched reward function (``reward_manager=batch``): one judge call per batch."""
    reward, prompt_key, return_dict = _configure(options)
    items = verl_items(solution_strs, ground_truths, extra_infos, prompt_key)
    return [verl_result(reward, o, return_dict) for o in reward.score_items(items).outcomes]


async def compute_score_async(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **options: Any,
) -> float | dict[str, float | None]:
    """The veRL async reward-loop form: concurrent calls share backend batches."""
    reward, prompt_key, return_dict = _configure(options)
    items = verl_items([solution_str], [ground_truth], [extra_info], prompt_key)
    [outcome] = (await reward.ascore_items(items, coalesce=True)).outcomes
    return verl_result(reward, outcome, return_dict)

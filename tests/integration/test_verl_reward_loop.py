"""The README's veRL recipe through veRL's own code: its Hydra config, loader and reward loop.

Needs verl 0.9.1 (`.ci/install-verl.sh`; not a test extra, because verl's pins would replace our
transformers). The recipe's overrides are composed with veRL's `ppo_trainer.yaml` exactly as
`python -m verl.trainer.main_ppo` composes them; veRL's `RewardLoopWorker` then loads the reward
function (`load_reward_manager`) and scores a `DataProto` through its naive reward manager, which
awaits our `compute_score_async`. The judge model behind `sglang-server` is the scripted backend.
"""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

import pytest

from judge import backends
from judge.reward import verl as judge_verl
from tests.peers import peers_required
from tests.snippets import snippet

VERL_VERSION = "0.9.1"

# `make check` installs verl (.ci/install-verl.sh) and sets JUDGE_REQUIRE_PEERS=1: there a
# missing or other verl is a failure, never a skip.
_REQUIRED = peers_required()
try:
    import verl
except ImportError:
    if _REQUIRED:
        raise
    pytest.skip(
        f"verl {VERL_VERSION} is not installed (.ci/install-verl.sh installs it without its "
        "pinned transformers/torch)",
        allow_module_level=True,
    )
if verl.__version__ != VERL_VERSION:
    message = f"verl {verl.__version__} installed; this test pins {VERL_VERSION}"
    if _REQUIRED:
        raise ImportError(message)
    pytest.skip(message, allow_module_level=True)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.verl,
    # ray and hydra warn about their own deprecations on import and compose
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


@pytest.fixture(autouse=True)
def _judge_model_is_scripted(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "sglang-server", "tests.doubles.reward:graded")
    yield
    judge_verl.REWARDS.clear()


def _byte_tokenizer(where: Path) -> Path:
    """A byte-level tokenizer saved as a HF model directory (veRL loads it by path)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {"<pad>": 0, "<eos>": 1, **{char: i + 2 for i, char in enumerate(sorted(alphabet))}}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>", pad_token="<pad>")
    tokenizer.save_pretrained(where)
    return where


def _recipe_overrides() -> list[str]:
    """The Hydra overrides of the README's veRL command, as written."""
    text = snippet("verl").replace("\\\n", " ")
    [command] = [shlex.split(line) for line in text.splitlines() if line.startswith("python")]
    assert command[:3] == ["python", "-m", "verl.trainer.main_ppo"]
    return command[3:]


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def _data(tokenizer, rows: list[tuple[str, str, str]]):
    """A DataProto as veRL's rollout hands it to the reward loop (left-padded prompt, response)."""
    import numpy as np
    import torch
    from verl import DataProto

    def padded(texts: list[str], left: bool) -> tuple[torch.Tensor, torch.Tensor]:
        ids = [tokenizer.encode(text, add_special_tokens=False) for text in texts]
        width = max(len(i) for i in ids)
        rows_, masks = [], []
        for seq in ids:
            pad = [tokenizer.pad_token_id] * (width - len(seq))
            rows_.append(pad + seq if left else seq + pad)
            mask = [0] * len(pad) + [1] * len(seq) if left else [1] * len(seq) + [0] * len(pad)
            masks.append(mask)
        return torch.tensor(rows_), torch.tensor(masks)

    prompts, prompt_mask = padded([row[0] for row in rows], left=True)
    responses, response_mask = padded([row[1] for row in rows], left=False)
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "input_ids": torch.cat([prompts, responses], dim=1),
            "attention_mask": torch.cat([prompt_mask, response_mask], dim=1),
        },
        non_tensors={
            "data_source": np.array(["judge"] * len(rows), dtype=object),
            "reward_model": np.array([{"ground_truth": row[2]} for row in rows], dtype=object),
            "extra_info": np.array([{"prompt": row[0]} for row in rows], dtype=object),
        },
    )


def test_readme_recipe_runs_through_verls_config_loader_and_reward_loop(tmp_path, caplog):
    from verl.experimental.reward_loop import RewardLoopWorker
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager

    tokenizer_dir = _byte_tokenizer(tmp_path / "tokenizer")
    config = _compose([*_recipe_overrides(), f"actor_rollout_ref.model.path={tokenizer_dir}"])
    assert config.reward.custom_reward_function.name == "compute_score_async"
    with caplog.at_level(logging.WARNING, logger="judge.reward.verl"):
        worker = RewardLoopWorker(config)
        assert isinstance(worker.reward_manager, NaiveRewardManager)
        assert worker.reward_manager.is_async_reward_score, "veRL must await our async function"
        rows = [
            ("What is 2+2?", "4", "4"),
            ("What is 2+2?", "The answer is 4.", "4"),
            ("Name a prime above 10.", "11", "11"),
        ]
        outputs = worker.loop.run_until_complete(
            worker.compute_score_batch(_data(worker.input_tokenizer, rows))
        )
    assert len(outputs) == 3
    for output in outputs:
        info = output["reward_extra_info"]
        assert info["judge_failed"] == 0.0
        # the reward is the judge's score: the scripted judge, not veRL's rule-based fallback
        assert output["reward_score"] == info["score"] == info["judge_score"]
        assert 0.05 <= output["reward_score"] <= 0.95
    assert len({o["reward_score"] for o in outputs}) > 1, "each item judged on its own text"
    [reward] = judge_verl.REWARDS._rewards.values()
    assert reward.rubric.name == "helpfulness" and reward.on_error == 0.0
    # three concurrent per-item calls from veRL's loop, coalesced into shared backend batches
    assert reward.judge.backend.calls < 3
    judged = [
        m.content for batch in reward.judge.backend.batches for r in batch for m in r.messages
    ]
    assert any("Name a prime above 10." in text and "11" in text for text in judged)
    loaded = [r.getMessage() for r in caplog.records if "veRL loaded the judge" in r.getMessage()]
    assert len(loaded) == 1 and "rubric 'helpfulness'" in loaded[0]
    assert "backend 'sglang-server'" in loaded[0]


def test_old_top_level_keys_never_reach_the_judge(tmp_path):
    """verl 0.9 ignores ``custom_reward_function.*`` at the top level: the prefix is required."""
    from verl.experimental.reward_loop import RewardLoopWorker

    tokenizer_dir = _byte_tokenizer(tmp_path / "tokenizer")
    old = [
        word.replace("reward.custom_reward_function", "custom_reward_function")
        for word in _recipe_overrides()
        if "reward_kwargs" not in word
    ]
    config = _compose([*old, f"actor_rollout_ref.model.path={tokenizer_dir}"])
    worker = RewardLoopWorker(config)
    assert config.reward.custom_reward_function.path is None
    assert worker.reward_manager.compute_score.__module__ != "judge.reward.verl"

"""A real TRL GRPOTrainer step with a judge reward (tiny random policy on CPU, scripted judge)."""

import math

import pytest

pytest.importorskip("trl")

from judge.backends.scripted import ScriptedBackend
from judge.reward import RubricReward
from tests.doubles.reward import graded_reply

pytestmark = [
    pytest.mark.slow,
    # transformers 5 warns about its own renamed gradient-checkpointing API inside TRL.
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


def _tiny_policy():
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>", "What", "is", "2+2?", "Say", "hi."] + [
        f"w{i}" for i in range(40)
    ]
    tokenizer_model = Tokenizer(
        models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>")
    )
    tokenizer_model.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer_model, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    config = LlamaConfig(
        vocab_size=len(words),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config), tokenizer


def test_trl_helpers_read_the_name_and_the_async_form():
    from trl.trainer.utils import get_callable_name, is_async_callable

    reward = RubricReward("helpfulness", ScriptedBackend(graded_reply), name="judge_helpful")
    assert get_callable_name(reward) == "judge_helpful"
    assert not is_async_callable(reward)
    assert is_async_callable(reward.as_async())


def test_grpo_trainer_step_calls_the_reward_once_per_step_and_logs_criteria(tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    model, tokenizer = _tiny_policy()
    backend = ScriptedBackend(graded_reply)
    reward = RubricReward("helpfulness", backend, name="judge")
    dataset = Dataset.from_list(
        [{"prompt": "What is 2+2?", "reference": "4"}, {"prompt": "Say hi.", "reference": "hi"}] * 2
    )
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=6,
        max_steps=1,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        bf16=False,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward, reward.as_async()],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    # One step: the sync and the async reward each made exactly one batched backend call.
    assert backend.calls == 2
    assert {len(batch) for batch in backend.batches} <= {4 * 5}  # 4 completions x 5 criteria
    logged = trainer.state.log_history[0]
    assert 0.05 <= logged["rewards/judge/mean"] <= 0.95
    assert not math.isnan(logged["judge/p_yes/addresses_request"])
    assert logged["judge/failed"] == 0.0
    # The reference column reached the judge.
    assert any("<reference>" in r.messages[1].content for r in backend.batches[0])


@pytest.mark.parametrize("name", ["trl-grpo", "readme-trl"])  # docs/rewards/trl.md, README.md
def test_trl_snippet_reward_is_called_the_way_grpo_trainer_calls_it(name, monkeypatch, tmp_path):
    import trl

    from judge import backends
    from tests.snippets import snippet

    monkeypatch.setitem(backends._REGISTRY, "sglang-server", "tests.doubles.reward:graded")
    monkeypatch.chdir(tmp_path)
    built = {}

    class RecordingTrainer:
        """Stands in for GRPOTrainer (whose model would be downloaded) and calls the rewards."""

        def __init__(self, model, reward_funcs, args, train_dataset):
            built.update(model=model, reward_funcs=reward_funcs, args=args, dataset=train_dataset)

        def train(self):
            # trl/trainer/grpo_trainer.py _calculate_rewards: columns repeated per generation.
            generations = built["args"].num_generations
            rows = [row for row in built["dataset"] for _ in range(generations)]
            metrics = {}
            built["rewards"] = [
                function(
                    prompts=[row["prompt"] for row in rows],
                    completions=[
                        [{"role": "assistant", "content": f"Try {i}."}] for i in range(len(rows))
                    ],
                    completion_ids=[[1, 2]] * len(rows),
                    reference=[row["reference"] for row in rows],
                    trainer_state=None,
                    log_extra=lambda column, values: None,
                    log_metric=metrics.__setitem__,
                )
                for function in built["reward_funcs"]
            ]
            built["metrics"] = metrics

    config_class = trl.GRPOConfig

    def cpu_config(**kwargs):  # the snippet targets a GPU; TRL refuses bf16 on this CPU
        return config_class(**kwargs, use_cpu=True, bf16=False)

    monkeypatch.setattr(trl, "GRPOTrainer", RecordingTrainer)
    monkeypatch.setattr(trl, "GRPOConfig", cpu_config)
    exec(compile(snippet(name), f"docs:{name}", "exec"), {})
    [reward] = built["reward_funcs"]
    [rewards] = built["rewards"]
    assert len(rewards) == len(built["dataset"]) * built["args"].num_generations
    assert all(isinstance(value, float) and 0 <= value <= 1 for value in rewards)
    assert reward.judge.backend.calls == 1
    assert f"{reward.__name__}/p_yes/addresses_request" in built["metrics"]

r"""GRPO with a rubric judge as the reward, in TRL.

On a GPU machine, with the judge model served by SGLang::

    python examples/trl_grpo.py --policy Qwen/Qwen2.5-0.5B-Instruct \
        --judge-backend sglang-server --judge-base-url http://127.0.0.1:30000

Without a GPU: ``--policy tiny`` trains a random one-layer policy (no download) and the judge
defaults to the embedded CPU model, which judges at about chance level: a smoke run of the
wiring, not a training run. CI runs ``python examples/trl_grpo.py --policy tiny --steps 1
--reasoning none``.

The prompts and reference answers are examples/data/prompts.jsonl; the reference reaches the
judge through the dataset column named by ``reference_column``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "prompts.jsonl"


def tiny_policy():  # type: ignore[no-untyped-def]
    """A random one-layer Llama with a byte-level tokenizer: trains on CPU in seconds."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {"<pad>": 0, "<eos>": 1, **{char: i + 2 for i, char in enumerate(alphabet)}}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>", pad_token="<pad>")
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config), tokenizer


def main() -> None:
    """Train with the judge reward and print the first step's mean reward."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--policy", default="Qwen/Qwen2.5-0.5B-Instruct", help="model id, or 'tiny'"
    )
    parser.add_argument("--rubric", default="helpfulness")
    parser.add_argument("--judge-backend", default="transformers", help="embedded CPU model")
    parser.add_argument("--judge-base-url", default=None)
    parser.add_argument("--judge-model", default=None)
    parser.add_argument("--reasoning", default="before", choices=["before", "after", "none"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--output-dir", default="grpo-judge")
    args = parser.parse_args()

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from judge import JudgeSettings
    from judge.reward import RubricReward

    options = {"base_url": args.judge_base_url, "model": args.judge_model}
    judge_reward = RubricReward(
        args.rubric,
        backend=args.judge_backend,  # a name, not an object: the reward stays picklable
        settings=JudgeSettings(reasoning=args.reasoning),
        reference_column="reference",
        timeout_s=120,
        backend_options={key: value for key, value in options.items() if value is not None},
    )
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    tiny = args.policy == "tiny"
    if tiny:
        model, tokenizer = tiny_policy()
        prompts = [row["prompt"] for row in rows]  # plain text: the tiny tokenizer has no chat
    else:
        model, tokenizer = args.policy, None
        prompts = [[{"role": "user", "content": row["prompt"]}] for row in rows]
    dataset = Dataset.from_list(
        [{"prompt": p, "reference": row["reference"]} for p, row in zip(prompts, rows, strict=True)]
    )
    config = GRPOConfig(
        output_dir=args.output_dir,
        num_generations=2 if tiny else 4,
        per_device_train_batch_size=4,
        max_completion_length=8 if tiny else 256,
        max_steps=args.steps,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        **({"use_cpu": True, "bf16": False} if tiny else {}),
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[judge_reward],  # or judge_reward.as_async()
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    logged = trainer.state.log_history[0]
    name = judge_reward.__name__
    reward = logged[f"rewards/{name}/mean"]
    failed = logged[f"{name}/failed"]
    print(f"step 1: mean judge reward {reward:.3f}, failure rate {failed:.2f}")
    if math.isnan(reward) or failed > 0:
        raise SystemExit("the judge gave no reward: see the log above")


if __name__ == "__main__":
    main()

"""Write examples/data/prompts.jsonl as veRL's RL data: train.parquet and val.parquet.

    python examples/verl/prepare_data.py verl-data

veRL passes no prompt to a reward function, so each row carries it in ``extra_info["prompt"]``
(where `judge.reward.verl` reads it); ``reward_model.ground_truth`` is the judge's reference
answer. The other columns are those veRL's RL dataset reads (``prompt`` as chat messages,
``data_source``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent.parent / "data" / "prompts.jsonl"


def verl_rows(rows: list[dict[str, str]], split: str) -> list[dict[str, object]]:
    """The columns veRL reads, for each prompt row."""
    return [
        {
            "data_source": "judge-examples",
            "prompt": [{"role": "user", "content": row["prompt"]}],
            "ability": "general",
            "reward_model": {"style": "model", "ground_truth": row["reference"]},
            "extra_info": {"split": split, "index": index, "prompt": row["prompt"]},
        }
        for index, row in enumerate(rows)
    ]


def main() -> None:
    """Write the two Parquet files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for train.parquet and val.parquet")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    args.out.mkdir(parents=True, exist_ok=True)
    splits = {"train": rows[:-2], "val": rows[-2:]}
    for split, part in splits.items():
        pq.write_table(pa.Table.from_pylist(verl_rows(part, split)), args.out / f"{split}.parquet")
        print(f"{args.out / f'{split}.parquet'}: {len(part)} rows")


if __name__ == "__main__":
    main()

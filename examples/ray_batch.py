"""A resumable batch job on a Ray Data actor pool (what ``judge batch --engine ray`` runs).

    pip install 'rubric-judge[ray]'
    python examples/ray_batch.py examples/data/rows.jsonl scored/ --id-field id --replicas 2

Each replica holds one judge backend: the embedded CPU model by default, a client of an SGLang
server (``--backend sglang-server --base-url URL``) or an SGLang engine on a GPU of its own
(``--backend sglang --gpus 1``). Each block of judged rows is written as one Parquet file under
the output folder; rerun the same command after a crash and only the missing rows are judged.
On a cluster, pass ``--address auto`` and put the input and output folder on shared storage.
Without ``--id-field`` a row's id is its line number. CI runs ``python examples/ray_batch.py
examples/data/rows.jsonl OUT --id-field id --reasoning none``, twice (the second run resumes).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    """Run the job and print each row's score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="JSONL, Parquet or CSV rows")
    parser.add_argument("output", type=Path, help="a folder of Parquet files")
    parser.add_argument("--id-field", default=None, help="the column holding each row's id")
    parser.add_argument("--rubric", default="helpfulness")
    parser.add_argument("--backend", default="transformers")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--reasoning", default="before", choices=["before", "after", "none"])
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--cpus", type=float, default=1.0, help="CPUs per replica")
    parser.add_argument("--gpus", type=float, default=0.0, help="GPUs per replica")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--address", default=None, help="a Ray cluster ('auto'); default: local")
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from judge import JudgeSettings
    from judge.batch import FieldMap
    from judge.batch.ray_engine import RayJudgeSpec, RayPool, run_ray_job

    options = {"base_url": args.base_url, "model": args.model}
    spec = RayJudgeSpec(
        rubric=args.rubric,
        backend=args.backend,
        backend_options={key: value for key, value in options.items() if value is not None},
        settings=JudgeSettings(reasoning=args.reasoning),
        fields=FieldMap(id=args.id_field),
    )
    pool = RayPool(
        replicas=args.replicas, cpus=args.cpus, gpus=args.gpus, batch_size=args.batch_size
    )
    progress = run_ray_job(args.input, args.output, spec, pool, address=args.address)
    print(f"judged {progress.judged} rows, {progress.failed} failed, {progress.skipped} skipped")
    table = pq.read_table(args.output)
    for record in sorted(table.to_pylist(), key=lambda record: record["row"]):
        score = "failed" if record["score"] is None else f"{record['score']:.3f}"
        print(f"{record['id']}\t{score}\t{record['prompt'][:60]}")


if __name__ == "__main__":
    main()

"""Rubric generation with a real model: criteria per prompt, prompt specificity, template copies.

Prompts: the first `--llmbar` LLMBar Natural inputs and the first `--mtbench` MT-Bench first
turns from ../shared/data. For each prompt, `generate_rubric_report` runs once (all samples in
one backend call) and the script records what was kept, what the screen dropped, and how long
it took. "Specific" is a kept criterion with prompt specificity > 0 (at least one key term of
the request); "copied" is a kept criterion that reads like any example text of the shipped
templates, before or after this change (similarity >= 0.7), so it is measured against the old
example sentences too. `--refine N` also refines the first N LLMBar rubrics with RRD, using the
item's two outputs as the pool (coarse threshold 1, so a criterion both outputs pass is split),
and counts decompositions that added an accepted child. `--llmbar-start` / `--mtbench-start`
(1-based) skip the prompts an earlier run measured; `--rows FILE` appends each prompt's row as
a JSON line as soon as it is measured, so a run that is cut off keeps its finished prompts.

    flock /work/models/cpu.lock python benchmarks/rubric_generation.py \
        --model /work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --dtype float32 \
        --llmbar 10 --mtbench 10 --refine 4 --out /tmp/rubric_generation.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from judge.backends import create_backend
from judge.errors import JudgeError
from judge.prompting import PromptContext, default_prompts
from judge.rubric.generate import generate_rubric_report
from judge.rubric.proposal import prompt_specificity, template_examples
from judge.rubric.refine import refine
from judge.rubric.settings import GenerateSettings, RefineSettings
from judge.rubric.wording import most_similar

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# The example texts the templates shipped before this change (the copies the issue reported).
OLD_EXAMPLES = (
    "The response stays within the length the request sets.",
    "The response answers every part of the request.",
)


def prompts(
    data: Path, llmbar: int, mtbench: int, llmbar_start: int = 1, mtbench_start: int = 1
) -> list[tuple[str, str, dict[str, object] | None]]:
    """(source #number, prompt, llmbar item or None), the two sources interleaved.

    The first `llmbar` / `mtbench` prompts of each source, from number `*_start` on (1-based),
    so that a later run can take up where an earlier one stopped.
    """
    items = json.loads((data / "llmbar" / "Natural" / "dataset.json").read_text())[:llmbar]
    lines = (data / "mtbench_questions" / "question.jsonl").read_text().splitlines()[:mtbench]
    first: list[tuple[str, str, dict[str, object] | None]] = [
        (f"llmbar #{n}", str(item["input"]), item)
        for n, item in enumerate(items, start=1)
        if n >= llmbar_start
    ]
    second: list[tuple[str, str, dict[str, object] | None]] = [
        (f"mtbench #{n}", json.loads(line)["turns"][0], None)
        for n, line in enumerate(lines, start=1)
        if n >= mtbench_start
    ]
    chosen = []
    for index in range(max(len(first), len(second))):
        chosen.extend(first[index : index + 1] + second[index : index + 1])
    return chosen


def template_strings() -> tuple[str, ...]:
    """Example texts of every shipped rubric template, rendered, plus the old examples."""
    library = default_prompts()
    context = PromptContext.from_data(
        conversation=[("user", "x")],
        responses=["x"],
        criterion="x",
        criterion_kind="principle",
        criteria=("x",),
        min_items=2,
        max_items=2,
        max_criterion_chars=160,
    )
    found = list(OLD_EXAMPLES)
    for name in ("rubric_propose", "rubric_decompose", "rubric_contrastive"):
        found.extend(template_examples(library.render(name, context)))
    return tuple(dict.fromkeys(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--llmbar", type=int, default=10)
    parser.add_argument("--mtbench", type=int, default=10)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--max-criteria", type=int, default=6)
    parser.add_argument("--llmbar-start", type=int, default=1, help="first LLMBar prompt (1-based)")
    parser.add_argument("--mtbench-start", type=int, default=1, help="first MT-Bench prompt")
    parser.add_argument("--refine", type=int, default=0)
    parser.add_argument(
        "--rows", type=Path, default=None, help="append each prompt's row here (JSON lines)"
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    args = parser.parse_args()

    templates = template_strings()
    started = time.perf_counter()
    backend = create_backend("transformers", model=args.model, dtype=args.dtype)
    load_s = time.perf_counter() - started
    settings = GenerateSettings(samples=args.samples, max_criteria=args.max_criteria)
    rows: list[dict[str, object]] = []
    refined_items = 0

    def emit(row: dict[str, object]) -> None:
        """Keep the row, print it, and append it to --rows at once (a cut-off run keeps it)."""
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.rows is not None:
            with args.rows.open("a") as handle:
                handle.write(json.dumps(row) + "\n")

    for source, prompt, item in prompts(
        args.data, args.llmbar, args.mtbench, args.llmbar_start, args.mtbench_start
    ):
        t0 = time.perf_counter()
        try:
            report = generate_rubric_report(backend, prompt, settings=settings)
        except JudgeError as exc:
            emit({"source": source, "prompt": prompt[:80], "error": str(exc)[:200]})
            continue
        seconds = time.perf_counter() - t0
        kept = report.rubric.criteria
        specific = [c for c in kept if prompt_specificity(c.text, prompt) > 0]
        copied = [c for c in kept if most_similar(c.text, templates)[0] >= 0.7]
        template_drops = [d for d in report.rubric.dropped if "prompt template" in d.reason]
        row: dict[str, object] = {
            "source": source,
            "prompt": prompt[:80],
            "seconds": round(seconds, 1),
            "kept": len(kept),
            "specific": len(specific),
            "copied": len(copied),
            "template_drops": len(template_drops),
            "proposed": report.proposed,
            "distinct": report.distinct,
            "demoted": len(report.demoted),
            "shortfall": report.shortfall,
            "criteria": [(c.text, c.kind) for c in kept],
            "dropped": [(d.criterion.text, d.reason) for d in report.rubric.dropped],
        }
        if item is not None and refined_items < args.refine:  # refines LLMBar items only
            refined_items += 1
            pool = [str(item["output_1"]), str(item["output_2"])]
            t1 = time.perf_counter()
            try:
                refined = refine(
                    report.rubric,
                    prompt,
                    pool,
                    backend,
                    settings=RefineSettings(coarse_threshold=1, max_depth=1),
                    cache=False,
                )
                leaves = refined.rubric.leaves()
                parents = {c.provenance.parent for c in leaves if c.provenance.parent}
                reasons = [
                    d.reason for d in refined.rubric.dropped if d.criterion.provenance.parent
                ]
                row["refine"] = {
                    "seconds": round(time.perf_counter() - t1, 1),
                    "decompositions": refined.stats.decompositions,
                    "added_new": len(parents),
                    "children_rejected": len(reasons),
                    "rejections": reasons,
                    "unrefined": list(refined.stats.unrefined),
                }
            except JudgeError as exc:
                row["refine"] = {"error": str(exc)[:200]}
        emit(row)
    backend.close()
    done = [r for r in rows if "error" not in r]
    kept_total = sum(int(r["kept"]) for r in done)  # type: ignore[call-overload]
    summary = {
        "model": args.model,
        "dtype": args.dtype,
        "samples": args.samples,
        "max_criteria": args.max_criteria,
        "prompts": len(rows),
        "failed": len(rows) - len(done),
        "load_s": round(load_s, 1),
        "criteria_per_prompt": round(kept_total / max(1, len(done)), 2),
        "specific_per_prompt": round(
            sum(int(r["specific"]) for r in done) / max(1, len(done)),  # type: ignore[call-overload]
            2,
        ),
        "share_specific": round(
            sum(int(r["specific"]) for r in done) / max(1, kept_total),  # type: ignore[call-overload]
            3,
        ),
        "share_copied": round(
            sum(int(r["copied"]) for r in done) / max(1, kept_total),  # type: ignore[call-overload]
            3,
        ),
        "template_drops": sum(int(r["template_drops"]) for r in done),  # type: ignore[call-overload]
        "shortfalls": sum(1 for r in done if r["shortfall"]),
        "median_s_per_prompt": statistics.median(float(r["seconds"]) for r in done)  # type: ignore[arg-type]
        if done
        else None,
    }
    print(json.dumps(summary, indent=1))
    if args.out is not None:
        args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

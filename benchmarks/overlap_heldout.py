"""The duplicate screens on held-out criterion pairs: wording alone, and wording + the LLM check.

The pairs (tests/fixtures/rubric/criterion_pairs_generated.jsonl) are every pair of kept
criteria within one generated rubric: 12 rubrics that Qwen2.5-Coder-1.5B-Instruct generated
for LLMBar Natural #1-#10 and MT-Bench #5-#6 (`rubric_generation.py`, `rubric_downstream.py`
arm (b)), 180 pairs, labelled by hand after the screen was built (duplicate: the same check in
other words; a stricter, a compound or a different check is not). So unlike the screen's own
labelled set (criterion_pairs.jsonl, built with it), this one is held out.

Without `--model`: the wording screen (`similarity` >= `duplicate_similarity`) and how many
duplicates reach the LLM overlap check at all (`similarity` >= `overlap_prefilter`). With
`--model`: refinement's full rule, one backend call for every pair the prefilter passes (the
later criterion as the candidate, the earlier as accepted): a pair is a duplicate when the
wording says so or the model rates the overlap at least `overlap_reject`.

    python benchmarks/overlap_heldout.py
    python benchmarks/overlap_heldout.py --model QWEN.gguf --dtype float32
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from judge.prompting import default_prompts
from judge.rubric.overlap import overlap_request, read_overlap
from judge.rubric.settings import RefineSettings
from judge.rubric.wording import Wording, similarity

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "rubric"
PAIRS = FIXTURES / "criterion_pairs_generated.jsonl"


def precision_recall(predicted: list[bool], truth: list[bool]) -> tuple[float, float, int]:
    """Precision (1.0 when nothing is flagged), recall, and the false positives."""
    hits = sum(p and t for p, t in zip(predicted, truth, strict=True))
    flagged = sum(predicted)
    return (hits / flagged if flagged else 1.0), hits / max(1, sum(truth)), flagged - hits


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument(
        "--mutual",
        action="store_true",
        help="also ask the other direction; a duplicate needs both directions rated",
    )
    args = parser.parse_args()
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines() if line]
    truth = [bool(p["duplicate"]) for p in pairs]
    settings = RefineSettings()
    scores = [similarity(Wording.of(p["a"]), Wording.of(p["b"])) for p in pairs]
    wording = [s >= settings.duplicate_similarity for s in scores]
    checked = [settings.overlap_prefilter <= s < settings.duplicate_similarity for s in scores]
    print(f"{len(pairs)} pairs, {sum(truth)} duplicates")
    p, r, fp = precision_recall(wording, truth)
    print(f"wording screen (>= {settings.duplicate_similarity}): precision {p:.3f} recall {r:.3f}")
    reach = sum(c for c, t in zip(checked, truth, strict=True) if t)
    print(
        f"prefilter (>= {settings.overlap_prefilter}): {sum(checked)} pairs to the LLM check, "
        f"{reach} of {sum(truth)} duplicates among them"
    )
    if args.model is None:
        return
    from judge.backends import create_backend

    backend = create_backend("transformers", model=args.model, dtype=args.dtype)
    prompts = default_prompts()
    directions = [("b", "a"), ("a", "b")] if args.mutual else [("b", "a")]
    requests = [
        overlap_request(
            f"overlap:{i}:{candidate}",
            pair[candidate],
            pair[accepted],
            prompts=prompts,
            capabilities=backend.capabilities,
            seed=settings.seed,
        )
        for i, pair in enumerate(pairs)
        if checked[i]
        for candidate, accepted in directions
    ]
    started = time.perf_counter()
    generations = backend.generate(requests)
    seconds = time.perf_counter() - started
    rated: dict[tuple[int, str], float] = {}
    for request, generation in zip(requests, generations, strict=True):
        result = read_overlap(generation)
        _, index, candidate = request.id.split(":")
        rated[(int(index), candidate)] = result.overlap if result is not None else 0.0
    print(f"{len(requests)} requests in one call, {seconds:.0f} s")
    rules = {"later in earlier (refinement's direction)": [("b",)]}
    if args.mutual:
        rules["both directions"] = [("b",), ("a",)]
    for name, needed in rules.items():
        llm = [
            all(rated.get((i, side[0]), 0.0) >= settings.overlap_reject for side in needed)
            for i in range(len(pairs))
        ]
        combined = [w or m for w, m in zip(wording, llm, strict=True)]
        p, r, fp = precision_recall(combined, truth)
        print(
            f"wording + LLM check, {name} (overlap >= {settings.overlap_reject}): precision "
            f"{p:.3f} recall {r:.3f} ({fp} false positives)"
        )
    for i in sorted({index for index, _ in rated}):
        mark = "dup " if truth[i] else "    "
        both = " ".join(f"{rated.get((i, side), 0.0):.2f}" for side, _ in directions)
        print(f"  {mark}{both}  {pairs[i]['a'][:55]!r} / {pairs[i]['b'][:55]!r}")
    backend.close()


if __name__ == "__main__":
    main()

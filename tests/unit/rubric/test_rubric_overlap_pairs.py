"""The duplicate screen measured on labelled criterion pairs (tests/fixtures/rubric).

The pairs come from the rubric engine's reported failures (the haiku and sky prompts, the
template's own examples), the shipped rubrics and the Prometheus HHH score rubrics in
../shared/data; each is labelled duplicate (the same check in other words) or not (a different
or a stricter check). The figures are printed for benchmarks/README.md.
"""

import json
from pathlib import Path

import pytest

from judge.rubric.settings import RefineSettings
from judge.rubric.wording import Wording, jaccard, similarity

PAIRS = [
    json.loads(line)
    for line in (Path(__file__).parents[2] / "fixtures" / "rubric" / "criterion_pairs.jsonl")
    .read_text()
    .splitlines()
]


def _precision_recall(predicted):
    truth = [pair["duplicate"] for pair in PAIRS]
    hits = sum(p and t for p, t in zip(predicted, truth, strict=True))
    flagged, actual = sum(predicted), sum(truth)
    return hits / flagged if flagged else 0.0, hits / actual


def test_the_labelled_set_is_balanced_and_holds_the_issue_pair():
    assert len(PAIRS) >= 40
    assert sum(p["duplicate"] for p in PAIRS) == len(PAIRS) // 2
    assert {
        "a": "The response is a poem about the rain.",
        "b": "The response is a poem about rain.",
    }.items() <= PAIRS[0].items()


def test_duplicate_screen_precision_and_recall_on_the_labelled_pairs(capsys):
    threshold = RefineSettings().duplicate_similarity
    pairs = [(Wording.of(p["a"]), Wording.of(p["b"])) for p in PAIRS]
    precision, recall = _precision_recall([similarity(a, b) >= threshold for a, b in pairs])
    old_precision, old_recall = _precision_recall([jaccard(a, b) >= threshold for a, b in pairs])
    with capsys.disabled():
        print(
            f"\nduplicate screen on {len(PAIRS)} labelled pairs at {threshold}: precision "
            f"{precision:.3f} recall {recall:.3f} (content-word Jaccard alone: precision "
            f"{old_precision:.3f} recall {old_recall:.3f})"
        )
    assert precision == pytest.approx(1.0)
    assert recall >= 0.85
    assert recall > old_recall


def test_opposite_negation_is_never_a_duplicate():
    a = Wording.of("The response uses a formal tone.")
    b = Wording.of("The response does not use a formal tone.")
    assert similarity(a, b) == 0.0 and jaccard(a, b) == 1.0

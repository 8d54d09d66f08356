import json

import pytest
from typer.testing import CliRunner

from judge import _cli as cli
from judge import backends
from judge.library import load_rubric_file
from tests.cli_main import run_judge

POEM = "Write a two-line poem about rain."
POOL = [
    "Rain taps the glass,\nthe gray hours pass.",
    "Rain drums, rain hums.",
    "Soft rain, loud rain.",
]


@pytest.fixture(autouse=True)
def _registered(monkeypatch, tmp_path):
    monkeypatch.setitem(backends._REGISTRY, "rubric-world", "tests.doubles.rubric:rubric_world")
    monkeypatch.setenv("JUDGE_CACHE_DIR", str(tmp_path / "cache"))


def run(*args: str):
    return CliRunner().invoke(cli.app, list(args))


def test_generate_prints_the_tree_and_writes_yaml(tmp_path):
    out = tmp_path / "poem.yaml"
    result = run(
        "rubric", "generate", "--prompt", POEM, "--backend", "rubric-world", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "exactly_two_lines_long" in result.output and "[hard_rule]" in result.output
    rubric = load_rubric_file(out)
    assert [c.kind for c in rubric.criteria] == ["hard_rule", "principle"]


def test_refine_with_a_pool_file_then_show(tmp_path):
    start = tmp_path / "poem.yaml"
    run("rubric", "generate", "--prompt", POEM, "--backend", "rubric-world", "--output", str(start))
    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        "\n".join(
            [
                json.dumps(POOL[0]),
                json.dumps({"response": POOL[1], "quality": 2}),
                json.dumps({"text": POOL[2]}),
            ]
        )
        + "\n"
    )
    out = tmp_path / "refined.yaml"
    args = (
        "rubric",
        "refine",
        "--rubric",
        str(start),
        "--prompt",
        POEM,
        "--pool",
        str(pool),
        "--backend",
        "rubric-world",
        "--output",
        str(out),
    )
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "3 rounds = 3 backend calls" in result.output
    refined = load_rubric_file(out)
    [parent] = [c for c in refined.criteria if c.children]
    assert [c.text for c in parent.children] == [
        "The response names a sound that rain makes.",
        "The response describes how rain feels on skin.",
    ]
    shown = run("rubric", "show", str(out))
    assert shown.exit_code == 0
    assert "(judged by its children)" in shown.output and "(decomposed)" in shown.output
    assert "uniform: a pool of 3 responses" in shown.output
    again = run(*args)
    assert again.exit_code == 0 and "0 backend calls" in again.output


def test_refine_samples_a_pool_when_none_is_given_and_reads_settings(tmp_path):
    start = tmp_path / "poem.yaml"
    run("rubric", "generate", "--prompt", POEM, "--backend", "rubric-world", "--output", str(start))
    settings = tmp_path / "settings.yaml"
    settings.write_text("max_depth: 0\nmax_rejections: 4\n")
    result = run(
        "rubric",
        "refine",
        "--rubric",
        str(start),
        "--prompt",
        POEM,
        "--backend",
        "rubric-world",
        "--pool-size",
        "6",
        "--settings",
        str(settings),
        "--no-cache",
    )
    assert result.exit_code == 0, result.output
    assert "2 rounds = 2 backend calls" in result.output, "pool sampling, then one evaluation round"


def test_refine_errors_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    start = tmp_path / "poem.yaml"
    run("rubric", "generate", "--prompt", POEM, "--backend", "rubric-world", "--output", str(start))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    settings = tmp_path / "bad.yaml"
    settings.write_text("max_dept: 2\n")
    for extra, message in [
        (("--pool", str(empty)), "pool is empty"),
        (("--settings", str(settings)), "max_dept: unknown option"),
    ]:
        monkeypatch.setattr(
            "sys.argv",
            [
                "judge",
                "rubric",
                "refine",
                "--rubric",
                str(start),
                "--prompt",
                POEM,
                "--backend",
                "rubric-world",
                *extra,
            ],
        )
        with pytest.raises(SystemExit) as info:
            cli.main()
        _, err = capsys.readouterr()
        assert info.value.code == 2 and message in err and "Traceback" not in err


def test_generate_reports_the_requested_count_and_any_shortfall():
    result = run("rubric", "generate", "--prompt", POEM, "--backend", "rubric-world")
    assert result.exit_code == 0, result.output
    assert "2 of 6 requested criteria from 3 sample(s)" in result.output
    assert "shortfall: 4 short" in result.output


def test_generate_from_pairs_writes_one_contrastive_rubric_per_row(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {"prompt": POEM, "chosen": POOL[0], "rejected": "Dry."},
        {"prompt": POEM, "chosen": POOL[0], "rejected": POOL[1], "id": "extra fields are fine"},
    ]
    pairs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "rubrics"
    result = run(
        "rubric",
        "generate",
        "--pairs",
        str(pairs),
        "--backend",
        "rubric-world",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "2 of 2 row(s) gave a contrastive rubric" in result.output
    first = load_rubric_file(out / "contrastive-row1.yaml")
    assert first.criteria[0].provenance.source == "contrastive"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt": "Hi", "chosen": "Hello"}', "pairs.jsonl:2: field 'rejected' is missing"),
        (
            '{"prompt": "Hi", "chosen": 3, "rejected": "x"}',
            "pairs.jsonl:2: field 'chosen' is not a",
        ),
        ('{"prompt": "Hi", "chosen": "a b", "rejected": "a  b"}', "are the same text"),
        ("[1, 2]", "pairs.jsonl:2: expected an object, got list"),
    ],
)
def test_bad_pairs_rows_are_refused_before_the_model_loads(
    tmp_path, monkeypatch, capsys, line, message
):
    def no_model(*args, **kwargs):
        raise AssertionError("the backend must not be created for bad input")

    monkeypatch.setattr(backends, "create_backend", no_model)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "Hi", "chosen": "a", "rejected": "b"}) + "\n" + line)
    code, out, err = run_judge(
        monkeypatch,
        capsys,
        "rubric",
        "generate",
        "--pairs",
        str(pairs),
        "--backend",
        "rubric-world",
    )
    assert code == 2, out + err
    assert message in " ".join(err.split())
    assert len(err.strip().splitlines()) <= 2, "one line (and a hint)"


def test_generate_needs_exactly_one_of_prompt_and_pairs(tmp_path):
    result = run("rubric", "generate", "--backend", "rubric-world")
    assert result.exit_code == 2 and "exactly one of --prompt and --pairs" in result.output

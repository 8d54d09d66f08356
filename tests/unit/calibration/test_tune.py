"""`run_tune`: every configuration in shared batches, the choice against the baseline, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.calibration.bootstrap import Interval
from judge.calibration.jsonl import load_eval_set
from judge.calibration.run import run_eval
from judge.calibration.tune import run_tune
from judge.calibration.tune_report import ConfigResult, TuneCost, choose
from judge.commands.config import load_cli_config
from judge.errors import ConfigError, InputError
from judge.runner.judge import Judge
from judge.settings import DEFAULTS
from judge.types import GenerationRequest
from tests.doubles.scripted import verdict_reply

ITEMS = 30


def labelled(path: Path, n: int = ITEMS) -> Path:
    """`n` answers, alternately right and wrong, each text distinct."""
    rows = [
        {
            "id": f"a{i}",
            "prompt": f"Question {i}?",
            "response": f"answer {i} is {'right' if i % 2 else 'wrong'}",
            "label": bool(i % 2),
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def knowing(*, judge_knows: str = "none", naive_knows: bool = False) -> ScriptedBackend:
    """The judge's verdicts see right from wrong under reasoning `judge_knows` (``none``: scored
    requests, ``before``: decoded ones; ``never``), and are 0.6 otherwise; the naive question
    sees it when `naive_knows`, else says 0.6 to everything."""

    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        right = " is right" in request.messages[-1].content
        if "#naive" in request.id:
            return verdict_reply((0.9 if right else 0.1) if naive_knows else 0.6)
        mode = "none" if request.score_after is not None else "before"
        return verdict_reply((0.9 if right else 0.1) if mode == judge_knows else 0.6)

    return ScriptedBackend(reply, model_id="scripted-knowing")


class Failing(ScriptedBackend):
    """Fails its `fail_at`-th call, as a killed run would stop there."""

    def __init__(self, inner: ScriptedBackend, fail_at: int) -> None:
        self.inner, self.fail_at, self.seen = inner, fail_at, 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def capabilities(self):  # type: ignore[no-untyped-def]
        return self.inner.capabilities

    def generate(self, requests):  # type: ignore[no-untyped-def]
        self.seen += 1
        if self.seen == self.fail_at:
            raise KeyboardInterrupt
        return self.inner.generate(requests)


def test_every_configuration_shares_one_backend_call_per_chunk_and_each_request_runs_once(
    tmp_path,
):
    data = labelled(tmp_path / "data.jsonl", n=12)
    backend = knowing()
    run = run_tune(
        data,
        grid=[{"score_rule": ["mean", "cap"], "reasoning": ["none"]}],
        backend=backend,
        output=tmp_path / "out",
        batch_size=6,
        n_boot=100,
    )
    # Two chunks of 6 items: one backend call each, for both configurations and the baseline.
    assert backend.calls == 2 and run.summary.shared.backend_calls == 2
    # The two score rules read the same verdicts, and the baseline is the same: each request
    # is asked by both configurations and sent once.
    shared = run.summary.shared
    assert shared.requests_asked == 2 * shared.requests_sent
    assert shared.requests_sent == sum(len(batch) for batch in backend.batches)
    per_item = len(Judge(backend=knowing(), rubric="helpfulness").rubric.leaves()) + 1
    assert shared.requests_sent == 12 * per_item


def test_each_configuration_is_measured_as_judge_eval_measures_it_alone(tmp_path):
    data = labelled(tmp_path / "data.jsonl")
    grid = [{"reasoning": ["before", "none"]}]
    run = run_tune(data, grid=grid, backend=knowing(), output=tmp_path / "out", n_boot=200)
    for result in run.summary.configs:
        judge = Judge(backend=knowing(), settings=DEFAULTS.updated(**result.settings))
        alone = run_eval(judge, load_eval_set(data), naive=True, n_boot=200)
        assert alone.naive is not None
        check = next(c for c in alone.naive.checks if c.measure == "accuracy")
        assert result.quality.value == pytest.approx(alone.accuracy)
        assert result.difference == check.difference
        assert result.cost.prompt_tokens == alone.naive.judge_cost.prompt_tokens
        assert result.naive_cost.completion_tokens == alone.naive.naive_cost.completion_tokens


def test_the_configuration_that_beats_the_baseline_is_written_as_a_config(tmp_path):
    data = labelled(tmp_path / "data.jsonl")
    grid = [{"reasoning": ["before", "none"]}]
    run = run_tune(data, grid=grid, backend=knowing(), output=tmp_path / "out", n_boot=200)
    summary = run.summary
    by_name = {r.name: r for r in summary.configs}
    assert not by_name["c0"].beats_naive  # reasoning before: the judge says 0.6 to everything
    assert by_name["c1"].beats_naive and by_name["c1"].quality.value == 1.0
    assert by_name["c1"].difference is not None and by_name["c1"].difference.low > 0
    assert (summary.recommendation, summary.best) == ("judge", "c1")
    config = load_cli_config(run.config)
    assert config.settings.reasoning == "none"
    assert config.tuned is not None and config.tuned.warning() is None
    assert config.defaults == {"rubric": "helpfulness"}
    report = run.report.read_text()
    assert "**Use c1.**" in report and "| c1 | reasoning=none |" in report
    assert json.loads((tmp_path / "out" / "tune.json").read_text())["best"] == "c1"


def test_when_no_configuration_beats_the_baseline_it_recommends_the_baseline(tmp_path):
    data = labelled(tmp_path / "data.jsonl")
    backend = knowing(judge_knows="never", naive_knows=True)
    run = run_tune(
        data,
        grid=[{"score_rule": ["mean", "cap"]}],
        backend=backend,
        output=tmp_path / "out",
        n_boot=200,
    )
    assert run.summary.recommendation == "naive"
    assert not any(r.beats_naive for r in run.summary.configs)
    assert "**Use the naive baseline.**" in run.report.read_text()
    text = run.config.read_text()
    assert "# Recommendation: naive." in text
    tuned = load_cli_config(run.config).tuned
    assert tuned is not None and tuned.recommendation == "naive"
    warning = tuned.warning()
    assert warning is not None and "no configuration beat the naive baseline" in warning


def test_a_killed_run_resumes_where_it_stopped_and_a_finished_one_judges_nothing(tmp_path):
    data = labelled(tmp_path / "data.jsonl", n=12)
    grid = [{"reasoning": ["before", "none"]}]
    out = tmp_path / "out"
    options = {"grid": grid, "output": out, "batch_size": 4, "n_boot": 100}
    with pytest.raises(KeyboardInterrupt):
        run_tune(data, backend=Failing(knowing(), fail_at=2), **options)  # type: ignore[arg-type]
    # The first chunk of 4 items is in every configuration's journal; the other two are
    # judged now, exactly as an uninterrupted run judges them.
    resumed = knowing()
    run_tune(data, backend=resumed, **options)  # type: ignore[arg-type]
    whole = _uninterrupted(data, tmp_path)
    assert len(whole) == 3 and resumed.calls == 2
    assert [[r.id for r in batch] for batch in resumed.batches] == [
        [r.id for r in batch] for batch in whole[1:]
    ]
    again = knowing()
    second = run_tune(data, backend=again, **options)  # type: ignore[arg-type]
    assert again.calls == 0 and second.summary.shared.backend_calls == 0
    assert all(result.resumed for result in second.summary.configs)
    fresh = run_tune(data, backend=knowing(), **{**options, "output": tmp_path / "fresh"})  # type: ignore[arg-type]
    for left, right in zip(second.summary.configs, fresh.summary.configs, strict=True):
        assert left.quality == right.quality and left.difference == right.difference
        assert left.cost.tokens == right.cost.tokens
    forced = knowing()
    run_tune(data, backend=forced, force=True, **options)  # type: ignore[arg-type]
    assert forced.calls == 3


def _uninterrupted(data: Path, tmp_path: Path) -> list[list[GenerationRequest]]:
    backend = knowing()
    grid = [{"reasoning": ["before", "none"]}]
    run_tune(data, grid=grid, backend=backend, output=tmp_path / "whole", batch_size=4, n_boot=0)
    return backend.batches


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"reasonning": ["none"]}, "unknown key 'reasonning'"),
        ({"reasoning": ["sideways"]}, "reasoning: 'sideways'"),
        ({"samples": [1, 3], "reasoning": ["none"]}, "the configuration samples=3 reasoning=none"),
        ({"score_rule": ["fitted"]}, "score_rule: 'fitted'"),
        ({"pair_method": ["direct"]}, "pair_method: the data is pointwise"),
        ({"rubric": ["no-such-rubric"]}, "rubric 'no-such-rubric'"),
        ({"abstain_band": [0.1]}, "abstain_band 0.1: it needs a calibrator"),
        ({"reasoning": []}, "reasoning: no values"),
    ],
)
def test_a_bad_grid_is_one_line_naming_it_before_any_model_call(tmp_path, grid, message):
    data = labelled(tmp_path / "data.jsonl", n=4)
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid, sort_keys=False))
    backend = knowing()
    with pytest.raises(ConfigError) as caught:
        run_tune(data, grid=path, backend=backend, output=tmp_path / "out")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert backend.calls == 0 and not (tmp_path / "out").exists()


def test_an_unlabelled_row_is_refused_naming_its_line(tmp_path):
    data = labelled(tmp_path / "data.jsonl", n=4)
    lines = data.read_text().splitlines()
    row = json.loads(lines[2])
    del row["label"]
    data.write_text("\n".join([*lines[:2], json.dumps(row), *lines[3:]]) + "\n")
    backend = knowing()
    with pytest.raises(InputError, match="line 3: label is missing"):
        run_tune(data, backend=backend, output=tmp_path / "out")
    assert backend.calls == 0


def test_a_grid_file_may_be_a_list_of_grids_and_duplicates_run_once(tmp_path):
    data = labelled(tmp_path / "data.jsonl", n=4)
    path = tmp_path / "grid.yaml"
    path.write_text(
        "- reasoning: none\n  score_rule: [mean, cap]\n- reasoning: [before, none]\n"
        "  score_rule: mean\n"
    )
    run = run_tune(data, grid=path, backend=knowing(), output=tmp_path / "out", n_boot=0)
    labels = [r.label for r in run.summary.configs]
    assert labels == [
        "reasoning=none score_rule=mean",
        "reasoning=none score_rule=cap",
        "reasoning=before score_rule=mean",
    ]


def test_the_default_grid_of_pairs_varies_reasoning_and_the_pair_method(tmp_path):
    rows = [
        {"id": f"q{i}", "prompt": f"Q{i}?", "chosen": f"a full answer {i}", "rejected": "no"}
        for i in range(6)
    ]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    backend = knowing()
    run = run_tune(data, backend=backend, output=tmp_path / "out", n_boot=0)
    assert [r.label for r in run.summary.configs] == [
        f"reasoning={reasoning} pair_method={method} holistic_weight={weight}"
        for reasoning in ("none", "before")
        for method in ("rubric", "direct")
        for weight in ("0.0", "0.5")
    ]
    # The holistic question is the baseline's own request: sent once for both.
    assert run.summary.shared.requests_sent < run.summary.shared.requests_asked
    assert backend.calls <= 4  # at most a judging round and a tie round, each with a retry
    config = load_cli_config(run.config)
    assert config.defaults["pair_method"] in ("rubric", "direct")


def test_a_larger_limit_or_a_new_configuration_judges_only_what_is_new(tmp_path):
    data = labelled(tmp_path / "data.jsonl", n=12)
    out = tmp_path / "out"
    first = knowing()
    run_tune(data, grid=[{"reasoning": ["none"]}], backend=first, output=out, limit=6, n_boot=0)
    more = knowing()
    grid = [{"reasoning": ["none", "before"]}]
    run = run_tune(data, grid=grid, backend=more, output=out, n_boot=0, batch_size=12)
    # One call: the 6 new items of the old configuration and all 12 of the new one, together.
    assert more.calls == 1
    per_item = len(Judge(backend=knowing(), rubric="helpfulness").rubric.leaves()) + 1
    assert run.summary.shared.requests_asked == (6 + 12) * per_item
    assert [r.n for r in run.summary.configs] == [12, 12]


def test_configurations_that_give_no_verdict_are_reported_not_recommended(tmp_path):
    data = labelled(tmp_path / "data.jsonl", n=6)

    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        if "#naive" in request.id:
            return verdict_reply(0.9)
        return ScriptedReply(text="not a verdict")

    backend = ScriptedBackend(reply, model_id="scripted-broken")
    run = run_tune(data, grid=[{"reasoning": ["before"]}], backend=backend, output=tmp_path / "o")
    [result] = run.summary.configs
    assert result.no_verdict == 6 and result.quality.value is None
    assert run.summary.recommendation == "naive"
    assert "the accuracy of no configuration is defined" in run.summary.reason
    assert "**Use the naive baseline.**" in run.report.read_text()


def _row(name: str, value: float, low: float, tokens: int) -> ConfigResult:
    cost = TuneCost(prompt_tokens=tokens, completion_tokens=0, seconds=0.0)
    return ConfigResult(
        name=name,
        label=name,
        settings={},
        rubric="r",
        pair_method=None,
        n=10,
        no_verdict=0,
        quality=Interval(value=value),
        naive_quality=0.5,
        difference=Interval(value=value - 0.5, low=low, high=value - 0.4),
        beats_naive=low > 0,
        cost=cost,
        naive_cost=cost,
    )


def test_the_choice_is_the_best_beater_then_the_cheaper_and_never_a_non_beater():
    rows = [
        _row("c0", 0.95, -0.01, 100),  # the highest, but its interval reaches 0
        _row("c1", 0.80, 0.05, 900),
        _row("c2", 0.80, 0.04, 300),  # as good as c1 and cheaper
        _row("c3", 0.70, 0.02, 10),
    ]
    assert choose(rows, "accuracy", 0.0)[:2] == ("judge", "c2")
    # Nobody beats the baseline: the baseline is recommended, c0 written as the closest judge.
    losers = [row.model_copy(update={"beats_naive": False}) for row in rows]
    recommendation, best, reason = choose(losers, "accuracy", 0.1)
    assert (recommendation, best) == ("naive", "c0") and "above 0.1" in reason

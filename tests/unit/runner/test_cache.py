"""The judgment cache: content-addressed, persistent across instances and processes, bounded."""

import subprocess
import sys

import pytest

from judge.reward import RubricReward
from judge.runner.cache import JudgmentCache, sample_key
from judge.types import Judgment, Sample
from tests.conftest import REPO
from tests.doubles.reward import CACHEABLE
from tests.unit.reward.test_reward import RUBRIC


def _judgment(sample_id: str, score: float | None = 0.7) -> Judgment:
    return Judgment(sample_id=sample_id, score=score, error=None if score else "x")


def test_keys_depend_on_settings_and_content_not_on_the_id():
    a = Sample(id="1", prompt="Q?", response="A")
    assert sample_key("s1", a) == sample_key("s1", a.model_copy(update={"id": "2"}))
    assert sample_key("s1", a) != sample_key("s2", a)
    assert sample_key("s1", a) != sample_key("s1", a.model_copy(update={"response": "B"}))
    assert sample_key("s1", a) != sample_key("s1", a.model_copy(update={"reference": "A"}))


def test_judgments_survive_a_restart_and_another_process(tmp_path):
    path = tmp_path / "cache.sqlite"
    first = JudgmentCache(path)
    first.put_many([("k1", _judgment("1")), ("k2", _judgment("2", None))])  # failure: not kept
    first.close()
    again = JudgmentCache(path)
    assert set(again.get_many(["k1", "k2"])) == {"k1"}
    assert again.counts() == {"hits": 1, "misses": 1, "entries": 1}
    code = (
        "from judge.runner.cache import JudgmentCache; from judge.types import Judgment; "
        f"c = JudgmentCache({str(path)!r}); "
        "c.put_many([('k3', Judgment(sample_id='3', score=0.2))]); "
        "print(sorted(c.get_many(['k1', 'k3'])))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.strip() == "['k1', 'k3']", out.stderr
    assert set(again.get_many(["k3"])) == {"k3"}


def test_the_store_is_bounded_least_recently_used_first(tmp_path):
    cache = JudgmentCache(tmp_path / "c.sqlite", max_entries=2)
    cache.put_many([("old", _judgment("1"))])
    cache.put_many([("mid", _judgment("2"))])
    cache.get_many(["old"])  # used again: now the newest
    cache.put_many([("new", _judgment("3"))])
    assert len(cache) == 2 and set(cache.get_many(["old", "mid", "new"])) == {"old", "new"}


def test_a_reward_with_a_cache_judges_repeated_completions_once(tmp_path, scripted):
    backend = scripted(0.8, capabilities=CACHEABLE)
    reward = RubricReward(RUBRIC, backend, cache=tmp_path / "c.sqlite")
    group = ["4", "4", "four", "4"]  # a GRPO group: the same completion is common
    first = reward(["What is 2+2?"] * 4, group)
    assert first == [pytest.approx(0.8)] * 4
    assert len(backend.batches[0]) == 2 * len(RUBRIC.leaves())  # two distinct samples
    again = reward(["What is 2+2?"] * 2, ["four", "4"])
    assert again == [pytest.approx(0.8)] * 2 and backend.calls == 1, "all answered by the cache"
    assert reward.cache is not None and reward.cache.counts()["hits"] == 2
    other = RubricReward(
        RUBRIC, scripted(0.8, capabilities=CACHEABLE), cache=tmp_path / "c.sqlite", scale=2.0
    )
    other(["What is 2+2?"], ["4"])  # shaping is not part of the judgment: still a hit
    assert other.cache is not None and other.cache.counts()["hits"] == 1
    changed = RubricReward(
        RUBRIC,
        scripted(0.8, capabilities=CACHEABLE),
        cache=tmp_path / "c.sqlite",
        temperature=0.5,
    )
    changed(["What is 2+2?"], ["4"])  # other settings: never answered by the old judgment
    assert changed.cache is not None and changed.cache.counts()["hits"] == 0


def _judge(scripted, **options):
    from judge.runner.judge import Judge

    capabilities = options.pop("capabilities", CACHEABLE)
    backend = scripted(0.8, capabilities=capabilities, model_id=options.pop("model_id", "m"))
    return Judge(backend, options.pop("rubric", RUBRIC), **options)


SAMPLES = [Sample(id=str(i), prompt=f"Q{i}?", response=f"A{i}") for i in range(3)]


def test_a_rerun_hits_and_any_change_of_judge_misses(tmp_path, scripted):
    from judge.prompting import PromptLibrary
    from judge.runner.cache import judge_samples
    from judge.types import Criterion, Rubric

    cache = JudgmentCache(tmp_path / "c.sqlite")
    first = judge_samples(_judge(scripted), SAMPLES, cache)
    rerun_judge = _judge(scripted)
    again = judge_samples(rerun_judge, SAMPLES, cache)
    assert rerun_judge.backend.calls == 0 and cache.hits == 3
    assert [j.score for j in again] == [j.score for j in first]
    assert all(j.usage.prompt_tokens == 0 for j in again), "a hit costs no model tokens"
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for template in PromptLibrary().directory.glob("*.j2"):
        text = template.read_text(encoding="utf-8")
        (prompts / template.name).write_text(text + "\n{# v2 #}", encoding="utf-8")
    rubric = Rubric(name="other", criteria=[Criterion(id="c", text="Is it right?")])
    revised = CACHEABLE.model_copy(update={"model_revision": "weights v2"})
    for changed in (
        {"max_rationale_chars": 50},  # a setting
        {"rubric": rubric},  # the rubric
        {"prompts": PromptLibrary(prompts)},  # a template
        {"model_id": "other-model"},  # the model's name
        {"capabilities": revised},  # the weights behind the same name
    ):
        judge = _judge(scripted, **changed)
        judge_samples(judge, SAMPLES, cache)
        assert judge.backend.calls == 1, f"{changed} was answered by another judge's judgments"


def test_sampled_judgments_without_a_seed_are_never_reused(tmp_path, scripted):
    from judge.runner.cache import judge_samples, uncacheable_reason

    cache = JudgmentCache(tmp_path / "c.sqlite")
    for _ in range(2):
        judge = _judge(scripted, temperature=0.7, seed=None)
        judge_samples(judge, SAMPLES, cache)
        assert judge.backend.calls == 1
    assert len(cache) == 0 and cache.hits + cache.misses == 0
    assert uncacheable_reason(_judge(scripted, temperature=0.7, seed=3)) is None
    assert uncacheable_reason(_judge(scripted, samples=3, seed=None)) is not None
    assert uncacheable_reason(_judge(scripted, capabilities=None)) is not None, "scripted"


def test_the_default_store_is_on_in_the_cache_root_and_the_environment_turns_it_off(
    tmp_path, monkeypatch, scripted
):
    from judge.runner.cache import default_cache_path, open_cache

    monkeypatch.delenv("JUDGE_JUDGMENT_CACHE")
    monkeypatch.setenv("JUDGE_CACHE_DIR", str(tmp_path / "root"))
    assert default_cache_path() == tmp_path / "root" / "judgments.sqlite"
    reward = RubricReward(RUBRIC, scripted(0.8, capabilities=CACHEABLE))
    assert reward.cache is not None and reward.cache.path == default_cache_path()
    monkeypatch.setenv("JUDGE_JUDGMENT_CACHE", "off")
    assert open_cache(True) is None
    assert open_cache(tmp_path / "given.sqlite") is not None, "an explicit path still wins"


def test_opting_out_never_touches_the_store(tmp_path, monkeypatch, scripted):
    store = tmp_path / "store.sqlite"
    monkeypatch.setenv("JUDGE_JUDGMENT_CACHE", str(store))
    for off in (False, None):
        reward = RubricReward(RUBRIC, scripted(0.8, capabilities=CACHEABLE), cache=off)
        assert reward(["Q?"], ["A"]) == [pytest.approx(0.8)] and reward.cache is None
    assert not store.exists()


def test_a_corrupted_store_degrades_to_no_cache_with_one_warning(tmp_path, scripted, caplog):
    from judge.runner.cache import open_cache

    store = tmp_path / "c.sqlite"
    store.write_bytes(b"this is not a database" * 100)
    with caplog.at_level("WARNING", logger="judge.runner.cache"):
        reward = RubricReward(RUBRIC, scripted(0.8, capabilities=CACHEABLE), cache=store)
        assert reward(["Q?"], ["A"]) == [pytest.approx(0.8)]
    assert reward.cache is None
    assert len([r for r in caplog.records if "judgment cache" in r.getMessage()]) == 1
    (tmp_path / "a-file").write_text("x")
    assert open_cache(tmp_path / "a-file" / "c.sqlite") is None, "an unusable path: no cache"


def test_a_store_locked_by_another_process_degrades_with_one_warning(tmp_path, scripted, caplog):
    from judge.runner.cache import judge_samples

    store = tmp_path / "c.sqlite"
    cache = JudgmentCache(store, busy_timeout_s=0.2)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)",
            str(store),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with caplog.at_level("WARNING", logger="judge.runner.cache"):
            for _ in range(3):
                judge = _judge(scripted)
                judged = judge_samples(judge, SAMPLES, cache)
                assert [j.score for j in judged] == [pytest.approx(0.8)] * 3
                assert judge.backend.calls == 1
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    assert cache.broken is not None and "locked" in cache.broken
    assert len([r for r in caplog.records if "judgment cache" in r.getMessage()]) == 1

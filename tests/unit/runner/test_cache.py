"""The judgment cache: content-addressed, persistent across instances and processes, bounded."""

import subprocess
import sys

import pytest

from judge.reward import RubricReward
from judge.runner.cache import JudgmentCache, sample_key
from judge.types import Judgment, Sample
from tests.conftest import REPO
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
    backend = scripted(0.8)
    reward = RubricReward(RUBRIC, backend, cache=tmp_path / "c.sqlite")
    group = ["4", "4", "four", "4"]  # a GRPO group: the same completion is common
    first = reward(["What is 2+2?"] * 4, group)
    assert first == [pytest.approx(0.8)] * 4
    assert len(backend.batches[0]) == 2 * len(RUBRIC.leaves())  # two distinct samples
    again = reward(["What is 2+2?"] * 2, ["four", "4"])
    assert again == [pytest.approx(0.8)] * 2 and backend.calls == 1, "all answered by the cache"
    assert reward.cache is not None and reward.cache.counts()["hits"] == 2
    other = RubricReward(RUBRIC, scripted(0.8), cache=tmp_path / "c.sqlite", scale=2.0)
    other(["What is 2+2?"], ["4"])  # shaping is not part of the judgment: still a hit
    assert other.cache is not None and other.cache.counts()["hits"] == 1
    changed = RubricReward(
        RUBRIC, scripted(0.8), cache=tmp_path / "c.sqlite", judge_options={"temperature": 0.5}
    )
    changed(["What is 2+2?"], ["4"])  # other settings: never answered by the old judgment
    assert changed.cache is not None and changed.cache.counts()["hits"] == 0

"""The judgment cache never serves what it did not store: edited entries are misses, replaced."""

import json
import logging
import sqlite3

import pytest

from judge.runner.cache import SCHEMA_VERSION, JudgmentCache, judge_samples, open_cache
from judge.types import Judgment, Sample
from tests.unit.commands.test_cache_cli import _judge as run_cli
from tests.unit.commands.test_cache_cli import _rows
from tests.unit.runner.test_cache import _judge

SAMPLES = [Sample(id=f"s{i}", prompt=f"Question {i}?", response=f"Answer {i}.") for i in range(5)]
FALSE_SCORE = 0.123456


def _falsify(store, keys=None) -> int:
    """Edit stored judgments into valid but false ones (another score), as a hand would."""
    db = sqlite3.connect(store)
    rows = db.execute("SELECT key, judgment FROM judgments").fetchall()
    edited = 0
    for key, text in rows:
        if keys is not None and key not in keys:
            continue
        judgment = json.loads(text)
        judgment["score"] = FALSE_SCORE
        Judgment.model_validate(judgment)  # still a valid judgment
        db.execute("UPDATE judgments SET judgment = ? WHERE key = ?", (json.dumps(judgment), key))
        edited += 1
    db.commit()
    db.close()
    return edited


def _cache_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "judge.runner.cache" and r.levelno == logging.WARNING
    ]


def test_edited_entries_are_never_served_warned_once_and_replaced(tmp_path, scripted, caplog):
    store = tmp_path / "judgments.sqlite"
    cache = JudgmentCache(store)
    fresh = judge_samples(_judge(scripted), SAMPLES, cache)
    assert len(cache) == 5 and all(j.score == pytest.approx(0.8) for j in fresh)
    cache.close()
    keys = [k for (k,) in sqlite3.connect(store).execute("SELECT key FROM judgments ORDER BY key")]
    assert _falsify(store, set(keys[:3])) == 3

    cache = JudgmentCache(store)
    rerun = _judge(scripted)
    with caplog.at_level(logging.WARNING, logger="judge.runner.cache"):
        again = judge_samples(rerun, SAMPLES, cache)
    assert [j.score for j in again] == [j.score for j in fresh], "no edited score is served"
    assert FALSE_SCORE not in [j.score for j in again]
    assert rerun.backend.calls == 1, "the three edited entries were judged again, in one batch"
    assert (cache.hits, cache.misses, cache.rejected) == (2, 3, 3)
    warnings = _cache_warnings(caplog)
    assert len(warnings) == 1 and "3 entries failed their digest check" in warnings[0]

    caplog.clear()
    third = _judge(scripted)
    with caplog.at_level(logging.WARNING, logger="judge.runner.cache"):
        judge_samples(third, SAMPLES, cache)
    assert third.backend.calls == 0 and cache.rejected == 3, "the store was repaired"
    assert _cache_warnings(caplog) == []
    stored = [
        json.loads(t) for (t,) in sqlite3.connect(store).execute("SELECT judgment FROM judgments")
    ]
    assert all(j["score"] == pytest.approx(0.8) for j in stored) and len(stored) == 5


def test_an_entry_moved_under_another_key_is_not_served(tmp_path, scripted):
    store = tmp_path / "judgments.sqlite"
    cache = JudgmentCache(store)
    cache.put_many(
        [("k1", Judgment(sample_id="a", score=0.9)), ("k2", Judgment(sample_id="b", score=0.1))]
    )
    db = sqlite3.connect(store)
    # Give k1 the whole entry (text and digest) of k2: each is intact, but not where it was put.
    (text, digest) = db.execute(
        "SELECT judgment, digest FROM judgments WHERE key = 'k2'"
    ).fetchone()
    db.execute("UPDATE judgments SET judgment = ?, digest = ? WHERE key = 'k1'", (text, digest))
    db.commit()
    db.close()
    assert set(cache.get_many(["k1", "k2"])) == {"k2"}
    assert cache.rejected == 1 and len(cache) == 1


def test_a_tampered_store_under_judge_batch_is_judged_again_with_one_warning(tmp_path):
    source = _rows(tmp_path, 6)
    store = tmp_path / "judgments.sqlite"
    code, err, calls = run_cli(
        tmp_path, "batch", str(source), str(tmp_path / "a.jsonl"), store=store
    )
    assert code == 0 and calls == 1, err
    assert _falsify(store) == 6
    code, err, calls = run_cli(
        tmp_path, "batch", str(source), str(tmp_path / "b.jsonl"), store=store
    )
    assert code == 0 and calls == 1, err
    assert err.count("failed their digest check") == 1 and "6 entries" in err
    assert "0 hits, 6 misses" in err
    first = [json.loads(line)["score"] for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    second = [json.loads(line)["score"] for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert second == first and FALSE_SCORE not in second
    code, err, calls = run_cli(
        tmp_path, "batch", str(source), str(tmp_path / "c.jsonl"), store=store
    )
    assert code == 0 and calls == 0 and "6 hits, 0 misses" in err and "digest" not in err


def test_a_store_of_the_older_format_is_dropped_once_with_a_warning(tmp_path, caplog):
    store = tmp_path / "old.sqlite"
    db = sqlite3.connect(store)
    db.execute(
        "CREATE TABLE judgments (key TEXT PRIMARY KEY, judgment TEXT NOT NULL, used REAL NOT NULL)"
    )
    text = Judgment(sample_id="a", score=FALSE_SCORE).model_dump_json()
    db.executemany("INSERT INTO judgments VALUES (?, ?, 0)", [("k1", text), ("k2", text)])
    db.commit()
    db.close()
    with caplog.at_level(logging.WARNING, logger="judge.runner.cache"):
        cache = JudgmentCache(store)
        assert cache.get_many(["k1", "k2"]) == {} and len(cache) == 0
        cache.close()
        JudgmentCache(store).close()  # already upgraded: nothing more to say
    warnings = _cache_warnings(caplog)
    assert len(warnings) == 1 and "2 entries of an older format" in warnings[0]
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    columns = [row[1] for row in db.execute("PRAGMA table_info(judgments)")]
    assert columns == ["key", "judgment", "digest", "used"]


def test_a_store_of_a_newer_format_is_left_alone_and_the_cache_is_off(tmp_path, caplog):
    store = tmp_path / "new.sqlite"
    db = sqlite3.connect(store)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.execute("CREATE TABLE judgments (key TEXT PRIMARY KEY, other TEXT)")
    db.commit()
    db.close()
    with caplog.at_level(logging.WARNING, logger="judge.runner.cache"):
        assert open_cache(store) is None
    warnings = _cache_warnings(caplog)
    assert len(warnings) == 1 and f"store format {SCHEMA_VERSION + 1} is newer" in warnings[0]
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)

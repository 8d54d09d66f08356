"""Importing judge and judging through `Judge`, `RubricReward`, veRL, a batch job and an eval
(scripted backends, no model) leaves the host's process state alone; a fresh interpreter.

tests/integration/test_host_state.py does the same with the local Transformers backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

SCRIPT = r"""
import json, logging, os, sys, tempfile, warnings
from pathlib import Path

def snapshot():
    return {
        "env": dict(os.environ),
        "levels": {
            name: getattr(logger, "level", None)
            for name, logger in logging.root.manager.loggerDict.items()
        },
        "root": [logging.root.level, [repr(h) for h in logging.root.handlers]],
        "filters": [repr(f) for f in warnings.filters],
        "gc": __import__("gc").get_threshold(),
        "signals": [repr(__import__("signal").getsignal(s)) for s in (2, 15)],
    }

# numpy adds warning filters of its own when imported (third-party, not the library's).
import numpy, pydantic, jinja2, yaml
before = snapshot()
import judge, judge.reward, judge.reward.verl, judge.calibration, judge.batch
from judge import Judge, RubricReward, Sample, backends
from judge.batch import BatchOptions, FieldMap, run_batch
from judge.calibration.eval_job import run_eval_job
from judge.reward import verl
from tests.doubles.scripted import always_yes

backends.register_backend("scripted-yes", "tests.doubles.scripted:always_yes")
imported = snapshot()
Judge(always_yes()).score([Sample(id="1", prompt="2+2?", response="4")])
RubricReward("helpfulness", always_yes(), cache=False)(["2+2?"], ["4"])
verl.compute_score("d", "4", "4", {"prompt": "2+2?"}, rubric="helpfulness",
                   backend="scripted-yes", cache=False, return_dict=False)
folder = Path(tempfile.mkdtemp())
rows = folder / "rows.jsonl"
rows.write_text("".join(json.dumps({"id": str(i), "prompt": "q?", "response": "a",
                                    "label": i % 2 == 0}) + "\n" for i in range(4)))
run_batch(rows, folder / "out.jsonl", backend="scripted-yes",
          options=BatchOptions(fields=FieldMap(id="id")), cache=None)
run_eval_job(rows, backend="scripted-yes", output=folder / "eval", n_boot=0, naive=False)
used = snapshot()
print(json.dumps({"before": before, "imported": imported, "used": used}))
"""


def _differences(first: dict, second: dict) -> dict:
    found = {}
    for key in first:
        if key == "levels":  # loggers created later start unset; existing ones keep theirs
            changed = {
                name: (level, second[key].get(name))
                for name, level in first[key].items()
                if second[key].get(name) != level
            }
            changed |= {
                name: (None, level)
                for name, level in second[key].items()
                if name not in first[key] and level not in (0, None)
            }
        elif key == "env":
            names = set(first[key]) | set(second[key])
            changed = {n for n in names if first[key].get(n) != second[key].get(n)}
        else:
            changed = first[key] != second[key]
        if changed:
            found[key] = changed
    return found


def test_importing_and_judging_leaves_the_process_state_alone():
    env = {**os.environ, "PYTHONPATH": str(REPO), "JUDGE_JUDGMENT_CACHE": "off"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert _differences(found["before"], found["imported"]) == {}, "importing judge"
    assert _differences(found["imported"], found["used"]) == {}, "judging"

"""The library leaves its host's process state alone: it runs inside TRL / veRL trainers.

A fresh interpreter imports judge and the third-party libraries, takes a snapshot of the process
state (environment, torch's thread counts, the level of every logger that exists, the root
handlers, transformers' verbosity and progress bars), then builds the local Transformers backend
(the embedded model) and judges with it through `Judge`, `RubricReward` (TRL) and the veRL reward
function; the snapshot must not change. Warning filters added and logger levels set meanwhile
(loading a model imports accelerate, scipy and torch.distributed, which set their own) are
recorded with the file that did it: none may be the library's. Only the `judge` command (its own
process, judge/__main__.py) sets state of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

SCRIPT = r"""
import json, logging, os, sys, warnings
# numpy adds warning filters of its own when imported (third-party, not the library's).
import numpy

env_before_import = dict(os.environ)
filters_before_import = list(warnings.filters)
import judge, judge.reward, judge.reward.verl, judge.calibration, judge.batch
import_env_changed = sorted(
    k for k in set(env_before_import) | set(os.environ)
    if env_before_import.get(k) != os.environ.get(k)
)
import_filters_changed = filters_before_import != list(warnings.filters)
import torch, transformers
# torch sets TORCHINDUCTOR_CACHE_DIR when torch._dynamo is first imported (transformers imports
# it while loading a model): torch's own import side effect, not the library's, so it is
# imported before the snapshot.
import torch._dynamo
from transformers.utils import logging as hf_logging

def snapshot():
    manager = logging.root.manager
    return {
        "env": dict(os.environ),
        "threads": torch.get_num_threads(),
        "interop": torch.get_num_interop_threads(),
        "levels": {
            name: getattr(logger, "level", None) for name, logger in manager.loggerDict.items()
        },
        "root": [logging.root.level, [repr(h) for h in logging.root.handlers]],
        "filters": [repr(f) for f in warnings.filters],
        "hf_verbosity": hf_logging.get_verbosity(),
        "hf_progress": hf_logging.is_progress_bar_enabled(),
    }

# Loading a model imports more third-party modules (accelerate, scipy), which add warning
# filters of their own at import: each filter added (and logger level set) from here on is
# recorded with the file that did it, and none may come from the library.
added = []
def recorded(function):
    def add(*args, **kwargs):
        added.append(sys._getframe(1).f_code.co_filename)
        return function(*args, **kwargs)
    return add
warnings.filterwarnings = recorded(warnings.filterwarnings)
warnings.simplefilter = recorded(warnings.simplefilter)
# The same for logger levels: torch.distributed's loggers, first imported now, come with levels.
logging.Logger.setLevel = recorded(logging.Logger.setLevel)

before = snapshot()
from judge import Judge, RubricReward, Sample
from judge.backends.transformers import TransformersBackend
from judge.reward import verl

backend = TransformersBackend(batch_size=8)
judge_ = Judge(backend, "helpfulness")
[judgment] = judge_.score([Sample(id="1", prompt="What is 2+2?", response="4")])
# One model load: the rewards take the backend object (a name builds the same class).
reward = RubricReward("helpfulness", backend, cache=False)
rewards = reward(["What is 2+2?"], ["4"])
value = verl.compute_score("d", "4", "4", {"prompt": "What is 2+2?"}, rubric="helpfulness",
                           backend=backend, cache=False, return_dict=False)
after = snapshot()
new_loggers = {n: lvl for n, lvl in after["levels"].items() if n not in before["levels"]}
after["levels"] = {n: lvl for n, lvl in after["levels"].items() if n in before["levels"]}
print(json.dumps({
    "import_env_changed": import_env_changed,
    "import_filters_changed": import_filters_changed,
    "before": before, "after": after, "new_loggers": new_loggers, "changed_by": added,
    "judged": judgment.error is None and rewards[0] is not None and value == value,
}))
"""


def test_importing_and_using_the_library_changes_no_process_state():
    quieting = ("HF_HUB_OFFLINE", "TRANSFORMERS_VERBOSITY", "TRANSFORMERS_NO_ADVISORY_WARNINGS")
    env = {
        k: v for k, v in os.environ.items() if k not in (*quieting, "HF_HUB_DISABLE_PROGRESS_BARS")
    }
    # A passive OpenMP wait keeps the model fast on shared cores; lower case, so that a library
    # that assigned its own value would show as a change.
    env["OMP_WAIT_POLICY"] = "passive"
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["judged"], "the backend, the TRL reward and the veRL reward all judged"
    assert found["import_env_changed"] == [], "importing judge set environment variables"
    assert not found["import_filters_changed"], "importing judge added warning filters"
    before, after = found["before"], found["after"]
    changed_env = {
        k
        for k in set(before["env"]) | set(after["env"])
        if before["env"].get(k) != after["env"].get(k)
    }
    assert changed_env == set(), changed_env
    library = (str(REPO / "judge"), str(REPO / "calibration"), str(REPO / "cli.py"))
    assert not [f for f in found["changed_by"] if f.startswith(library)], found["changed_by"]
    for key in ("threads", "interop", "root", "hf_verbosity", "hf_progress"):
        assert before[key] == after[key], (key, before[key], after[key])
    changed = {n for n in before["levels"] if before["levels"][n] != after["levels"][n]}
    assert changed == set(), {n: (before["levels"][n], after["levels"][n]) for n in changed}
    ours = {n: lvl for n, lvl in found["new_loggers"].items() if n.startswith("judge")}
    assert {n: lvl for n, lvl in ours.items() if lvl not in (0, None)} == {}, ours

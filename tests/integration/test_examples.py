"""Every example of examples/ runs as its docs say CI runs it (docs/examples.md).

Each runs in a subprocess from the repository root, as a user would run it: the custom backend
as written; TRL, `judge eval`, `judge tune`, OpenRLHF and Ray on the embedded CPU model; veRL's
config through veRL's own Hydra composition and `validate_config`, and its reward loop on the
example's data with the scripted backend standing in for the judge's SGLang server (a GPU would
be needed).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from judge import backends
from tests.conftest import REPO
from tests.loopback import LOOPBACK_TIMEOUT, SERVER_START_S
from tests.peers import skip_or_fail
from tests.snippets import snippet

EXAMPLES = REPO / "examples"
ROWS = [json.loads(line) for line in (EXAMPLES / "data" / "rows.jsonl").read_text().splitlines()]
PROMPTS = [
    json.loads(line) for line in (EXAMPLES / "data" / "prompts.jsonl").read_text().splitlines()
]


def _run(*command: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command),
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stderr[-4000:]}"
    return result


def test_custom_backend_example_judges_every_row_in_one_backend_call():
    result = _run(sys.executable, "examples/custom_backend.py", "examples/data/rows.jsonl")
    lines = result.stdout.splitlines()
    scores = dict(line.split("\t")[:2] for line in lines[:-1])
    assert list(scores) == [row["id"] for row in ROWS]
    # The stand-in rule says no to a response that only repeats its question, yes otherwise.
    assert scores["r6"] == "score 0.00"
    assert all(scores[row["id"]] == "score 1.00" for row in ROWS[:-1])
    assert "confidence None" in lines[0], "a text-only backend gives no confidence"
    assert lines[-1] == f"{len(ROWS)} samples, 1 backend call(s)"


@pytest.mark.slow
@pytest.mark.embedded_model
def test_trl_grpo_example_trains_one_step_with_the_embedded_judge(tmp_path):
    pytest.importorskip("trl")
    result = _run(
        sys.executable,
        "examples/trl_grpo.py",
        "--policy",
        "tiny",
        "--steps",
        "1",
        "--reasoning",
        "none",
        "--output-dir",
        str(tmp_path / "grpo"),
    )
    [line] = [line for line in result.stdout.splitlines() if line.startswith("step 1:")]
    reward = float(line.split("mean judge reward ")[1].split(",")[0])
    assert 0.0 <= reward <= 1.0 and line.endswith("failure rate 0.00")


@pytest.mark.slow
@pytest.mark.embedded_model
def test_eval_example_writes_a_report_and_a_calibrator(tmp_path):
    _run("bash", "examples/eval/run.sh", "--reasoning", "none", OUT=str(tmp_path))
    records = (tmp_path / "report" / "records.jsonl").read_text().splitlines()
    assert len(records) == 12
    labels = [json.loads(line)["label"] for line in records]
    assert labels.count(True) == labels.count(False) == 6
    assert "## Can I trust this judge?" in (tmp_path / "report" / "report.md").read_text()
    calibrator = json.loads((tmp_path / "calibrator.json").read_text())
    assert calibrator["method"] == "temperature"


@pytest.mark.slow
@pytest.mark.embedded_model
def test_tune_example_writes_a_config_that_judge_config_reads_and_resumes(tmp_path):
    # The command docs/tune.md shows, as written (its output folder moved to tmp_path).
    command = shlex.split(snippet("tune"), comments=True)
    assert command[:2] == ["bash", "examples/tune/run.sh"]
    result = _run(*command, OUT=str(tmp_path))
    summary = json.loads((tmp_path / "tune.json").read_text())
    assert summary["n"] == 12
    assert [c["label"] for c in summary["configs"]] == [
        f"holistic_weight={weight} rubric={rubric}"
        for rubric in ("factual_accuracy", "direct_answer")
        for weight in ("0", "0.5")
    ]
    shared = summary["shared"]
    # Both rubrics' verdicts (1 + 2 criteria), the holistic question and the baseline went in one
    # backend call; the plain question is the same request in the holistic configurations and
    # in every configuration's baseline, so it ran once per item: 12 x (1 + 2 + 1) sent.
    assert shared["backend_calls"] == 1
    assert shared["requests_sent"] == 48
    assert shared["requests_asked"] == 12 * (1 + 1 + 2 + 2) + 12 * 2 + 12 * 4
    chosen = next(c for c in summary["configs"] if c["name"] == summary["best"])
    # `judge --config tuned.yaml score` judged with the chosen configuration.
    judgment = json.loads(result.stdout.strip().splitlines()[-1])
    assert judgment["rubric"] == chosen["rubric"] and 0.0 <= judgment["score"] <= 1.0
    if summary["recommendation"] == "naive":
        assert "no configuration beat the naive baseline" in result.stderr
    # A second run finds every configuration in its journal: no backend call, no model load.
    again = _run(
        "judge",
        *("tune", "examples/data/answers.jsonl", "--grid", "examples/tune/grid.yaml"),
        *("--n-boot", "200", "--reasoning", "none", "--output", str(tmp_path)),
    )
    resumed = json.loads((tmp_path / "tune.json").read_text())
    assert resumed["shared"]["backend_calls"] == 0, again.stdout
    assert [c["quality"] for c in resumed["configs"]] == [c["quality"] for c in summary["configs"]]


def test_view_example_writes_a_static_site_of_the_batch(tmp_path):
    _run("bash", "examples/view/run.sh", "--reasoning", "none", "--no-cache", OUT=str(tmp_path))
    assert len((tmp_path / "scored.jsonl").read_text().splitlines()) == len(ROWS)
    page = (tmp_path / "site" / "index.html").read_text()
    assert "Content-Security-Policy" in page and "static/view.js" in page
    data = (tmp_path / "site" / "static" / "bundle-data.js").read_text()
    bundle = json.loads(data.removeprefix("window.JUDGE_BUNDLE = ").removesuffix(";\n"))
    [run] = bundle["runs"]
    assert [row["id"] for row in run["rows"]] == [row["id"] for row in ROWS]
    assert (tmp_path / "site" / "static" / "view.js").is_file()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.embedded_model
def test_openrlhf_example_serves_rewards_to_its_protocol_client(tmp_path):
    pytest.importorskip("fastapi")
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "JUDGE_SERVE_TOKEN"}
    with log.open("wb") as sink:
        server = subprocess.Popen(
            ["bash", "examples/openrlhf/serve.sh", "--reasoning", "none"],
            cwd=REPO,
            env={**env, "PORT": str(port)},
            stdout=sink,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert server.poll() is None, log.read_text()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=LOOPBACK_TIMEOUT)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "judge serve did not come up"
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/get_reward"
        result = _run(sys.executable, "examples/openrlhf/client.py", url, "--limit", "4")
    finally:
        server.terminate()
        server.wait(30)
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [row["id"] for row in PROMPTS[:4]]
    for line in lines:
        _, reward, failed = line.split("\t")
        assert 0.0 <= float(reward.removeprefix("reward ")) <= 1.0
        assert failed == "judge_failed 0.0"


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.embedded_model
def test_ray_batch_example_judges_the_file_and_resumes(tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "scored"
    command = [sys.executable, "examples/ray_batch.py", "examples/data/rows.jsonl", str(out)]
    command += ["--id-field", "id"]
    first = _run(*command, "--reasoning", "none")
    assert f"judged {len(ROWS)} rows, 0 failed, 0 skipped" in first.stdout
    printed = [line.split("\t") for line in first.stdout.splitlines() if "\t" in line]
    assert [fields[0] for fields in printed] == [row["id"] for row in ROWS]
    assert all(0.0 <= float(fields[1]) <= 1.0 for fields in printed)
    again = _run(*command, "--reasoning", "none")
    assert f"judged 0 rows, 0 failed, {len(ROWS)} skipped" in again.stdout


def _verl_command() -> list[str]:
    """The `python -m verl.trainer.main_ppo ...` line of examples/verl/run.sh, as written."""
    lines = (EXAMPLES / "verl" / "run.sh").read_text().splitlines()
    [line] = [line for line in lines if line.startswith("python -m verl.trainer.main_ppo")]
    return shlex.split(line.replace('"$PWD', f'"{REPO}'))


@pytest.mark.slow
@pytest.mark.verl
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_verl_example_config_passes_validate_config_and_its_reward_loop_calls_the_judge(
    tmp_path, monkeypatch
):
    try:
        import verl
    except ImportError:
        skip_or_fail("verl is not installed (.ci/install-verl.sh installs it)")
    from hydra import compose, initialize_config_dir
    from verl.experimental.reward_loop import RewardLoopWorker
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    from judge.reward import verl as judge_verl
    from tests.integration.test_verl_reward_loop import _byte_tokenizer, _data

    command = _verl_command()
    config_dir = Path(command[command.index("--config-path") + 1])
    config_name = command[command.index("--config-name") + 1]
    assert config_dir == EXAMPLES / "verl" and (config_dir / f"{config_name}.yaml").is_file()
    assert verl.__version__.startswith("0.9.")

    # The data preparation step of run.sh, as written (it writes into the working directory).
    monkeypatch.chdir(tmp_path)
    subprocess.run(
        [sys.executable, str(EXAMPLES / "verl" / "prepare_data.py"), "verl-data"],
        check=True,
        timeout=120,
    )
    # Composed as main_ppo composes it; the model path is a local tokenizer (no download).
    tokenizer_dir = _byte_tokenizer(tmp_path / "tokenizer")
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        config = compose(
            config_name=config_name,
            overrides=[f"actor_rollout_ref.model.path={tokenizer_dir}"],
        )
    # What main_ppo's main() runs before it starts any worker.
    validate_config(
        config=config,
        use_reference_policy=need_reference_policy(config),
        use_critic=need_critic(config),
    )
    assert config.algorithm.adv_estimator == "grpo" and not need_critic(config)

    import pyarrow.parquet as pq

    train = pq.read_table(tmp_path / config.data.train_files).to_pylist()
    assert [row["extra_info"]["prompt"] for row in train] == [p["prompt"] for p in PROMPTS[:-2]]

    monkeypatch.setitem(backends._REGISTRY, "sglang-server", "tests.doubles.reward:graded")
    try:
        worker = RewardLoopWorker(config)
        rows = [
            (
                row["extra_info"]["prompt"],
                row["reward_model"]["ground_truth"],
                row["reward_model"]["ground_truth"],
            )
            for row in train[:3]
        ]
        outputs = worker.loop.run_until_complete(
            worker.compute_score_batch(_data(worker.input_tokenizer, rows))
        )
        [reward] = judge_verl.REWARDS._rewards.values()
        batches = reward.judge.backend.batches
    finally:
        judge_verl.REWARDS.clear()
    assert reward.rubric.name == "helpfulness" and reward.backend == "sglang-server"
    for output in outputs:
        info = output["reward_extra_info"]
        assert info["judge_failed"] == 0.0
        assert output["reward_score"] == info["score"] == info["judge_score"]
    judged = [m.content for batch in batches for r in batch for m in r.messages]
    assert any(PROMPTS[0]["prompt"] in text for text in judged)

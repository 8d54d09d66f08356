"""The docs' veRL, OpenRLHF and `judge batch` snippets (and the README's), run as written (the
judge model behind the `sglang-server` name is the scripted test backend)."""

import asyncio
import importlib
import inspect
import json
import os
import shlex
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from judge import _cli as cli
from judge import backends
from judge.reward import verl
from tests.conftest import REPO
from tests.loopback import LOOPBACK_TIMEOUT, SERVER_START_S
from tests.snippets import snippet

LAUNCH = (
    "import sys; from judge import backends; "
    "backends.register_backend('sglang-server', 'tests.doubles.reward:graded'); "
    "from judge.__main__ import main; sys.argv = ['judge', *sys.argv[1:]]; main()"
)


@pytest.fixture(autouse=True)
def _judge_model_is_scripted(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "sglang-server", "tests.doubles.reward:graded")
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", "tests.doubles.reward:graded")
    yield
    verl.REWARDS.clear()


def _commands(block: str, program: str) -> list[list[str]]:
    """The commands of a shell snippet that start with `program` (continuations joined)."""
    text = block.replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[-1] == "&":
            words = words[:-1]
        if words and words[0] == program:
            commands.append(words)
    return commands


def test_verl_snippet_uses_the_reward_prefixed_keys_and_the_async_function():
    """verl 0.9 reads only ``reward.custom_reward_function.*`` (the top-level keys are ignored);
    tests/integration/test_verl_reward_loop.py runs the recipe through veRL itself."""
    [command] = _commands(snippet("verl"), "python")
    settings = {}
    for word in command[3:]:
        key, _, value = word.lstrip("+").partition("=")
        settings[key] = yaml.safe_load(value)  # Hydra types values the same way
    assert not [k for k in settings if k.startswith(("custom_reward_function", "reward_manager"))]
    path = settings["reward.custom_reward_function.path"]
    assert path.startswith("pkg://")
    module = importlib.import_module(path.removeprefix("pkg://").replace("/", "."))
    compute = getattr(module, settings["reward.custom_reward_function.name"])
    assert inspect.iscoroutinefunction(compute), "veRL's reward loop awaits it"
    prefix = "reward.custom_reward_function.reward_kwargs."
    reward_kwargs: dict = {}
    for key, value in settings.items():
        if key.startswith(prefix):  # dotted keys nest, as Hydra builds them
            *parents, last = key.removeprefix(prefix).split(".")
            into = reward_kwargs
            for parent in parents:
                into = into.setdefault(parent, {})
            into[last] = value

    async def three_items():
        # the naive reward manager's keywords, one call per item, concurrently
        return await asyncio.gather(
            *(
                compute(
                    data_source="gsm8k",
                    solution_str=text,
                    ground_truth="4",
                    extra_info={"prompt": "What is 2+2?", "num_turns": None},
                    **reward_kwargs,
                )
                for text in ("4", "The answer is 4.", "")
            )
        )

    scores = asyncio.run(three_items())
    assert [s["judge_failed"] for s in scores] == [0.0, 0.0, 1.0]
    assert all(isinstance(s["score"], float) for s in scores) and scores[2]["score"] == 0.0
    assert scores[2]["judge_score"] is None, "a failure is not a judgment of 0.0"
    assert len({frozenset(s) for s in scores}) == 1, "veRL stacks the dicts: same keys"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_openrlhf_snippet_serves_the_remote_reward_protocol(tmp_path):
    block = snippet("openrlhf")
    [serve] = _commands(block, "judge")
    [train] = _commands(block, "python")
    url = train[train.index("--reward.remote_url") + 1]
    port = _free_port()
    serve[serve.index("--port") + 1] = str(port)
    url = url.replace(":5000/", f":{port}/")
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *serve[1:]],
            cwd=REPO,
            env={k: v for k, v in os.environ.items() if k != "JUDGE_SERVE_TOKEN"},
            stdout=sink,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if (
                    httpx.get(
                        f"http://127.0.0.1:{port}/health", timeout=LOOPBACK_TIMEOUT
                    ).status_code
                    == 200
                ):
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
        prompt = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
        # openrlhf/utils/agent.py SingleTurnAgentExecutor._fetch_rewards_via_http sends this:
        payload = {"query": [prompt + "4<|im_end|>"], "prompts": [prompt], "labels": ["4"]}
        body = httpx.post(url, json=payload, timeout=LOOPBACK_TIMEOUT).json()
    finally:
        server.terminate()
        server.wait(10)
    assert set(body) == {"rewards", "scores", "extra_logs"}
    assert 0.0 <= body["scores"][0] <= 1.0 and body["rewards"] == body["scores"]
    assert body["extra_logs"]["judge_failed"] == [0.0]


@pytest.mark.parametrize("name", ["batch", "readme-batch"])  # docs/batch/local.md, README.md
def test_batch_snippet_runs_and_its_rerun_resumes(name, tmp_path, monkeypatch, capsys):
    commands = _commands(snippet(name), "judge")
    assert len(commands) >= 2
    monkeypatch.chdir(tmp_path)
    rows = [
        {"id": f"q{i}", "prompt": f"Question {i}?", "response": f"Answer {i}."} for i in range(6)
    ]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    outputs = []
    for command in commands:
        monkeypatch.setattr("sys.argv", [*command, "--backend", "scripted-graded"])
        with pytest.raises(SystemExit) as info:
            cli.main()
        assert info.value.code == 0, capsys.readouterr().err
        outputs.append(capsys.readouterr().err)
    written = [p for p in tmp_path.iterdir() if p.name != "rows.jsonl"]
    # The output and the plan of the finished run (which lets the rerun skip the model load).
    assert sorted(p.name for p in written) == ["scored.parquet", "scored.parquet.plan.json"]
    assert "judged" in outputs[0] and "│ 6 " in outputs[0].split("judged")[1].splitlines()[0]
    assert "nothing to do" in outputs[1] and "all 6 rows" in outputs[1]

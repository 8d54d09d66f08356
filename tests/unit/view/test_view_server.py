"""The viewer's HTTP walls, on a real server on loopback: CSP, Host, token, JSON-only labels."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from judge.view import labels_path, read_labels
from judge.view.server import CSP, ViewServer, serve_view
from tests.view_runs import standard_records, write_jsonl


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ViewServer]:
    run = write_jsonl(tmp_path / "scored.jsonl", standard_records())
    running = serve_view([run], port=0).start()
    yield running
    running.shutdown()


def request(
    server: ViewServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    port = urlsplit(server.url).port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = {"Host": f"127.0.0.1:{port}", **(headers or {})}
    connection.request(method, path, body=body, headers=sent)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    kind = response.getheader("Content-Type") or ""
    payload = json.loads(data) if kind.startswith("application/json") else data
    return response.status, dict(response.getheaders()), payload


def test_every_answer_carries_the_content_security_policy(server: ViewServer) -> None:
    for path in ("/", "/static/view.js", "/api/meta", "/api/nothing"):
        _, headers, _ = request(server, "GET", path)
        assert headers["Content-Security-Policy"] == CSP
        assert headers["X-Content-Type-Options"] == "nosniff"
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    status, _, page = request(server, "GET", "/")
    assert status == 200 and b"<script>" not in page  # no inline script in the page itself
    status, _, _ = request(server, "GET", "/static/../labels.py")
    assert status == 404


def test_a_foreign_host_name_is_refused(server: ViewServer) -> None:
    status, _, payload = request(server, "GET", "/api/meta", headers={"Host": "attacker.test"})
    assert status == 403 and "not this viewer" in payload["error"]


def test_pages_of_rows_and_one_sample(server: ViewServer) -> None:
    status, _, page = request(server, "GET", "/api/rows?sort=score&order=desc&limit=2")
    assert status == 200 and page["total"] == 10
    assert [row["id"] for row in page["rows"]] == ["s9", "s8"]
    assert "text" not in page["rows"][0]  # the texts stay on the server
    status, _, sample = request(server, "GET", "/api/sample?i=9")
    assert sample["record"]["sample_id"] == "s9" and sample["label"] is None
    status, _, payload = request(server, "GET", "/api/rows?sort=prompt")
    assert status == 400 and "sort='prompt'" in payload["error"]


def test_a_label_is_a_json_post_from_this_viewer(server: ViewServer) -> None:
    body = json.dumps({"i": 9, "correct": False}).encode()
    status, _, _ = request(server, "POST", "/api/label", body, {"Content-Type": "text/plain"})
    assert status == 415  # what a cross-site form could send
    evil = {"Content-Type": "application/json", "Origin": "http://attacker.test"}
    status, _, _ = request(server, "POST", "/api/label", body, evil)
    assert status == 403
    status, _, _ = request(
        server,
        "POST",
        "/api/label",
        json.dumps({"i": 9, "better": "c"}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 400
    assert read_labels(labels_path(server.viewer.runs[0].path)) == {}
    status, _, label = request(
        server, "POST", "/api/label", body, {"Content-Type": "application/json"}
    )
    assert status == 200 and label["correct"] is False
    _, _, sample = request(server, "GET", "/api/sample?i=9")
    assert sample["label"]["correct"] is False
    _, _, page = request(server, "GET", "/api/rows?labelled=yes")
    assert [row["id"] for row in page["rows"]] == ["s9"]


def test_off_loopback_the_api_needs_the_token(tmp_path: Path) -> None:
    run = write_jsonl(tmp_path / "scored.jsonl", standard_records())
    running = serve_view([run], host="0.0.0.0", port=0).start()
    try:
        token = running.viewer.token
        assert token and running.url.endswith(f"?token={token}")
        status, _, _ = request(running, "GET", "/api/meta")
        assert status == 401
        status, _, _ = request(running, "GET", "/api/meta", headers={"X-Judge-Token": "wrong"})
        assert status == 401
        status, _, meta = request(running, "GET", "/api/meta", headers={"X-Judge-Token": token})
        assert status == 200 and meta["runs"][0]["rows"] == 10
        status, _, _ = request(running, "GET", "/")  # the page itself holds no data
        assert status == 200
    finally:
        running.shutdown()


def test_the_command_serves_a_run_and_prints_its_address(tmp_path: Path) -> None:
    import subprocess
    import sys
    import urllib.request

    from tests.conftest import REPO

    run = write_jsonl(tmp_path / "scored.jsonl", standard_records())
    command = [sys.executable, "-m", "judge", "view", str(run), "--port", "0", "--read-only"]
    with subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("judge view: http://127.0.0.1:"), line
            with urllib.request.urlopen(line.split()[2] + "api/meta", timeout=10) as answer:
                meta = json.loads(answer.read())
            assert meta["runs"][0]["rows"] == 10 and meta["writable"] is False
        finally:
            process.terminate()
            process.wait(timeout=10)

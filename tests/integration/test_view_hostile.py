"""Judged text is data in `judge view` too: hostile strings in every field stay text in a browser.

Every string field of a pointwise, a failed, a chat and a pairwise judgment (ids, prompt,
messages and roles, responses, reference, criterion ids, rationales, errors and their kinds,
model, rubric, strategy, route, fingerprints, caps, details, extra input columns), the probe
report's attack names and the second run's ids hold script tags, event handlers, `javascript:`
links and a Unicode direction override. The served page and the static bundle are opened in
headless Chromium; each field must be in the DOM as exactly that text, no element or handler may
come from it, and nothing may run (each payload would set ``window.__pwned``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judge.view.bundle import write_bundle
from judge.view.server import ViewServer, serve_view
from tests.browser import chromium, open_page, severe_console_messages, wait_for

pytestmark = pytest.mark.browser

PAYLOADS = (
    '<script>window.__pwned = "script"</script>',
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    'javascript:window.__pwned="link"',
    "<a href=\"javascript:window.__pwned='a'\">click</a>",
    "\u202egnp.exe\u202c",
    '"><svg onload="window.__pwned=\'svg\'"></svg>',
    "<style>body{display:none}</style>",
    "&lt;b&gt; &amp; {{7*7}} ${7*7}",
)


def hostile(field: str) -> str:
    """The hostile text of one field, named so a test can tell which field it found."""
    return f"{field}: " + " ".join(PAYLOADS)


def _pointwise(score: float) -> dict[str, Any]:
    return {
        "row": 1,
        "id": hostile("id"),
        "sample_id": hostile("id"),
        "job_fingerprint": hostile("job_fingerprint"),
        "score": score,
        "confidence": 0.7,
        "verdicts": [
            {
                "criterion_id": hostile("criterion_id"),
                "verdict": "yes",
                "p_yes": 0.8,
                "rationale": hostile("rationale"),
                "error": None,
                "error_kind": None,
            },
            {
                "criterion_id": hostile("criterion_id_2"),
                "verdict": None,
                "p_yes": None,
                "rationale": "",
                "error": hostile("verdict_error"),
                "error_kind": "unparseable",
            },
        ],
        "model": hostile("model"),
        "rubric": hostile("rubric"),
        "rubric_fingerprint": hostile("rubric_fingerprint"),
        "template_fingerprint": "t",
        "settings_fingerprint": "s",
        "strategy": hostile("strategy"),
        "mode": "pointwise",
        "capped_by": [hostile("capped_by")],
        "error": None,
        "error_kind": None,
        "route": {"route": "objective", "source": "model", "note": hostile("route_note")},
        "details": json.dumps({"note": hostile("details")}),
        "prompt": hostile("prompt"),
        "response": hostile("response"),
        "reference": hostile("reference"),
        hostile("extra_key"): hostile("extra_value"),
    }


def _records(score: float) -> list[dict[str, Any]]:
    failed = {
        "row": 2,
        "id": hostile("failed_id"),
        "sample_id": hostile("failed_id"),
        "score": None,
        "verdicts": [],
        "error": hostile("error"),
        "error_kind": hostile("error_kind"),
        "rubric": "r",
        "prompt": "p",
        "response": "r",
    }
    chat = {
        "row": 3,
        "id": "chat",
        "sample_id": "chat",
        "score": 0.5,
        "verdicts": [],
        "messages": [{"role": hostile("role"), "content": hostile("message")}],
        "response": hostile("chat_response"),
    }
    pair = {
        "row": 4,
        "id": hostile("pair_id"),
        "pair_id": hostile("pair_id"),
        "p_a": 0.55,
        "winner": "a",
        "consistent": False,
        "p_a_ab": 0.7,
        "p_a_ba": 0.4,
        "winner_ab": "a",
        "winner_ba": "b",
        "margin": 0.1,
        "strategy": "direct",
        "details": json.dumps({"flip": hostile("pair_details")}),
        "prompt": hostile("pair_prompt"),
        "response_a": hostile("response_a"),
        "response_b": hostile("response_b"),
    }
    return [_pointwise(score), failed, chat, pair]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    first = _write(folder / "first.jsonl", _records(0.4))
    second = _write(folder / "second.jsonl", _records(0.9))
    probe = folder / "probe-report"
    probe.mkdir()
    attack = {"name": hostile("attack"), "role": "attack", "acceptance": {"value": 0.5}}
    (probe / "probe.json").write_text(json.dumps({"attacks": [attack]}), encoding="utf-8")
    return first, second, probe


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from chromium(tmp_path_factory.mktemp("profile"))


@pytest.fixture(scope="module")
def server(runs: tuple[Path, Path, Path]) -> Iterator[ViewServer]:
    first, second, _ = runs
    running = serve_view([first, second], port=0).start()
    yield running
    running.shutdown()


INSPECT = """
const bad = [];
for (const node of document.querySelectorAll('*')) {
  for (const attr of node.attributes) {
    if (attr.name.toLowerCase().startsWith('on')) bad.push(node.tagName + ' ' + attr.name);
    if (/^\\s*javascript:/i.test(attr.value)) bad.push(node.tagName + ' ' + attr.name);
  }
}
return {
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  scripts: Array.from(document.scripts).map((s) => s.getAttribute('src')),
  foreign: document.querySelectorAll('img, iframe, object, embed, style, main a:not([href^="#"])')
    .length,
  bad,
  texts: Array.from(document.querySelectorAll('[data-field], option, svg text'))
    .map((n) => n.textContent),
  bodyShown: getComputedStyle(document.body).display !== 'none',
};
"""


def assert_safe(driver: Any, fields: list[str]) -> list[str]:
    """Nothing ran or was built from the data; each field is in the DOM as its exact text."""
    found = driver.execute_script(INSPECT)
    assert found["pwned"] is None, f"a payload ran: {found['pwned']}"
    assert found["scripts"] == ["static/bundle-data.js", "static/view.js"]
    assert found["foreign"] == 0 and found["bad"] == [], found["bad"]
    assert found["bodyShown"]
    texts = found["texts"]
    missing = [f for f in fields if not any(hostile(f) in text for text in texts)]
    assert missing == [], f"fields not shown as text: {missing}"
    return list(texts)


def _sample_url(base: str, position: int, run: int = 0) -> str:
    return f"{base}#/sample?run={run}&i={position}"


def test_every_field_of_the_served_pages_stays_text(driver: Any, server: ViewServer) -> None:
    base = server.url
    open_page(driver, base + "#/list", "list")
    texts = assert_safe(driver, ["id", "failed_id", "pair_id", "rubric", "strategy", "error_kind"])
    assert hostile("rubric") + " (1)" in texts  # the facet's option, with its count

    open_page(driver, _sample_url(base, 0), "sample")
    pointwise = ["id", "prompt", "response", "reference", "criterion_id", "criterion_id_2"]
    pointwise += ["rationale", "verdict_error", "model", "rubric", "strategy", "capped_by"]
    pointwise += ["extra_key", "extra_value", "details", "job_fingerprint", "route_note"]
    texts = assert_safe(driver, pointwise)
    prompt = driver.find_element("css selector", '[data-field="prompt"]')
    assert prompt.get_property("textContent") == hostile("prompt")
    assert prompt.value_of_css_property("unicode-bidi") == "isolate"
    raw = driver.find_element("css selector", '[data-field="raw"]').get_property("textContent")
    assert json.loads(raw)["response"] == hostile("response")
    # the other run's record of the same id is shown beside it
    assert any(hostile("criterion_id") == text for text in texts)

    open_page(driver, _sample_url(base, 1), "sample")
    assert_safe(driver, ["failed_id", "error", "error_kind"])
    open_page(driver, _sample_url(base, 2), "sample")
    assert_safe(driver, ["role", "message", "chat_response"])
    open_page(driver, _sample_url(base, 3), "sample")
    assert_safe(driver, ["pair_id", "pair_prompt", "response_a", "response_b", "pair_details"])

    open_page(driver, base + "#/compare", "compare")
    assert_safe(driver, ["id"])
    open_page(driver, base + "#/plots", "plots")
    assert_safe(driver, [])
    assert severe_console_messages(driver) == []


def test_the_probe_plot_keeps_attack_names_as_text(
    driver: Any, runs: tuple[Path, Path, Path]
) -> None:
    running = serve_view([runs[2]], port=0, read_only=True).start()
    try:
        open_page(driver, running.url + "#/plots", "plots")
        assert_safe(driver, ["attack"])
    finally:
        running.shutdown()


def test_the_static_bundle_keeps_every_field_as_text(
    driver: Any, runs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    index = write_bundle([runs[0], runs[1]], tmp_path / "site")
    open_page(driver, index.as_uri() + "#/list", "list")
    assert_safe(driver, ["id", "failed_id", "pair_id", "rubric"])
    open_page(driver, index.as_uri() + "#/sample?run=0&i=0", "sample")
    assert_safe(driver, ["prompt", "response", "reference", "rationale", "extra_value"])
    assert str(runs[0].parent) not in index.parent.joinpath("static", "bundle-data.js").read_text()
    # queries run in the page on the bundle's copy
    open_page(driver, index.as_uri() + "#/list", "list")
    driver.find_element("css selector", '[data-field="filter-q"]').send_keys("pair_prompt\n")
    wait_for(
        lambda: driver.find_element("css selector", '[data-field="count"]').text == "1–1 of 1",
        what="the bundle's text filter",
    )
    assert severe_console_messages(driver) == []

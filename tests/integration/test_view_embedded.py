"""`judge view` end to end: a real `judge batch` of the embedded model, in headless Chromium.

Two runs of the same rows (the helpfulness and the honesty rubric) are opened side by side;
the test filters the list, opens a sample, labels judgments (as a whole and per criterion),
reloads and sees its labels, looks at the plots and the comparison, then fits a calibrator on
the labels with `judge calibrate fit --labels`. With JUDGE_DOCS_SCREENSHOTS=1 it saves the
docs' screenshots.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judge.view import labels_path, read_labels
from judge.view.server import serve_view
from tests.browser import (
    chromium,
    open_page,
    rendered,
    screenshot,
    severe_console_messages,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROWS = [
    {"id": "q1", "prompt": "What is the capital of France?", "response": "Paris."},
    {"id": "q2", "prompt": "How many legs does a spider have?", "response": "Eight."},
    {"id": "q3", "prompt": "How many legs does a spider have?", "response": "Six, like insects."},
    {"id": "q4", "prompt": "What is 12 times 12?", "response": "144."},
    {"id": "q5", "prompt": "Name a primary colour.", "response": "<script>alert(1)</script>"},
    {"id": "q6", "prompt": "Which planet is closest to the Sun?", "response": "Mars."},
]


def judge_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real `judge` command line (python -m judge) and fail with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "judge", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=None,
    )
    assert done.returncode == 0, f"judge {' '.join(args)}: {done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("view-e2e")
    rows = folder / "rows.jsonl"
    rows.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    outputs = []
    for rubric in ("helpfulness", "honesty"):
        output = folder / f"scored-{rubric}.jsonl"
        judge_cli(
            "batch", str(rows), str(output), "--rubric", rubric, "--id-field", "id",
            "--reasoning", "none", "--no-cache", cwd=folder,
        )  # fmt: skip
        outputs.append(output)
    return outputs[0], outputs[1]


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from chromium(tmp_path_factory.mktemp("profile"))


def count(driver: Any) -> str:
    return str(driver.find_element("css selector", '[data-field="count"]').text)


def click(driver: Any, selector: str, page: str) -> None:
    element = driver.find_element("css selector", selector)
    rendered(driver, page, element.click)


def test_filter_open_label_reload_then_calibrate(driver: Any, runs: tuple[Path, Path]) -> None:
    first_run, second_run = runs
    server = serve_view([first_run, second_run], port=0).start()
    base = server.url
    try:
        open_page(driver, base + "#/list?run=0&sort=score&order=desc", "list")
        assert count(driver) == "1–6 of 6"
        screenshot(driver, "list")

        search = driver.find_element("css selector", '[data-field="filter-q"]')
        rendered(driver, "list", lambda: search.send_keys("spider\n"))
        assert count(driver) == "1–2 of 2"
        cells = driver.find_elements("css selector", 'table.rows [data-field="id"]')
        assert [cell.text for cell in cells] == ["q2", "q3"]

        open_page(driver, base + "#/list?run=0&sort=score&order=desc", "list")
        click(driver, "table.rows tbody tr a", "sample")
        screenshot(driver, "sample")
        # the best-scored four: right, wrong, right, wrong (both gold classes, whatever scores)
        for position, choice in enumerate(("right", "wrong", "right", "wrong")):
            if position:
                click(driver, '[data-field="next"]', "sample")
            click(driver, f'[data-field="label-{choice}"]', "sample")
            current = driver.find_element("css selector", '[data-field="label-current"]').text
            assert current.startswith(f"your label: {choice}")
        # and one criterion of the last one
        click(driver, '[data-field="criterion-wrong"]', "sample")
        driver.refresh()
        wait_for(lambda: driver.execute_script("return document.body.dataset.ready") == "sample")
        current = driver.find_element("css selector", '[data-field="label-current"]').text
        assert current.startswith("your label: wrong")
        marked = driver.find_elements("css selector", '[data-field="criterion-wrong"].on')
        assert len(marked) == 1

        open_page(driver, base + "#/list?run=0&labelled=yes", "list")
        assert count(driver) == "1–4 of 4"
        open_page(driver, base + "#/plots?run=0", "plots")
        assert driver.find_elements("css selector", 'svg[data-field="reliability"] circle')
        screenshot(driver, "plots")
        open_page(driver, base + "#/compare", "compare")
        summary = driver.find_element("css selector", "main p").text
        assert summary.startswith("6 judgments in both")
        screenshot(driver, "compare")
        open_page(driver, base + "#/list?run=0&q=script", "list")
        assert driver.execute_script("return document.querySelectorAll('main script').length") == 0
        assert severe_console_messages(driver) == []
    finally:
        server.shutdown()

    labels = labels_path(first_run)
    assert len(read_labels(labels)) == 4
    calibrator = first_run.parent / "calibrator.json"
    judge_cli(
        "calibrate", "fit", "--labels", str(labels), "--output", str(calibrator),
        "--holdout", "0.5", cwd=first_run.parent,
    )  # fmt: skip
    fitted = json.loads(calibrator.read_text())
    first = json.loads(first_run.read_text().splitlines()[0])
    assert fitted["fingerprint"]["model"] == first["model"]
    assert fitted["fingerprint"]["settings_fingerprint"] == first["settings_fingerprint"]

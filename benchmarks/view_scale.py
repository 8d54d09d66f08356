"""`judge view` at scale: opening, first paint and filters on a run of 100,000 judgments.

The run is synthetic but shaped like a `judge batch` output of the helpfulness rubric (5
criteria with P(yes), a prompt of ~300 and a response of ~600 characters, 5% failures of three
kinds, 10% capped, two strategies and two rubrics), written as JSONL and as Parquet. For each:

- open: `open_run` (reading the file and building the server's index), the viewer's start-up;
- API: the server's answer to the first page and to each filter (median of `--repeat`), and
  its size in bytes against the file's;
- browser (where Debian's chromium and chromedriver are installed): the first paint (page load
  to the rendered list) and a filter (hash change to the re-rendered list) in headless Chromium;
- side by side at `--bundle-rows` rows: the served page (paged on the server) against the static
  bundle (the whole run in the browser), first paint in the same browser.

    python benchmarks/view_scale.py --rows 100000 --repeat 5 --bundle-rows 20000
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENTENCE = (
    "the spider has eight legs and the answer is clear because the question asks for a number "
    "paris is the capital of france while lyon is a city the response explains each step"
)
WORDS = SENTENCE.split(" ")
RARE = "tarantula"
"""A word in 1% of the prompts: the text search's needle."""
FILTERS = {
    "first page": {},
    "text search (1% match)": {"q": RARE},
    "failures (any kind)": {"error_kind": "any"},
    "sort by score, descending": {"sort": "score", "order": "desc"},
    "capped + depth + score <= 0.5": {"capped": "yes", "strategy": "depth", "score_max": "0.5"},
    "text + sort + page 20": {"q": "paris", "sort": "confidence", "offset": "950"},
}


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def records(rows: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    kinds = ("unparseable", "truncated", "timeout")
    made = []
    for index in range(rows):
        failed = rng.random() < 0.05
        p = [rng.random() for _ in range(5)]
        score = None if failed else sum(p) / 5
        made.append(
            {
                "row": index + 1,
                "id": f"s{index}",
                "input_error": None,
                "input_error_kind": None,
                "job_fingerprint": "job",
                "sample_id": f"s{index}",
                "score": score,
                "confidence": None if failed else sum(max(x, 1 - x) for x in p) / 5,
                "verdicts": []
                if failed
                else [
                    {
                        "criterion_id": f"c{k}",
                        "verdict": "yes" if x >= 0.5 else "no",
                        "p_yes": x,
                        "rationale": text(rng, 12),
                        "error": None,
                        "error_kind": None,
                    }
                    for k, x in enumerate(p)
                ],
                "model": "synthetic",
                "rubric": rng.choice(("helpfulness", "honesty")),
                "rubric_fingerprint": "rf",
                "template_fingerprint": "tf",
                "settings_fingerprint": "sf",
                "strategy": rng.choice(("breadth", "depth")),
                "mode": "pointwise",
                "capped_by": ["c0"] if not failed and rng.random() < 0.1 else [],
                "usage": {"prompt_tokens": 900, "completion_tokens": 60, "cached_tokens": 700},
                "error": "it failed" if failed else None,
                "error_kind": rng.choice(kinds) if failed else None,
                "route": None,
                "consistency": None,
                "likert": None,
                "details": "{}",
                "prompt": text(rng, 50) + (f" {RARE}" if rng.random() < 0.01 else ""),
                "response": text(rng, 100),
            }
        )
    return made


def write_runs(folder: Path, rows: int) -> dict[str, Path]:
    from judge.batch.files import records_table

    made = records(rows)
    jsonl = folder / f"run-{rows}.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in made), encoding="utf-8")
    import pyarrow.parquet as pq

    parquet = folder / f"run-{rows}.parquet"
    pq.write_table(records_table(list(made[0]), made), parquet)
    return {"jsonl": jsonl, "parquet": parquet}


def api(url: str, path: str, params: dict[str, str]) -> tuple[float, int, dict[str, Any]]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    start = time.perf_counter()
    connection.request("GET", f"/api/{path}?{query}")
    body = connection.getresponse().read()
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed, len(body), json.loads(body)


def median_api(url: str, params: dict[str, str], repeat: int) -> tuple[float, int, int]:
    times, size, total = [], 0, 0
    for _ in range(repeat):
        elapsed, size, page = api(url, "rows", {"limit": "50", **params})
        times.append(elapsed)
        total = page["total"]
    return statistics.median(times), size, total


def browser(profile: Path) -> Any:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.browser import FLAGS

    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(executable_path=str(shutil.which("chromedriver")))
    return webdriver.Chrome(options=options, service=service)


def paint(driver: Any, url: str, page: str = "list") -> float:
    """Seconds from navigation to the rendered page (a fresh load, nothing cached)."""
    driver.get("about:blank")
    start = time.perf_counter()
    driver.get(url)
    while driver.execute_script("return document.body && document.body.dataset.ready") != page:
        time.sleep(0.005)
    return time.perf_counter() - start


def rerender(driver: Any, hash_part: str) -> float:
    """Seconds from a filter change (the address's hash) to the re-rendered list."""
    driver.execute_script("delete document.body.dataset.ready")
    start = time.perf_counter()
    driver.execute_script("location.hash = arguments[0]", hash_part)
    while driver.execute_script("return document.body.dataset.ready") != "list":
        time.sleep(0.005)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--bundle-rows", type=int, default=20_000)
    args = parser.parse_args()

    from judge.view import open_run
    from judge.view.bundle import write_bundle
    from judge.view.server import serve_view

    work = Path(tempfile.mkdtemp(prefix="view-scale-"))
    try:
        start = time.perf_counter()
        runs = write_runs(work, args.rows)
        print(f"wrote {args.rows} rows in {time.perf_counter() - start:.1f} s")
        driver = browser(work / "profile")
        for fmt, path in runs.items():
            size = path.stat().st_size
            start = time.perf_counter()
            run = open_run(path)
            opened = time.perf_counter() - start
            print(f"\n## {fmt}: {path.name}, {size / 1e6:.1f} MB, {len(run)} rows")
            print(f"open (read + index): {opened:.2f} s; index {run.index.nbytes / 1e6:.1f} MB")
            server = serve_view([path], port=0, read_only=True).start()
            try:
                print("| query | matches | API median ms | bytes | bytes / file |")
                print("|---|---:|---:|---:|---:|")
                for name, params in FILTERS.items():
                    elapsed, body, total = median_api(server.url, params, args.repeat)
                    share = body / size
                    print(f"| {name} | {total} | {elapsed * 1e3:.0f} | {body} | {share:.2e} |")
                elapsed, body, _ = api(server.url, "sample", {"i": str(args.rows // 2)})
                print(f"open one sample: {elapsed * 1e3:.0f} ms, {body} bytes")
                if driver is not None:
                    paints = [paint(driver, server.url + "#/list") for _ in range(args.repeat)]
                    print(f"browser first paint: median {statistics.median(paints) * 1e3:.0f} ms")
                    filters = [
                        rerender(driver, f"#/list?q={RARE}&sort=score&order=desc&n={k}")
                        for k in range(args.repeat)
                    ]
                    median = statistics.median(filters) * 1e3
                    print(f"browser filter (text + sort): median {median:.0f} ms")
            finally:
                server.shutdown()
        if driver is not None and args.bundle_rows:
            small = write_runs(work, args.bundle_rows)["parquet"]
            server = serve_view([small], port=0, read_only=True).start()
            try:
                served = statistics.median(
                    paint(driver, server.url + "#/list") for _ in range(args.repeat)
                )
            finally:
                server.shutdown()
            index = write_bundle([small], work / "bundle")
            bundle_bytes = (work / "bundle" / "static" / "bundle-data.js").stat().st_size
            bundled = statistics.median(
                paint(driver, index.as_uri() + "#/list") for _ in range(args.repeat)
            )
            print(f"\n## side by side at {args.bundle_rows} rows: first paint")
            print(f"served (paged on the server): {served * 1e3:.0f} ms")
            whole = f"whole run in the browser, {bundle_bytes / 1e6:.1f} MB"
            print(f"static bundle ({whole}): {bundled * 1e3:.0f} ms")
            print(f"bundle / served: {bundled / served:.1f}x")
        if driver is not None:
            driver.quit()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

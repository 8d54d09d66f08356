"""A real, headless Chromium for the viewer's tests (Debian's chromium + chromium-driver).

The browser tests skip, with the reason, where Chromium or Selenium is absent, except under
``JUDGE_REQUIRE_PEERS=1`` (`make test-browser` in CI sets it), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.peers import skip_or_fail

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
SCREENSHOTS = os.environ.get("JUDGE_DOCS_SCREENSHOTS") == "1"
"""Write the docs' screenshots (docs/view/*.png) from the browser tests: `make view-screenshots`."""


def chromium(profile: Path) -> Iterator[Any]:
    """A headless Chromium driven through chromedriver, with a fresh profile; quit at the end."""
    browser = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        skip_or_fail("chromium and chromium-driver are not installed (apt-get install -y ...)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(driver_path)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(
    check: Callable[[], Any], timeout: float = 15.0, what: str = "the page", step: float = 0.05
) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as exc:  # the element may be replaced while the page renders
            last = exc
            value = None
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}" + (f" ({last})" if last else ""))


def open_page(driver: Any, url: str, page: str) -> None:
    """Go to `url` and wait until the viewer has rendered `page` (list, sample, plots, compare)."""
    driver.execute_script("if (document.body) delete document.body.dataset.ready")
    driver.get(url)
    wait_for(
        lambda: (
            driver.execute_script("return document.body && document.body.dataset.ready") == page
        ),
        what=f"the {page} page at {url}",
    )


def rendered(driver: Any, page: str, action: Callable[[], None]) -> None:
    """Run `action` (a click, a filter change) and wait for the viewer to render `page` again."""
    driver.execute_script("delete document.body.dataset.ready")
    action()
    wait_for(
        lambda: driver.execute_script("return document.body.dataset.ready") == page,
        what=f"the {page} page to render again",
    )


def severe_console_messages(driver: Any) -> list[str]:
    """Errors the page logged: script errors, refused content (CSP), failed requests."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver: Any, name: str) -> None:
    """Save a screenshot for the docs (docs/view/NAME.png) when JUDGE_DOCS_SCREENSHOTS=1."""
    if not SCREENSHOTS:
        return
    folder = Path(__file__).resolve().parents[1] / "docs" / "view"
    folder.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(1600, max(700, int(height) + 20)))
    try:
        driver.save_screenshot(str(folder / f"{name}.png"))
    finally:
        driver.set_window_size(1400, 1000)

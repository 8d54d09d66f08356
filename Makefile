# `make check` runs exactly what CI runs after installing (see .ci/run and the README).
PYTHON ?= python

.PHONY: check lint typecheck docs check-wheel test test-browser test-deps test-conformance test-server \
	test-fast lock check-latest view-screenshots

# Every test that needs neither llama.cpp's server, nor verl, nor the sglang wheels runs before
# they are installed (the server's build takes minutes on a fresh machine), so a failure shows
# early; coverage is the union of the three runs.
check: lint typecheck docs check-wheel test test-deps test-browser test-conformance test-server

lint:
	ruff check judge calibration cli.py tests benchmarks examples docs/hooks
	ruff format --check judge calibration cli.py tests benchmarks examples docs/hooks

typecheck:
	mypy judge

# The docs site (docs/, mkdocs.yml): a broken link, a missing page or an API reference that does
# not resolve fails the strict build. The CLI reference is rendered from the Typer app.
docs:
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --site-dir $${TMPDIR:-/tmp}/judge-docs-site

# The wheel in a fresh venv, outside the checkout: only `judge` installed; `judge rubric list` and
# `judge score` on the embedded model (.ci/check-wheel.sh).
check-wheel:
	bash .ci/check-wheel.sh

test:
	$(PYTHON) -m pytest -m "not llama_server and not verl and not sglang_conformance and not browser" \
		--cov --cov-report=

# `judge view` in headless Chromium (Debian's chromium + chromium-driver, installed by the
# README's set-up command); here a missing browser is a failure, not a skip.
test-browser:
	JUDGE_REQUIRE_PEERS=1 $(PYTHON) -m pytest -m browser --cov --cov-append --cov-report=

# Rewrite the viewer's screenshots in docs/view/ from the end-to-end browser test.
view-screenshots:
	JUDGE_DOCS_SCREENSHOTS=1 $(PYTHON) -m pytest -m browser tests/integration/test_view_embedded.py

test-deps:
	bash .ci/install-sglang-conformance.sh
	bash .ci/install-llama-server.sh
	bash .ci/install-verl.sh

# Our SGLang payloads through the pinned sglang wheel's own request classes (no GPU needed).
test-conformance:
	JUDGE_REQUIRE_PEERS=1 $(PYTHON) -m pytest -m sglang_conformance --cov --cov-append --cov-report=

test-server:
	JUDGE_REQUIRE_PEERS=1 $(PYTHON) -m pytest \
		-m "llama_server or verl" --cov --cov-append \
		--cov-report=term:skip-covered

test-fast:
	$(PYTHON) -m pytest -m "not slow"

# Regenerate constraints.txt (the pinned set the README installs) from the newest allowed versions.
lock:
	bash .ci/lock.sh

# The fast and embedded-model tests on the newest allowed versions, in a throw-away venv.
check-latest:
	bash .ci/check-latest.sh

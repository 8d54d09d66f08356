# `make check` runs exactly what CI runs after installing (see .ci/run and the README).
PYTHON ?= python

.PHONY: check lint typecheck test test-deps test-fast

check: lint typecheck test-deps test

lint:
	ruff check judge calibration cli.py tests benchmarks
	ruff format --check judge calibration cli.py tests benchmarks

typecheck:
	mypy judge calibration

test-deps:
	bash .ci/install-llama-server.sh

test:
	$(PYTHON) -m pytest --cov --cov-report=term:skip-covered

test-fast:
	$(PYTHON) -m pytest -m "not slow"

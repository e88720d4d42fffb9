# Quick start: `make run` serves rosterd on http://127.0.0.1:8080 (SQLite in ./var);
# `make test` installs the dev tools and runs lint, types and the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test lint typecheck pytest install dev clean bench wrk chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

run: install
	$(BIN)/rosterd serve --host $(HOST) --port $(PORT)

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: dev
	$(BIN)/mypy

# wrk drives the benchmarks; the suite's bench smoke test needs it too (see .ci/run).
wrk:
	@command -v wrk >/dev/null || apt-get install -y wrk || sudo apt-get install -y wrk \
		|| echo "wrk could not be installed: the bench smoke test will be skipped"

# Debian's chromium runs the admin console's browser tests (Playwright drives it; its own
# browser download is not used). Required in CI (see .ci/run).
chromium:
	@command -v chromium >/dev/null || apt-get install -y chromium || sudo apt-get install -y chromium \
		|| echo "chromium could not be installed: the console's browser tests will be skipped"

pytest: dev wrk chromium
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# `make bench` runs the quick suite (100,000 users); `make bench FULL=1` the full one.
bench: dev wrk
	$(BIN)/python -m bench.run $(if $(FULL),--users 1000000 --runs 3,--users 100000 --runs 3)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

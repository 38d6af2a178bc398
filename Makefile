# The two commands of the README: `make run` and `make test`. Both set everything up first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install clients run test lint lock bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# `make run PORT=8080 HOST=0.0.0.0` serves elsewhere than http://127.0.0.1:8000.
HOST ?= 127.0.0.1
PORT ?= 8000
run: install
	$(BIN)/campaign-graph migrate
	$(BIN)/campaign-graph demo
	$(BIN)/campaign-graph serve --host $(HOST) --port $(PORT)

test: install clients
	$(BIN)/python -m pytest

# The real clients the suite drives (graphql-http audit, graphql-ws, playwright-core for
# Chromium), from the npm registry; without npm those tests are skipped.
clients: tests/clients/node_modules/.package-lock.json

tests/clients/node_modules/.package-lock.json: tests/clients/package.json tests/clients/package-lock.json
	@if command -v npm >/dev/null 2>&1; then cd tests/clients && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: tests with real clients are skipped"; fi

# ruff (format and rules), mypy (no errors), and the layers contract (pyproject.toml).
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Refresh the lock file after changing pyproject.toml's dependencies.
lock:
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet -o requirements.lock

# Benchmarks (not part of `make test`): 1,000,000 recipients on SQLite, then on a throwaway
# PostgreSQL when its server is installed; each run's table is appended to BENCHMARKS.md.
BENCH_ARGS ?= --recipients 1000000
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS) --record BENCHMARKS.md
	if $(BIN)/python -c "import sys; from tests.postgres_server import find_binaries; sys.exit(find_binaries() is None)"; then \
		$(BIN)/python -m bench $(BENCH_ARGS) --postgres --record BENCHMARKS.md; fi

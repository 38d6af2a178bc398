# The two commands of the README: `make run` and `make test`. Both set everything up first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install run test lint lock bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

run: install
	$(BIN)/campaign-graph migrate
	$(BIN)/campaign-graph demo
	$(BIN)/campaign-graph serve

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

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

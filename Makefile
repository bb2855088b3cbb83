# `make run` serves the dashboard on http://127.0.0.1:8000; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The test suite's PostgreSQL and Redis (pytest also defaults to these, see pyproject.toml).
TEST_ENV := DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/flowsdash REDIS_URL=redis://127.0.0.1:6379/15
# make run [PORT=8000] [HOST=127.0.0.1] [VERBOSE=1]: development mode, SQLite under var/ unless
# DATABASE_URL says otherwise, the sandbox Meta; web, worker and beat from Procfile.dev (honcho).

.PHONY: run test bench lint fmt services clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/pip install -q -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/python -c 'import django, celery, selenium, pytest_django'
	touch $(STAMP)

services:
	./scripts/ensure-services.sh

run: $(STAMP)
	RUN_PORT=$(or $(PORT),8000) RUN_HOST=$(or $(HOST),127.0.0.1) ./scripts/run-dev.sh

test: $(STAMP) services
	$(TEST_ENV) $(BIN)/python -m pytest -q $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench]' 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/python -c 'import gunicorn, pywa, starlette, uvicorn'
	touch $(BENCH_STAMP)

# The benchmarks, then the endpoint's test module once more against the production server (granian).
bench: $(BENCH_STAMP) services
	$(TEST_ENV) $(BIN)/python -m pytest -q -s benchmarks $(PYTEST_ARGS)
	$(TEST_ENV) $(BIN)/python -m pytest -q -p benchmarks.over_production_server tests/test_endpoint.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var test-output

# `make run` serves the dashboard on http://127.0.0.1:8000; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The test suite's PostgreSQL and Redis (pytest also defaults to these, see pyproject.toml).
TEST_ENV := DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/flowsdash REDIS_URL=redis://127.0.0.1:6379/15
# make run: development mode, SQLite under var/ unless DATABASE_URL says otherwise, the sandbox Meta.
RUN_ENV := DEBUG=true SANDBOX_ENABLED=true

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
	$(RUN_ENV) $(BIN)/python manage.py migrate --no-input
	$(RUN_ENV) $(BIN)/python manage.py seed_demo
	@if $(BIN)/python -c 'import redis,os; redis.Redis.from_url(os.environ.get("REDIS_URL","redis://127.0.0.1:6379/0"), socket_connect_timeout=0.5).ping()' 2>/dev/null; then \
	  echo "Redis answers: starting a Celery worker and beat beside the web server."; \
	  trap 'kill 0' EXIT; \
	  $(RUN_ENV) $(BIN)/celery -A flowsadmin worker --loglevel=info --concurrency=2 & \
	  $(RUN_ENV) $(BIN)/celery -A flowsadmin beat --loglevel=info --schedule=var/celerybeat-schedule & \
	  $(RUN_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000; \
	else \
	  echo "No Redis: tasks run in-process."; \
	  $(RUN_ENV) CELERY_TASK_ALWAYS_EAGER=true $(BIN)/python manage.py runserver 127.0.0.1:8000; \
	fi

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

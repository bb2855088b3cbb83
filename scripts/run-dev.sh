#!/usr/bin/env bash
# make run: the dashboard on the sandbox Meta with the demo data, from one command.
#
# Migrates and seeds (SQLite under var/ unless DATABASE_URL says otherwise), then starts the web
# server, a Celery worker and beat through honcho (Procfile.dev) when Redis answers, or the web
# server alone with tasks run in-process when it doesn't. RUN_PORT / RUN_HOST pick the address
# (8000 on 127.0.0.1); PUBLIC_BASE_URL follows them unless set, and seed_demo moves the demo's
# stored URLs to it, so another port or host works with the same database. VERBOSE=1 shows every
# request and task.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUN_PORT="${RUN_PORT:-8000}" RUN_HOST="${RUN_HOST:-127.0.0.1}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://$RUN_HOST:$RUN_PORT}"
public_host="${PUBLIC_BASE_URL#*://}"
public_host="${public_host%%[:/]*}"
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-127.0.0.1 localhost $public_host}"
export DEBUG=true SANDBOX_ENABLED=true PYTHONUNBUFFERED=1
if [ -n "${VERBOSE:-}" ]; then
  export LOG_LEVEL="${LOG_LEVEL:-INFO}" REQUEST_LOG_LEVEL="${REQUEST_LOG_LEVEL:-INFO}"
else
  # Problems only: successful requests and finished tasks would push the logins off the screen.
  export LOG_LEVEL="${LOG_LEVEL:-WARNING}" REQUEST_LOG_LEVEL="${REQUEST_LOG_LEVEL:-WARNING}"
fi

if .venv/bin/python -c 'import os, redis; redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), socket_connect_timeout=0.5).ping()' 2>/dev/null; then
  processes="web worker beat ready"
else
  echo "No Redis answers: tasks run in-process, without a worker or beat."
  export CELERY_TASK_ALWAYS_EAGER=true
  processes="web ready"
fi

mkdir -p var
.venv/bin/python manage.py migrate --no-input --verbosity 0
# The logins come last, from `ready`; the rest of what seed_demo says is shown here.
seeded=$(.venv/bin/python manage.py seed_demo) || { echo "$seeded"; exit 1; }
grep -v '^  \|^Demo logins' <<<"$seeded" || true

colour=""
[ -t 1 ] || colour="--no-colour"
# exec: Ctrl+C and a test's SIGTERM reach honcho, which stops every process it started.
# shellcheck disable=SC2086
exec .venv/bin/honcho -f Procfile.dev start $colour $processes

"""Start-up refuses bad configuration with a clear message, and /healthz tells a load balancer the truth.

These run the real entry points (manage.py, the Procfile's web) as separate processes, the way an operator does.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from django.db import connection
from django.test import Client, override_settings

from wabas.models import Waba

from .production_server import database_url, web

ROOT = Path(__file__).resolve().parents[1]
VALID_KEY = Fernet.generate_key().decode()


def manage(*args: str, **env_changes: str | None) -> subprocess.CompletedProcess[str]:
    """Run manage.py with this test run's environment, changed as given (None removes a variable)."""
    env = os.environ.copy()
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- Production refuses to start without its secrets ------------------------------------------


@pytest.mark.parametrize(
    ("keys", "message", "secret_values"),
    [
        (None, "FIELD_ENCRYPTION_KEYS is not set", []),
        ("not-a-key", "FIELD_ENCRYPTION_KEYS: key #1 is not a Fernet key", ["not-a-key"]),
        (
            f"{VALID_KEY},c2hvcnQtYW5kLXNlY3JldA==",
            "FIELD_ENCRYPTION_KEYS: key #2 is not a Fernet key",
            [VALID_KEY, "c2hvcnQtYW5kLXNlY3JldA=="],
        ),
    ],
    ids=["unset", "not-a-key", "second-key-malformed"],
)
def test_production_refuses_to_start_without_usable_encryption_keys(
    keys: str | None, message: str, secret_values: list[str]
) -> None:
    result = manage("check", DEBUG="false", FIELD_ENCRYPTION_KEYS=keys)
    assert result.returncode != 0
    assert message in result.stderr
    # The value is (or was meant to be) a secret: it must not land in logs.
    for value in secret_values:
        assert value not in result.stderr
        assert value not in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = manage("check", DEBUG="false", SECRET_KEY=None)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is not true." in result.stderr


def production_env(**overrides: str | None) -> dict[str, str | None]:
    return {
        "DEBUG": "false",
        "HTTPS_ONLY": None,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": VALID_KEY,
        "ALLOWED_HOSTS": "flows.example.com",
        "SANDBOX_ENABLED": "false",
    } | overrides


@pytest.mark.parametrize("https_only", [None, "true"], ids=["https-only-unset", "https-only-true"])
def test_the_deploy_check_has_nothing_to_say_about_production_settings(
    https_only: str | None,
) -> None:
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", **production_env(HTTPS_ONLY=https_only)
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deploy_check_does_complain_when_https_is_off() -> None:
    # The same environment with plain HTTP: proves the check above is really looking.
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", **production_env(HTTPS_ONLY="false")
    )
    assert result.returncode != 0
    assert "security.W008" in result.stderr  # SECURE_SSL_REDIRECT


def test_the_deploy_check_warns_when_the_sandbox_is_on_in_production() -> None:
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", **production_env(SANDBOX_ENABLED="true")
    )
    assert result.returncode != 0
    assert "flowsadmin.W001" in result.stderr
    assert "SANDBOX_ENABLED is on while DEBUG is off" in result.stderr


# --- Keys that cannot read the stored secrets ------------------------------------------------


def child_database_url() -> str:
    """A postgres:// URL for the test database this process uses, for a child process to share."""
    return database_url(connection.settings_dict)


def test_a_key_that_cannot_read_stored_secrets_fails_the_database_check(
    transactional_db: None, waba: Waba
) -> None:
    # transactional_db commits the WABA, so the child process sees its encrypted secrets.
    original_keys = os.environ["FIELD_ENCRYPTION_KEYS"]
    new_key = Fernet.generate_key().decode()
    database_url = child_database_url()

    wrong = manage(
        "check", "--database", "default", DATABASE_URL=database_url, FIELD_ENCRYPTION_KEYS=new_key
    )
    assert wrong.returncode != 0
    output = wrong.stdout + wrong.stderr
    assert "wabas.E001" in output
    assert "FIELD_ENCRYPTION_KEYS cannot decrypt the secrets stored in wabas_waba." in output
    assert new_key not in output and original_keys not in output

    rotated = manage(
        "check",
        "--database",
        "default",
        DATABASE_URL=database_url,
        FIELD_ENCRYPTION_KEYS=f"{new_key},{original_keys}",
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "System check identified no issues" in rotated.stdout


# --- /healthz --------------------------------------------------------------------------------


def test_healthz_reports_database_and_broker_ok(live_server: object, settings: object) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the suite runs tasks in-process; production doesn't
    response = requests.get(f"{live_server.url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "broker": "ok",
        "webhooks_needing_attention": 0,
    }
    assert "no-store" in response.headers["Cache-Control"]


def test_healthz_answers_503_when_the_database_is_down(tmp_path: Path) -> None:
    # The Procfile's web (granian), as in production. `runserver` can't stand in: it exits at start
    # when its migration check cannot reach the database, so it never gets to answer.
    env = os.environ | {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DEBUG": "false",
        "HTTPS_ONLY": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
    }
    log = tmp_path / "web.log"
    with web(env, log=log) as server:
        response = requests.get(f"{server.url}/healthz", timeout=5)
        assert response.status_code == 503, log.read_text()
        assert response.json() == {"database": "unavailable", "broker": "ok"}


def test_healthz_reports_the_broker_down_but_stays_up(db: None) -> None:
    # A broker outage delays tasks; it is no reason for a load balancer to take the web server out.
    with override_settings(
        CELERY_BROKER_URL="redis://127.0.0.1:1/0", CELERY_TASK_ALWAYS_EAGER=False
    ):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "broker": "unavailable",
        "webhooks_needing_attention": 0,
    }


def test_healthz_says_when_tasks_run_in_process(db: None) -> None:
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True):
        response = Client().get("/healthz")
    assert response.json() == {
        "database": "ok",
        "broker": "not used: tasks run in-process",
        "webhooks_needing_attention": 0,
    }

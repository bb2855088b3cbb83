"""The lean WSGI route: Meta's data-exchange calls reach `serve` before Django's middleware.

flowsadmin/wsgi.py wraps the Django application with `with_lean_endpoint`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from http import HTTPStatus

from django.db import connection

from .handling import serve

logger = logging.getLogger(__name__)

FLOW_PATH = re.compile(
    r"/meta/flows/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/"
)


def with_lean_endpoint(django_app: Callable) -> Callable:
    """WSGI middleware: the data-exchange URLs go straight to `serve`, everything else to Django.

    Meta counts our latency against the flow's health, and Django's middleware stack (sessions,
    CSRF, authentication, messages) costs more per request than the endpoint's own work while
    doing nothing for it: the endpoint authenticates by signature and answers encrypted text.
    After each request the database connection is closed if it broke or outlived CONN_MAX_AGE, as
    Django does when a request finishes.
    """

    def application(environ: dict, start_response: Callable) -> list[bytes]:
        match = FLOW_PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return django_app(environ, start_response)
        try:
            status, text = serve(
                match[1],
                environ.get("REQUEST_METHOD", ""),
                environ.get("CONTENT_LENGTH"),
                environ["wsgi.input"].read,
                environ.get("HTTP_X_HUB_SIGNATURE_256"),
            )
        except Exception:  # the database is down, or a bug: logged, and a plain 500 like Django's
            logger.exception("Flow endpoint failed for %s", environ.get("PATH_INFO"))
            status, text = 500, "Server error."
        finally:
            connection.close_if_unusable_or_obsolete()
        body = text.encode("utf-8")
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ]
        if status == 405:
            headers.append(("Allow", "POST"))
        start_response(STATUS_LINES.get(status) or _status_line(status), headers)
        return [body]

    return application


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:  # Meta's own codes, 427 and 432
        return f"{status} Unknown Status Code"


# Built once: looking the phrase up in HTTPStatus on every answer showed in the endpoint's profile
# (benchmarks/test_bench_endpoint_profile.py).
STATUS_LINES = {
    status: _status_line(status) for status in (200, 400, 404, 405, 413, 421, 427, 432, 500)
}

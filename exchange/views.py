"""The data-exchange endpoint as a Django view, at /meta/flows/<public id>/ (URL name "data_exchange")."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .handling import serve


@csrf_exempt  # Meta's calls carry no CSRF token: they authenticate by X-Hub-Signature-256
@login_not_required
def data_exchange(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """What the test client and runserver's URL table reach.

    In production the lean WSGI route (wsgi.py) answers these URLs before Django's middleware runs.
    """
    status, text = serve(
        str(public_id),
        request.method,
        request.META.get("CONTENT_LENGTH"),
        request.read,
        request.headers.get("X-Hub-Signature-256"),
    )
    response = HttpResponse(text, status=status, content_type="text/plain")
    if status == 405:
        response["Allow"] = "POST"
    return response

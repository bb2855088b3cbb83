"""The Content-Security-Policy header on every page Django serves.

A small middleware rather than django-csp: the policy is one fixed string (no nonces, since no page
has an inline script or style), and Django 6's built-in CSP middleware replaces it when we upgrade.
The data-exchange endpoint's lean route answers text/plain before Django and needs none.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response

"""How views fetch a WABA: by id, and the one the user works in now."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import SelectedWaba, Waba


def can_use_wabas(user: object) -> bool:
    """Anyone with a role works inside a WABA: flows, templates and settings all belong to one."""
    return user.has_perm("flowsadmin.view_flow") or user.has_perm("wabas.view_waba")


def get_waba_or_404(pk: int) -> Waba:
    """The WABA with this id, or 404. Every role sees every WABA: permission checks stay in the view's
    decorator."""
    return get_object_or_404(Waba, pk=pk)


def current_waba(request: HttpRequest) -> Waba | None:
    """The WABA the user last chose, or the first one there is."""
    if not request.user.is_authenticated or not can_use_wabas(request.user):
        return None
    if hasattr(request, "_current_waba"):
        return request._current_waba
    chosen = SelectedWaba.objects.filter(user=request.user).select_related("waba").first()
    request._current_waba = chosen.waba if chosen else Waba.objects.first()
    return request._current_waba


def account_time_zone(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    """Middleware: pages show times in the time zone of the account the user works in
    (Waba.time_zone), UTC without one; what is stored stays UTC."""

    def middleware(request: HttpRequest) -> HttpResponse:
        waba = current_waba(request)
        try:
            if waba is not None and waba.time_zone != "UTC":
                timezone.activate(ZoneInfo(waba.time_zone))
        except (ZoneInfoNotFoundError, ValueError):  # a zone tzdata no longer knows: UTC
            pass
        try:
            return get_response(request)
        finally:
            timezone.deactivate()

    return middleware

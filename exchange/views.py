"""The data-exchange endpoint as a Django view, at /meta/flows/<public id>/ (URL name "data_exchange")."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_not_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from flowsadmin.models import Flow

from .contract import check_customer_endpoint
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


@permission_required("flowsadmin.change_flow", raise_exception=True)
@require_POST
def flow_contract_test(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Test the customer endpoint": each data_exchange screen's example request, answered how?"""
    flow = get_object_or_404(Flow.objects.select_related("waba"), pk=pk)
    context = {"flow": flow, "contract_available": bool(flow.customer_endpoint_url)}
    if flow.customer_endpoint_url:
        context["contract_results"] = check_customer_endpoint(flow)
    if request.headers.get("HX-Request"):
        return render(request, "exchange/_contract_test.html", context)
    return render(request, "exchange/contract_test.html", context)


def contract_context(request: HttpRequest, flow: Flow) -> dict:
    """What _contract_test.html needs on the flow's page: whether the action is offered."""
    offered = bool(flow.customer_endpoint_url) and request.user.has_perm("flowsadmin.change_flow")
    return {"contract_available": offered}

"""Send a flow to one number as an interactive Flow message, from the flow's page (issue 13).

Its own module and partial (`flowsadmin/_flow_send.html`) so the flow page only includes it. One view
serves the plain form POST (redirect back with a message) and htmx (the partial, re-rendered).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from wabas.graph import GraphClient, MetaError

from .forms import SendFlowMessageForm
from .models import Flow
from .services import CannotSend, send_flow_message

PARTIAL = "flowsadmin/_flow_send.html"


def send_context(request: HttpRequest, flow: Flow) -> dict:
    """What _flow_send.html needs on the flow's page: the form (with a number kept after a refusal)."""
    if not request.user.has_perm("flowsadmin.change_flow"):
        return {"send_form": None}
    keep = {key: request.GET[key] for key in ("to", "cta") if key in request.GET}
    return {"send_form": SendFlowMessageForm(initial=keep or None)}


@permission_required("flowsadmin.change_flow", raise_exception=True)
@require_POST
def flow_send_message(request: HttpRequest, pk: int) -> HttpResponse:
    flow = get_object_or_404(Flow.objects.select_related("waba"), pk=pk)
    form = SendFlowMessageForm(request.POST)
    sent = error = None
    if form.is_valid():
        to = form.cleaned_data["to"]
        client = GraphClient.for_waba(flow.waba)
        try:
            sent = send_flow_message(
                flow, to=to, by=request.user, client=client, cta=form.cleaned_data["cta"]
            )
        except (CannotSend, MetaError) as exc:
            error = f"Not sent: {exc}"
        finally:
            client.session.close()
    else:
        error = " ".join(e for errors in form.errors.values() for e in errors)
    if request.headers.get("HX-Request"):
        context = {"flow": flow, "send_form": form, "sent": sent, "send_error": error}
        # 200 even for a refusal: htmx swaps only successful answers, and the error belongs in place.
        return render(request, PARTIAL, context)
    if sent:
        mode = "draft mode" if flow.status == Flow.Status.DRAFT else "published mode"
        messages.success(request, f"Sent to +{sent.wa_id} in {mode} (message {sent.wamid}).")
        return redirect("flows:detail", pk=flow.pk)
    messages.error(request, error)
    keep = urlencode({k: request.POST.get(k, "") for k in ("to", "cta")})
    return redirect(f"{reverse('flows:detail', args=[flow.pk])}?{keep}#send-message")

"""The sandbox's pages: its home for admins, and the public preview and asset links Meta would serve."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from .forms import FaultsForm, FlowStatusForm, TemplateActionForm
from .models import (
    Account,
    Faults,
    Flow,
    FlowStateError,
    Message,
    SentWebhook,
    Template,
    TemplateStateError,
)
from .services import (
    REVIEW_DELAY,
    change_flow_status,
    disable_template,
    pause_template,
    recategorize_template,
    set_faults,
    set_template_quality,
    unpause_template,
)

# Sandbox pages change what "Meta" does for every WABA: admins only.
SANDBOX_PERMISSION = "wabas.change_waba"


@permission_required(SANDBOX_PERMISSION, raise_exception=True)
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Accounts, flows with their health buttons, templates, messages, sent webhooks and fault knobs."""
    accounts = Account.objects.prefetch_related(
        "phone_numbers",
        Prefetch("flows", queryset=Flow.objects.order_by("name")),
        Prefetch("templates", queryset=Template.objects.order_by("name", "language")),
    )
    faults = Faults.current()
    context = {
        "accounts": accounts,
        "review_delay": REVIEW_DELAY,
        "quality_scores": Template.Quality.values,
        "sent_messages": Message.objects.select_related("phone__account")[:50],
        "webhooks": SentWebhook.objects.select_related("account").defer("body")[:50],
        "faults_form": FaultsForm(
            initial={
                "error_rate": faults.error_rate,
                "throttle_rate": faults.throttle_rate,
                "latency_ms": faults.latency_ms,
                "error_code": faults.error_code,
                "error_code_rate": faults.error_code_rate,
                "error_code_to": faults.error_code_to,
            }
        ),
    }
    return render(request, "sandbox/home.html", context)


@permission_required(SANDBOX_PERMISSION, raise_exception=True)
@require_POST
def flow_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Throttle, block or unblock a flow as Meta's health monitor would, with its webhooks."""
    flow = get_object_or_404(Flow, pk=pk)
    form = FlowStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose THROTTLED, BLOCKED or PUBLISHED.")
        return redirect("sandbox:home")
    status = form.cleaned_data["status"]
    try:
        change_flow_status(flow.flow_id, status, reason=form.cleaned_data["reason"])
    except FlowStateError:
        messages.error(request, f"{flow.name} is {flow.status}: it cannot become {status}.")
    else:
        messages.success(request, f"{flow.name} is now {status}; the webhook is on its way.")
    return redirect("sandbox:home")


@permission_required(SANDBOX_PERMISSION, raise_exception=True)
@require_POST
def template_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Pause, unpause, disable, re-rate or recategorize a template as Meta would, with its webhook."""
    template = get_object_or_404(Template, pk=pk)
    form = TemplateActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose pause, unpause, disable, quality or recategorize.")
        return redirect("sandbox:home")
    action = form.cleaned_data["action"]
    moves = {
        "pause": pause_template,
        "unpause": unpause_template,
        "disable": disable_template,
        "recategorize": recategorize_template,
    }
    try:
        if action == "quality":
            set_template_quality(template.template_id, form.cleaned_data["quality"] or "UNKNOWN")
        else:
            moves[action](template.template_id)
    except (TemplateStateError, ValueError) as exc:
        messages.error(request, f"{template.name}: {str(exc).rstrip('.')}.")
    else:
        template.refresh_from_db()
        messages.success(
            request,
            f"{template.name} is {template.status}, {template.category}, quality "
            f"{template.quality_score}; the webhook is on its way.",
        )
    return redirect("sandbox:home")


@permission_required(SANDBOX_PERMISSION, raise_exception=True)
@require_POST
def faults(request: HttpRequest) -> HttpResponse:
    form = FaultsForm(request.POST)
    if form.is_valid():
        set_faults(**form.cleaned_data)
        messages.success(request, "Fault knobs saved; every Graph call obeys them now.")
    else:
        messages.error(request, "Rates go from 0 to 1 and latency from 0 to 30000 ms.")
    return redirect("sandbox:home")


@login_not_required
@xframe_options_sameorigin
@require_GET
def preview(request: HttpRequest, token: str) -> HttpResponse:
    """A flow's preview link: public like Meta's, but only with its unguessable, unexpired token."""
    flow = get_object_or_404(Flow, preview_token=token)
    if not flow.preview_is_valid():
        raise Http404("This preview link has expired.")
    try:
        document = json.loads(flow.flow_json) if flow.flow_json else {}
    except ValueError:
        document = {}
    screens = document.get("screens") if isinstance(document, dict) else None
    screens = [s for s in screens if isinstance(s, dict)] if isinstance(screens, list) else []
    rows = [
        {
            "id": screen.get("id", ""),
            "title": screen.get("title", ""),
            "terminal": screen.get("terminal") is True,
            "components": _component_lines((screen.get("layout") or {}).get("children")),
        }
        for screen in screens
    ]
    return render(request, "sandbox/flow_preview.html", {"flow": flow, "screens": rows})


def _component_lines(children: object, depth: int = 0) -> list[str]:
    """One line per component, nested ones indented: "TextInput: E-mail"."""
    lines: list[str] = []
    if not isinstance(children, list):
        return lines
    for child in children:
        if not isinstance(child, dict):
            continue
        text = child.get("text") or child.get("label") or child.get("name") or ""
        lines.append(
            "\u2003" * depth
            + f"{child.get('type', '?')}"
            + (f": {text}" if isinstance(text, str) and text else "")
        )
        for key in ("children", "then", "else"):
            lines.extend(_component_lines(child.get(key), depth + 1))
    return lines


@login_not_required
@require_GET
def asset(request: HttpRequest, token: str) -> HttpResponse:
    """The download_url of a flow's JSON asset; a new upload changes the token."""
    flow = get_object_or_404(Flow, asset_token=token)
    if not flow.flow_json:
        raise Http404("No Flow JSON uploaded.")
    return HttpResponse(flow.flow_json, content_type="application/json")

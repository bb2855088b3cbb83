from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from urllib.parse import urlencode

from defusedcsv import csv
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import TRY_FLOWS_PERMISSION
from audience.models import Event
from audience.services import answer_keys, as_text
from exchange.insights import insights_context
from exchange.views import contract_context
from wabas.access import current_waba
from wabas.graph import GraphClient, MetaError
from wabas.views import key_panel_context

from . import flowjson
from .answers import ChoiceTitles, choice_titles
from .forms import EndpointSettingsForm, FlowFilterForm, FlowForm
from .models import ACTION_WORDS, Flow, FlowActionNotAllowed
from .preview import build_preview_from_text
from .send_views import send_context
from .services import (
    FlowFields,
    FlowNotReady,
    StaleFlow,
    clone_flow,
    delete_flow,
    deprecate_flow,
    publish_flow,
    refresh_flow,
    report_messages,
    save_flow,
    update_endpoint_settings,
)


def home(request: HttpRequest) -> HttpResponse:
    """Send each role to the first page it can use."""
    if request.user.has_perm("flowsadmin.view_flow"):
        return redirect("flows:list")
    if request.user.has_perm("wabas.view_waba"):
        return redirect("wabas:list")
    return render(request, "flowsadmin/no_role.html", status=403)


# ?sort= values of the listing and the ordering each means.
FLOW_SORTS = {
    "name": "name",
    "-name": "-name",
    "status": "status",
    "updated": "updated_at",
    "-updated": "-updated_at",
}


@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_list(request: HttpRequest) -> HttpResponse:
    waba = current_waba(request)
    filters = FlowFilterForm(request.GET or None)
    sort = request.GET.get("sort") if request.GET.get("sort") in FLOW_SORTS else "-updated"
    flows = Flow.objects.none()
    if waba is not None:
        flows = waba.flows.select_related("created_by").order_by(FLOW_SORTS[sort], "-pk")
        if filters.is_valid():
            if q := filters.cleaned_data["q"]:
                flows = flows.filter(name__icontains=q)
            if status := filters.cleaned_data["status"]:
                flows = flows.filter(status=status)
    page = Paginator(flows, 25).get_page(request.GET.get("page"))
    # Sorting links keep the search and filter; the page number starts over.
    query = urlencode({k: request.GET[k] for k in ("q", "status") if request.GET.get(k)})
    query = f"{query}&" if query else ""
    context = {"waba": waba, "page": page, "filters": filters, "sort": sort, "query": query}
    if request.htmx:
        return render(request, "flowsadmin/flow_list.html#flow-table", context)
    if waba is not None:
        context |= key_panel_context(request, waba)
    return render(request, "flowsadmin/flow_list.html", context)


# --- Flows: create, edit, lifecycle ---------------------------------------------------------------

STARTER_JSON = """{
  "version": "7.3",
  "screens": [
    {
      "id": "WELCOME",
      "title": "Welcome",
      "terminal": true,
      "layout": {
        "type": "SingleColumnLayout",
        "children": [
          {"type": "TextBody", "text": "Paste your Flow JSON from Meta's builder here."},
          {"type": "Footer", "label": "Done", "on-click-action": {"name": "complete", "payload": {}}}
        ]
      }
    }
  ]
}
"""


def _get_flow_or_404(pk: int) -> Flow:
    """The flow with this id, or 404. Every role with a view permission sees every WABA's flows."""
    return get_object_or_404(Flow.objects.select_related("waba", "created_by"), pk=pk)


def _fields(form: FlowForm) -> FlowFields:
    data = form.cleaned_data
    return FlowFields(
        name=data["name"],
        categories=data["categories"],
        endpoint=data["endpoint"],
        custom_endpoint_url=data["custom_endpoint_url"],
        customer_endpoint_url=data["customer_endpoint_url"],
        flow_json=data["flow_json"],
        requires_our_token=data["requires_our_token"],
    )


def _say_saved(request: HttpRequest, flow: Flow) -> None:
    errors = sum(1 for m in flow.local_messages if m["level"] == "error")
    if flow.meta_sync_error:
        messages.error(request, f"Saved here as a draft, but not on Meta: {flow.meta_sync_error}")
    elif errors:
        messages.warning(
            request,
            f"Saved as a draft on Meta, with {errors} validation error(s) to fix before publishing.",
        )
    else:
        messages.success(request, f"{flow.name} saved as a draft on Meta.")


@permission_required("flowsadmin.add_flow", raise_exception=True)
def flow_create(request: HttpRequest) -> HttpResponse:
    waba = current_waba(request)
    if waba is None:
        messages.error(request, "Connect a WhatsApp Business Account first.")
        return redirect("flows:list")
    form = FlowForm(
        request.POST or None, initial={"flow_json": STARTER_JSON, "categories": ["OTHER"]}
    )
    if request.method == "POST" and form.is_valid():
        flow = save_flow(
            Flow(waba=waba),
            _fields(form),
            by=request.user,
            lock_version=None,
            client=GraphClient.for_waba(waba),
        )
        _say_saved(request, flow)
        # On to the editor: its gutter and the messages under it show what to fix.
        return redirect("flows:json", pk=flow.pk)
    context = {"form": form, "waba": waba}
    context |= _live_preview(request.POST.get("flow_json", STARTER_JSON), None)
    return render(request, "flowsadmin/flow_form.html", context)


# The flow page's tabs, each its own URL: (tab, label, URL name).
FLOW_TABS = [
    ("overview", "Overview", "flows:detail"),
    ("json", "Flow JSON", "flows:json"),
    ("responses", "Responses", "flows:responses"),
    ("insights", "Insights", "flows:insights"),
    ("history", "History", "flows:history"),
]


def _flow_page(request: HttpRequest, flow: Flow, tab: str) -> dict:
    """What every tab of the flow page shows around its content: title, status and the tabs."""
    return {
        "flow": flow,
        "tab": tab,
        "tabs": [(name, label, reverse(url, args=[flow.pk])) for name, label, url in FLOW_TABS],
        "actions": _actions_for(request, flow),
        # The sandbox phone plays what the sandbox Meta holds: only for flows created there.
        "can_try": settings.SANDBOX_ENABLED
        and bool(flow.meta_flow_id)
        and request.user.has_perm(TRY_FLOWS_PERMISSION),
    }


@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Overview: status and actions, the URLs Meta calls, validation, templates using the flow."""
    flow = _get_flow_or_404(pk)
    if request.method == "POST":
        # Saving moved to the Flow JSON tab (flows:json); 405 rather than a silent non-save.
        return _action_url_page(request, flow, "update_json")
    errors = [m for m in flow.local_messages if m.get("level") == "error"]
    context = _flow_page(request, flow, "overview") | {
        "local_errors": len(errors),
        "local_warnings": len(flow.local_messages) - len(errors),
        "webhook_url": f"{settings.PUBLIC_BASE_URL}{reverse('meta_webhook')}",
        "endpoint_form": EndpointSettingsForm(
            initial={
                "customer_endpoint_url": flow.customer_endpoint_url,
                "requires_our_token": flow.requires_our_token,
            }
        ),
        "templates": (
            flow.templates.order_by("name")
            if request.user.has_perm("templates_app.view_messagetemplate")
            else None
        ),
        **send_context(request, flow),
        **contract_context(request, flow),
    }
    return render(request, "flowsadmin/flow_detail.html", context)


@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_json(request: HttpRequest, pk: int) -> HttpResponse:
    """The Flow JSON tab: the editor beside a live phone preview (read-only when not editable)."""
    flow = _get_flow_or_404(pk)
    editable = flow.can("update_json") and request.user.has_perm("flowsadmin.change_flow")
    form = None
    status = 200
    if editable:
        form = FlowForm(request.POST or None, initial=_initial(flow))
        # The editor marks these lines in its gutter.
        form.fields["flow_json"].widget.attrs["data-messages"] = json.dumps(flow.local_messages)
    if request.method == "POST":
        if not request.user.has_perm("flowsadmin.change_flow"):
            raise PermissionDenied
        if not editable:
            messages.error(request, str(FlowActionNotAllowed("update_json", flow.status)))
            return redirect("flows:json", pk=flow.pk)
        if form.is_valid():
            try:
                save_flow(
                    flow,
                    _fields(form),
                    by=request.user,
                    lock_version=form.cleaned_data["lock_version"],
                    client=GraphClient.for_waba(flow.waba),
                )
            except StaleFlow as exc:
                form.add_error(None, str(exc))
                status = 409
            else:
                _say_saved(request, flow)
                return redirect("flows:json", pk=flow.pk)
    # The phone shows the text in the editor: the refused POST's, else the saved one.
    text = request.POST.get("flow_json", flow.flow_json) if form else flow.flow_json
    context = _flow_page(request, flow, "json") | {
        "form": form,
        "local_messages_json": json.dumps(flow.local_messages),
        **_live_preview(text, request.GET.get("screen")),
    }
    return render(request, "flowsadmin/flow_json.html", context, status=status)


def _live_preview(text: str, screen_id: str | None) -> dict:
    preview = build_preview_from_text(text)
    screen = preview.screen(screen_id)
    return {
        "preview": preview,
        "screen": screen,
        "next_screens": screen.next_screens if screen else [],
    }


@require_POST
@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_live_preview(request: HttpRequest) -> HttpResponse:
    """The phone beside the editor, drawn from the editor's text without saving it."""
    context = _live_preview(request.POST.get("flow_json", ""), request.POST.get("screen"))
    return render(request, "flowsadmin/_live_preview.html", context)


@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_responses(request: HttpRequest, pk: int) -> HttpResponse:
    """The Responses tab: one row per completion, choices shown by the titles people saw."""
    flow = _get_flow_or_404(pk)
    context = _flow_page(request, flow, "responses")
    if request.user.has_perm("audience.view_profile"):
        context |= _responses_page(flow, request.GET.get("page"))
    return render(request, "flowsadmin/flow_responses.html", context)


@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_insights(request: HttpRequest, pk: int) -> HttpResponse:
    flow = _get_flow_or_404(pk)
    context = _flow_page(request, flow, "insights") | insights_context(flow)
    return render(request, "flowsadmin/flow_insights.html", context)


@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_history(request: HttpRequest, pk: int) -> HttpResponse:
    flow = _get_flow_or_404(pk)
    context = _flow_page(request, flow, "history") | {
        "revisions": flow.revisions.select_related("created_by")[:50],
        "changes": flow.changes.select_related("user")[:50],
    }
    return render(request, "flowsadmin/flow_history.html", context)


def _response_values(titles: ChoiceTitles, event: Event, keys: list[str]) -> list[str]:
    values = event.properties if isinstance(event.properties, dict) else {}
    return [as_text(titles.readable(key, values.get(key))) for key in keys]


def _responses_page(flow: Flow, page_number: str | None) -> dict:
    """One page of the flow's submissions, with a column per answered field on that page."""
    page = Paginator(Event.objects.responses(flow).select_related("profile"), 25).get_page(
        page_number
    )
    events = list(page)
    columns = answer_keys(event.properties for event in events)
    titles = choice_titles(flow.flow_json)
    names = Event.objects.event_names_of(events)
    rows = [
        (event, names.get(event.pk, []), _response_values(titles, event, columns))
        for event in events
    ]
    return {"page": page, "response_columns": columns, "response_rows": rows}


def _initial(flow: Flow) -> dict:
    return {
        "name": flow.name,
        "categories": flow.categories,
        "endpoint": flow.endpoint,
        "custom_endpoint_url": flow.custom_endpoint_url,
        "customer_endpoint_url": flow.customer_endpoint_url,
        "requires_our_token": flow.requires_our_token,
        "flow_json": flow.flow_json,
        "lock_version": flow.lock_version,
    }


# action -> the permission it needs on top of the status table
ACTION_PERMISSIONS = {
    "publish": "flowsadmin.change_flow",
    "deprecate": "flowsadmin.change_flow",
    "refresh": "flowsadmin.change_flow",
    "clone": "flowsadmin.add_flow",
    "delete": "flowsadmin.delete_flow",
    "update_endpoint": "flowsadmin.change_flow",
}


def _actions_for(request: HttpRequest, flow: Flow) -> set[str]:
    """The buttons to show: what the status table allows and the user's role permits."""
    return {
        a
        for a in flow.allowed_actions()
        if a == "preview"
        or request.user.has_perm(ACTION_PERMISSIONS.get(a, "flowsadmin.change_flow"))
    }


def _action_url_page(request: HttpRequest, flow: Flow, action: str) -> HttpResponse:
    """A GET (a bookmark, a reload, a pasted link) on a URL that only takes the button's POST."""
    context = _flow_page(request, flow, "") | {
        "action": action,
        "action_label": ACTION_BUTTONS.get(action, ""),
        "action_words": ACTION_WORDS.get(action, action),
    }
    response = render(request, "flowsadmin/flow_action_get.html", context, status=405)
    response["Allow"] = "POST"
    return response


# action -> the label of its button
ACTION_BUTTONS = {
    "publish": "Publish",
    "deprecate": "Deprecate…",
    "delete": "Delete",
    "refresh": "Refresh",
    "clone": "Clone",
}


@require_http_methods(["GET", "HEAD", "POST"])
@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Publish, deprecate, delete, refresh or clone; refused with a message when not allowed."""
    flow = _get_flow_or_404(pk)
    if action not in ACTION_PERMISSIONS or action == "update_endpoint":
        raise Http404
    if request.method != "POST":
        return _action_url_page(request, flow, action)
    if not request.user.has_perm(ACTION_PERMISSIONS[action]):
        raise PermissionDenied
    client = GraphClient.for_waba(flow.waba)
    try:
        if action == "publish":
            publish_flow(flow, by=request.user, client=client)
            messages.success(request, f"{flow.name} is published: templates can use it now.")
        elif action == "deprecate":
            if request.POST.get("confirm") != "yes":
                return render(request, "flowsadmin/flow_deprecate.html", {"flow": flow})
            deprecate_flow(flow, by=request.user, client=client)
            messages.success(
                request, f"{flow.name} is deprecated and was removed from its templates."
            )
        elif action == "delete":
            delete_flow(flow, by=request.user, client=client)
            messages.success(request, f"{flow.name} was deleted.")
            return redirect("flows:list")
        elif action == "refresh":
            flow.require("refresh")
            refresh_flow(flow, client=client)
            if request.htmx:  # a row of the listing: answer with the fresh row
                return render(request, "flowsadmin/flow_list.html#flow-row", {"flow": flow})
            messages.success(request, "Refreshed from Meta.")
        elif action == "clone":
            copy = clone_flow(flow, by=request.user, client=client)
            _say_saved(request, copy)
            return redirect("flows:json", pk=copy.pk)
    except (FlowActionNotAllowed, FlowNotReady, MetaError) as exc:
        problem = str(exc) if isinstance(exc, FlowActionNotAllowed) else f"Nothing changed. {exc}"
        if request.htmx and action == "refresh":
            return render(
                request, "flowsadmin/flow_list.html#flow-row", {"flow": flow, "row_error": problem}
            )
        messages.error(request, problem)
    return redirect("flows:detail", pk=flow.pk)


@require_http_methods(["GET", "HEAD", "POST"])
@permission_required("flowsadmin.change_flow", raise_exception=True)
def flow_endpoint_settings(request: HttpRequest, pk: int) -> HttpResponse:
    flow = _get_flow_or_404(pk)
    if request.method != "POST":
        return _action_url_page(request, flow, "update_endpoint")
    form = EndpointSettingsForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    else:
        try:
            update_endpoint_settings(flow, **form.cleaned_data, by=request.user)
            messages.success(request, "Endpoint settings saved.")
        except FlowActionNotAllowed as exc:
            messages.error(request, str(exc))
    return redirect("flows:detail", pk=flow.pk)


@require_POST
@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_validate(request: HttpRequest) -> HttpResponse:
    """Check JSON on demand without saving: the messages fragment under the editor."""
    report = flowjson.validate(request.POST.get("flow_json", ""))
    found = report_messages(report)
    return render(
        request,
        "flowsadmin/_flow_messages.html",
        {"local_messages": found, "checked": True, "messages_json": json.dumps(found)},
    )


@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_revision(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """One saved version of the JSON, as a diff against the one before it."""
    flow = _get_flow_or_404(pk)
    revision = get_object_or_404(flow.revisions, number=number)
    before = flow.revisions.filter(number__lt=number).order_by("-number").first()
    lines = difflib.unified_diff(
        (before.flow_json if before else "").splitlines(),
        revision.flow_json.splitlines(),
        fromfile=f"revision {before.number}" if before else "(empty)",
        tofile=f"revision {revision.number}",
        lineterm="",
    )
    diff = [
        (line, "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx")
        for line in lines
    ]
    return render(
        request,
        "flowsadmin/flow_revision.html",
        {"flow": flow, "revision": revision, "before": before, "diff": diff},
    )


@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """Every screen drawn as a phone screen, with example data; footers follow navigate actions."""
    flow = _get_flow_or_404(pk)
    preview = build_preview_from_text(flow.flow_json)
    screen = preview.screen(request.GET.get("screen"))
    context = {
        "flow": flow,
        "preview": preview,
        "screen": screen,
        "next_screens": screen.next_screens if screen else [],
    }
    return render(request, "flowsadmin/flow_preview.html", context)


def _chunks(items: Iterator[Event], size: int) -> Iterator[list[Event]]:
    chunk: list[Event] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Echo:
    """A file-like object whose write hands the line back, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


@permission_required(["flowsadmin.view_flow", "audience.view_profile"], raise_exception=True)
def flow_responses_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Every submission of the flow, newest first: when, who, then one column per answered field."""
    flow = _get_flow_or_404(pk)
    responses = Event.objects.responses(flow)
    keys = answer_keys(responses.values_list("properties", flat=True).iterator(chunk_size=2000))
    titles = choice_titles(flow.flow_json)
    # Answers are typed by anyone who opens the flow: a cell starting with =, +, -, @ (or | and %)
    # would run as a formula when the file is opened in a spreadsheet, so defusedcsv prefixes it
    # with a quote. Numbers such as -5 are left as they are.
    writer = csv.writer(_Echo())

    def lines():
        # Excel reads a CSV without a byte order mark in the machine's legacy code page, which
        # garbles non-Latin answers; with it, Excel reads the file as UTF-8.
        yield "\ufeff"
        yield writer.writerow(["submitted_at", "whatsapp_id", "profile_name", "ct_evt", *keys])
        for chunk in _chunks(responses.select_related("profile").iterator(chunk_size=500), 500):
            names = Event.objects.event_names_of(chunk)
            for event in chunk:
                profile = event.profile
                yield writer.writerow(
                    [
                        event.occurred_at.isoformat(),
                        profile.whatsapp_id if profile else "",
                        profile.name if profile else "",
                        ", ".join(names.get(event.pk, [])),
                        *_response_values(titles, event, keys),
                    ]
                )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        True, f"flow-{flow.pk}-responses.csv"
    )
    return response

"""Campaign pages: listing, create and edit (every step on one page), review and publish, progress
and results with the recipients table and its CSV, and pause / resume / cancel."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from defusedcsv import csv
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from audience.models import Profile
from templates_app import variables as tv
from templates_app.models import MessageTemplate
from templates_app.views import preview_of
from wabas.access import current_waba

from . import services
from .audience import describe_rule, segment_profiles
from .forms import CampaignForm, RecipientFilter, fill_value, initial_from, landing_screen
from .models import AudienceUpload, Campaign, CampaignActionNotAllowed, Recipient
from .results import chart, listing, results_of
from .uploads import store_upload

VIEW = "campaigns.view_campaign"
ADD = "campaigns.add_campaign"
CHANGE = "campaigns.change_campaign"
DELETE = "campaigns.delete_campaign"
# The buttons of a campaign's page, each a service the send pipeline provides.
ACTIONS = {"pause": "Pause", "resume": "Resume", "cancel": "Cancel"}
SHOWN_PROBLEMS = 100


def get_campaign_or_404(pk: int) -> Campaign:
    """The campaign with this id, or 404. As with flows and templates, every role that may view
    campaigns sees every WABA's; the listing shows the WABA the user works in."""
    return get_object_or_404(
        Campaign.objects.select_related("waba", "template__flow", "phone_number", "created_by"),
        pk=pk,
    )


@permission_required(VIEW, raise_exception=True)
def campaign_list(request: HttpRequest) -> HttpResponse:
    waba = current_waba(request)
    campaigns = listing(waba.campaigns.all()) if waba else Campaign.objects.none()
    page = Paginator(campaigns, 25).get_page(request.GET.get("page"))
    return render(request, "campaigns/campaign_list.html", {"waba": waba, "page": page})


# --- create and edit ------------------------------------------------------------------------------


def _sample_people(form: CampaignForm, campaign: Campaign | None) -> list[Profile]:
    """Up to 20 people of the audience to preview the message for."""
    if form.value("audience_kind") == Campaign.AudienceKind.UPLOAD:
        upload = AudienceUpload.objects.filter(campaign=campaign).first() if campaign else None
        if upload is None:
            return []
        ids = upload.numbers.order_by("line").values_list("whatsapp_id", flat=True)[:20]
        return list(Profile.objects.filter(whatsapp_id__in=list(ids)))
    return list(segment_profiles(form.waba, form.segment_from_data()).order_by("pk")[:20])


def message_preview(
    template: MessageTemplate | None, variables: dict, person: Profile | None
) -> dict | None:
    """The message as WhatsApp shows it to one person, and its Flow CTA details."""
    if template is None:
        return None
    preview = preview_of(template)
    values = {
        v.name: fill_value(variables.get(v.param) or {"field": v.key}, person)
        for v in template.variable_list()
    }
    preview["body"] = tv.fill(template.body, values)
    preview["header_text"] = tv.fill(template.header_text, values)
    flow = template.flow
    preview["cta"] = [
        ("Button type", "Flow"),
        ("Button text", template.button_text),
        ("Flow name", flow.name if flow else "—"),
        ("Flow ID", (flow.meta_flow_id if flow else "") or "—"),
        ("Flow action", template.get_flow_action_display()),
        (
            "Landing screen",
            landing_screen(template) or "The endpoint's answer to INIT chooses it",
        ),
    ]
    return preview


def _live_context(form: CampaignForm, campaign: Campaign | None) -> dict:
    people = _sample_people(form, campaign)
    chosen = str(form.value("sample") or "")
    person = next((p for p in people if p.whatsapp_id == chosen), people[0] if people else None)
    variables = {
        v.param: {
            "field": str(form.value(f"var_{v.param}_field") or v.key),
            "fallback": str(form.value(f"var_{v.param}_fallback") or v.example),
        }
        for v in form.variables()
    }
    if form.value("audience_kind") == Campaign.AudienceKind.UPLOAD:
        upload = AudienceUpload.objects.filter(campaign=campaign).first() if campaign else None
        count = upload.valid if upload else None
    else:
        count = segment_profiles(form.waba, form.segment_from_data()).count()
    return {
        "people": people,
        "person": person,
        "preview": message_preview(form.chosen, variables, person),
        "audience_count": count,
    }


# htmx asks for one part of the form page while it is filled in: the part it names as its target.
FORM_PARTIALS = {"template-step": "template-step", "campaign-live": "campaign-live"}


def _form_page(request: HttpRequest, form: CampaignForm, campaign: Campaign | None) -> HttpResponse:
    context = {
        "form": form,
        "campaign": campaign,
        "form_action": reverse("campaigns:edit", args=[campaign.pk])
        if campaign
        else reverse("campaigns:create"),
        "templates_exist": form.fields["template"].queryset.exists(),
        "upload": AudienceUpload.objects.filter(campaign=campaign).first() if campaign else None,
        **_live_context(form, campaign),
    }
    template = "campaigns/campaign_form.html"
    target = request.htmx.target if request.htmx else None
    if target in FORM_PARTIALS:
        response = render(request, f"{template}#{FORM_PARTIALS[target]}", context)
        drawn_for = request.POST.get("drawn_for", "")
        if target == "campaign-live" and drawn_for != str(getattr(form.chosen, "pk", "") or ""):
            # Another template: its variables and Flow Action data rows come along, swapped out of band.
            step = render_to_string(f"{template}#template-step", context | {"oob": True}, request)
            response.content += step.encode()
        return response
    return render(request, template, context)


def _save(request: HttpRequest, form: CampaignForm, campaign: Campaign) -> HttpResponse:
    form.save_to(campaign).save()
    upload = form.cleaned_data.get("csv_file")
    if campaign.audience_kind == Campaign.AudienceKind.UPLOAD and upload is not None:
        # Read from Django's temporary file, line by line (campaigns/uploads.py).
        with upload.open("rb") as file:
            store_upload(
                campaign,
                file,
                file_name=upload.name,
                default_region=form.cleaned_data.get("default_region") or "",
            )
    return redirect("campaigns:publish", campaign.pk)


@permission_required(ADD, raise_exception=True)
def campaign_create(request: HttpRequest) -> HttpResponse:
    waba = current_waba(request)
    if waba is None:
        messages.error(request, "Connect a WhatsApp Business Account first.")
        return redirect("campaigns:list")
    if request.method == "POST":
        form = CampaignForm(request.POST, request.FILES, waba=waba)
        if not request.htmx and form.is_valid():
            return _save(request, form, Campaign(waba=waba, created_by=request.user))
    else:
        form = CampaignForm(waba=waba)
    return _form_page(request, form, None)


@permission_required(CHANGE, raise_exception=True)
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_campaign_or_404(pk)
    if not campaign.can("edit"):
        messages.error(request, CampaignActionNotAllowed("edit", campaign.status).args[0])
        return redirect("campaigns:detail", campaign.pk)
    has_upload = AudienceUpload.objects.filter(campaign=campaign).exists()
    if request.method == "POST":
        form = CampaignForm(request.POST, request.FILES, waba=campaign.waba, has_upload=has_upload)
        if not request.htmx and form.is_valid():
            return _save(request, form, campaign)
    else:
        form = CampaignForm(
            waba=campaign.waba, initial=initial_from(campaign), has_upload=has_upload
        )
    return _form_page(request, form, campaign)


# --- review and publish ---------------------------------------------------------------------------


def _when(campaign: Campaign) -> str:
    if campaign.send_at is None:
        return "now"
    local = campaign.send_at.astimezone(ZoneInfo(campaign.time_zone))
    return f"on {local:%-d %b %Y at %H:%M} ({campaign.time_zone})"


def _publish_refusal(campaign: Campaign, count: int) -> str:
    """Why it can't be published now, in words; "" when it can."""
    if not campaign.can("publish"):
        return CampaignActionNotAllowed("publish", campaign.status).args[0]
    if count == 0:
        return (
            "Nobody is in this campaign's audience, so it can't be published. "
            "Change the segment's rules or upload a list of phone numbers."
        )
    if campaign.send_at is not None and campaign.send_at <= timezone.now():
        return (
            "Its scheduled time has passed: edit the campaign to choose a later time, or send now."
        )
    if campaign.template.status != MessageTemplate.Status.APPROVED or campaign.template.flow_gone:
        return "Its template is no longer approved with a published flow: edit the campaign."
    return ""


def _review_context(request: HttpRequest, campaign: Campaign) -> dict:
    count = campaign.planned_audience()
    upload = AudienceUpload.objects.filter(campaign=campaign).first()
    if campaign.audience_kind == Campaign.AudienceKind.UPLOAD:
        ids = (
            list(upload.numbers.order_by("line").values_list("whatsapp_id", flat=True)[:20])
            if upload
            else []
        )
        people = list(Profile.objects.filter(whatsapp_id__in=ids))
    else:
        people = list(segment_profiles(campaign.waba, campaign.segment).order_by("pk")[:20])
    chosen = request.GET.get("sample", "")
    person = next((p for p in people if p.whatsapp_id == chosen), people[0] if people else None)
    control = round(count * campaign.control_percent / 100)
    return {
        "audience_count": count,
        "control_count": control,
        "when": _when(campaign),
        "refusal": _publish_refusal(campaign, count),
        "upload": upload,
        "problems": (upload.problems[:SHOWN_PROBLEMS] if upload else []),
        "people": people,
        "person": person,
        "preview": message_preview(campaign.template, campaign.variables, person),
        "rules": [describe_rule(r) for r in (campaign.segment or {}).get("rules") or []],
    }


@permission_required(CHANGE, raise_exception=True)
def campaign_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation (how many people, when); POST: publish it."""
    campaign = get_campaign_or_404(pk)
    context = {"campaign": campaign, **_review_context(request, campaign)}
    if request.method == "POST":
        if context["refusal"]:
            messages.error(request, context["refusal"])
            return render(request, "campaigns/campaign_publish.html", context, status=409)
        try:
            services.publish_campaign(campaign, by=request.user)
        except CampaignActionNotAllowed as exc:
            messages.error(request, str(exc))
            return redirect("campaigns:detail", campaign.pk)
        messages.success(
            request,
            f"Published: {campaign.name} goes to {context['audience_count']} people {context['when']}.",
        )
        return redirect("campaigns:detail", campaign.pk)
    return render(request, "campaigns/campaign_publish.html", context)


# --- the campaign page: progress and results ------------------------------------------------------


def _recipients(campaign: Campaign, filters: RecipientFilter) -> object:
    recipients = campaign.recipients.select_related("profile").order_by("pk")
    if filters.is_valid() and (status := filters.cleaned_data["status"]):
        if status == "held":
            recipients = recipients.filter(
                status=Recipient.Status.QUEUED, next_attempt_at__gt=timezone.now()
            )
        else:
            recipients = recipients.filter(status=status)
    return recipients


@permission_required(VIEW, raise_exception=True)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_campaign_or_404(pk)
    target = request.htmx.target if request.htmx else None
    filters = RecipientFilter(request.GET or None)
    context: dict = {"campaign": campaign, "filters": filters}
    if target != "recipient-table" and campaign.status != Campaign.Status.DRAFT:
        # A draft has no recipients yet: its page shows the review instead of results.
        context["results"] = results_of(campaign)
        context["chart"] = chart(campaign)
        context["actions"] = [
            (action, label)
            for action, label in ACTIONS.items()
            if campaign.can(action) and request.user.has_perm(CHANGE)
        ]
    if target != "campaign-progress":
        context["page"] = Paginator(_recipients(campaign, filters), 50).get_page(
            request.GET.get("page")
        )
    if campaign.status == Campaign.Status.DRAFT and not target:
        context.update(_review_context(request, campaign))
    template = "campaigns/campaign_detail.html"
    if target in ("campaign-progress", "recipient-table"):
        template += "#" + target
    return render(request, template, context)


class _Echo:
    """A file-like object whose write hands the line back, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


@permission_required(VIEW, raise_exception=True)
def campaign_recipients_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Every recipient with its status, error and times; filtered like the table."""
    campaign = get_campaign_or_404(pk)
    recipients = _recipients(campaign, RecipientFilter(request.GET or None))
    # defusedcsv: a profile name typed by anyone must not run as a formula in a spreadsheet.
    writer = csv.writer(_Echo())

    def stamp(value: object) -> str:
        return value.isoformat() if value else ""

    def lines():
        # The byte order mark makes Excel read the file as UTF-8 (names in any script).
        yield "\ufeff"
        yield writer.writerow(
            [
                "whatsapp_id",
                "name",
                "status",
                "error_code",
                "error",
                "sent_at",
                "opened_at",
                "completed_at",
            ]
        )
        for r in recipients.iterator(chunk_size=1000):
            yield writer.writerow(
                [
                    r.whatsapp_id,
                    r.profile.name if r.profile else "",
                    r.status,
                    r.error_code,
                    r.error,
                    stamp(r.sent_at),
                    stamp(r.opened_at),
                    stamp(r.completed_at),
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        True, f"campaign-{campaign.pk}-recipients.csv"
    )
    return response


@permission_required(DELETE, raise_exception=True)
def campaign_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Asks first (GET), then deletes the draft (POST)."""
    campaign = get_campaign_or_404(pk)
    if request.method == "POST":
        try:
            services.delete_campaign(campaign, by=request.user)
        except CampaignActionNotAllowed as exc:
            messages.error(request, str(exc))
            return redirect("campaigns:detail", campaign.pk)
        messages.success(request, f"{campaign.name}: {Campaign.DONE_WORDS['delete']}.")
        return redirect("campaigns:list")
    if not campaign.can("delete"):
        messages.error(request, str(CampaignActionNotAllowed("delete", campaign.status)))
        return redirect("campaigns:detail", campaign.pk)
    return render(request, "campaigns/campaign_delete.html", {"campaign": campaign})


@require_POST
@permission_required(CHANGE, raise_exception=True)
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Pause, resume or cancel, as the campaign's status table allows."""
    if action not in ACTIONS:
        raise Http404
    campaign = get_campaign_or_404(pk)
    service = {
        "pause": services.pause_campaign,
        "resume": services.resume_campaign,
        "cancel": services.cancel_campaign,
    }[action]
    try:
        service(campaign, by=request.user)
    except CampaignActionNotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{campaign.name}: {Campaign.DONE_WORDS[action]}.")
    return redirect("campaigns:detail", campaign.pk)

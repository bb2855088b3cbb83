"""Template pages: listing, template page, create and edit with a live preview, delete, test send."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core import signing
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from wabas.access import current_waba
from wabas.graph import GraphClient, MetaError

from . import variables as tv
from .forms import TemplateFilterForm, TemplateForm, TestSendForm, example_field_name
from .media import CappedUploadHandler
from .models import MessageTemplate, TemplateActionNotAllowed, TemplateSample
from .services import (
    MetaUnreachable,
    TemplateFields,
    TemplateRefused,
    TestValues,
    create_template,
    delete_templates,
    edit_template,
    refresh_template,
    send_test,
    submit_template,
    update_unsubmitted,
)

VIEW = "templates_app.view_messagetemplate"
ADD = "templates_app.add_messagetemplate"
CHANGE = "templates_app.change_messagetemplate"
DELETE = "templates_app.delete_messagetemplate"
SEND = "templates_app.send_test_messagetemplate"
# How long the link Meta fetches a test send's header media from stays good.
SAMPLE_LINK_SECONDS = 7 * 24 * 3600
SAMPLE_LINK_SALT = "template-sample"


def _get_template_or_404(pk: int) -> MessageTemplate:
    """The template with this id, or 404. Like flows, every role that may view templates sees every
    WABA's; the listing shows the WABA the user works in."""
    return get_object_or_404(
        MessageTemplate.objects.select_related("waba", "flow", "created_by"), pk=pk
    )


def _actions_for(request: HttpRequest, template: MessageTemplate) -> set[str]:
    """The buttons to show: what the status table allows and the user's role permits."""
    needs = {
        "edit": CHANGE,
        "submit": CHANGE,
        "refresh": CHANGE,
        "delete": DELETE,
        "send_test": SEND,
    }
    return {a for a in template.allowed_actions() if request.user.has_perm(needs[a])}


@permission_required(VIEW, raise_exception=True)
def template_list(request: HttpRequest) -> HttpResponse:
    waba = current_waba(request)
    filters = TemplateFilterForm(request.GET or None)
    templates = MessageTemplate.objects.none()
    if waba is not None:
        templates = waba.templates.select_related("flow", "created_by")
        if filters.is_valid() and (status := filters.cleaned_data["status"]):
            templates = templates.filter(status=status)
    page = Paginator(templates, 25).get_page(request.GET.get("page"))
    context = {"waba": waba, "page": page, "filters": filters}
    if request.htmx:
        return render(request, "templates_app/template_list.html#template-table", context)
    return render(request, "templates_app/template_list.html", context)


@permission_required(VIEW, raise_exception=True)
def template_detail(request: HttpRequest, pk: int) -> HttpResponse:
    template = _get_template_or_404(pk)
    context = {
        "template": template,
        "actions": _actions_for(request, template),
        "refusals": {a: template.refusal(a) for a in ("edit", "delete", "send_test")},
        "preview": preview_of(template),
        "test_sends": template.test_sends.select_related("sent_by", "phone_number")[:20],
        "sample": TemplateSample.objects.filter(template=template).defer("content").first(),
        "components_sent": json.dumps(template.components, indent=2, ensure_ascii=False)
        if template.components
        else "",
    }
    return render(request, "templates_app/template_detail.html", context)


# --- create and edit ---------------------------------------------------------------------------------


def _fields(form: TemplateForm) -> TemplateFields:
    data = form.cleaned_data
    return TemplateFields(
        category=data["category"],
        name=data["name"],
        language=data["language"],
        header_format=data["header_format"],
        header_text=data["header_text"],
        body=data["body"],
        footer=data["footer"],
        button_text=data["button_text"],
        flow=data["flow"],
        flow_action=data["flow_action"],
        navigate_screen=data["navigate_screen"],
        variables=data["variables"],
    )


def _initial(template: MessageTemplate) -> dict:
    initial = {
        name: getattr(template, name)
        for name in (
            "category", "name", "language", "header_format", "header_text", "body", "footer",
            "button_text", "flow_action", "navigate_screen",
        )
    }  # fmt: skip
    initial["flow"] = str(template.flow_id or "")
    for variable in template.variable_list():
        initial[example_field_name(variable.param)] = variable.example
    return initial


def _with_capped_uploads(view: object) -> object:
    """Uploads pass through CappedUploadHandler; the handler list can only change before CSRF reads
    the body, hence csrf_exempt outside and csrf_protect inside (Django's documented pattern)."""

    @csrf_exempt
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        request.upload_handlers.insert(0, CappedUploadHandler(request))
        return csrf_protect(view)(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _form_page(
    request: HttpRequest, form: TemplateForm, template: MessageTemplate | None, status: int = 200
) -> HttpResponse:
    action = (
        reverse("templates:edit", args=[template.pk])
        if template and template.pk
        else reverse("templates:create")
    )
    context = {
        "form": form,
        "template": template,
        "waba": form.waba,
        "form_action": action,
        "preview": preview_from_form(form, template),
        "flows_url": reverse("flows:list"),
    }
    return render(request, "templates_app/template_form.html", context, status=status)


def _say_refused(form: TemplateForm, exc: TemplateRefused | MetaUnreachable) -> None:
    """Meta's words at the field they are about, else at the top of the form."""
    field = getattr(exc, "field", None)
    text = f"Meta: {exc}" if getattr(exc, "from_meta", False) else str(exc)
    if field and field in form.fields:
        form.add_error(field, text)
    elif isinstance(exc, TemplateRefused):
        form.add_error(None, f"Meta refused the template. {exc}" if exc.from_meta else str(exc))
    else:
        form.add_error(None, str(exc))


@_with_capped_uploads
@permission_required(ADD, raise_exception=True)
def template_create(request: HttpRequest) -> HttpResponse:
    waba = current_waba(request)
    if waba is None:
        messages.error(request, "Connect a WhatsApp Business Account first.")
        return redirect("templates:list")
    form = TemplateForm(
        request.POST or None,
        request.FILES or None,
        waba=waba,
        too_large=getattr(request, "too_large_uploads", set()),
        initial={"category": "MARKETING", "language": "en_US", "flow_action": "navigate"},
    )
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, form, None)
    try:
        template = create_template(
            waba,
            _fields(form),
            sample=form.sample,
            by=request.user,
            client=GraphClient.for_waba(waba),
        )
    except (TemplateRefused, MetaUnreachable) as exc:
        # Kept here as not submitted: the same form, now editing that template, keeps what was typed.
        _say_refused(form, exc)
        return _form_page(request, form, exc.template)
    _say_submitted(request, template, form)
    return redirect("templates:detail", pk=template.pk)


def _say_submitted(request: HttpRequest, template: MessageTemplate, form: TemplateForm) -> None:
    if form.sample is not None and form.sample.warning:
        messages.warning(request, form.sample.warning)
    if template.previous_category:
        messages.warning(
            request,
            f"Meta gave it the category {template.get_category_display()} instead of "
            f"{template.previous_category.title()}.",
        )
    messages.success(
        request, f"{template.name} was sent to Meta: {template.get_status_display().lower()}."
    )


@_with_capped_uploads
@permission_required(CHANGE, raise_exception=True)
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = _get_template_or_404(pk)
    if not template.can("edit"):
        messages.error(request, template.refusal("edit"))
        return redirect("templates:detail", pk=template.pk)
    form = TemplateForm(
        request.POST or None,
        request.FILES or None,
        waba=template.waba,
        instance=template,
        too_large=getattr(request, "too_large_uploads", set()),
        initial=_initial(template),
    )
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, form, template)
    client = GraphClient.for_waba(template.waba)
    try:
        if template.is_on_meta:
            template = edit_template(
                template, _fields(form), sample=form.sample, by=request.user, client=client
            )
        else:
            template = update_unsubmitted(
                template, _fields(form), sample=form.sample, client=client
            )
    except (TemplateRefused, MetaUnreachable) as exc:
        _say_refused(form, exc)
        return _form_page(request, form, template)
    except TemplateActionNotAllowed as exc:
        form.add_error(None, str(exc))
        return _form_page(request, form, template)
    _say_submitted(request, template, form)
    return redirect("templates:detail", pk=template.pk)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def template_submit(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Try again": send a template Meta refused or did not answer, as it is kept here."""
    template = _get_template_or_404(pk)
    try:
        submit_template(template, client=GraphClient.for_waba(template.waba))
    except (TemplateRefused, MetaUnreachable, TemplateActionNotAllowed) as exc:
        messages.error(request, f"Not submitted. {exc}")
    else:
        messages.success(
            request, f"{template.name} was sent to Meta: {template.get_status_display().lower()}."
        )
    return redirect("templates:detail", pk=template.pk)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def template_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    template = _get_template_or_404(pk)
    try:
        template.require("refresh")
        refresh_template(template, client=GraphClient.for_waba(template.waba))
    except (TemplateActionNotAllowed, MetaError) as exc:
        messages.error(request, f"Nothing changed. {exc}")
    else:
        messages.success(request, "Refreshed from Meta.")
    return redirect("templates:detail", pk=template.pk)


@permission_required(DELETE, raise_exception=True)
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation, naming every language that goes; POST deletes them all."""
    template = _get_template_or_404(pk)
    family = MessageTemplate.objects.named(template.waba, template.name).order_by("language")
    if request.method == "POST":
        try:
            languages = delete_templates(template, client=GraphClient.for_waba(template.waba))
        except (TemplateActionNotAllowed, MetaError) as exc:
            messages.error(request, f"Nothing was deleted. {exc}")
            return redirect("templates:detail", pk=template.pk)
        messages.success(
            request, f"{template.name} was deleted here and on Meta ({', '.join(languages)})."
        )
        return redirect("templates:list")
    return render(
        request, "templates_app/template_delete.html", {"template": template, "family": family}
    )


# --- live preview while the form is filled in --------------------------------------------------------


def preview_of(template: MessageTemplate) -> dict:
    """What WhatsApp shows for a saved template, example values filled in."""
    examples = template.examples()
    sample_url = ""
    if template.has_media_header and template.pk:
        sample_url = reverse("templates:sample", args=[template.pk])
    return {
        "header_format": template.header_format,
        "header_text": tv.fill(template.header_text, examples),
        "sample_url": sample_url,
        "body": tv.fill(template.body, examples),
        "footer": template.footer,
        "button_text": template.button_text,
        "flow_action": template.flow_action,
    }


def preview_from_form(form: TemplateForm, template: MessageTemplate | None) -> dict:
    """The same, from the form as typed so far (valid or not)."""
    value = form._value
    examples = {
        v.name: (
            form.data.get(example_field_name(v.param))
            if form.is_bound
            else form.initial.get(example_field_name(v.param))
        )
        or ""
        for v in form.found_variables
    }
    header_format = value("header_format")
    sample_url = ""
    if template is not None and template.pk and header_format in template.MEDIA_FORMATS:
        sample = TemplateSample.objects.filter(template=template).only("content_type").first()
        if sample is not None and sample.header_format == header_format:
            sample_url = reverse("templates:sample", args=[template.pk])
    return {
        "header_format": header_format,
        "header_text": tv.fill(value("header_text"), examples),
        "sample_url": sample_url,
        "body": tv.fill(value("body"), examples),
        "footer": value("footer"),
        "button_text": value("button_text"),
        "flow_action": value("flow_action"),
    }


def _form_for_partials(request: HttpRequest) -> tuple[TemplateForm, MessageTemplate | None]:
    waba = current_waba(request)
    if waba is None:
        raise Http404
    template = None
    if (pk := request.POST.get("template") or request.GET.get("template", "")).isdigit():
        template = _get_template_or_404(int(pk))
        waba = template.waba
    data = request.POST if request.method == "POST" else request.GET
    # Unbound, with what was typed as its initial values: half-typed input isn't an error yet.
    initial = {key: data.get(key) for key in data}
    return TemplateForm(waba=waba, instance=template, initial=initial), template


@require_POST
@permission_required(ADD, raise_exception=True)
def template_preview(request: HttpRequest) -> HttpResponse:
    """The message preview partial, from the form as typed (htmx, on every change)."""
    form, template = _form_for_partials(request)
    return render(
        request,
        "templates_app/_message_preview.html",
        {"preview": preview_from_form(form, template)},
    )


@require_POST
@permission_required(ADD, raise_exception=True)
def template_variables(request: HttpRequest) -> HttpResponse:
    """One example field per variable in the header and body as typed (htmx, as the body changes)."""
    form, template = _form_for_partials(request)
    return render(request, "templates_app/_template_fields.html#variable-examples", {"form": form})


@require_GET
@permission_required(ADD, raise_exception=True)
def template_flow_screens(request: HttpRequest) -> HttpResponse:
    """The landing screens of the chosen flow (htmx, when the flow changes)."""
    form, template = _form_for_partials(request)
    return render(request, "templates_app/_template_fields.html#landing-screen", {"form": form})


# --- media sample --------------------------------------------------------------------------------------


def _sample_response(sample: TemplateSample) -> HttpResponse:
    response = HttpResponse(bytes(sample.content), content_type=sample.content_type)
    response["Content-Disposition"] = content_disposition_header(False, sample.filename)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@permission_required(VIEW, raise_exception=True)
def template_sample(request: HttpRequest, pk: int) -> HttpResponse:
    """The header sample the template was reviewed with, for those who may see the template."""
    template = _get_template_or_404(pk)
    return _sample_response(get_object_or_404(TemplateSample, template=template))


def public_sample_link(template: MessageTemplate, request: HttpRequest | None = None) -> str:
    """A link Meta can fetch the sample from when a test send needs the header's media: signed, and
    good for SAMPLE_LINK_SECONDS, since Meta can't sign in."""
    token = signing.dumps(template.pk, salt=SAMPLE_LINK_SALT)
    return settings.PUBLIC_BASE_URL + reverse("templates:public_sample", args=[token])


@login_not_required
@require_GET
def template_public_sample(request: HttpRequest, token: str) -> HttpResponse:
    try:
        pk = signing.loads(token, salt=SAMPLE_LINK_SALT, max_age=SAMPLE_LINK_SECONDS)
    except signing.BadSignature:
        raise Http404 from None
    return _sample_response(get_object_or_404(TemplateSample, template_id=pk))


# --- test send -----------------------------------------------------------------------------------------


@permission_required(SEND, raise_exception=True)
def template_send_test(request: HttpRequest, pk: int) -> HttpResponse:
    template = _get_template_or_404(pk)
    if request.method == "POST" and not template.can("send_test"):
        messages.error(request, template.refusal("send_test"))
        return redirect("templates:detail", pk=template.pk)
    initial = {"header_link": public_sample_link(template)} if template.has_media_header else {}
    form = TestSendForm(request.POST or None, template=template, initial=initial)
    result = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        result = send_test(
            template,
            TestValues(
                to=data["to"],
                phone_number=data["phone_number"],
                values=form.values(),
                header_link=data.get("header_link") or public_sample_link(template),
                location=form.location(),
                flow_action_data=data.get("flow_action_data") or {},
            ),
            by=request.user,
            client=GraphClient.for_waba(template.waba),
        )
        if result.ok:
            messages.success(
                request,
                f"Sent to +{result.to}: Meta's message id {result.wamid} ({result.message_status}).",
            )
            return redirect("templates:detail", pk=template.pk)
    context = {
        "template": template,
        "form": form,
        "result": result,
        "refusal": template.refusal("send_test"),
        "preview": preview_of(template),
    }
    return render(request, "templates_app/template_send_test.html", context)

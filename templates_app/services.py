"""Writes about templates that call Meta: submit, edit, delete, refresh and send a test.

As everywhere: check locally first, call Meta outside any transaction, then apply Meta's answer in one
short transaction. A new template is saved here before Meta is asked, so nothing typed is lost when
Meta refuses or can't be reached; it stays NOT_SUBMITTED with Meta's words until "Try again".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from flowsadmin.models import Flow
from flowsadmin.tokens import issue_flow_token
from wabas.graph import (
    FlowButton,
    GraphClient,
    HeaderParameter,
    MetaError,
    MetaTransientError,
    TemplateContent,
    TemplateHeader,
)
from wabas.models import PhoneNumber

from . import variables as tv
from .media import Sample
from .models import MessageTemplate, TemplateActionNotAllowed, TemplateSample, TestSend


class TemplateRefused(Exception):
    """Meta (or our last check before calling it) refused the template; `field` is where to say so."""

    def __init__(self, message: str, *, field: str | None = None, from_meta: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.from_meta = from_meta
        self.template: MessageTemplate | None = None


class MetaUnreachable(Exception):
    """Meta did not answer in time; the template is kept here to try again."""

    template: MessageTemplate | None = None


@dataclass
class TemplateFields:
    """What the form collected, copied onto the template one field at a time."""

    category: str
    name: str
    language: str
    header_format: str
    header_text: str
    body: str
    footer: str
    button_text: str
    flow: Flow
    flow_action: str
    navigate_screen: str
    variables: list[tv.Variable] = field(default_factory=list)


REVIEW_FIELDS = (
    "status", "status_reason", "rejection_reason", "rejection_recommendation", "status_detail",
)  # fmt: skip
# Meta's error subcodes for template content, and the form field each is about.
SUBCODE_FIELDS = {
    2388024: "name",  # that name and language exist
    2388046: "name",  # name format
    2388047: "header_format",
    2388072: "body",
    2388073: "footer",
    2388293: "body",
    2388299: "body",
}
# Without a subcode, the field Meta's sentence is about.
WORD_FIELDS = (
    ("navigate screen", "navigate_screen"),
    ("can't be opened at", "navigate_screen"),
    ("flow", "flow"),
    ("button", "button_text"),
    ("footer", "footer"),
    ("header", "header_format"),
    ("body", "body"),
    ("name", "name"),
    ("category", "category"),
)


def field_for(error: MetaError) -> str | None:
    """The form field Meta's refusal names, or None to show it at the top."""
    if error.subcode in SUBCODE_FIELDS:
        return SUBCODE_FIELDS[error.subcode]
    text = f"{error.user_message} {error.message}".lower()
    if error.subcode == 2388040:  # a text over its limit: Meta's sentence names which
        text = error.user_message.lower()
    return next((name for word, name in WORD_FIELDS if word in text), None)


def _apply_fields(template: MessageTemplate, fields: TemplateFields) -> None:
    template.category = fields.category
    template.name = fields.name
    template.language = fields.language
    template.header_format = fields.header_format
    template.header_text = fields.header_text if fields.header_format == "TEXT" else ""
    template.body = fields.body
    template.footer = fields.footer
    template.button_text = fields.button_text
    template.flow = fields.flow
    template.flow_label = f"{fields.flow.name} (Flow ID {fields.flow.meta_flow_id})"
    template.flow_action = fields.flow_action
    template.navigate_screen = fields.navigate_screen
    template.variables = [v.as_dict() for v in fields.variables]


def _save_sample(template: MessageTemplate, sample: Sample) -> None:
    TemplateSample.objects.update_or_create(
        template=template,
        defaults={
            "content": sample.content,
            "content_type": sample.content_type,
            "filename": sample.filename,
            "size": len(sample.content),
            "width": sample.width,
            "height": sample.height,
        },
    )
    template.header_handle = ""  # a new sample needs a new upload


def content_of(template: MessageTemplate) -> TemplateContent:
    """The template as Meta's TemplateContent, variables as NAMED parameters."""
    examples = {v.param: v.example for v in template.variable_list()}
    header = None
    if template.header_format == "TEXT":
        names = tv.parse(template.header_text)
        header = TemplateHeader(
            format="TEXT",
            text=tv.to_meta(template.header_text),
            example=examples.get(tv.param_name(names[0]), "") if names else "",
        )
    elif template.header_format:
        header = TemplateHeader(format=template.header_format, handle=template.header_handle)
    button = FlowButton(
        text=template.button_text,
        flow_id=template.flow.meta_flow_id if template.flow else "",
        flow_action=template.flow_action,
        navigate_screen=template.navigate_screen
        if template.flow_action == MessageTemplate.FlowAction.NAVIGATE
        else "",
    )
    body_params = {tv.param_name(n) for n in tv.parse(template.body)}
    return TemplateContent(
        body=tv.to_meta(template.body),
        examples={p: e for p, e in examples.items() if p in body_params},
        header=header,
        footer=template.footer,
        flow_button=button,
    )


def _check_flow(template: MessageTemplate) -> None:
    """The flow may have been deprecated since the form was drawn: say so at the flow field."""
    flow = Flow.objects.filter(pk=template.flow_id).first() if template.flow_id else None
    if flow is None or flow.status != Flow.Status.PUBLISHED:
        what = f"{flow.name} is {flow.get_status_display().lower()}" if flow else "The flow is gone"
        raise TemplateRefused(
            f"{what}: Meta attaches only published flows. Choose another flow.", field="flow"
        )


def _upload_sample(template: MessageTemplate, client: GraphClient) -> None:
    """Send the sample through Meta's resumable upload; its handle is what the template carries."""
    if not template.has_media_header or template.header_handle:
        return
    sample = TemplateSample.objects.filter(template=template).first()
    if sample is None:
        raise TemplateRefused("Upload a sample for the media header.", field="header_sample")
    handle = client.upload_media_resumable(
        content=bytes(sample.content), file_name=sample.filename, mime_type=sample.content_type
    )
    template.header_handle = handle
    template.save(update_fields=["header_handle"])


def create_template(
    waba: object, fields: TemplateFields, *, sample: Sample | None, by: object, client: GraphClient
) -> MessageTemplate:
    """Keep a new template here, then submit it to Meta (see submit_template for what it raises)."""
    with transaction.atomic():
        template = MessageTemplate(
            waba=waba, created_by=by, status=MessageTemplate.Status.NOT_SUBMITTED
        )
        _apply_fields(template, fields)
        template.save()
        if sample is not None:
            _save_sample(template, sample)
            template.save(update_fields=["header_handle"])
    try:
        submit_template(template, client=client)
    except (TemplateRefused, MetaUnreachable) as exc:
        exc.template = template  # kept here: the page goes on with it
        raise
    return template


def update_unsubmitted(
    template: MessageTemplate, fields: TemplateFields, *, sample: Sample | None, client: GraphClient
) -> MessageTemplate:
    """Change a template Meta never took, then submit it again."""
    template.require("submit")
    with transaction.atomic():
        _apply_fields(template, fields)
        if sample is not None:
            _save_sample(template, sample)
        template.save()
    submit_template(template, client=client)
    return template


def submit_template(template: MessageTemplate, *, client: GraphClient) -> MessageTemplate:
    """POST it to Meta: PENDING, APPROVED or REJECTED and the category Meta gave, on the row.

    Raises TemplateRefused (Meta said no; its words at the field they concern) or MetaUnreachable
    (Meta did not answer); either way the template stays here, NOT_SUBMITTED, with the reason.
    """
    template.require("submit")
    try:
        _check_flow(template)
        found = _already_on_meta(template, client)
        if found is None:
            _upload_sample(template, client)
            content = content_of(template)
            answer = client.create_template(
                template.waba.meta_waba_id,
                name=template.name,
                language=template.language,
                category=template.category,
                content=content,
            )
            template.components = content.components()
        else:
            answer = found
    except MetaTransientError as exc:
        # A create is never repeated blindly: the next try looks the name up first.
        message = f"Meta did not answer ({exc}). Your template is kept here: try again in a moment."
        template.mark_not_submitted(message)
        raise MetaUnreachable(message) from exc
    except MetaError as exc:
        template.mark_not_submitted(exc.user_message)
        raise TemplateRefused(exc.user_message, field=field_for(exc), from_meta=True) from exc
    except TemplateRefused as exc:
        template.mark_not_submitted(str(exc))
        raise
    with transaction.atomic():
        template.mark_submitted(
            meta_id=str(answer["id"]),
            status=str(answer.get("status") or ""),
            category=answer.get("category"),
        )
    return template


def _already_on_meta(template: MessageTemplate, client: GraphClient) -> dict | None:
    """After an unanswered create, Meta may have made it anyway: find it by name and language."""
    if not template.submission_error:
        return None
    for found in client.list_templates(template.waba.meta_waba_id, name=template.name):
        if found.get("language", "").replace("-", "_") == template.language.replace("-", "_"):
            return found
    return None


def edit_template(
    template: MessageTemplate,
    fields: TemplateFields,
    *,
    sample: Sample | None,
    by: object,
    client: GraphClient,
) -> MessageTemplate:
    """Replace a submitted template's content on Meta (back to PENDING); nothing changes here if Meta
    refuses. Raises TemplateActionNotAllowed, TemplateRefused or MetaUnreachable."""
    template.require("edit")
    draft = MessageTemplate.objects.get(pk=template.pk)
    _apply_fields(draft, fields)
    draft.name, draft.language = template.name, template.language  # Meta keeps these
    started = timezone.now()
    try:
        _check_flow(draft)
        if sample is not None:
            draft.header_handle = client.upload_media_resumable(
                content=sample.content, file_name=sample.filename, mime_type=sample.content_type
            )
        elif draft.has_media_header and not draft.header_handle:
            raise TemplateRefused("Upload a sample for the media header.", field="header_sample")
        content = content_of(draft)
        category = draft.category if draft.category != template.category else None
        client.edit_template(template.meta_template_id, content, category=category)
    except MetaTransientError as exc:
        raise MetaUnreachable(
            f"Meta did not answer ({exc}). Nothing was changed: try again."
        ) from exc
    except MetaError as exc:
        raise TemplateRefused(exc.user_message, field=field_for(exc), from_meta=True) from exc
    now = timezone.now()
    with transaction.atomic():
        fresh = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        draft.components = content.components()
        draft.status = template.status  # mark_edited counts an edit of an approved template
        draft.approved_edits = template.approved_edits
        draft.mark_edited(now)
        if fresh.updated_at > started:
            # Meta's review of this edit arrived by webhook before its answer to the edit: it stands.
            for name in REVIEW_FIELDS:
                setattr(draft, name, getattr(fresh, name))
        draft.save()
        if sample is not None:
            handle = draft.header_handle
            _save_sample(draft, sample)
            draft.header_handle = handle
            draft.save(update_fields=["header_handle"])
    return draft


def delete_templates(template: MessageTemplate, *, client: GraphClient) -> list[str]:
    """Delete every language of the template's name, on Meta and here; the languages deleted.

    Raises TemplateActionNotAllowed (one of them is DISABLED, or a campaign uses one) or MetaError.
    """
    family = list(MessageTemplate.objects.named(template.waba, template.name))
    for member in family:
        member.require("delete")
    if template.campaigns.model.objects.filter(template__in=family).exists():
        raise TemplateActionNotAllowed(
            "A campaign uses this template: it stays as long as the campaign does."
        )
    if any(member.is_on_meta for member in family):
        try:
            client.delete_template(template.waba.meta_waba_id, name=template.name)
        except MetaError as exc:
            if exc.subcode != 2593002:  # already gone on Meta: delete ours too
                raise
    languages = sorted(member.language for member in family)
    MessageTemplate.objects.filter(pk__in=[m.pk for m in family]).delete()
    return languages


def refresh_template(template: MessageTemplate, *, client: GraphClient) -> MessageTemplate:
    """Pull status, reason, quality and category from Meta (for a missed webhook)."""
    if template.meta_template_id:
        template.apply_meta_state(client.get_template(template.meta_template_id))
    return template


def _in_words(exc: MetaError) -> str:
    """Meta's message and, where it gives them, its details ("(#132015) Template is Paused: ...")."""
    if isinstance(exc, MetaTransientError):
        return str(exc)
    details = exc.details if isinstance(exc.details, str) else ""
    return (
        f"{exc.user_message}: {details}"
        if details and details not in exc.user_message
        else exc.user_message
    )


@dataclass(frozen=True)
class TestValues:
    to: str
    phone_number: PhoneNumber
    values: dict[str, str]  # by Meta's parameter name
    header_link: str = ""
    location: dict = field(default_factory=dict)  # latitude, longitude, name, address
    flow_action_data: dict = field(default_factory=dict)


def send_test(
    template: MessageTemplate, test: TestValues, *, by: object, client: GraphClient
) -> TestSend:
    """Send the approved template to one number with a flow token issued for this one send.

    The send is recorded either way: a TestSend with the wamid, or with Meta's refusal in `error`.
    Raises TemplateActionNotAllowed before calling Meta when it can't be sent.
    """
    template.require("send_test")
    token = issue_flow_token(whatsapp_id=test.to, flow=template.flow)
    header = None
    if template.header_format == "TEXT" and tv.parse(template.header_text):
        param = tv.param_name(tv.parse(template.header_text)[0])
        header = HeaderParameter(type="text", text=test.values.get(param, ""), parameter_name=param)
    elif template.header_format == "LOCATION":
        header = HeaderParameter(type="location", location=test.location)
    elif template.has_media_header:
        header = HeaderParameter(
            type=template.header_format.lower(),
            link=test.header_link,
            filename=getattr(getattr(template, "sample", None), "filename", "")
            if template.header_format == "DOCUMENT"
            else "",
        )
    body_params = [tv.param_name(n) for n in tv.parse(template.body)]
    record = TestSend(
        template=template, sent_by=by, phone_number=test.phone_number, to=test.to, flow_token=token
    )
    try:
        sent = client.send_template_message(
            test.phone_number.meta_phone_number_id,
            to=test.to,
            template_name=template.name,
            language=template.language,
            body={p: test.values.get(p, "") for p in body_params},
            header=header,
            flow_token=token,
            flow_action_data=test.flow_action_data or None,
        )
    except MetaError as exc:
        record.error = _in_words(exc)
    else:
        record.wamid, record.message_status = sent.wamid, sent.message_status
    record.save()
    return record

"""The Graph API stand-in: sending template messages; their statuses follow by webhook."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import tasks
from ..models import THROTTLED_SENDS_PER_HOUR, Flow, Message, PhoneNumber, Template
from ..services import STATUS_DELAY
from .core import Call, GraphError, invalid, route

# --- Messages -------------------------------------------------------------------------------------


@route("phone", "messages", "POST")
def send_message(call: Call, phone: PhoneNumber) -> dict:
    """POST /{phone-number-id}/messages: template messages; statuses follow by webhook."""
    params = call.params
    if params.get("messaging_product") != "whatsapp":
        raise invalid("The parameter messaging_product is required and must be whatsapp.")
    to = params.get("to")
    if not to:
        raise invalid("The parameter to is required.", code=131008)
    wa_id = re.sub(r"[\s()+-]", "", str(to))
    if not re.fullmatch(r"[0-9]{6,15}", wa_id):
        raise invalid(f"The recipient {to} is not a valid phone number.", code=131009)
    if params.get("type", "text") != "template":
        raise invalid("The sandbox sends template messages only (type template).", code=131009)
    spec = params.get("template")
    name = spec.get("name") if isinstance(spec, dict) else None
    if not isinstance(name, str) or not name:
        raise invalid("The parameter template.name is required.", code=131008)
    language = spec.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    code = code if isinstance(code, str) else ""
    template = phone.account.templates.filter(name=name, language=code).first()
    if template is None or template.status != Template.Status.APPROVED:
        raise GraphError(
            132001,
            "(#132001) Template name does not exist in the translation",
            status=404,
            details=f"template name ({name}) does not exist in {code or 'the given language'}"
            if template is None
            else f"template name ({name}) is {template.status}, not APPROVED",
        )
    flow = _check_sendable_flow(template)
    with transaction.atomic():
        message = Message.objects.create(
            phone=phone,
            wamid=Message.new_wamid(),
            to=wa_id,
            template=template,
            template_name=template.name,
            flow=flow,
            payload=params,
        )
        tasks.advance_message_task.apply_async_on_commit((message.pk,), countdown=STATUS_DELAY)
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": str(to), "wa_id": wa_id}],
        "messages": [{"id": message.wamid, "message_status": "accepted"}],
    }


def _check_sendable_flow(template: Template) -> Flow | None:
    """The flow behind a template's FLOW button, if it may still be sent (132068, 132069)."""
    flow = Flow.objects.filter(flow_id__in=template.flow_ids()).first()
    if flow is None:
        return None
    if flow.status in (Flow.Status.BLOCKED, Flow.Status.DEPRECATED):
        raise GraphError(
            132068,
            "(#132068) Flow is in blocked state",
            details=f"The flow {flow.flow_id} is {flow.status} and cannot be sent.",
        )
    if flow.status == Flow.Status.THROTTLED:
        since = timezone.now() - timedelta(hours=1)
        if flow.messages.filter(created_at__gte=since).count() >= THROTTLED_SENDS_PER_HOUR:
            raise GraphError(
                132069,
                "(#132069) Flow is in throttled state",
                details="10 messages using this flow were already sent in the last hour",
            )
    return flow

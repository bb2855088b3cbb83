"""The Graph API stand-in: message templates (list, read, create, delete) and their review."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from .. import tasks
from ..models import Account, Flow, Template
from ..services import REVIEW_DELAY
from .core import Call, as_list, invalid, page, required, route, select

TEMPLATE_CATEGORIES = {"MARKETING", "UTILITY", "AUTHENTICATION"}
TEMPLATES_PER_ACCOUNT = 250


# --- Templates ------------------------------------------------------------------------------------


def _template_fields(call: Call, template: Template) -> dict:
    full = {
        "id": template.template_id,
        "name": template.name,
        "status": template.status,
        "category": template.category,
        "language": template.language,
        "parameter_format": template.parameter_format,
        "components": template.components,
        "rejected_reason": template.rejected_reason,
    }
    getters = {name: (lambda m, v=value: v) for name, value in full.items()}
    return select(call, "template", getters, list(full))


@route("waba", "message_templates", "GET")
def list_templates(call: Call, account: Account) -> dict:
    templates = account.templates.all()
    for name in ("name", "status", "category", "language"):
        if value := call.params.get(name):
            templates = templates.filter(**{name: value})
    return page(call, templates, lambda template: _template_fields(call, template))


@route("template", "", "GET")
def get_template(call: Call, template: Template) -> dict:
    return _template_fields(call, template)


@route("waba", "message_templates", "POST")
def create_template(call: Call, account: Account) -> dict:
    """POST /{waba-id}/message_templates: checked, stored PENDING, reviewed by a task shortly after."""
    name = required(call, "name")
    if not re.fullmatch(r"[a-z0-9_]{1,512}", name):
        raise invalid(
            "The template name may contain only lowercase letters, numbers and underscores."
        )
    category = required(call, "category").upper()
    if category not in TEMPLATE_CATEGORIES:
        raise invalid(f"Invalid category {category}; use MARKETING, UTILITY or AUTHENTICATION.")
    language = required(call, "language")
    if not re.fullmatch(r"[a-z]{2,3}(_[A-Za-z]{2,4})?", language):
        raise invalid(f"Invalid language code {language}.")
    parameter_format = str(call.params.get("parameter_format") or "POSITIONAL").upper()
    if parameter_format not in ("POSITIONAL", "NAMED"):
        raise invalid("The parameter parameter_format must be POSITIONAL or NAMED.")
    components = _template_components(call, account)
    if account.templates.filter(name=name, language=language).exists():
        raise invalid(
            f"Content in {language} already exists for the template {name}.", subcode=2388024
        )
    if account.templates.count() >= TEMPLATES_PER_ACCOUNT:
        raise invalid("Template count limit of 250 reached.", subcode=2388019)
    try:
        with transaction.atomic():
            template = Template.objects.create(
                account=account,
                name=name,
                language=language,
                category=category,
                parameter_format=parameter_format,
                components=components,
            )
            tasks.review_template_task.apply_async_on_commit((template.pk,), countdown=REVIEW_DELAY)
    except IntegrityError:
        raise invalid(
            f"Content in {language} already exists for the template {name}.", subcode=2388024
        ) from None
    return {"id": template.template_id, "status": template.status, "category": template.category}


def _template_components(call: Call, account: Account) -> list[dict]:
    """Meta's basic component rules: one BODY, text limits, and FLOW buttons that name a live flow."""
    components = call.params.get("components")
    if isinstance(components, str):
        components = as_list(components, "components")
    if not isinstance(components, list) or not components:
        raise invalid("The parameter components is required.")
    kinds = [str(c.get("type", "")).upper() if isinstance(c, dict) else "" for c in components]
    if any(kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS") for kind in kinds):
        raise invalid("Each component needs a type: HEADER, BODY, FOOTER or BUTTONS.")
    if kinds.count("BODY") != 1:
        raise invalid("A template needs exactly one BODY component.")
    for kind, component in zip(kinds, components, strict=True):
        limit = {"BODY": 1024, "FOOTER": 60, "HEADER": 60}.get(kind)
        text = component.get("text")
        if kind == "BODY" and (not isinstance(text, str) or not text.strip()):
            raise invalid("The BODY component needs text.")
        if limit and isinstance(text, str) and len(text) > limit:
            raise invalid(f"The {kind} text is longer than {limit} characters.", subcode=2388040)
        if kind == "BUTTONS":
            buttons = component.get("buttons")
            if not isinstance(buttons, list) or not buttons or len(buttons) > 10:
                raise invalid("BUTTONS needs between 1 and 10 buttons.")
            for button in buttons:
                if isinstance(button, dict) and str(button.get("type", "")).upper() == "FLOW":
                    _check_flow_button(button, account)
    return components


def _check_flow_button(button: dict, account: Account) -> None:
    """A FLOW button names a published flow of this WABA (by id or name, resolved to the id)."""
    text = button.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > 25:
        raise invalid("A FLOW button needs text of at most 25 characters.")
    if button.get("flow_json"):
        return  # Meta would create the flow itself; the sandbox takes it as given.
    if button.get("flow_id"):
        flow = account.flows.filter(flow_id=str(button["flow_id"])).first()
    elif button.get("flow_name"):
        flow = account.flows.filter(name=str(button["flow_name"])).first()
    else:
        raise invalid("A FLOW button needs flow_id, flow_name or flow_json.")
    if flow is None:
        raise invalid(
            "The FLOW button names a flow that does not exist in this WhatsApp Business Account."
        )
    if flow.status not in (Flow.Status.PUBLISHED, Flow.Status.THROTTLED):
        raise invalid(
            f"The FLOW button's flow is {flow.status}; only published flows can be attached."
        )
    button["flow_id"] = flow.flow_id


@route("waba", "message_templates", "DELETE")
def delete_templates(call: Call, account: Account) -> dict:
    """DELETE /{waba-id}/message_templates?name=..: every language of it, or one with hsm_id."""
    name = required(call, "name")
    templates = account.templates.filter(name=name)
    if hsm_id := call.params.get("hsm_id"):
        templates = templates.filter(template_id=str(hsm_id))
    if not templates.exists():
        raise invalid(f"Message template {name} was not found.", subcode=2593002)
    templates.delete()
    return {"success": True}

"""The Graph API stand-in: message templates (list, read, create, edit, delete), reviewed by a task.

What a template says is checked by `template_rules`; here are the rules about templates as a whole:
the name (lowercase letters, digits and underscores, at most 512 characters), one template per name and
language (2388024), 250 template names per account (2388019), and Meta's editing rules (only APPROVED,
REJECTED or PAUSED templates; an approved one at most once in 24 hours and 10 times in 30 days, and
never into another category). A created or edited template is PENDING until `review_template_task`.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import tasks
from ..models import Account, Template
from ..services import REVIEW_DELAY
from .core import Call, GraphError, invalid, page, refusal, required, route, select
from .template_rules import check_components

TEMPLATE_CATEGORIES = {"MARKETING", "UTILITY", "AUTHENTICATION"}
PARAMETER_FORMATS = {"POSITIONAL", "NAMED"}
# Template names per account; each name may have a template in every language.
TEMPLATES_PER_ACCOUNT = 250
NAME = re.compile(r"[a-z0-9_]{1,512}")
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")


def _template_fields(call: Call, template: Template) -> dict:
    full = {
        "id": template.template_id,
        "name": template.name,
        "status": template.status,
        "category": template.category,
        "previous_category": template.previous_category or None,
        "language": template.language,
        "parameter_format": template.parameter_format,
        "components": template.components,
        "rejected_reason": template.rejected_reason,
        "quality_score": {
            "score": template.quality_score,
            "date": int((template.quality_updated_at or template.created_at).timestamp()),
        },
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


def _category(call: Call) -> str:
    category = required(call, "category").upper()
    if category not in TEMPLATE_CATEGORIES:
        raise refusal(
            "Category is invalid",
            f"{category} is not a template category: use MARKETING, UTILITY or AUTHENTICATION.",
        )
    return category


def _exists(name: str, language: str) -> GraphError:
    return refusal(
        "Content in This Language Already Exists",
        f"There is already {language} content for the template {name}. You can create a new "
        "template and try again.",
        subcode=2388024,
    )


@route("waba", "message_templates", "POST")
def create_template(call: Call, account: Account) -> dict:
    """POST /{waba-id}/message_templates: checked, stored PENDING, reviewed by a task shortly after."""
    name = required(call, "name")
    if not NAME.fullmatch(name):
        raise refusal(
            "Name Format is Incorrect",
            "The message template name can only have lowercase letters, numbers and underscores, "
            "and at most 512 characters.",
            subcode=2388046,
        )
    category = _category(call)
    language = required(call, "language")
    if not LANGUAGE.fullmatch(language):
        raise invalid(f"Invalid language code {language}.")
    parameter_format = str(call.params.get("parameter_format") or "POSITIONAL").upper()
    if parameter_format not in PARAMETER_FORMATS:
        raise invalid("The parameter parameter_format must be POSITIONAL or NAMED.")
    templates = account.templates.all()
    if templates.filter(name=name, language=language).exists():
        raise _exists(name, language)
    names = templates.values("name").distinct().count()
    if not templates.filter(name=name).exists() and names >= TEMPLATES_PER_ACCOUNT:
        raise refusal(
            "Message template limit exceeded",
            f"This WhatsApp Business Account already has {TEMPLATES_PER_ACCOUNT} message templates: "
            "delete one before creating another.",
            subcode=2388019,
        )
    components = check_components(
        call.params.get("components"),
        account=account,
        category=category,
        parameter_format=parameter_format,
    )
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
        raise _exists(name, language) from None
    return {"id": template.template_id, "status": template.status, "category": template.category}


@route("template", "", "POST")
def edit_template(call: Call, template: Template) -> dict:
    """POST /{template-id}: new components (and category), back to PENDING for another review."""
    if not template.can("edit"):
        raise refusal(
            "Message template can't be edited",
            f"Only APPROVED, REJECTED or PAUSED templates can be edited; {template.name} is "
            f"{template.status}.",
        )
    now = timezone.now()
    if limit := template.edit_limit_reached(now):
        raise refusal(
            "Message template edit limit reached",
            f"An approved template can be edited at most {limit}, and {template.name} already "
            "was: try again later.",
        )
    if call.params.get("components") is None and call.params.get("category") is None:
        raise invalid("Give the template's new components or category.")
    category = template.category
    if call.params.get("category") is not None:
        category = _category(call)
        if category != template.category and template.status == Template.Status.APPROVED:
            raise refusal(
                "Category can't be changed",
                "The category of an approved template can't be changed.",
            )
    components = template.components
    if call.params.get("components") is not None:
        components = check_components(
            call.params["components"],
            account=template.account,
            category=category,
            parameter_format=template.parameter_format,
        )
    with transaction.atomic():
        template.replace_content(
            components=components,
            category=category,
            parameter_format=template.parameter_format,
            now=now,
        )
        tasks.review_template_task.apply_async_on_commit((template.pk,), countdown=REVIEW_DELAY)
    return {"success": True}


@route("waba", "message_templates", "DELETE")
def delete_templates(call: Call, account: Account) -> dict:
    """DELETE /{waba-id}/message_templates?name=..: every language of it, or one with hsm_id."""
    name = required(call, "name")
    templates = account.templates.filter(name=name)
    if hsm_id := call.params.get("hsm_id"):
        templates = templates.filter(template_id=str(hsm_id))
    if not templates.exists():
        raise invalid(f"Message template {name} was not found.", subcode=2593002)
    if templates.filter(status=Template.Status.DISABLED).exists():
        raise refusal(
            "Message template can't be deleted",
            f"{name} is DISABLED, and disabled templates can't be deleted.",
        )
    templates.delete()
    return {"success": True}

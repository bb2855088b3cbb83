"""What the sandbox does that touches several rows or the outside world: accounts, knobs, webhooks,
and Meta's monitors (flow health, template review, template quality and category).

Every webhook goes through `send_webhook`: one row per delivery, queued after the transaction commits,
signed and POSTed by `deliver_webhook_task`. The template monitors (`pause_template`,
`unpause_template`, `disable_template`, `set_template_quality`, `announce_category_change`,
`recategorize_template`) are what the sandbox page's buttons call, and what tests and demos use to make
Meta's template webhooks happen.
"""

from __future__ import annotations

import hashlib
import json
import time

import requests
from django.db import transaction

from . import tasks
from .meta_crypto import sign
from .models import (
    Account,
    Faults,
    Flow,
    Message,
    PhoneNumber,
    SentWebhook,
    Template,
    default_webhook_url,
)

# Seconds before Meta's "review" of a template ends, and between two message statuses (a real worker
# honours them; in-process tasks run at once).
REVIEW_DELAY = 2
STATUS_DELAY = 1
WEBHOOK_TIMEOUT = (2, 5)  # connect, read


def ensure_account(
    *,
    waba_id: str,
    name: str,
    access_token: str,
    app_secret: str,
    app_id: str = "",
    webhook_url: str | None = None,
    phone_numbers: list[tuple[str, str, str]] | tuple = (),
) -> Account:
    """Create or update the account Meta holds for a WABA, and its phone numbers. Idempotent.

    phone_numbers are (phone_number_id, display_phone_number, verified_name). A webhook_url of None
    keeps the account's URL, or gives a new account PUBLIC_BASE_URL/meta/webhook/.
    """
    with transaction.atomic():
        account = Account.objects.filter(waba_id=waba_id).first() or Account(waba_id=waba_id)
        account.name = name
        account.access_token = access_token
        account.app_secret = app_secret
        account.app_id = app_id
        if webhook_url is not None:
            account.webhook_url = webhook_url
        elif not account.webhook_url:
            account.webhook_url = default_webhook_url()
        account.save()
        for phone_number_id, display, verified_name in phone_numbers:
            PhoneNumber.objects.update_or_create(
                phone_number_id=phone_number_id,
                defaults={
                    "account": account,
                    "display_phone_number": display,
                    "verified_name": verified_name,
                },
            )
    return account


def set_faults(
    *,
    error_rate: float = 0,
    throttle_rate: float = 0,
    latency_ms: int = 0,
    error_code: int | None = None,
    error_code_rate: float = 0,
    error_code_to: str = "",
) -> None:
    """Set the fault knobs every Graph call obeys; rates are clamped to 0..1.

    error_code (one of Meta's send codes, see graph/messages.py SEND_ERRORS) is answered to
    error_code_rate of message sends, to everyone or only to the WhatsApp id error_code_to.
    """
    Faults.objects.update_or_create(
        pk=1,
        defaults={
            "error_rate": min(max(float(error_rate), 0.0), 1.0),
            "throttle_rate": min(max(float(throttle_rate), 0.0), 1.0),
            "latency_ms": max(int(latency_ms), 0),
            "error_code": int(error_code) if error_code else None,
            "error_code_rate": min(max(float(error_code_rate), 0.0), 1.0),
            "error_code_to": str(error_code_to or ""),
        },
    )


# Why the health monitor moved a flow, when the caller gives no reason.
_DEFAULT_REASONS = {
    Flow.Status.THROTTLED: "The endpoint error rate reached 10%.",
    Flow.Status.BLOCKED: "The endpoint error rate reached 50%.",
    Flow.Status.PUBLISHED: "",
}


def change_flow_status(flow_id: str, status: str, *, reason: str = "") -> None:
    """Play Meta's health monitor: throttle, block or recover a published flow, with its webhooks.

    Raises Flow.DoesNotExist for an unknown id, ValueError for a status the monitor never sets, and
    FlowStateError when the flow's status does not allow the move (drafts, deprecated flows).
    """
    flow = Flow.objects.select_related("account").get(flow_id=flow_id)
    action = Flow.HEALTH_ACTIONS.get(status)
    if action is None:
        raise ValueError(
            f"The health monitor sets THROTTLED, BLOCKED or PUBLISHED, not {status!r}."
        )
    flow.require(action)
    with transaction.atomic():
        send_webhook(flow.account, "flows", _error_rate_alert(flow, status))
        move_flow(flow, status, reason=reason or _DEFAULT_REASONS[status])


def _error_rate_alert(flow: Flow, status: str) -> dict:
    """The ENDPOINT_ERROR_RATE alert that explains a health move (Meta's flows webhook, event ENDPOINT_ERROR_RATE)."""
    rate, threshold = {
        Flow.Status.THROTTLED: (12.5, 10),
        Flow.Status.BLOCKED: (55.0, 50),
        Flow.Status.PUBLISHED: (0.0, 10),
    }[status]
    recovered = status == Flow.Status.PUBLISHED
    return {
        "event": "ENDPOINT_ERROR_RATE",
        "message": (
            f"Flow endpoint error rate has recovered below the {threshold}% threshold"
            if recovered
            else f"Flow endpoint error rate has reached the {threshold}% threshold"
        ),
        "flow_id": flow.flow_id,
        "error_rate": rate,
        "threshold": threshold,
        "alert_state": "DEACTIVATED" if recovered else "ACTIVATED",
        "errors": []
        if recovered
        else [{"error_type": "TIMEOUT_ERROR", "error_rate": 100.0, "error_count": int(rate * 2)}],
    }


def save_new_flow(flow: Flow, *, notify: bool = True) -> Flow:
    """Store a flow Meta just created and announce it: FLOW_STATUS_CHANGE to DRAFT, no old status.

    notify=False sends no webhook (see `publish_flow`). Raises IntegrityError when the account
    already has a flow of that name.
    """
    with transaction.atomic():
        flow.save()
        if notify:
            send_webhook(
                flow.account,
                "flows",
                {
                    "event": "FLOW_STATUS_CHANGE",
                    "message": f"Flow {flow.name} was created with status {flow.status}",
                    "flow_id": flow.flow_id,
                    "new_status": flow.status,
                },
            )
    return flow


def move_flow(flow: Flow, status: str, *, reason: str = "", notify: bool = True) -> Flow:
    """Change a flow's status and send FLOW_STATUS_CHANGE with the old and new status (unless notify=False)."""
    with transaction.atomic():
        old = flow.move_to(status, reason=reason)
        if notify:
            message = f"Flow {flow.name} changed status from {old} to {status}"
            send_webhook(
                flow.account,
                "flows",
                {
                    "event": "FLOW_STATUS_CHANGE",
                    "message": f"{message}: {reason}" if reason else message,
                    "flow_id": flow.flow_id,
                    "old_status": old,
                    "new_status": status,
                },
            )
    return flow


class PublishRefused(Exception):
    """Meta would not publish this draft; the message is Meta's error_user_msg (code 139002)."""


def publish_flow(flow: Flow, *, notify: bool = True) -> Flow:
    """Publish a draft after every check Meta makes that the sandbox can know about.

    Raises FlowStateError for a flow that is not a draft and PublishRefused for one Meta would refuse.
    notify=False sends no FLOW_STATUS_CHANGE webhook: for state set up while nobody is listening
    (seed_demo runs before the server), where a late, retried delivery could only undo it.
    """
    flow.require("publish")
    if not flow.flow_json:
        raise PublishRefused("The Flow has no Flow JSON; upload it before publishing.")
    if flow.validation_errors:
        raise PublishRefused("Publishing Flow with validation errors")
    if flow.is_frozen_version:
        raise PublishRefused(
            f"Flow JSON version {flow.json_version} is frozen and can no longer be published."
        )
    if flow.data_api_version:
        phones = list(flow.account.phone_numbers.all())
        if not flow.endpoint_uri:
            raise PublishRefused(
                "The Flow uses an endpoint (data_api_version) but has no endpoint_uri."
            )
        if not phones:
            raise PublishRefused("The WhatsApp Business Account has no phone number.")
        if not any(phone.business_public_key for phone in phones):
            raise PublishRefused(
                "Missing Flows Signed Public Key: upload the business public key first."
            )
        if not flow.account.subscribed:
            raise PublishRefused(
                "The WhatsApp Business Account is not subscribed to the app's webhooks: "
                "subscribe it with POST /{waba-id}/subscribed_apps before publishing."
            )
    return move_flow(flow, Flow.Status.PUBLISHED, notify=notify)


def send_webhook(account: Account, field: str, value: dict) -> SentWebhook:
    """Record a webhook in Meta's envelope and queue its delivery for after the commit."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": account.waba_id,
                "time": int(time.time()),
                "changes": [{"field": field, "value": value}],
            }
        ],
    }
    delivery = SentWebhook.objects.create(
        account=account,
        field=field,
        target=account.webhook_url,
        body=json.dumps(payload, separators=(",", ":")),
        # Meta sends nothing for a WABA the app is not subscribed to; the row shows what was held.
        error="" if account.subscribed else NOT_SUBSCRIBED,
    )
    if not account.subscribed:
        return delivery
    tasks.deliver_webhook_task.delay_on_commit(delivery.pk)
    return delivery


NOT_SUBSCRIBED = (
    "Not sent: the app is not subscribed to this WABA (POST /{waba-id}/subscribed_apps)."
)


def deliver_webhook(delivery: SentWebhook) -> bool:
    """POST one webhook, signed, and record the answer on its row; True when it got a 200."""
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        "X-Hub-Signature-256": sign(body, delivery.account.app_secret),
    }
    try:
        response = requests.post(
            delivery.target, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT
        )
    except requests.RequestException as exc:
        delivery.record_attempt(status_code=None, error=f"{type(exc).__name__}: {exc}"[:500])
        return False
    error = "" if response.status_code == 200 else response.text[:300]
    delivery.record_attempt(status_code=response.status_code, error=error)
    return response.status_code == 200


def review_template(template: Template) -> Template:
    """End Meta's review of a pending template by the sandbox's rule, and send the status webhook.

    A rejection carries rejection_info, Meta's reason and recommendation for the person who wrote it.
    Only a PENDING template changes: running twice sends one webhook.
    """
    status, reason = template.review_verdict()
    with transaction.atomic():
        claimed = Template.objects.filter(pk=template.pk, status=Template.Status.PENDING).update(
            status=status, rejected_reason=reason
        )
        if not claimed:
            return template
        template.refresh_from_db()
        extra = {}
        if status == Template.Status.REJECTED:
            extra["rejection_info"] = Template.REJECTION_INFO[reason]
        send_webhook(
            template.account,
            "message_template_status_update",
            _template_event(template, status, reason=reason, **extra),
        )
    return template


def _template_event(template: Template, event: str, **extra: object) -> dict:
    """A message_template_status_update value; Meta gives the template id as a number here."""
    return {
        "event": event,
        "message_template_id": int(template.template_id),
        "message_template_name": template.name,
        "message_template_language": template.language,
        "message_template_category": template.category,
    } | extra


def _monitored(template_id: str, action: str) -> Template:
    template = Template.objects.select_related("account").get(template_id=template_id)
    template.require(action)
    return template


def pause_template(template_id: str) -> Template:
    """Play Meta's quality monitor pausing an approved template: for 3 hours the first time, 6 the
    second, and disabled the third, each with its message_template_status_update webhook.

    Raises Template.DoesNotExist for an unknown id and TemplateStateError unless it is APPROVED.
    """
    template = _monitored(template_id, "pause")
    if template.pause_count >= len(Template.PAUSES):
        return disable_template(template_id)
    title, hours = Template.PAUSES[template.pause_count], (3, 6)[template.pause_count]
    with transaction.atomic():
        template.move_to(Template.Status.PAUSED)
        send_webhook(
            template.account,
            "message_template_status_update",
            _template_event(
                template,
                "PAUSED",
                reason="NONE",
                other_info={
                    "title": title,
                    "description": f"Your message template {template.name} has been paused for "
                    f"{hours} hours because its quality rating is low.",
                },
            ),
        )
    return template


def unpause_template(template_id: str) -> Template:
    """The pause is over: the template is APPROVED again (webhook with other_info title UNPAUSE)."""
    template = _monitored(template_id, "unpause")
    with transaction.atomic():
        template.move_to(Template.Status.APPROVED)
        send_webhook(
            template.account,
            "message_template_status_update",
            _template_event(
                template,
                "APPROVED",
                reason="NONE",
                other_info={
                    "title": "UNPAUSE",
                    "description": f"Your message template {template.name} can be sent again.",
                },
            ),
        )
    return template


def disable_template(template_id: str) -> Template:
    """Disable an approved or paused template for good: it can't be sent, edited or deleted."""
    template = _monitored(template_id, "disable")
    with transaction.atomic():
        template.move_to(Template.Status.DISABLED)
        send_webhook(
            template.account,
            "message_template_status_update",
            _template_event(
                template,
                "DISABLED",
                reason="NONE",
                other_info={
                    "title": "DISABLED",
                    "description": f"Your message template {template.name} has been disabled "
                    "because it was paused too many times for low quality.",
                },
            ),
        )
    return template


def set_template_quality(template_id: str, score: str) -> Template:
    """Meta rates the template anew: message_template_quality_update with the old and new score.

    Raises Template.DoesNotExist for an unknown id and ValueError for a score Meta doesn't give.
    Setting the score it already has changes nothing and sends nothing.
    """
    if score not in Template.Quality.values:
        raise ValueError(f"A quality score is GREEN, YELLOW, RED or UNKNOWN, not {score!r}.")
    template = Template.objects.select_related("account").get(template_id=template_id)
    if template.quality_score == score:
        return template
    with transaction.atomic():
        old = template.set_quality(score)
        send_webhook(
            template.account,
            "message_template_quality_update",
            {
                "previous_quality_score": old,
                "new_quality_score": score,
                "message_template_id": int(template.template_id),
                "message_template_name": template.name,
                "message_template_language": template.language,
            },
        )
    return template


def _utility(template_id: str) -> Template:
    template = Template.objects.select_related("account").get(template_id=template_id)
    if template.category != "UTILITY" or template.status == Template.Status.DISABLED:
        raise ValueError("Meta moves only UTILITY templates that are not disabled to MARKETING.")
    return template


def announce_category_change(template_id: str) -> Template:
    """The notice Meta sends a day before it moves a UTILITY template to MARKETING."""
    template = _utility(template_id)
    send_webhook(
        template.account,
        "template_category_update",
        {
            "message_template_id": int(template.template_id),
            "message_template_name": template.name,
            "message_template_language": template.language,
            "correct_category": "MARKETING",
            "category_update_timestamp": int(time.time()) + 24 * 3600,
        },
    )
    return template


def recategorize_template(template_id: str) -> Template:
    """Meta judges a UTILITY template to be marketing and moves it: template_category_update.

    Raises Template.DoesNotExist for an unknown id and ValueError for one that isn't UTILITY.
    """
    template = _utility(template_id)
    with transaction.atomic():
        old = template.recategorize("MARKETING")
        send_webhook(
            template.account,
            "template_category_update",
            {
                "message_template_id": int(template.template_id),
                "message_template_name": template.name,
                "message_template_language": template.language,
                "previous_category": old,
                "new_category": template.category,
            },
        )
    return template


def advance_message(message: Message) -> Message:
    """Move a message one step along sent -> delivered -> read (or failed), with its status webhook.

    Claims the step with a conditional update, so a repeated task sends nothing twice.
    """
    new = message.next_status()
    if new is None:
        return message
    with transaction.atomic():
        claimed = Message.objects.filter(pk=message.pk, status=message.status).update(status=new)
        if not claimed:
            return message
        message.refresh_from_db()
        send_webhook(message.phone.account, "messages", _status_value(message))
        if message.next_status() is not None:
            tasks.advance_message_task.apply_async_on_commit((message.pk,), countdown=STATUS_DELAY)
    return message


def _status_value(message: Message) -> dict:
    status = {
        "id": message.wamid,
        "status": message.status,
        "timestamp": str(int(time.time())),
        "recipient_id": message.to,
    }
    if message.biz_opaque_callback_data:
        # Meta echoes it in every status of the message, so the sender can find its recipient.
        status["biz_opaque_callback_data"] = message.biz_opaque_callback_data
    if message.status == Message.Status.FAILED:
        status["errors"] = [
            {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "The recipient cannot receive this message."},
            }
        ]
    else:
        category = (message.template.category if message.template else "marketing").lower()
        status["conversation"] = {
            "id": hashlib.md5(message.wamid.encode(), usedforsecurity=False).hexdigest(),
            "origin": {"type": category},
        }
        status["pricing"] = {"billable": True, "pricing_model": "PMP", "category": category}
    return {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": message.phone.digits,
            "phone_number_id": message.phone.phone_number_id,
        },
        "statuses": [status],
    }

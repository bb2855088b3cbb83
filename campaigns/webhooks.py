"""Meta's webhooks for campaigns: message statuses onto recipients, template reviews onto campaigns.

A status finds its recipient by wamid, else by the biz_opaque_callback_data the send carried: that is
how a send whose answer was lost (a worker killed after the request left, a timeout) is reconciled,
never sent a second time.
"""

from __future__ import annotations

import re

from django.db import transaction

from flowsadmin.tokens import issue_flow_token
from templates_app.webhooks import find_template
from wabas.models import Waba

from .models import Campaign, CampaignActionNotAllowed, Recipient

CALLBACK = re.compile(r"campaign:(\d+):recipient:(\d+)")


def _by_callback(waba: Waba, statuses: list[dict]) -> dict[str, Recipient]:
    """wamid -> recipient for statuses whose wamid we never recorded, by biz_opaque_callback_data."""
    wanted = {}
    for status in statuses:
        match = CALLBACK.fullmatch(str(status.get("biz_opaque_callback_data") or ""))
        if match:
            wanted[int(match.group(2))] = (int(match.group(1)), str(status.get("id")))
    found = {}
    for recipient in Recipient.objects.filter(pk__in=wanted, campaign__waba=waba).select_related(
        "campaign__template"
    ):
        campaign_id, wamid = wanted[recipient.pk]
        if recipient.campaign_id == campaign_id and recipient.reconcile(
            wamid,
            token=issue_flow_token(
                whatsapp_id=recipient.whatsapp_id,
                campaign_id=campaign_id,
                flow=recipient.campaign.template.flow,
            ),
        ):
            found[wamid] = recipient
    return found


def handle_message_statuses(waba: Waba, value: dict) -> str:
    """`messages` field, statuses[] part: sent / delivered / read / failed per wamid."""
    statuses = [s for s in value.get("statuses") or [] if isinstance(s, dict)]
    if not statuses:
        return ""  # a message from a user, not a status: another handler's business
    recipients = {
        r.wamid: r
        for r in Recipient.objects.filter(
            campaign__waba=waba, wamid__in=[str(s.get("id")) for s in statuses]
        )
    }
    missing = [s for s in statuses if str(s.get("id")) not in recipients]
    if missing:
        recipients |= _by_callback(waba, missing)
    said = []
    for status in statuses:
        recipient = recipients.get(str(status.get("id")))
        if recipient is None:
            said.append(
                f"status {status.get('status')!r} for unknown message {status.get('id')!r}, kept."
            )
            continue
        errors = status.get("errors") or [{}]
        code, title = str(errors[0].get("code", "")), str(errors[0].get("title", ""))
        if recipient.apply_status(str(status.get("status", "")), error=title, error_code=code):
            said.append(f"message to {recipient.whatsapp_id} is {recipient.status}.")
        else:
            said.append(
                f"status {status.get('status')!r} for {recipient.whatsapp_id} ignored (not newer)."
            )
    return " ".join(said)


def handle_template_status(waba: Waba, value: dict) -> str:
    """message_template_status_update: a template Meta paused pauses its sending campaigns (before
    they hit 132015), and approved again resumes the ones Meta's pause stopped."""
    event = str(value.get("event", ""))
    if event not in ("APPROVED", "PAUSED", "DISABLED"):
        return ""
    template = find_template(waba, value)
    if template is None:
        return ""
    from .tasks import send_campaign_task

    said = []
    if event == "APPROVED":
        campaigns = Campaign.objects.filter(
            template=template, status=Campaign.Status.PAUSED, paused_by_meta=True
        )
    else:
        campaigns = Campaign.objects.filter(template=template, status=Campaign.Status.SENDING)
    for campaign in campaigns:
        try:
            with transaction.atomic():
                if event == "APPROVED":
                    campaign.mark_resumed()
                    if campaign.status == Campaign.Status.SENDING:
                        send_campaign_task.delay_on_commit(campaign.pk)
                    said.append(f"campaign {campaign.name} resumed.")
                else:
                    paused = event == "PAUSED"
                    campaign.mark_paused(
                        f"Meta {'paused' if paused else 'disabled'} the template {template.name}."
                        + (
                            " The campaign resumes by itself when Meta approves it again."
                            if paused
                            else ""
                        ),
                        by_meta=paused,
                    )
                    said.append(f"campaign {campaign.name} paused.")
        except CampaignActionNotAllowed:
            continue
    return " ".join(said)

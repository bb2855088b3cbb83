"""Freezing a campaign's audience into Recipient rows, inside the database.

A 100,000-person audience never passes through Python: one INSERT ... SELECT copies the segment's
profiles (or the upload's numbers), then two UPDATEs set aside the frequency cap's people and the
control group. People added to the segment afterwards are not sent to.
"""

from __future__ import annotations

from django.db import connection, transaction

from audience.models import Profile

from ..audience import segment_profiles
from ..models import Campaign, Recipient, UploadedNumber

TABLE = Recipient._meta.db_table
# Every NOT NULL column without a database default, as the model's defaults would set them.
COLUMNS = "campaign_id, whatsapp_id, profile_id, status, flow_token, error_code, error, attempts"


def _insert_audience(campaign: Campaign) -> None:
    """Copy the audience in one statement; a number listed twice becomes one recipient."""
    if campaign.audience_kind == Campaign.AudienceKind.UPLOAD:
        select = f"""
            SELECT %s, u.whatsapp_id, p.id, %s, '', '', '', 0
            FROM {UploadedNumber._meta.db_table} u
            LEFT JOIN {Profile._meta.db_table} p ON p.whatsapp_id = u.whatsapp_id
            WHERE u.upload_id = %s
        """
        upload_id = getattr(getattr(campaign, "upload", None), "pk", None)
        params: list = [campaign.pk, Recipient.Status.QUEUED, upload_id]
    else:
        people = segment_profiles(campaign.waba, campaign.segment or {}).order_by()
        inner, inner_params = people.values("id", "whatsapp_id").query.sql_with_params()
        # A WhatsApp id longer than Meta's 15 digits (plus room) can't be sent to: left out.
        select = f"""
            SELECT %s, s.whatsapp_id, s.id, %s, '', '', '', 0 FROM ({inner}) AS s
            WHERE length(s.whatsapp_id) BETWEEN 1 AND 20
        """
        params = [campaign.pk, Recipient.Status.QUEUED, *inner_params]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} ({COLUMNS}) {select} ON CONFLICT DO NOTHING",
            params,
        )


def _skip_recently_messaged(campaign: Campaign) -> None:
    """The frequency cap: people sent any campaign's message in the last N hours are skipped."""
    if not campaign.frequency_cap_hours:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {TABLE} r SET status = %s, status_at = now()
            WHERE r.campaign_id = %s AND r.status = %s AND EXISTS (
                SELECT 1 FROM {TABLE} o
                WHERE o.whatsapp_id = r.whatsapp_id AND o.campaign_id <> r.campaign_id
                  AND o.sent_at >= now() - make_interval(hours => %s)
            )
            """,
            [
                Recipient.Status.SKIPPED,
                campaign.pk,
                Recipient.Status.QUEUED,
                campaign.frequency_cap_hours,
            ],
        )


def _hold_out_control_group(campaign: Campaign) -> None:
    """A random control_percent of the people left, held out so completion can be compared."""
    if not campaign.control_percent:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {TABLE} SET status = %s, status_at = now() WHERE id IN (
                SELECT id FROM {TABLE} WHERE campaign_id = %s AND status = %s
                ORDER BY random()
                LIMIT (SELECT round(count(*) * %s / 100.0) FROM {TABLE}
                       WHERE campaign_id = %s AND status = %s)
            )
            """,
            [
                Recipient.Status.CONTROL, campaign.pk, Recipient.Status.QUEUED,
                min(campaign.control_percent, 100), campaign.pk, Recipient.Status.QUEUED,
            ],
        )  # fmt: skip


def start_campaign(campaign: Campaign) -> Campaign:
    """Freeze the audience of a SCHEDULED campaign into recipients and mark it SENDING.

    Raises CampaignActionNotAllowed when it isn't SCHEDULED (another worker started it first: the
    row lock makes the second one wait, then refuse).
    """
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        locked.require("start")
        _insert_audience(locked)
        _skip_recently_messaged(locked)
        _hold_out_control_group(locked)
        size = Recipient.objects.filter(campaign=locked).count()
        Campaign.objects.filter(pk=locked.pk).update(audience_size=size)
        locked.audience_size = size
        locked.mark_sending()
    campaign.refresh_from_db()
    return campaign

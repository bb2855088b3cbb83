"""Freezing a campaign's audience into Recipient rows, inside the database.

A 100,000-person audience never passes through Python: one INSERT ... SELECT copies the segment's
profiles (or the upload's numbers), then two UPDATEs set aside the frequency cap's people and the
control group. People added to the segment afterwards are not sent to. Other databases than
PostgreSQL (SQLite in `make run`) take the same steps through the ORM, in batches.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from audience.models import Profile

from ..audience import segment_profiles
from ..models import Campaign, Recipient, UploadedNumber

TABLE = Recipient._meta.db_table
# Every NOT NULL column without a database default, as the model's defaults would set them.
COLUMNS = "campaign_id, whatsapp_id, profile_id, status, flow_token, error_code, error, attempts"
BATCH = 2000


def _insert_audience_portably(campaign: Campaign) -> None:
    """The audience copied in batches through the ORM, for databases other than PostgreSQL (SQLite,
    the default of `make run`): memory stays bounded by the batch, not the audience."""
    if campaign.audience_kind == Campaign.AudienceKind.UPLOAD:
        upload_id = getattr(getattr(campaign, "upload", None), "pk", None)
        numbers = UploadedNumber.objects.filter(upload_id=upload_id).values_list(
            "whatsapp_id", flat=True
        )
        profiles = dict(
            Profile.objects.filter(
                whatsapp_id__in=UploadedNumber.objects.filter(upload_id=upload_id).values(
                    "whatsapp_id"
                )
            ).values_list("whatsapp_id", "id")
        )
        people = ((profiles.get(number), number) for number in numbers.iterator(chunk_size=BATCH))
    else:
        segment = segment_profiles(campaign.waba, campaign.segment or {}).order_by()
        people = segment.values_list("id", "whatsapp_id").iterator(chunk_size=BATCH)
    batch: list[Recipient] = []
    for profile_id, whatsapp_id in people:
        if not 1 <= len(whatsapp_id or "") <= 20:
            continue  # longer than Meta's 15 digits (plus room): can't be sent to
        batch.append(Recipient(campaign=campaign, whatsapp_id=whatsapp_id, profile_id=profile_id))
        if len(batch) >= BATCH:
            Recipient.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    Recipient.objects.bulk_create(batch, ignore_conflicts=True)


def _set_aside_portably(campaign: Campaign) -> None:
    """The frequency cap and the control group through the ORM, for databases other than PostgreSQL."""
    queued = Recipient.objects.filter(campaign=campaign, status=Recipient.Status.QUEUED)
    now = timezone.now()
    if campaign.frequency_cap_hours:
        recent = Recipient.objects.filter(
            sent_at__gte=now - timedelta(hours=campaign.frequency_cap_hours)
        ).exclude(campaign=campaign)
        queued.filter(whatsapp_id__in=recent.values("whatsapp_id")).update(
            status=Recipient.Status.SKIPPED, status_at=now
        )
    if campaign.control_percent:
        size = round(queued.count() * min(campaign.control_percent, 100) / 100)
        held = list(queued.order_by("?").values_list("id", flat=True)[:size])
        Recipient.objects.filter(pk__in=held).update(status=Recipient.Status.CONTROL, status_at=now)


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
        if connection.vendor == "postgresql":
            _insert_audience(locked)
            _skip_recently_messaged(locked)
            _hold_out_control_group(locked)
        else:
            _insert_audience_portably(locked)
            _set_aside_portably(locked)
        size = Recipient.objects.filter(campaign=locked).count()
        Campaign.objects.filter(pk=locked.pk).update(audience_size=size)
        locked.audience_size = size
        locked.mark_sending()
    campaign.refresh_from_db()
    return campaign

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from audience.models import Profile
from templates_app.models import MessageTemplate
from wabas.models import PhoneNumber, Waba

# Profile columns a campaign variable can name; anything else is a custom property.
PROFILE_COLUMNS = ("name", "phone", "email", "gender", "date_of_birth", "city")


class CampaignActionNotAllowed(Exception):
    """The campaign's status does not allow this action (see Campaign.ALLOWED)."""

    def __init__(self, action: str, status: str) -> None:
        super().__init__(
            f"A {status.lower()} campaign can't be {Campaign.DONE_WORDS.get(action, action)}."
        )
        self.action = action
        self.status = status


class Campaign(models.Model):
    """A send of one approved Flow template to a frozen audience, at the sending number's pace."""

    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        SCHEDULED = "SCHEDULED", "Scheduled"
        SENDING = "SENDING", "Sending"
        PAUSED = "PAUSED", "Paused"
        COMPLETED = "COMPLETED", "Completed"
        CANCELLED = "CANCELLED", "Cancelled"

    class AudienceKind(models.TextChoices):
        SEGMENT = "SEGMENT", "Segment of people"
        UPLOAD = "UPLOAD", "Uploaded list of phone numbers"

    # What each status allows; the campaign page asks the same table which buttons to show.
    ALLOWED = {
        Status.DRAFT: {"edit", "publish", "delete"},
        Status.SCHEDULED: {"pause", "cancel", "start"},
        Status.SENDING: {"pause", "cancel", "finish"},
        Status.PAUSED: {"resume", "cancel"},
        Status.COMPLETED: set(),
        Status.CANCELLED: set(),
    }
    DONE_WORDS = {
        "edit": "edited",
        "publish": "published",
        "delete": "deleted",
        "pause": "paused",
        "cancel": "cancelled",
        "start": "started",
        "resume": "resumed",
        "finish": "finished",
    }

    waba = models.ForeignKey(Waba, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status, default=Status.DRAFT)
    # Why it is paused (Meta paused the template, the flow is throttled, the spam limit, or a person).
    pause_reason = models.TextField(blank=True)
    # Paused because Meta paused the template: it resumes by itself when the template is approved again.
    paused_by_meta = models.BooleanField(default=False)

    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, related_name="campaigns"
    )
    phone_number = models.ForeignKey(
        PhoneNumber, null=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    # Template parameter -> {"field": profile field or custom property, "fallback": text}.
    variables = models.JSONField(default=dict, blank=True)
    # The first screen's data (Navigation buttons): key -> {"value": fixed} or {"field": profile field}.
    flow_action_data = models.JSONField(default=dict, blank=True)

    audience_kind = models.CharField(
        max_length=10, choices=AudienceKind, default=AudienceKind.SEGMENT
    )
    # Segment rules: {"match": "all"|"any", "rules": [{"kind": "property"|"event", ...}]}.
    segment = models.JSONField(default=dict, blank=True)

    send_at = models.DateTimeField(null=True, blank=True)  # None: as soon as it is published
    time_zone = models.CharField(max_length=64, default="UTC")
    send_rate = models.PositiveIntegerField(default=80)  # messages per second, at most the number's
    quiet_start = models.TimeField(null=True, blank=True)  # hold sends from here ...
    quiet_end = models.TimeField(null=True, blank=True)  # ... to here, in time_zone
    frequency_cap_hours = models.PositiveIntegerField(null=True, blank=True)
    control_percent = models.PositiveSmallIntegerField(default=0)  # held out at random, 0-50

    audience_size = models.PositiveIntegerField(default=0)  # frozen when the campaign starts
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def can(self, action: str) -> bool:
        return action in self.ALLOWED[self.status]

    def require(self, action: str) -> None:
        if not self.can(action):
            raise CampaignActionNotAllowed(action, self.status)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.CANCELLED)

    @property
    def is_live(self) -> bool:
        """Its numbers can still change: the campaign page polls its progress."""
        return self.status in (self.Status.SCHEDULED, self.Status.SENDING, self.Status.PAUSED)

    def planned_audience(self) -> int:
        """How many people it would reach if published now (the audience freezes when it starts)."""
        if self.status != self.Status.DRAFT:
            return self.audience_size
        if self.audience_kind == self.AudienceKind.UPLOAD:
            upload = AudienceUpload.objects.filter(campaign=self).only("valid").first()
            return upload.valid if upload else 0
        from .audience import segment_profiles

        return segment_profiles(self.waba, self.segment).count()

    def quiet_until(self, now: datetime | None = None) -> datetime | None:
        """When quiet hours end, if `now` falls in them (in the campaign's time zone); else None."""
        if self.quiet_start is None or self.quiet_end is None or self.quiet_start == self.quiet_end:
            return None
        local = (now or timezone.now()).astimezone(ZoneInfo(self.time_zone or "UTC"))
        at = local.time().replace(tzinfo=None)
        start, end = self.quiet_start, self.quiet_end
        # A window may run over midnight (22:00 -> 08:00).
        inside = start <= at < end if start < end else (at >= start or at < end)
        if not inside:
            return None
        until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if until <= local:
            until += timedelta(days=1)
        return until

    # --- transitions: each one a conditional UPDATE, so two actors racing (a person pausing while the
    # sender finishes, two workers both told by Meta to pause) can't both win or undo each other.

    def _move(self, action: str, status: str, **fields: object) -> None:
        self.require(action)
        moved = (
            type(self)
            .objects.filter(pk=self.pk, status=self.status)
            .update(status=status, **fields)
        )
        if not moved:
            self.refresh_from_db()
            raise CampaignActionNotAllowed(action, self.status)
        self.status = status
        for name, value in fields.items():
            setattr(self, name, value)

    def mark_published(self, send_at: datetime | None = None) -> None:
        """DRAFT -> SCHEDULED: the beat starts it once send_at has come (at once when None)."""
        now = timezone.now()
        self._move("publish", self.Status.SCHEDULED, send_at=send_at or now, published_at=now)

    def mark_sending(self) -> None:
        """SCHEDULED -> SENDING, once its audience is frozen (see campaigns.freeze.start_campaign)."""
        self._move("start", self.Status.SENDING, started_at=timezone.now())

    def mark_paused(self, reason: str, by_meta: bool = False) -> None:
        """Stop sending; by_meta: Meta paused the template, so its approval resumes the campaign."""
        self._move("pause", self.Status.PAUSED, pause_reason=reason, paused_by_meta=by_meta)

    def mark_resumed(self) -> None:
        """Back to sending, or to waiting for send_at if it was paused before it started."""
        status = self.Status.SENDING if self.started_at else self.Status.SCHEDULED
        self._move("resume", status, pause_reason="", paused_by_meta=False)

    def mark_cancelled(self) -> None:
        self._move("cancel", self.Status.CANCELLED, finished_at=timezone.now())

    def mark_completed(self) -> None:
        """Nobody is left to send to (see Recipient.objects.unfinished)."""
        self._move("finish", self.Status.COMPLETED, finished_at=timezone.now())


class AudienceUpload(models.Model):
    """A CSV of phone numbers for a campaign, parsed: its valid numbers are UploadedNumber rows."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="upload")
    file_name = models.CharField(max_length=255)
    rows = models.PositiveIntegerField(default=0)
    valid = models.PositiveIntegerField(default=0)
    # [{"line": 7, "value": "12ab", "problem": "not a phone number"}, ...], duplicates included.
    problems = models.JSONField(default=list, blank=True)
    # Every problem counted; `problems` keeps only the first MAX_KEPT_PROBLEMS of a huge file.
    problem_count = models.PositiveIntegerField(default=0)
    # Region (ISO 3166 code, "GB") for numbers written without a country code; "" refuses them.
    default_region = models.CharField(max_length=2, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    MAX_KEPT_PROBLEMS = 1000


class UploadedNumber(models.Model):
    upload = models.ForeignKey(AudienceUpload, on_delete=models.CASCADE, related_name="numbers")
    whatsapp_id = models.CharField(max_length=20)  # E.164 digits, no "+"
    line = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["upload", "whatsapp_id"], name="one_upload_number_once")
        ]


class RecipientQuerySet(models.QuerySet):
    def due(self, now: datetime | None = None) -> RecipientQuerySet:
        """Queued recipients whose next attempt has come."""
        now = now or timezone.now()
        return self.filter(status=Recipient.Status.QUEUED).filter(
            models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now)
        )

    def unfinished(self) -> RecipientQuerySet:
        """Still to be sent, or claimed and waiting for Meta's answer: the campaign isn't done."""
        return self.filter(status__in=[Recipient.Status.QUEUED, Recipient.Status.SENDING])

    def cancel_queued(self) -> int:
        """Cancelling a campaign: whoever has not been sent to yet never will be."""
        return self.filter(status=Recipient.Status.QUEUED).update(
            status=Recipient.Status.CANCELLED, status_at=timezone.now()
        )

    def claim_next(self, campaign_id: int) -> dict | None:
        """Claim the campaign's next due recipient for one send, with its profile; None when none is due.

        One conditional UPDATE (queued -> sending, claimed_at) of a row locked with SKIP LOCKED: two
        workers never claim the same person, and neither waits for the other.
        """
        if connection.vendor != "postgresql":
            return self.claim_next_portably(campaign_id)
        table, profiles = Recipient._meta.db_table, Profile._meta.db_table
        queued, sending = Recipient.Status.QUEUED, Recipient.Status.SENDING
        connection.ensure_connection()
        # On psycopg's own cursor, with server-side binding: PostgreSQL plans the claim once per
        # connection, and Django's cursor wrapper and client-side binding, which cost as much as
        # the statement itself at a thousand claims a second, are skipped.
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(
                f"""
                WITH claimed AS (
                    UPDATE {table} SET status = %s, claimed_at = now(), attempts = attempts + 1
                    WHERE id = (
                        SELECT id FROM {table}
                        WHERE campaign_id = %s AND status = %s
                          AND (next_attempt_at IS NULL OR next_attempt_at <= now())
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
                    ) AND status = %s
                    RETURNING id, whatsapp_id, profile_id, attempts
                )
                SELECT c.id, c.whatsapp_id, c.attempts, p.name, p.phone, p.email, p.gender,
                       p.date_of_birth, p.city, p.properties
                FROM claimed c LEFT JOIN {profiles} p ON p.id = c.profile_id
                """,
                [str(sending), campaign_id, str(queued), str(queued)],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        names = ("id", "whatsapp_id", "attempts", *PROFILE_COLUMNS, "properties")
        person = dict(zip(names, row, strict=True))
        # Django has psycopg hand jsonb over as text (its JSONField decodes it): so do we.
        person["properties"] = json.loads(person["properties"] or "{}")
        return person

    def claim_next_portably(self, campaign_id: int) -> dict | None:
        """claim_next for databases without UPDATE ... RETURNING in a CTE or SKIP LOCKED (SQLite, the
        default of `make run`): the same conditional UPDATE, tried on the next due row until one
        is won. SQLite takes one writer at a time, so this is as safe there, only less concurrent."""
        for _ in range(20):
            pk = (
                self.filter(campaign_id=campaign_id)
                .due()
                .order_by("id")
                .values_list("id", flat=True)
                .first()
            )
            if pk is None:
                return None
            won = self.filter(pk=pk, status=Recipient.Status.QUEUED).update(
                status=Recipient.Status.SENDING,
                claimed_at=timezone.now(),
                attempts=models.F("attempts") + 1,
            )
            if won:
                person = self.select_related("profile").get(pk=pk)
                profile = person.profile
                return {
                    "id": person.pk,
                    "whatsapp_id": person.whatsapp_id,
                    "attempts": person.attempts,
                    **{name: getattr(profile, name, None) for name in PROFILE_COLUMNS},
                    "properties": profile.properties if profile else None,
                }
        return None

    def record_sent(self, sent: list[tuple[int, str, str]] | list[tuple[int, str]]) -> int:
        """Meta's answers for many sends at once: (recipient id, wamid[, flow token]).

        A status webhook may have beaten the answer here (it found the recipient by
        biz_opaque_callback_data): its status stands, only the missing wamid and times are filled.
        """
        if not sent:
            return 0
        rows = [(row[0], row[1], row[2] if len(row) > 2 else "") for row in sent]
        if connection.vendor != "postgresql":
            return self.record_sent_portably(rows)
        values = ", ".join(["(%s::bigint, %s, %s)"] * len(rows))
        table = Recipient._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {table} AS r SET
                    wamid = COALESCE(r.wamid, v.wamid),
                    flow_token = CASE WHEN v.token = '' THEN r.flow_token ELSE v.token END,
                    status = CASE WHEN r.status = %s THEN %s ELSE r.status END,
                    sent_at = COALESCE(r.sent_at, now()),
                    status_at = CASE WHEN r.status = %s THEN now() ELSE r.status_at END,
                    error = '', error_code = ''
                FROM (VALUES {values}) AS v(id, wamid, token)
                WHERE r.id = v.id AND r.status NOT IN (%s, %s)
                """,
                [Recipient.Status.SENDING, Recipient.Status.SENT, Recipient.Status.SENDING]
                + [item for row in rows for item in row]
                + [Recipient.Status.QUEUED, Recipient.Status.CANCELLED],
            )
            return cursor.rowcount

    def record_sent_portably(self, rows: list[tuple[int, str, str]]) -> int:
        """record_sent one row at a time, for databases without UPDATE ... FROM (VALUES ...)."""
        now, changed = timezone.now(), 0
        for pk, wamid, token in rows:
            person = self.filter(pk=pk).exclude(
                status__in=[Recipient.Status.QUEUED, Recipient.Status.CANCELLED]
            )
            person = person.first()
            if person is None:
                continue
            person.wamid = person.wamid or wamid
            person.flow_token = token or person.flow_token
            if person.status == Recipient.Status.SENDING:
                person.status, person.status_at = Recipient.Status.SENT, now
            person.sent_at = person.sent_at or now
            person.error = person.error_code = ""
            person.save(
                update_fields=[
                    "wamid", "flow_token", "status", "status_at", "sent_at", "error", "error_code",
                ]
            )  # fmt: skip
            changed += 1
        return changed

    def give_up_unanswered(self, claimed_before: datetime) -> int:
        """Claimed before `claimed_before` and still no answer nor status webhook: the send may or may
        not have reached Meta, and Meta offers no lookup, so they fail for good rather than risk a
        second message to the same person."""
        return self.filter(status=Recipient.Status.SENDING, claimed_at__lt=claimed_before).update(
            status=Recipient.Status.FAILED,
            error_code="unknown",
            error=Recipient.UNKNOWN_OUTCOME,
            status_at=timezone.now(),
        )


class Recipient(models.Model):
    """One person of a campaign's frozen audience: at most one message, and how far it got."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"  # claimed by a worker; the send may or may not have left
        # Meta's own status strings from here on.
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"
        # Ours: never sent on purpose.
        SUPPRESSED = "suppressed", "Suppressed by Meta"  # 131049, not a failure
        OPTED_OUT = "opted_out", "Opted out"  # 131050
        CONTROL = "control", "Control group"
        SKIPPED = "skipped", "Skipped (frequency cap)"
        CANCELLED = "cancelled", "Cancelled"

    # Webhooks can arrive out of order (read before delivered): a status never moves backwards.
    PROGRESS = {
        Status.QUEUED: 0,
        Status.SENDING: 1,
        Status.SENT: 2,
        Status.DELIVERED: 3,
        Status.READ: 4,
    }
    UNKNOWN_OUTCOME = (
        "Unknown, not re-sent: the send may have reached Meta but its answer was lost and no status "
        "webhook came back, so it was not sent again (that could have sent it twice)."
    )

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    whatsapp_id = models.CharField(max_length=20)
    profile = models.ForeignKey(
        "audience.Profile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flow_token = models.CharField(max_length=300, blank=True)
    wamid = models.CharField("Meta message id", max_length=200, null=True, blank=True, unique=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    error_code = models.CharField(max_length=12, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)  # first endpoint request with its token
    completed_at = models.DateTimeField(null=True, blank=True)  # its nfm_reply

    objects = RecipientQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "whatsapp_id"], name="one_message_per_person_per_campaign"
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="recipient_campaign_status"),
            # The sender's claim walks a campaign's queued people in id order: only theirs are
            # indexed, so the walk never passes the ones already sent (constant per claim).
            models.Index(
                fields=["campaign", "id"],
                condition=models.Q(status="queued"),
                name="recipient_queued",
            ),
            # The frequency cap: who got any campaign's message lately.
            models.Index(fields=["whatsapp_id", "sent_at"], name="recipient_sent_to"),
        ]

    def __str__(self) -> str:
        return f"{self.whatsapp_id} ({self.status})"

    def apply_status(self, status: str, *, error: str = "", error_code: str = "") -> bool:
        """Take a status Meta reported; False when it is unknown or older than what we have."""
        if status == self.Status.FAILED:
            max_code = self._meta.get_field("error_code").max_length
            self.error, self.error_code = error, error_code[:max_code]
        elif status not in self.PROGRESS or self.PROGRESS[status] <= self.PROGRESS.get(
            self.status, 99
        ):
            return False
        self.status = status
        self.status_at = timezone.now()
        self.save(update_fields=["status", "error", "error_code", "status_at"])
        return True

    def reconcile(self, wamid: str, *, token: str = "") -> bool:
        """A status webhook named this recipient (biz_opaque_callback_data) before we knew its wamid:
        the send's answer was lost or is late. Take the wamid; a send we had given up on as
        "unknown" did leave after all, so it becomes `sending` again for the status to apply."""
        if self.wamid and self.wamid != wamid:
            return False
        self.wamid = wamid
        self.flow_token = self.flow_token or token
        self.sent_at = self.sent_at or timezone.now()
        fields = ["wamid", "flow_token", "sent_at"]
        if self.status == self.Status.FAILED and self.error_code == "unknown":
            self.status, self.error_code, self.error = self.Status.SENDING, "", ""
            fields += ["status", "error_code", "error"]
        elif self.status == self.Status.SENDING:
            self.error = ""
            fields.append("error")
        self.save(update_fields=fields)
        return True

    def retry_in(self, delay: timedelta, *, error: str = "", error_code: str = "") -> None:
        """Back to the queue, not before `delay` from now (Meta's last words kept for the page)."""
        self.status = self.Status.QUEUED
        self.next_attempt_at = timezone.now() + delay
        self.error, self.error_code = error, error_code
        self.save(update_fields=["status", "next_attempt_at", "error", "error_code"])

    def mark_final(self, status: str, *, error_code: str = "", error: str = "") -> None:
        """Meta's final answer for this person: failed, suppressed or opted out (never re-sent)."""
        self.status = status
        self.error_code, self.error = error_code, error
        self.status_at = timezone.now()
        self.save(update_fields=["status", "error_code", "error", "status_at"])

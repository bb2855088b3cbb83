"""A campaign's numbers: counts per state, opened, completed, the control group, and a chart.

Every figure comes from a fixed number of queries, whatever the audience's size: the counts are one
GROUP BY over the campaign's recipients, the control group's completions one query, the chart two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.utils import timezone

from audience.models import Event

from .models import Campaign, Recipient

S = Recipient.Status
SENT_OR_LATER = (S.SENT, S.DELIVERED, S.READ)


def listing(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """The campaigns with their sent / delivered / read / completed counts, in one aggregate query."""
    return (
        campaigns.select_related("template__flow")
        .annotate(
            sent_count=Count("recipients", filter=Q(recipients__status__in=SENT_OR_LATER)),
            delivered_count=Count(
                "recipients", filter=Q(recipients__status__in=(S.DELIVERED, S.READ))
            ),
            read_count=Count("recipients", filter=Q(recipients__status=S.READ)),
            completed_count=Count("recipients", filter=Q(recipients__completed_at__isnull=False)),
        )
        .order_by("-created_at", "-pk")
    )


@dataclass
class Results:
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    held: int = 0  # queued, waiting for quiet hours or a retry
    failed_by_reason: list[tuple[str, str, int]] = field(default_factory=list)  # code, words, count
    opened: int = 0
    completed: int = 0
    control_size: int = 0
    control_completed: int = 0

    def count(self, status: str) -> int:
        return self.by_status.get(status, 0)

    @property
    def sent(self) -> int:
        return sum(self.count(s) for s in SENT_OR_LATER)

    @property
    def delivered(self) -> int:
        return self.count(S.DELIVERED) + self.count(S.READ)

    @property
    def read(self) -> int:
        return self.count(S.READ)

    @property
    def waiting(self) -> int:
        """Not yet decided: queued (held or due) or being sent now."""
        return self.count(S.QUEUED) + self.count(S.SENDING)

    @property
    def done(self) -> int:
        return self.total - self.waiting

    @property
    def percent_done(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def messaged(self) -> int:
        """People a message reached Meta for: the base of the completion rate."""
        return self.sent

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.messaged if self.messaged else None

    @property
    def control_rate(self) -> float | None:
        return self.control_completed / self.control_size if self.control_size else None

    @property
    def lift(self) -> float | None:
        """Percentage points the message added over the control group."""
        if self.completion_rate is None or self.control_rate is None:
            return None
        return self.completion_rate - self.control_rate

    def rows(self) -> list[tuple[str, str, int]]:
        """(status value, label, count) for the counts table, in the order a send moves."""
        held = self.held
        table = [
            (S.QUEUED, "Queued", self.count(S.QUEUED) - held),
            ("held", "Held by quiet hours or a retry", held),
            (S.SENDING, "Sending", self.count(S.SENDING)),
            (S.SENT, "Sent (not yet delivered)", self.count(S.SENT)),
            (S.DELIVERED, "Delivered (not yet read)", self.count(S.DELIVERED)),
            (S.READ, "Read", self.count(S.READ)),
            (S.FAILED, "Failed", self.count(S.FAILED)),
            (S.SUPPRESSED, "Suppressed by Meta (not a failure)", self.count(S.SUPPRESSED)),
            (S.OPTED_OUT, "Opted out of marketing", self.count(S.OPTED_OUT)),
            (S.SKIPPED, "Skipped (frequency cap)", self.count(S.SKIPPED)),
            (S.CONTROL, "Control group (not sent on purpose)", self.count(S.CONTROL)),
            (S.CANCELLED, "Cancelled", self.count(S.CANCELLED)),
        ]
        return table


def results_of(campaign: Campaign, *, now: datetime | None = None) -> Results:
    """The campaign's figures: one GROUP BY over its recipients, and one query for the control group."""
    now = now or timezone.now()
    results = Results()
    groups = (
        Recipient.objects.filter(campaign=campaign)
        .values("status", "error_code")
        .annotate(
            n=Count("id"),
            held=Count("id", filter=Q(next_attempt_at__gt=now)),
            opened=Count("opened_at"),
            completed=Count("completed_at"),
            error=Max("error"),
        )
        .order_by()
    )
    for group in groups:
        status, n = group["status"], group["n"]
        results.total += n
        results.by_status[status] = results.by_status.get(status, 0) + n
        results.opened += group["opened"]
        results.completed += group["completed"]
        if status == S.QUEUED:
            results.held += group["held"]
        if status == S.FAILED:
            results.failed_by_reason.append(
                (group["error_code"] or "—", group["error"] or "No reason given", n)
            )
    results.failed_by_reason.sort(key=lambda item: -item[2])
    results.control_size = results.count(S.CONTROL)
    if results.control_size and campaign.template.flow_id and campaign.started_at:
        results.control_completed = control_completions(campaign, now=now)
    return results


def control_completions(campaign: Campaign, *, now: datetime) -> int:
    """Control-group people who completed the campaign's flow in the campaign's window anyway."""
    end = campaign.finished_at or now
    completions = Event.objects.filter(
        profile__whatsapp_id=OuterRef("whatsapp_id"),
        flow_id=campaign.template.flow_id,
        source=Event.Source.COMPLETION,
        name__regex=r"^WAF_.+_Submitted$",
        occurred_at__gte=campaign.started_at,
        occurred_at__lte=end,
    )
    return (
        Recipient.objects.filter(campaign=campaign, status=S.CONTROL)
        .filter(Exists(completions))
        .count()
    )


# --- the chart ------------------------------------------------------------------------------------

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD = 640, 220, 44, 28, 10


def _bucket(span: timedelta) -> tuple[object, timedelta, str]:
    if span <= timedelta(hours=3):
        return TruncMinute, timedelta(minutes=1), "H:i"
    if span <= timedelta(days=4):
        return TruncHour, timedelta(hours=1), "j M H:i"
    return TruncDay, timedelta(days=1), "j M"


def chart(campaign: Campaign, *, now: datetime | None = None) -> dict | None:
    """Cumulative sends and completions over time, as points of two SVG polylines; None before any send.

    Drawn on the server as inline SVG: no JavaScript or chart library to vendor and keep up to date,
    it works without scripts, prints, and a test can read it.
    """
    now = now or timezone.now()
    recipients = Recipient.objects.filter(campaign=campaign)
    first_sent = (
        campaign.started_at
        or recipients.filter(sent_at__isnull=False)
        .values_list("sent_at", flat=True)
        .order_by("sent_at")
        .first()
    )
    if first_sent is None:
        return None
    end = max(campaign.finished_at or now, first_sent + timedelta(minutes=1))
    trunc, step, fmt = _bucket(end - first_sent)

    def per_bucket(column: str, people: QuerySet[Recipient]) -> dict[datetime, int]:
        rows = (
            people.filter(**{f"{column}__isnull": False})
            # Buckets in UTC, whatever zone the page is shown in (trunc_python cuts alike).
            .annotate(bucket=trunc(column, tzinfo=UTC))
            .values("bucket")
            .annotate(n=Count("id"))
            .order_by("bucket")
        )
        return {row["bucket"]: row["n"] for row in rows}

    # Sent as the "Sent" count says: a message that failed after it left is not counted.
    sends = per_bucket("sent_at", recipients.filter(status__in=SENT_OR_LATER))
    completions = per_bucket("completed_at", recipients)
    start = min([first_sent, *sends, *completions])
    start = trunc_python(start, step)
    buckets = []
    at = start
    while at <= end and len(buckets) < 500:
        buckets.append(at)
        at += step
    sent_total = completed_total = 0
    sent_line, completed_line = [], []
    for at in buckets:
        sent_total += sends.get(at, 0)
        completed_total += completions.get(at, 0)
        sent_line.append(sent_total)
        completed_line.append(completed_total)
    top = max(sent_total, completed_total, 1)
    span = max(len(buckets) - 1, 1)
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD, HEIGHT - PAD_BOTTOM - PAD

    def points(values: list[int]) -> str:
        return " ".join(
            f"{PAD_LEFT + inner_w * i / span:.1f},{PAD + inner_h * (1 - v / top):.1f}"
            for i, v in enumerate(values)
        )

    return {
        "width": WIDTH,
        "height": HEIGHT,
        "sent_points": points(sent_line),
        "completed_points": points(completed_line),
        "top": top,
        "sent_total": sent_total,
        "completed_total": completed_total,
        "start": buckets[0],
        "end": buckets[-1],
        "format": fmt,
        "x0": PAD_LEFT,
        "x1": WIDTH - PAD,
        "y0": PAD,
        "y1": HEIGHT - PAD_BOTTOM,
        "label_y": HEIGHT - 8,
    }


def trunc_python(at: datetime, step: timedelta) -> datetime:
    """`at` cut down to its bucket, as the database's Trunc* does (in UTC)."""
    at = at.astimezone(UTC)
    if step >= timedelta(days=1):
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    if step >= timedelta(hours=1):
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(second=0, microsecond=0)

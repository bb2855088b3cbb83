"""Sending a campaign: each recipient claimed, then sent at the number's pace, then recorded.

`send_due` runs in a Celery task for a slice of time with a few threads (a send is mostly waiting for
Meta, so threads multiply one worker's pace; the database and Redis do the coordination):

1. the shared limiter (campaigns.limiter) hands out the number's next slot, across all workers;
2. `Recipient.objects.claim_next` moves one due recipient queued -> sending; only then is it sent,
   so two workers never send to one person, and a slot is taken before the claim so a killed worker
   leaves as few claimed-but-unsent people as possible (none, unless it dies between the two);
3. the send names the recipient in biz_opaque_callback_data; Meta's answers are recorded in small
   batches (a worker killed before it records them leaves the recipients `sending`: their status
   webhooks fill in the wamid, see campaigns.webhooks), and its refusals go to `outcomes`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from flowsadmin.tokens import issue_flow_token
from templates_app import variables as tv
from wabas.graph import GraphClient, HeaderParameter, MetaError, MetaTransientError
from wabas.models import PhoneNumber

from ..limiter import RateLimiter
from ..limiter import connection as redis_connection
from ..models import Campaign, CampaignActionNotAllowed, Recipient
from . import outcomes

logger = logging.getLogger(__name__)

FLUSH_EVERY = 50  # answers recorded per statement...
FLUSH_SECONDS = 0.5  # ...or at least this often
POLL_SECONDS = 0.5  # how often a pause, cancel or quiet hours are noticed
QUICK_RETRIES = 2  # a 5xx or a dropped call that never reached Meta, tried again at once
HEARTBEAT_SECONDS = 10  # a sender that stops refreshing this for so long is presumed dead


def callback_data(campaign_id: int, recipient_id: int) -> str:
    """What Meta echoes in every status webhook of the message: the recipient it was for."""
    return f"campaign:{campaign_id}:recipient:{recipient_id}"


@dataclass
class Plan:
    """What every send of one campaign shares, read once per slice."""

    campaign_id: int
    phone_number_id: str
    template_name: str
    language: str
    flow: object
    body_params: list[str]
    header_param: str
    header_media: HeaderParameter | None
    # Meta parameter -> {"field", "fallback"}; the template's own variable when not set.
    variables: dict
    defaults: dict
    flow_action_data: dict
    rate: float

    @classmethod
    def of(cls, campaign: Campaign, phone: PhoneNumber) -> Plan:
        template = campaign.template
        header_param, media = "", None
        if template.header_format == "TEXT" and tv.parse(template.header_text):
            header_param = tv.param_name(tv.parse(template.header_text)[0])
        elif template.has_media_header and getattr(template, "sample", None) is not None:
            # The sample it was reviewed with, from a signed link Meta can fetch.
            from templates_app.views import public_sample_link

            media = HeaderParameter(
                type=template.header_format.lower(),
                link=public_sample_link(template),
                filename=template.sample.filename if template.header_format == "DOCUMENT" else "",
            )
        navigate = template.flow_action == template.FlowAction.NAVIGATE
        return cls(
            campaign_id=campaign.pk,
            phone_number_id=phone.meta_phone_number_id,
            template_name=template.name,
            language=template.language,
            flow=template.flow,
            body_params=[tv.param_name(v) for v in tv.parse(template.body)],
            header_param=header_param,
            header_media=media,
            variables=campaign.variables or {},
            defaults={v["param"]: v["variable"] for v in template.variables or []},
            # Meta takes flow_action_data for navigate buttons only.
            flow_action_data=(campaign.flow_action_data or {}) if navigate else {},
            rate=float(min(campaign.send_rate or 1, phone.throughput_mps or 80)),
        )

    def param(self, person: dict, param: str) -> str:
        spec = self.variables.get(param) or {}
        value = tv.person_value(person, str(spec.get("field") or self.defaults.get(param) or param))
        return value or str(spec.get("fallback") or "")

    def action_data(self, person: dict) -> dict | None:
        data = {}
        for key, spec in self.flow_action_data.items():
            spec = spec if isinstance(spec, dict) else {"value": spec}
            value = (
                tv.person_value(person, str(spec["field"]))
                if spec.get("field")
                else spec.get("value")
            )
            if value not in (None, ""):
                data[key] = value
        return data or None  # Meta refuses an empty object

    def message(self, person: dict, token: str) -> dict:
        """The keyword arguments of GraphClient.send_template_message for this person."""
        header = self.header_media
        if self.header_param:
            header = HeaderParameter(
                type="text",
                text=self.param(person, self.header_param),
                parameter_name=self.header_param,
            )
        return {
            "to": person["whatsapp_id"],
            "template_name": self.template_name,
            "language": self.language,
            "body": {p: self.param(person, p) for p in self.body_params},
            "header": header,
            "flow_token": token,
            "flow_action_data": self.action_data(person),
            "biz_opaque_callback_data": callback_data(self.campaign_id, person["id"]),
        }


@dataclass
class Slice:
    """One send_due run: shared by its threads."""

    plan: Plan
    client: GraphClient
    limiter: RateLimiter
    deadline: float
    stop: threading.Event = field(default_factory=threading.Event)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    rate: float = 0.0
    rate_read_at: float = 0.0
    failure: Exception | None = None

    def fail(self, exc: Exception) -> None:
        """An error that ends the slice (Redis or the database gone past their retries): every
        thread stops at its next turn, and send_due raises the first such error once all have."""
        with self.lock:
            self.failure = self.failure or exc
        self.stop.set()

    def pace(self) -> float:
        """The number's rate, re-read once a second (Meta's 130429 may have slowed it)."""
        now = time.monotonic()
        if now - self.rate_read_at > 1:
            self.rate, self.rate_read_at = self.limiter.rate(self.plan.rate), now
        return self.rate


def _send_one(run: Slice, person: dict, buffer: list) -> None:
    plan = run.plan
    token = issue_flow_token(
        whatsapp_id=person["whatsapp_id"], campaign_id=plan.campaign_id, flow=plan.flow
    )
    try:
        message = plan.message(person, token)
    except ValueError as exc:  # a value Meta's JSON can't carry: this person's problem only
        Recipient(pk=person["id"]).mark_final(Recipient.Status.FAILED, error=str(exc))
        return
    for attempt in range(QUICK_RETRIES + 1):
        try:
            sent = run.client.send_template_message(plan.phone_number_id, **message)
        except MetaError as exc:
            quick = (
                isinstance(exc, MetaTransientError)
                and exc.code not in outcomes.SPECIAL_CODES
                and (exc.http_status is not None or exc.never_sent)
            )
            if quick and attempt < QUICK_RETRIES and not run.stop.is_set():
                # Meta answered "try again" (or was never reached): nothing was sent, so trying
                # again at once is safe, in the number's next free slot.
                run.limiter.acquire(run.pace())
                continue
            outcome = outcomes.apply_error(plan.campaign_id, person, exc)
            if outcome.slow_down:
                run.limiter.slow_down()
            if outcome.stop:
                run.stop.set()
            return
        buffer.append((person["id"], sent.wamid, token))
        return


def _flush(buffer: list, run: Slice) -> None:
    if buffer:
        Recipient.objects.record_sent(buffer)
        with run.lock:
            run.sent += len(buffer)
        buffer.clear()


class Slots:
    """One thread's turns on the shared schedule. At high rates a thread reserves a few consecutive
    slots per Redis call (10 ms worth): the same pace overall, a tenth of the round trips."""

    def __init__(self, run: Slice) -> None:
        self.run = run
        self.left = 0
        self.at = 0.0
        self.interval = 0.0

    def wait(self) -> None:
        if self.left == 0:
            rate = self.run.pace()
            count = max(1, min(10, int(rate / 100)))
            self.at = time.monotonic() + self.run.limiter.reserve(rate, count)
            self.left, self.interval = count, 1 / rate
        delay = self.at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.at += self.interval
        self.left -= 1


def _thread(run: Slice) -> None:
    """One sender thread: its error stops the slice rather than dying alone, and its database
    connection is closed however it ends."""
    try:
        _claim_and_send(run)
    except Exception as exc:
        # One line per thread; send_due raises the first error, with its traceback, for the task.
        logger.warning("Campaign %s: a sender thread stopped: %r", run.plan.campaign_id, exc)
        run.fail(exc)
    finally:
        connection.close()


def _claim_and_send(run: Slice) -> None:
    """Claim and send until nobody is due, the slice is over, or the campaign stops."""
    buffer: list = []
    flushed_at = time.monotonic()
    slots = Slots(run)
    try:
        while not run.stop.is_set() and time.monotonic() < run.deadline:
            slots.wait()
            # The wait may be long (Meta's 130429 pushes the whole schedule back): look again.
            if run.stop.is_set() or time.monotonic() >= run.deadline:
                break
            person = Recipient.objects.claim_next(run.plan.campaign_id)
            if person is None:
                break
            _send_one(run, person, buffer)
            if len(buffer) >= FLUSH_EVERY or time.monotonic() - flushed_at > FLUSH_SECONDS:
                _flush(buffer, run)
                flushed_at = time.monotonic()
    finally:
        _flush(buffer, run)


def heartbeat_key(campaign_id: int) -> str:
    return f"campaigns:sender:{campaign_id}"


def sender_alive(campaign_id: int) -> bool:
    return bool(redis_connection().exists(heartbeat_key(campaign_id)))


def _hold_for_quiet_hours(campaign: Campaign) -> bool:
    until = campaign.quiet_until()
    if until is None:
        return False
    # Held, not dropped: due again when the window ends.
    Recipient.objects.filter(campaign=campaign).due().update(next_attempt_at=until)
    return True


def send_due(campaign_id: int, *, seconds: float | None = None, threads: int | None = None) -> int:
    """Send to the campaign's due recipients for up to `seconds`; returns how many Meta took.

    Returns quietly when the campaign is gone or not SENDING. Pauses it when it has no number.
    """
    campaign = (
        Campaign.objects.select_related("template__flow", "template__sample", "waba")
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None or campaign.status != Campaign.Status.SENDING:
        return 0
    if _hold_for_quiet_hours(campaign):
        return 0
    phone = campaign.phone_number or campaign.waba.phone_numbers.order_by("pk").first()
    if phone is None:
        outcomes.pause_campaign(
            campaign.pk, "The WhatsApp Business Account has no phone number.", by_meta=False
        )
        return 0
    threads = threads or settings.CAMPAIGN_SEND_THREADS
    seconds = seconds if seconds is not None else settings.CAMPAIGN_SEND_SLICE_SECONDS
    run = Slice(
        plan=Plan.of(campaign, phone),
        client=GraphClient.for_waba(campaign.waba),
        limiter=RateLimiter(phone.meta_phone_number_id),
        deadline=time.monotonic() + seconds,
    )
    beat = redis_connection()
    workers = [threading.Thread(target=_thread, args=(run,), daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    try:
        # Look once per round: a thread can end between a check and the join, so join one seen alive.
        while alive := [worker for worker in workers if worker.is_alive()]:
            beat.set(heartbeat_key(campaign_id), 1, ex=HEARTBEAT_SECONDS)
            alive[0].join(POLL_SECONDS)
            campaign.refresh_from_db(fields=["status", "quiet_start", "quiet_end", "time_zone"])
            if campaign.status != Campaign.Status.SENDING or campaign.quiet_until() is not None:
                run.stop.set()
    except Exception as exc:
        run.fail(exc)
    finally:
        run.stop.set()
        # No thread outlives its slice: each stops at its next turn, records what Meta answered
        # and closes its connection.
        for worker in workers:
            worker.join()
        with contextlib.suppress(redis.RedisError):
            beat.delete(heartbeat_key(campaign_id))
        run.client.close()
        close_old_connections()
    if run.failure is not None:
        raise run.failure
    campaign.refresh_from_db()
    if campaign.status == Campaign.Status.SENDING:
        _hold_for_quiet_hours(campaign)
        finish_if_done(campaign)
    logger.info("Campaign %s: %d sent by this worker", campaign_id, run.sent)
    return run.sent


def send_inline(campaign_id: int, *, client: GraphClient) -> int:
    """Send to every due recipient in this thread with the given client, then finish the campaign if
    nobody is left; returns how many Meta took.

    For seed_demo: no server or worker is up, so its client answers from the sandbox in-process, and
    the calling thread's connection (and transaction) is the one that sees the campaign.
    """
    campaign = Campaign.objects.select_related("template__flow", "template__sample", "waba").get(
        pk=campaign_id
    )
    phone = campaign.phone_number or campaign.waba.phone_numbers.order_by("pk").first()
    run = Slice(
        plan=Plan.of(campaign, phone),
        client=client,
        limiter=RateLimiter(phone.meta_phone_number_id),
        deadline=time.monotonic() + settings.CAMPAIGN_SEND_SLICE_SECONDS,
    )
    buffer: list = []
    slots = Slots(run)
    while not run.stop.is_set() and time.monotonic() < run.deadline:
        slots.wait()
        person = Recipient.objects.claim_next(campaign_id)
        if person is None:
            break
        _send_one(run, person, buffer)
    _flush(buffer, run)
    campaign.refresh_from_db()
    finish_if_done(campaign)
    return run.sent


def next_due_in(campaign: Campaign) -> float | None:
    """Seconds until the campaign's next queued recipient is due (0 if now); None if none is queued."""
    queued = Recipient.objects.filter(campaign=campaign, status=Recipient.Status.QUEUED)
    if queued.filter(next_attempt_at__isnull=True).exists():
        return 0.0
    first = queued.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    if first is None:
        return None
    return max((first - timezone.now()).total_seconds(), 0.0)


def finish_if_done(campaign: Campaign) -> bool:
    """COMPLETED once nobody is queued or awaiting Meta's answer."""
    if campaign.status != Campaign.Status.SENDING:
        return False
    if Recipient.objects.filter(campaign=campaign).unfinished().exists():
        return False
    try:
        campaign.mark_completed()
    except CampaignActionNotAllowed:
        return False
    return True


def give_up_stuck(campaign: Campaign) -> int:
    """Recipients claimed long ago with no answer and no webhook: failed, "unknown, not re-sent"."""
    before = timezone.now() - timedelta(seconds=settings.CAMPAIGN_UNANSWERED_SECONDS)
    return Recipient.objects.filter(campaign=campaign).give_up_unanswered(before)

"""What each of Meta's answers to a send does, to the recipient and to the campaign.

Meta's codes (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes):
the person-level ones touch only that person, so one bad contact never stops the others; the
template, flow and spam ones pause the whole campaign with the reason shown on its page.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from wabas.graph import MetaAuthError, MetaError, MetaTransientError

from ..models import Campaign, CampaignActionNotAllowed, Recipient

logger = logging.getLogger(__name__)

THROUGHPUT_EXCEEDED = 130429
PAIR_RATE = 131056
ECOSYSTEM_LIMIT = 131049
OPTED_OUT = 131050
UNDELIVERABLE = 131026
# Code -> (why the campaign is paused, paused by Meta: resumes by itself when the template is
# approved again).
PAUSING = {
    132015: (
        "Meta paused the template for low quality (132015). The campaign resumes by itself when "
        "Meta approves the template again.",
        True,
    ),
    132016: (
        "Meta disabled the template for good (132016): it was paused too many times for low "
        "quality. Choose another template.",
        False,
    ),
    132068: ("The flow is blocked (132068): fix its endpoint, then resume.", False),
    132069: (
        "The flow is throttled (132069): Meta allows only 10 messages an hour with it until its "
        "endpoint is healthy again.",
        False,
    ),
    131048: (
        "Meta's spam rate limit (131048): too many people blocked or reported these messages. "
        "Sending was paused rather than retried blindly.",
        False,
    ),
}
# Codes with a treatment of their own: never retried at once as a plain transient error.
SPECIAL_CODES = frozenset(
    {THROUGHPUT_EXCEEDED, PAIR_RATE, ECOSYSTEM_LIMIT, OPTED_OUT, UNDELIVERABLE, *PAUSING}
)
MAX_THROUGHPUT_RETRIES = 10  # 130429 is about our pace, not the person: patient, but finite
MAX_PAIR_RATE_RETRIES = 4  # 4, 16, 64, 256 s
MAX_TRANSIENT_ATTEMPTS = 6


@dataclass(frozen=True)
class Outcome:
    """What the sender must do next: stop this campaign's sending, slow the number down."""

    stop: bool = False
    slow_down: bool = False


def words(exc: MetaError) -> str:
    """Meta's message as the campaign page shows it."""
    return str(exc)[:1000]


def pause_campaign(campaign_id: int, reason: str, *, by_meta: bool) -> None:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return
    try:
        campaign.mark_paused(reason, by_meta=by_meta)
    except CampaignActionNotAllowed:
        pass  # another worker paused it first, or a person cancelled it: either way it stops
    else:
        logger.warning("Campaign %s paused: %s", campaign_id, reason)


def apply_error(campaign_id: int, person: dict, exc: MetaError) -> Outcome:
    """Record Meta's refusal (or silence) for one claimed recipient; say what the sender does next."""
    recipient = Recipient(pk=person["id"], campaign_id=campaign_id)
    attempts = int(person.get("attempts") or 1)
    code = exc.code
    if exc.http_status is None and code is None and not exc.never_sent:
        # No answer after the request left (a read timeout, a dropped connection, an answer without
        # a message id): Meta may have sent it. The recipient stays `sending` until the status
        # webhook, which echoes biz_opaque_callback_data, says what happened; never sent twice.
        Recipient.objects.filter(pk=recipient.pk, status=Recipient.Status.SENDING).update(
            error=f"No answer from Meta yet, waiting for its status webhook: {words(exc)}"
        )
        return Outcome()
    if code in PAUSING:
        reason, by_meta = PAUSING[code]
        # Not sent: back in the queue for when the campaign resumes.
        recipient.retry_in(timedelta(0))
        pause_campaign(campaign_id, reason, by_meta=by_meta)
        return Outcome(stop=True)
    if code == THROUGHPUT_EXCEEDED:
        if attempts > MAX_THROUGHPUT_RETRIES:
            recipient.mark_final(Recipient.Status.FAILED, error_code=str(code), error=words(exc))
        else:
            recipient.retry_in(timedelta(seconds=1), error=words(exc), error_code=str(code))
        return Outcome(slow_down=True)
    if code == PAIR_RATE:
        if attempts > MAX_PAIR_RATE_RETRIES:
            recipient.mark_final(Recipient.Status.FAILED, error_code=str(code), error=words(exc))
        else:
            # Meta's advice for the pair rate limit: wait 4^n seconds before the nth retry.
            recipient.retry_in(
                timedelta(seconds=4**attempts), error=words(exc), error_code=str(code)
            )
        return Outcome()
    final = {
        ECOSYSTEM_LIMIT: Recipient.Status.SUPPRESSED,  # not a failure; never within 24 h anyway
        OPTED_OUT: Recipient.Status.OPTED_OUT,
        UNDELIVERABLE: Recipient.Status.FAILED,
    }.get(code)
    if final is not None:
        recipient.mark_final(final, error_code=str(code), error=words(exc))
        return Outcome()
    if isinstance(exc, MetaAuthError):
        recipient.retry_in(timedelta(0))
        pause_campaign(
            campaign_id,
            f"Meta rejected the WhatsApp Business Account's access token: {words(exc)} "
            "Update the token, then resume.",
            by_meta=False,
        )
        return Outcome(stop=True)
    if isinstance(exc, MetaTransientError):
        if attempts >= MAX_TRANSIENT_ATTEMPTS:
            recipient.mark_final(
                Recipient.Status.FAILED,
                error_code=str(code or exc.http_status or ""),
                error=f"Gave up after {attempts} tries: {words(exc)}",
            )
        else:
            # Exponential backoff with jitter, so many recipients don't all come back in step.
            delay = min(2**attempts, 300) * random.uniform(0.5, 1.0)
            recipient.retry_in(
                timedelta(seconds=delay), error=words(exc), error_code=str(code or "")
            )
        return Outcome()
    # Permanent for this person (132000, 132012, 131008, 131009, 100...): Meta's words on the row.
    recipient.mark_final(Recipient.Status.FAILED, error_code=str(code or ""), error=words(exc))
    return Outcome()

"""The send pipeline in-process against the sandbox Meta over real HTTP: what each of Meta's answers
does to the person and to the campaign, attribution, reconciling lost answers, pause and cancel.

The starting (freezing) of audiences is in test_campaign_starting.py; real workers in
test_campaign_sending_workers.py.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.limiter import RateLimiter
from campaigns.models import Campaign, Recipient
from campaigns.sending import send_due
from campaigns.services import cancel_campaign, pause_campaign, resume_campaign
from flowsadmin.tokens import read_flow_token
from sandbox.models import Message
from sandbox.services import set_faults
from wabas.crypto import hub_signature

from .campaign_sending_support import make_people, messages_per_person, sending_campaign, wa  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_limiter")]


def statuses(campaign: Campaign) -> dict[str, str]:
    return dict(campaign.recipients.values_list("whatsapp_id", "status"))


def test_everyone_gets_one_message_with_their_own_token_naming_campaign_and_recipient(
    campaign_template,
):
    make_people(5)
    make_people(1, start=5, name="")  # no name: the fallback fills the variable
    campaign = sending_campaign(campaign_template)

    assert send_due(campaign.pk, threads=2) == 6

    assert messages_per_person() == {wa(n): 1 for n in range(6)}
    for recipient in campaign.recipients.all():
        message = Message.objects.get(to=recipient.whatsapp_id)
        assert recipient.wamid == message.wamid and recipient.status in (
            "sent",
            "delivered",
            "read",
        )
        assert recipient.flow_token == message.flow_token
        token = read_flow_token(message.flow_token)
        assert token["campaign_id"] == campaign.pk and token["whatsapp_id"] == recipient.whatsapp_id
        assert (
            message.biz_opaque_callback_data == f"campaign:{campaign.pk}:recipient:{recipient.pk}"
        )
    assert Message.objects.get(to=wa(2)).body_text.startswith("Hi Guest 2,")
    assert Message.objects.get(to=wa(5)).body_text.startswith("Hi there,")
    campaign.refresh_from_db()
    assert campaign.status == "COMPLETED" and campaign.finished_at


def test_a_variable_filled_from_a_custom_property_takes_the_persons_value(campaign_template):
    make_people(1, properties={"first_name": "Ana", "room": 12})
    make_people(1, start=1)  # no such property: the fallback
    campaign = sending_campaign(
        campaign_template, variables={"user_name": {"field": "first_name", "fallback": "guest"}}
    )

    assert send_due(campaign.pk, threads=1) == 2

    assert Message.objects.get(to=wa(0)).body_text.startswith("Hi Ana,")
    assert Message.objects.get(to=wa(1)).body_text.startswith("Hi guest,")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (131049, "suppressed"),  # healthy-ecosystem limit: not a failure, not retried
        (131050, "opted_out"),
        (131026, "failed"),
        (132000, "failed"),  # parameter errors: Meta's message on the row
        (132012, "failed"),
        (131008, "failed"),
        (131009, "failed"),
    ],
)
def test_a_final_answer_for_one_person_is_recorded_and_the_others_are_sent(
    campaign_template, code, status
):
    make_people(4)
    campaign = sending_campaign(campaign_template)
    set_faults(error_code=code, error_code_rate=1, error_code_to=wa(1))

    send_due(campaign.pk, threads=1)

    refused = campaign.recipients.get(whatsapp_id=wa(1))
    assert refused.status == status and refused.error_code == str(code)
    assert f"code {code}" in refused.error and not refused.wamid
    assert set(messages_per_person()) == {wa(0), wa(2), wa(3)}
    campaign.refresh_from_db()
    assert campaign.status == "COMPLETED"  # nobody is retried: the answer was final


def test_the_pair_rate_limit_retries_that_person_after_4_seconds_and_keeps_sending(
    campaign_template,
):
    make_people(3)
    campaign = sending_campaign(campaign_template)
    set_faults(error_code=131056, error_code_rate=1, error_code_to=wa(1))

    send_due(campaign.pk, threads=1)

    later = campaign.recipients.get(whatsapp_id=wa(1))
    assert later.status == "queued" and later.attempts == 1 and later.error_code == "131056"
    wait = (later.next_attempt_at - timezone.now()).total_seconds()
    assert 2 < wait <= 4
    assert set(messages_per_person()) == {wa(0), wa(2)}
    campaign.refresh_from_db()
    assert campaign.status == "SENDING"

    set_faults()
    Recipient.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now())
    send_due(campaign.pk, threads=1)
    assert messages_per_person()[wa(1)] == 1


def test_throughput_exceeded_slows_the_number_down_and_retries_the_person(campaign_template):
    make_people(2)
    campaign = sending_campaign(campaign_template)
    set_faults(error_code=130429, error_code_rate=1, error_code_to=wa(0))

    # Refused at once: the person is held a second and every send on the number waits that long,
    # longer than this slice.
    send_due(campaign.pk, threads=1, seconds=0.8)

    retried = campaign.recipients.get(whatsapp_id=wa(0))
    assert retried.status == "queued" and retried.error_code == "130429"
    assert retried.next_attempt_at > retried.claimed_at
    limiter = RateLimiter(campaign.phone_number.meta_phone_number_id)
    assert limiter.rate(80) <= 40  # half the pace (again at each 130429) for a minute
    assert messages_per_person() == {}

    set_faults()
    time.sleep(max((retried.next_attempt_at - timezone.now()).total_seconds(), 0))
    send_due(campaign.pk, threads=1, seconds=10)
    assert messages_per_person() == {wa(0): 1, wa(1): 1}


def test_a_transient_failure_is_retried_with_backoff_and_gives_up_after_a_few_tries(
    campaign_template,
):
    make_people(1)
    campaign = sending_campaign(campaign_template)
    set_faults(error_rate=1)  # every call answered 500, code 2

    send_due(campaign.pk, threads=1, seconds=1)

    recipient = campaign.recipients.get()
    assert recipient.status == "queued" and recipient.attempts == 1
    assert recipient.next_attempt_at > timezone.now() + timedelta(seconds=0.5)
    for _ in range(5):
        Recipient.objects.filter(pk=recipient.pk).update(next_attempt_at=None)
        send_due(campaign.pk, threads=1, seconds=1)
    recipient.refresh_from_db()
    assert recipient.status == "failed" and recipient.attempts == 6
    assert recipient.error.startswith("Gave up after 6 tries")
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("code", "by_meta", "words"),
    [
        (132015, True, "Meta paused the template"),
        (132016, False, "Meta disabled the template"),
        (132068, False, "The flow is blocked"),
        (132069, False, "The flow is throttled"),
        (131048, False, "spam rate limit"),
    ],
)
def test_template_flow_and_spam_answers_pause_the_whole_campaign_with_the_reason(
    campaign_template, code, by_meta, words
):
    make_people(3)
    campaign = sending_campaign(campaign_template)
    set_faults(error_code=code, error_code_rate=1, error_code_to=wa(1))

    send_due(campaign.pk, threads=1)

    campaign.refresh_from_db()
    assert campaign.status == "PAUSED" and campaign.paused_by_meta is by_meta
    assert words in campaign.pause_reason and f"({code})" in campaign.pause_reason
    # The refused person waits in the queue; nobody after them was sent to.
    assert statuses(campaign)[wa(1)] == statuses(campaign)[wa(2)] == "queued"
    assert wa(2) not in messages_per_person()
    assert not campaign.recipients.filter(status="failed").exists()


def approve_webhook(client, template, event: str = "APPROVED") -> None:
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": template.waba.meta_waba_id,
                    "time": 1767225600,
                    "changes": [
                        {
                            "field": "message_template_status_update",
                            "value": {
                                "event": event,
                                "message_template_id": int(template.meta_template_id),
                                "message_template_name": template.name,
                                "message_template_language": template.language,
                                "reason": "NONE",
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    response = client.post(
        "/meta/webhook/",
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=hub_signature(body, template.waba.app_secret),
    )
    assert response.status_code == 200


def test_a_template_paused_by_meta_mid_send_resumes_when_it_is_approved_again(
    campaign_template, client
):
    make_people(4)
    campaign = sending_campaign(campaign_template)
    set_faults(error_code=132015, error_code_rate=1, error_code_to=wa(2))
    send_due(campaign.pk, threads=1)
    campaign.refresh_from_db()
    assert campaign.status == "PAUSED" and campaign.paused_by_meta
    set_faults()

    # Meta's review webhook: APPROVED again. The campaign resumes and sends (in-process here).
    approve_webhook(client, campaign_template)

    campaign.refresh_from_db()
    assert campaign.status == "COMPLETED", campaign.pause_reason
    assert messages_per_person() == {wa(n): 1 for n in range(4)}


def test_a_template_paused_by_meta_webhook_pauses_the_sending_campaign_before_any_refusal(
    campaign_template, client
):
    make_people(2)
    campaign = sending_campaign(campaign_template)

    approve_webhook(client, campaign_template, event="PAUSED")

    campaign.refresh_from_db()
    assert campaign.status == "PAUSED" and campaign.paused_by_meta
    assert send_due(campaign.pk) == 0 and Message.objects.count() == 0


def test_a_person_paused_campaign_does_not_resume_on_approval(
    campaign_template, client, campaign_manager
):
    make_people(2)
    campaign = sending_campaign(campaign_template)
    pause_campaign(campaign, by=campaign_manager)
    approve_webhook(client, campaign_template)
    campaign.refresh_from_db()
    assert campaign.status == "PAUSED" and campaign.pause_reason == "Paused by charlie."

    resume_campaign(campaign, by=campaign_manager)  # queues a sender: in-process here
    campaign.refresh_from_db()
    assert campaign.status == "COMPLETED" and len(messages_per_person()) == 2


def test_cancelling_stops_sending_and_cancels_everyone_still_queued(
    campaign_template, campaign_manager
):
    make_people(3)
    campaign = sending_campaign(campaign_template)
    cancel_campaign(campaign, by=campaign_manager)

    assert send_due(campaign.pk) == 0
    assert set(statuses(campaign).values()) == {"cancelled"}
    campaign.refresh_from_db()
    assert campaign.status == "CANCELLED" and campaign.finished_at


def test_a_lost_answer_is_reconciled_from_the_status_webhook_and_never_sent_again(
    campaign_template,
):
    make_people(1)
    campaign = sending_campaign(campaign_template)
    recipient = campaign.recipients.get()
    # A worker claimed and sent, then died before it could record Meta's answer.
    claimed = Recipient.objects.claim_next(campaign.pk)
    from campaigns.sending.sender import Plan
    from wabas.graph import GraphClient

    plan = Plan.of(campaign, campaign.phone_number)
    GraphClient.for_waba(campaign.waba).send_template_message(
        plan.phone_number_id, **plan.message(claimed, "token-of-the-lost-send")
    )
    # The status webhooks (delivered in-process here) carry biz_opaque_callback_data.
    recipient.refresh_from_db()
    assert recipient.wamid == Message.objects.get().wamid and recipient.status == "read"
    assert read_flow_token(recipient.flow_token)["campaign_id"] == campaign.pk

    assert send_due(campaign.pk) == 0  # nobody left to send to: no second message
    assert Message.objects.count() == 1


def test_a_send_stuck_without_answer_or_webhook_is_failed_as_unknown_and_not_resent(
    campaign_template,
):
    from campaigns.tasks import dispatch_due_campaigns_task

    make_people(1)
    campaign = sending_campaign(campaign_template)
    Recipient.objects.claim_next(campaign.pk)
    Recipient.objects.update(claimed_at=timezone.now() - timedelta(hours=1))

    dispatch_due_campaigns_task()

    recipient = campaign.recipients.get()
    assert recipient.status == "failed" and recipient.error == Recipient.UNKNOWN_OUTCOME
    assert Message.objects.count() == 0
    campaign.refresh_from_db()
    assert campaign.status == "COMPLETED"


def test_quiet_hours_hold_everyone_until_the_window_ends(campaign_template):
    make_people(2)
    now = timezone.now().astimezone(timezone.get_fixed_timezone(0))
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    campaign = sending_campaign(
        campaign_template, quiet_start=start, quiet_end=end, time_zone="UTC"
    )

    assert send_due(campaign.pk) == 0

    assert Message.objects.count() == 0
    for recipient in campaign.recipients.all():
        assert recipient.status == "queued"
        held = (recipient.next_attempt_at - now).total_seconds()
        assert 3600 < held <= 7200

"""Events and profile updates from Flows: ct-evt / ct-up ingestion, completions, stitching.

Two ways in, one vocabulary (the ct-evt / ct-up keys of a flow's payload):
- the hosted endpoint calls `ingest_payload` with each data_exchange payload, before it answers;
- the `messages` webhook calls `record_completion` with each nfm_reply (the flow's final payload).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from flowsadmin.models import Flow
from flowsadmin.tokens import read_flow_token
from wabas.models import Waba
from wabas.safe_text import loads_clean

from .models import Event, Profile
from .signals import COMPLETED, announce_flow_token

# The payload keys that carry what we ingest rather than what the next screen shows: events to
# record (ct-evt) and profile values to update (ct-up). The endpoint strips them before it relays.
EVENT_KEY = "ct-evt"
PROFILE_KEY = "ct-up"
INGESTION_KEYS = (EVENT_KEY, PROFILE_KEY)

PROFILE_UPDATED = "WAF_ProfileUpdated"
MAX_NAME = Event._meta.get_field("name").max_length
MAX_TOKEN = Event._meta.get_field("flow_token").max_length
MAX_WHATSAPP_ID = Profile._meta.get_field("whatsapp_id").max_length
MAX_CONTACT_NAME = Profile._meta.get_field("name").max_length
# Properties of a submitted event that are ours, not the person's answers.
NOT_ANSWERS = {"flow_id", "campaign_id"}


def submitted_event_name(flow: Flow | None) -> str:
    """WAF_<FlowName>_Submitted, the flow's name in CamelCase: "Hotel feedback" -> WAF_HotelFeedback_Submitted."""
    words = re.findall(r"[^\W_]+", flow.name) if flow is not None else []
    camel = "".join(word[0].upper() + word[1:] for word in words) or "Flow"
    return f"WAF_{camel}_Submitted"[:MAX_NAME]


def profile_for(whatsapp_id: str, *, contact_name: str = "") -> Profile:
    """The profile of a WhatsApp id, created on first sight with the number and the chat name."""
    profile, _ = Profile.objects.get_or_create(
        whatsapp_id=whatsapp_id,
        defaults={
            "phone": f"+{whatsapp_id}" if whatsapp_id.isdigit() else "",
            "name": contact_name,
        },
    )
    return profile


def ingest_event(
    *,
    name: str,
    properties: Any,
    source: str,
    flow: Flow | None = None,
    flow_token: str = "",
    profile: Profile | None = None,
    dedupe_key: str | None = None,
    occurred_at: datetime | None = None,
) -> None:
    """Record one event; properties are kept as given (a non-object is kept under "value")."""
    if not isinstance(properties, dict):
        properties = {} if properties is None else {"value": properties}
    Event.objects.insert(
        name=(name or "Unnamed event")[:MAX_NAME],
        properties=properties,
        source=source,
        flow_id=flow.pk if flow is not None else None,
        # Cut, not refused: an over-long foreign token must not lose the event (stitching cuts alike).
        flow_token=(flow_token or "")[:MAX_TOKEN],
        profile_id=profile.pk if profile is not None else None,
        dedupe_key=dedupe_key,
        occurred_at=occurred_at or timezone.now(),
    )


def update_profile(
    profile: Profile,
    values: dict,
    *,
    source: str,
    flow: Flow | None = None,
    flow_token: str = "",
    dedupe_key: str | None = None,
    occurred_at: datetime | None = None,
) -> dict:
    """Apply ct-up values; when something changed, save and record WAF_ProfileUpdated. Returns the changes."""
    changed = profile.merge_update(values)
    if changed:
        ingest_event(
            name=PROFILE_UPDATED,
            properties=changed,
            source=source,
            flow=flow,
            flow_token=flow_token,
            profile=profile,
            dedupe_key=dedupe_key,
            occurred_at=occurred_at,
        )
    return changed


def _events_in(value: Any) -> list[tuple[str, Any]]:
    """(evtName, evtData) of a ct-evt: one object, or a list of them."""
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        if isinstance(item, dict):
            name = item.get("evtName")
            found.append((name if isinstance(name, str) else "", item.get("evtData")))
    return found


def ingest_payload(
    payload: dict,
    *,
    source: str,
    flow: Flow | None,
    flow_token: str = "",
    profile: Profile | None = None,
    dedupe_prefix: str | None = None,
    occurred_at: datetime | None = None,
) -> int:
    """Record a payload's ct-evt and apply its ct-up; returns how many events were written.

    Without a profile (a foreign flow token names nobody) a ct-up is kept as a pending
    WAF_ProfileUpdated event holding the values; stitching applies it once the sender is known.
    """
    written = 0
    for index, (name, data) in enumerate(_events_in(payload.get(EVENT_KEY))):
        ingest_event(
            name=name,
            properties=data,
            source=source,
            flow=flow,
            flow_token=flow_token,
            profile=profile,
            dedupe_key=f"{dedupe_prefix}:evt:{index}" if dedupe_prefix else None,
            occurred_at=occurred_at,
        )
        written += 1
    values = payload.get(PROFILE_KEY)
    if isinstance(values, dict) and values:
        if profile is None:
            ingest_event(
                name=PROFILE_UPDATED,
                properties=values,
                source=source,
                flow=flow,
                flow_token=flow_token,
                occurred_at=occurred_at,
            )
            written += 1
        elif update_profile(
            profile,
            values,
            source=source,
            flow=flow,
            flow_token=flow_token,
            dedupe_key=f"{dedupe_prefix}:profile" if dedupe_prefix else None,
            occurred_at=occurred_at,
        ):
            written += 1
    return written


def stitch(profile: Profile, flow_token: str) -> int:
    """Attach earlier anonymous endpoint events with this flow token to the profile; returns how many.

    Pending profile updates among them are applied in the order they happened. A token that an
    earlier completion by someone else already used is shared between people (a business may send
    one fixed token to everybody), so its anonymous events can't be told apart and stay unstitched.
    """
    if not flow_token:
        return 0
    flow_token = flow_token[:MAX_TOKEN]
    shared = (
        Event.objects.filter(flow_token=flow_token, source=Event.Source.COMPLETION)
        .exclude(profile=profile)
        .exists()
    )
    if shared:
        return 0
    events = list(
        Event.objects.select_for_update()
        .filter(flow_token=flow_token, profile__isnull=True)
        .order_by("occurred_at", "pk")
    )
    for event in events:
        if event.name == PROFILE_UPDATED and isinstance(event.properties, dict):
            profile.merge_update(event.properties)
    if events:
        Event.objects.filter(pk__in=[e.pk for e in events]).update(profile=profile)
    return len(events)


def _flow_of_completion(waba: Waba, token: dict | None, flow_token: str) -> Flow | None:
    """The flow a completion belongs to: named by our token, else by earlier endpoint events.

    Only the fields a completion uses are loaded: not the Flow JSON, on every webhook."""
    flows = Flow.objects.filter(waba=waba).only("id", "name", "meta_flow_id", "public_id")
    if token and token.get("flow"):
        flow = flows.filter(public_id=token["flow"]).first()
        if flow is not None:
            return flow
    if flow_token:
        return (
            flows.filter(events__flow_token=flow_token[:MAX_TOKEN])
            .order_by("-events__occurred_at")
            .first()
        )
    return None


def _message_time(message: dict) -> datetime:
    try:
        return datetime.fromtimestamp(int(message.get("timestamp")), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return timezone.now()


def record_completion(waba: Waba, message: dict, *, contact_name: str = "") -> str:
    """Turn one nfm_reply message into the flow's submitted event, its ct-evt and ct-up, and stitch.

    Idempotent per message id: the submitted event's unique key is claimed first, so a re-delivered
    message (or two workers racing on it) records nothing the second time.
    """
    whatsapp_id = message.get("from")
    whatsapp_id = str(whatsapp_id) if isinstance(whatsapp_id, str | int) else ""
    if len(whatsapp_id) > MAX_WHATSAPP_ID:
        return f"a flow reply from a sender id longer than {MAX_WHATSAPP_ID} characters, refused."
    reply = (message.get("interactive") or {}).get("nfm_reply") or {}
    try:
        # response_json is a JSON text inside the body: a door of its own, cleaned as it enters.
        answers = loads_clean(reply.get("response_json") or "{}")
    except (TypeError, ValueError, RecursionError):
        return "a flow reply whose response_json is not JSON, kept and not applied."
    if not isinstance(answers, dict) or not whatsapp_id:
        return "a flow reply without answers or sender, kept and not applied."
    contact_name = contact_name[:MAX_CONTACT_NAME]
    flow_token = answers.get("flow_token") if isinstance(answers.get("flow_token"), str) else ""
    token = read_flow_token(flow_token)
    flow = _flow_of_completion(waba, token, flow_token)
    message_id = str(message.get("id") or "")[:150]  # the dedupe key's column holds 200
    occurred_at = _message_time(message)
    name = submitted_event_name(flow)
    properties = {
        key: value
        for key, value in answers.items()
        if key not in INGESTION_KEYS and key != "flow_token"
    }
    event = answers.get("ct-evt")
    if isinstance(event, dict) and isinstance(event.get("evtData"), dict):
        # Flows written for ingestion (the hotel example) carry their answers only inside ct-evt:
        # those are the answered fields too.
        for key, value in event["evtData"].items():
            properties.setdefault(key, value)
    if flow is not None:
        properties["flow_id"] = flow.meta_flow_id or str(flow.public_id)
    if token and token.get("campaign_id") is not None:
        # The completion names the campaign that sent it, on the person's profile too.
        properties["campaign_id"] = token["campaign_id"]
    try:
        with transaction.atomic():
            profile = profile_for(whatsapp_id, contact_name=contact_name)
            ingest_event(
                name=name,
                properties=properties,
                source=Event.Source.COMPLETION,
                flow=flow,
                flow_token=flow_token,
                profile=profile,
                dedupe_key=f"{message_id}:submitted" if message_id else None,
                occurred_at=occurred_at,
            )
            stitched = stitch(profile, flow_token)
            ingest_payload(
                answers,
                source=Event.Source.COMPLETION,
                flow=flow,
                flow_token=flow_token,
                profile=profile,
                dedupe_prefix=message_id or None,
                occurred_at=occurred_at,
            )
    except IntegrityError:
        return f"{name} from {whatsapp_id} was already recorded."
    announce_flow_token(flow_token, token, kind=COMPLETED, at=occurred_at)
    extra = f", {stitched} earlier event(s) stitched" if stitched else ""
    return f"{name} recorded for {whatsapp_id}{extra}."


def answer_keys(properties: Any) -> list[str]:
    """The answered fields of submissions, in first-seen order (our own flow_id left out)."""
    keys: dict[str, None] = {}
    for values in properties:
        if isinstance(values, dict):
            keys.update((key, None) for key in values if key not in NOT_ANSWERS)
    return list(keys)


def as_text(value: Any) -> str:
    """An answer as given: strings as they are, a missing one empty, anything else compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

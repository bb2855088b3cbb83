"""Who a campaign reaches: the people of a segment, or the numbers of an uploaded list.

A segment is {"match": "all" | "any", "rules": [...]}, each rule one of
- {"kind": "property", "field": "city", "op": "equals", "value": "London"} (a profile field or a custom property),
- {"kind": "event", "name": "Stay Feedback", "days": 30} (did that event in the last N days).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from audience.models import Event, Profile
from wabas.models import Waba

# Profile fields a rule may name; anything else is a custom property (Profile.properties).
PROFILE_FIELDS = ("name", "phone", "email", "gender", "date_of_birth", "city", "whatsapp_id")


def rule_query(rule: dict) -> Q:
    """One rule as a condition on Profile."""
    if rule.get("kind") == "event":
        since = timezone.now() - timedelta(days=int(rule.get("days") or 30))
        people = Event.objects.filter(name=rule.get("name", ""), occurred_at__gte=since)
        return Q(pk__in=people.exclude(profile=None).values("profile"))
    field = str(rule.get("field", ""))
    lookup = field if field in PROFILE_FIELDS else f"properties__{field}"
    return Q(**{f"{lookup}__iexact": str(rule.get("value", ""))})


def segment_profiles(waba: Waba, segment: dict) -> QuerySet[Profile]:
    """The profiles a segment names; every profile when it has no rules.

    Profiles are not per WABA today (a person is one WhatsApp id), so `waba` only scopes what may
    come later.
    """
    rules = [rule for rule in segment.get("rules") or [] if isinstance(rule, dict)]
    if not rules:
        return Profile.objects.all()
    query = Q()
    for rule in rules:
        query = (
            query | rule_query(rule) if segment.get("match") == "any" else query & rule_query(rule)
        )
    return Profile.objects.filter(query)

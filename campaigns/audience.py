"""Who a campaign reaches: the people of a segment, or the numbers of an uploaded list.

A segment is {"match": "all" | "any", "rules": [...]}, each rule one of
- {"kind": "property", "field": "city", "op": "equals", "value": "London"} (a profile field or a
  custom property); op is one of PROPERTY_OPS, "equals" when missing; text compares ignoring case;
- {"kind": "event", "name": "Stay Feedback", "days": 30, "op": "did"} (did, or "did_not", that event
  in the last N days).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from audience.models import Event, Profile
from templates_app.variables import (
    PROFILE_FIELDS,  # a rule names one of these, else a custom property
)
from wabas.models import Waba

PROPERTY_OPS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "is_set": "is set",
}
EVENT_OPS = {"did": "did", "did_not": "did not do"}


def rule_query(rule: dict) -> Q:
    """One rule as a condition on Profile."""
    if rule.get("kind") == "event":
        try:
            days = int(rule.get("days") or 30)
        except (TypeError, ValueError):
            days = 30
        since = timezone.now() - timedelta(days=days)
        people = Event.objects.filter(name=rule.get("name", ""), occurred_at__gte=since)
        did = Q(pk__in=people.exclude(profile=None).values("profile"))
        return ~did if rule.get("op") == "did_not" else did
    field = str(rule.get("field", ""))
    lookup = field if field in PROFILE_FIELDS else f"properties__{field}"
    value = str(rule.get("value", ""))
    op = rule.get("op") or "equals"
    if op == "is_set":
        if field in PROFILE_FIELDS:
            return ~Q(**{lookup: ""})
        # A custom property is set when the key is there with a value that isn't empty.
        return Q(properties__has_key=field) & ~Q(**{lookup: ""})
    if op == "contains":
        return Q(**{f"{lookup}__icontains": value})
    if op == "not_equals":
        # Someone without the property is not "City is London" either: they are in "is not".
        differs = ~Q(**{f"{lookup}__iexact": value})
        return differs if field in PROFILE_FIELDS else differs | ~Q(properties__has_key=field)
    return Q(**{f"{lookup}__iexact": value})


def describe_rule(rule: dict) -> str:
    """A rule in words, for the campaign page: 'City is London', 'did Stay Feedback in the last 30 days'."""
    if rule.get("kind") == "event":
        verb = EVENT_OPS.get(rule.get("op") or "did", "did")
        return f"{verb} {rule.get('name', '')} in the last {rule.get('days') or 30} days"
    field = str(rule.get("field", "")).replace("_", " ").capitalize()
    op = rule.get("op") or "equals"
    if op == "is_set":
        return f"{field} is set"
    return f"{field} {PROPERTY_OPS.get(op, 'is')} {rule.get('value', '')}"


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

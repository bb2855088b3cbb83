from __future__ import annotations

import json
from datetime import datetime

import psycopg
from django.db import connections, models, router, transaction
from django.utils import timezone

from flowsadmin.models import Flow

# ct-up keys that fill a profile's own fields (Name, Email, Phone, Gender, and CleverTap's other
# standard profile keys we keep); matched case-insensitively.
# Every other key is a custom property.
STANDARD_KEYS = {
    "name": "name",
    "email": "email",
    "phone": "phone",
    "gender": "gender",
    "dob": "date_of_birth",
    "city": "city",
}


class ProfileQuerySet(models.QuerySet):
    def search(self, text: str) -> ProfileQuerySet:
        """Profiles whose phone, WhatsApp id, email or name contains the text."""
        text = text.strip()
        if not text:
            return self
        query = (
            models.Q(name__icontains=text)
            | models.Q(email__icontains=text)
            | models.Q(phone__icontains=text)
            | models.Q(whatsapp_id__icontains=text)
        )
        # "+1 555-0100" should find the WhatsApp id 15550100: compare digits with digits too.
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= 3:
            query |= models.Q(whatsapp_id__contains=digits) | models.Q(phone__contains=digits)
        return self.filter(query)

    def merge(self, pk: int, changed: dict[str, str], properties: dict) -> None:
        """Write ct-up changes to one profile in a single UPDATE that merges the custom properties
        into what the row holds now, so concurrent updates of one person each keep their keys.

        `changed` maps standard field names to their new values; `properties` holds custom keys.
        PostgreSQL merges with jsonb `||`, SQLite with json_patch (which also merges nested objects
        where `||` replaces them; ct-up values are strings in practice). Any other database takes a
        row lock and merges in Python.
        """
        connection = connections[router.db_for_write(self.model)]
        if connection.vendor not in ("postgresql", "sqlite"):
            with transaction.atomic(using=connection.alias):
                profile = self.select_for_update().get(pk=pk)
                profile.properties = (profile.properties or {}) | properties
                for field, value in changed.items():
                    setattr(profile, field, value)
                profile.save()
            return
        merged = (
            "COALESCE(properties, '{}'::jsonb) || %s::jsonb"
            if connection.vendor == "postgresql"
            else "json_patch(COALESCE(properties, '{}'), %s)"
        )
        quote = connection.ops.quote_name
        assignments = [f"properties = {merged}", f"{quote('updated_at')} = %s"]
        params: list = [
            json.dumps(properties, ensure_ascii=False),
            connection.ops.adapt_datetimefield_value(timezone.now()),
        ]
        for field, value in changed.items():
            assignments.append(f"{quote(self.model._meta.get_field(field).column)} = %s")
            params.append(value)
        table = quote(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {', '.join(assignments)} WHERE id = %s",  # noqa: S608
                [*params, pk],
            )


class Profile(models.Model):
    """A person who answered a Flow, keyed by their WhatsApp id."""

    whatsapp_id = models.CharField("WhatsApp id", max_length=32, unique=True)
    phone = models.CharField(max_length=40, blank=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)  # as given: Flow values are free text
    gender = models.CharField(max_length=40, blank=True)
    date_of_birth = models.CharField("date of birth", max_length=40, blank=True)
    city = models.CharField(max_length=120, blank=True)
    properties = models.JSONField("custom properties", default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProfileQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]

    def __str__(self) -> str:
        return self.name or self.phone or self.whatsapp_id

    def standard_properties(self) -> list[tuple[str, str]]:
        """(label, value) of the standard fields that have a value, for the profile page."""
        return [
            (self._meta.get_field(field).verbose_name.capitalize(), getattr(self, field))
            for field in ("phone", "name", "email", "gender", "date_of_birth", "city")
            if getattr(self, field)
        ]

    def apply_update(self, values: dict) -> dict:
        """Take ct-up values into the fields and custom properties; returns what changed. Not saved.

        Values are kept as given (Meta sends strings). An empty value never clears what we know:
        an optional form field left blank arrives as "" and must not erase an earlier answer.
        """
        changed = {}
        for key, value in values.items():
            if value is None or value == "" or not isinstance(key, str) or not key:
                continue
            field = STANDARD_KEYS.get(key.lower())
            if field is not None:
                value = value if isinstance(value, str) else str(value)
                value = value[: self._meta.get_field(field).max_length]
                if getattr(self, field) != value:
                    setattr(self, field, value)
                    changed[key] = value
            elif self.properties.get(key) != value:
                self.properties[key] = value
                changed[key] = value
        return changed

    def merge_update(self, values: dict) -> dict:
        """apply_update, written at once with a merging UPDATE (ProfileQuerySet.merge) rather than
        save(): save() writes the whole properties object read earlier and would drop the keys a
        concurrent update added meanwhile. Returns what changed."""
        changed = self.apply_update(values)
        if changed:
            fields, custom = {}, {}
            for key, value in changed.items():
                field = STANDARD_KEYS.get(key.lower())
                if field is not None:
                    fields[field] = value
                else:
                    custom[key] = value
            Profile.objects.merge(self.pk, fields, custom)
        return changed


# The submitted event of any flow (WAF_<FlowName>_Submitted): matched by shape, not by the flow's
# current name, so answers given before a rename still count as the flow's responses.
SUBMITTED_NAME_PATTERN = r"^WAF_.+_Submitted$"


class EventQuerySet(models.QuerySet):
    def insert(
        self,
        *,
        name: str,
        properties: dict,
        source: str,
        flow_id: int | None,
        flow_token: str,
        profile_id: int | None,
        dedupe_key: str | None,
        occurred_at: datetime,
    ) -> None:
        """Write one event with a single INSERT, skipping the ORM's per-object machinery.

        The hosted endpoint writes each ct-evt before it answers Meta, and `objects.create` costs
        three times the SQL itself in CPU; on PostgreSQL the statement is also prepared once per
        connection (benchmarks/test_bench_endpoint.py). Values are converted as the ORM converts
        them, and a duplicate dedupe_key raises Django's IntegrityError as `create` would.
        """
        connection = connections[router.db_for_write(self.model)]
        params = [
            name,
            json.dumps(properties, ensure_ascii=False),
            source,
            flow_id,
            flow_token,
            profile_id,
            dedupe_key,
            connection.ops.adapt_datetimefield_value(occurred_at),
        ]
        table = connection.ops.quote_name(Event._meta.db_table)
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(
                    _INSERT_EVENT.format(table=table, cast="::jsonb"), params, prepare=True
                )
        else:
            with connection.cursor() as cursor:
                cursor.execute(_INSERT_EVENT.format(table=table, cast=""), params)

    def responses(self, flow: Flow) -> EventQuerySet:
        """The flow's submissions (one per completed flow), newest first."""
        return self.filter(
            flow=flow, source=Event.Source.COMPLETION, name__regex=SUBMITTED_NAME_PATTERN
        ).order_by("-occurred_at", "-pk")

    def event_names_of(self, submissions: list[Event]) -> dict[int, list[str]]:
        """The ct-evt names recorded from the same reply as each submission, by submission pk.

        record_completion keys a reply's events "<message id>:submitted" and "<message id>:evt:<n>",
        so the reply's ct-evt are found by that prefix (a unique, hence indexed, column).
        """
        prefixes = {
            event.pk: event.dedupe_key.removesuffix(":submitted")
            for event in submissions
            if event.dedupe_key and event.dedupe_key.endswith(":submitted")
        }
        if not prefixes:
            return {}
        query = models.Q()
        for prefix in set(prefixes.values()):
            query |= models.Q(dedupe_key__startswith=f"{prefix}:evt:")
        names: dict[str, list[str]] = {}
        for key, name in (
            self.filter(query).order_by("dedupe_key").values_list("dedupe_key", "name")
        ):
            names.setdefault(key.rsplit(":evt:", 1)[0], []).append(name)
        return {pk: names.get(prefix, []) for pk, prefix in prefixes.items()}


_INSERT_EVENT = (
    "INSERT INTO {table} (name, properties, source, flow_id, flow_token, profile_id, dedupe_key,"
    " occurred_at) VALUES (%s, %s{cast}, %s, %s, %s, %s, %s, %s)"
)


class Event(models.Model):
    """Something a person did in a Flow: a ct-evt, a submission, a profile update."""

    class Source(models.TextChoices):
        ENDPOINT = "endpoint", "Data exchange"
        COMPLETION = "completion", "Completion"

    # Empty until we know who sent it: an endpoint request with a foreign flow token names nobody;
    # the completion webhook later stitches it onto the sender's profile by the same flow token.
    profile = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    flow = models.ForeignKey(
        Flow, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    name = models.CharField(max_length=200)
    properties = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=10, choices=Source)
    flow_token = models.CharField(max_length=1000, blank=True, db_index=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    # Set where a re-delivery must not record twice (completion webhooks: the message id).
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["profile", "-occurred_at"], name="event_timeline")]

    def __str__(self) -> str:
        return self.name

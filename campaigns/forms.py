"""The campaign form: every step of "Create Campaign" on one page, and the recipients filter."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import phonenumbers
from django import forms
from django.utils import timezone

from templates_app.models import MessageTemplate
from templates_app.variables import Variable, person_value, profile_values
from wabas.models import TIME_ZONES, Waba

from .audience import EVENT_OPS, PROPERTY_OPS
from .models import Campaign, Recipient

# The most segment conditions and Flow Action data rows a campaign takes. The page shows the rows in
# use and one empty row; "Add a condition" / "Add a data row" (static/js/app.js) reveals the rest.
RULE_ROWS = 12
DATA_ROWS = 10
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
OPS = (
    [("", "—")]
    + [(k, v) for k, v in PROPERTY_OPS.items()]
    + [(k, f"{v} (in the last N days)") for k, v in EVENT_OPS.items()]
)
REGIONS = [("", "None: refuse numbers without a country code")] + sorted(
    (r, f"{r} (+{phonenumbers.country_code_for_region(r)})")
    for r in phonenumbers.SUPPORTED_REGIONS
    if r != "001"
)


def sendable_templates(waba: Waba) -> object:
    """Approved templates whose Flow button opens a published flow: the only ones a campaign can send."""
    return (
        MessageTemplate.objects.filter(
            waba=waba, status=MessageTemplate.Status.APPROVED, flow__status="PUBLISHED"
        )
        .select_related("flow")
        .order_by("name", "language")
    )


def landing_screen(template: MessageTemplate) -> str:
    """The screen the Flow button opens: the template's navigate screen, else the flow's first one."""
    if template.flow_action == MessageTemplate.FlowAction.DATA_EXCHANGE:
        return ""
    if template.navigate_screen:
        return template.navigate_screen
    screens = template.flow.entry_screens() if template.flow else []
    return screens[0] if screens else ""


def declared_data(template: MessageTemplate) -> dict:
    """The landing screen's declared `data` (key -> its declaration) in the flow's JSON."""
    screen = landing_screen(template)
    try:
        document = json.loads(template.flow.flow_json or "{}") if template.flow else {}
    except (ValueError, RecursionError):
        return {}
    for item in document.get("screens") or [] if isinstance(document, dict) else []:
        if isinstance(item, dict) and item.get("id") == screen:
            data = item.get("data")
            return data if isinstance(data, dict) else {}
    return {}


class Row(NamedTuple):
    """One row of the segment builder or of the Flow Action data: its three fields."""

    first: forms.BoundField
    second: forms.BoundField
    third: forms.BoundField
    spare: bool  # hidden until "Add …" reveals it


class TemplateChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: MessageTemplate) -> str:
        return f"{obj.name} ({obj.language_label()}) · Flow: {obj.flow.name}"


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(
        choices=[("whatsapp", "WhatsApp")], initial="whatsapp", widget=forms.RadioSelect
    )
    template = TemplateChoice(queryset=MessageTemplate.objects.none(), empty_label="Choose…")
    phone_number = forms.ModelChoiceField(
        queryset=None, empty_label=None, label="Send from", required=True
    )
    sample = forms.CharField(required=False, label="Preview as")

    audience_kind = forms.ChoiceField(
        choices=Campaign.AudienceKind.choices,
        initial=Campaign.AudienceKind.SEGMENT,
        widget=forms.RadioSelect,
        label="Audience",
    )
    match = forms.ChoiceField(
        choices=[("all", "all of the rules"), ("any", "any of the rules")],
        initial="all",
        label="People who match",
    )
    csv_file = forms.FileField(required=False, label="CSV of phone numbers")
    default_region = forms.ChoiceField(
        choices=REGIONS, required=False, label="Region of numbers without a country code"
    )

    send_mode = forms.ChoiceField(
        choices=[("now", "Now, when published"), ("later", "At a date and time")],
        initial="now",
        widget=forms.RadioSelect,
        label="Send",
    )
    send_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    send_time = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    time_zone = forms.ChoiceField(choices=[(z, z) for z in TIME_ZONES], initial="UTC")

    send_rate = forms.IntegerField(min_value=1, initial=20, label="Send rate (messages a second)")
    quiet_start = forms.TimeField(
        required=False, label="Quiet hours from", widget=forms.TimeInput(attrs={"type": "time"})
    )
    quiet_end = forms.TimeField(
        required=False, label="to", widget=forms.TimeInput(attrs={"type": "time"})
    )
    frequency_cap_hours = forms.IntegerField(
        required=False, min_value=1, max_value=24 * 90, label="Frequency cap (hours)"
    )
    control_percent = forms.IntegerField(
        min_value=0, max_value=50, initial=0, label="Control group (%)"
    )

    def __init__(self, *args: object, waba: Waba, has_upload: bool = False, **kwargs: object):
        super().__init__(*args, **kwargs)
        self.waba = waba
        self.has_upload = has_upload
        self.fields["time_zone"].initial = waba.time_zone  # an edit's own zone comes in `initial`
        self.fields["template"].queryset = sendable_templates(waba)
        self.fields["phone_number"].queryset = waba.phone_numbers.order_by("pk")
        for i in range(RULE_ROWS):
            self.fields[f"rule_{i}_subject"] = forms.CharField(
                required=False, max_length=200, label="Property or event"
            )
            self.fields[f"rule_{i}_op"] = forms.ChoiceField(
                choices=OPS, required=False, label="Condition"
            )
            self.fields[f"rule_{i}_value"] = forms.CharField(
                required=False, max_length=200, label="Value, or days for an event"
            )
        for i in range(DATA_ROWS):
            self.fields[f"data_{i}_key"] = forms.CharField(required=False, label="Data key")
            self.fields[f"data_{i}_source"] = forms.ChoiceField(
                choices=[("value", "Fixed value"), ("field", "Profile field or property")],
                required=False,
                label="From",
            )
            self.fields[f"data_{i}_value"] = forms.CharField(required=False, label="Value")
        self.chosen = self.chosen_template()
        if self.is_bound and self.variables():
            # Fields of a template chosen a moment ago were never on the page: start them from
            # the variable's own field and example, as an unbound form would.
            data = self.data.copy()
            for variable in self.variables():
                data.setdefault(f"var_{variable.param}_field", variable.key)
                data.setdefault(f"var_{variable.param}_fallback", variable.example)
            self.data = data
        for variable in self.variables():
            self.fields[f"var_{variable.param}_field"] = forms.CharField(
                max_length=100,
                initial=variable.key,
                label=f"{{{{{variable.name}}}}} from",
            )
            self.fields[f"var_{variable.param}_fallback"] = forms.CharField(
                max_length=200,
                initial=variable.example,
                label="Fallback",
                help_text="Sent to people without that value: Meta refuses an empty parameter.",
            )

    # --- what the page needs while the form is filled in -----------------------------------------

    def value(self, name: str) -> object:
        if self.is_bound:
            return self.data.get(name, "")
        return self.initial.get(name, self.fields[name].initial if name in self.fields else "")

    def chosen_template(self) -> MessageTemplate | None:
        raw = self.value("template")
        pk = getattr(raw, "pk", raw)
        if not str(pk or "").isdigit():
            return None
        return self.fields["template"].queryset.filter(pk=int(pk)).first()

    def variables(self) -> list[Variable]:
        return self.chosen.variable_list() if self.chosen else []

    def variable_fields(self) -> list[tuple[object, object]]:
        return [
            (self[f"var_{v.param}_field"], self[f"var_{v.param}_fallback"])
            for v in self.variables()
        ]

    def rule_rows(self) -> list[Row]:
        return self._rows("rule", ("subject", "op", "value"), RULE_ROWS)

    def data_rows(self) -> list[Row]:
        # Its source is a select that always has a value: the key and value say if a row is used.
        return self._rows("data", ("key", "source", "value"), DATA_ROWS, typed=("key", "value"))

    def _rows(
        self, prefix: str, parts: tuple[str, ...], count: int, typed: tuple[str, ...] = ()
    ) -> list[Row]:
        """Each row's fields, and whether it is spare: empty, and after the first empty row."""

        def used(i: int) -> bool:
            typed_in = any(
                str(self.value(f"{prefix}_{i}_{p}") or "").strip() for p in typed or parts
            )
            return typed_in or any(f"{prefix}_{i}_{p}" in self.errors for p in parts)

        last_used = max((i for i in range(count) if used(i)), default=-1)
        return [
            Row(*(self[f"{prefix}_{i}_{part}"] for part in parts), spare=i > last_used + 1)
            for i in range(count)
        ]

    def segment_from_data(self) -> dict:
        """The segment as typed so far (for the live count): complete rows only, no errors."""
        rules = []
        for i in range(RULE_ROWS):
            subject = str(self.value(f"rule_{i}_subject") or "").strip()
            op = str(self.value(f"rule_{i}_op") or "")
            value = str(self.value(f"rule_{i}_value") or "").strip()
            if not subject or not op:
                continue
            if op in EVENT_OPS:
                days = int(value) if value.isdigit() and 0 < int(value) <= 3650 else 30
                rules.append({"kind": "event", "name": subject, "op": op, "days": days})
            else:
                rules.append({"kind": "property", "field": subject, "op": op, "value": value})
        return {"match": "any" if self.value("match") == "any" else "all", "rules": rules}

    # --- validation --------------------------------------------------------------------------------

    def clean(self) -> dict:
        data = super().clean()
        template = data.get("template")
        if template is not None:
            self._clean_flow_action_data(template)
        self._clean_rules()
        if data.get("audience_kind") == Campaign.AudienceKind.UPLOAD and not (
            data.get("csv_file") or self.has_upload
        ):
            self.add_error("csv_file", "Choose a CSV file of phone numbers.")
        self._clean_schedule(data)
        phone = data.get("phone_number")
        rate = data.get("send_rate")
        if phone is not None and rate and rate > phone.throughput_mps:
            self.add_error(
                "send_rate",
                f"{phone.display_phone_number} sends at most {phone.throughput_mps} messages a "
                "second (its throughput on Meta): choose that or less.",
            )
        if bool(data.get("quiet_start")) != bool(data.get("quiet_end")):
            self.add_error("quiet_end", "Give both ends of the quiet hours, or neither.")
        elif data.get("quiet_start") and data["quiet_start"] == data["quiet_end"]:
            self.add_error("quiet_end", "Quiet hours must end at another time than they start.")
        return data

    def _clean_flow_action_data(self, template: MessageTemplate) -> None:
        rows = [
            (
                i,
                str(self.data.get(f"data_{i}_key", "")).strip(),
                str(self.data.get(f"data_{i}_value", "")).strip(),
            )
            for i in range(DATA_ROWS)
        ]
        used = [(i, key, value) for i, key, value in rows if key or value]
        if used and template.flow_action == MessageTemplate.FlowAction.DATA_EXCHANGE:
            # At the top: a Data Exchange template's step shows no data rows to attach it to.
            self.add_error(
                None,
                "Flow Action data is for Navigation buttons: a Data Exchange flow gets its first "
                "screen from the flow's endpoint (INIT), and Meta takes no data for it.",
            )
            return
        declared = declared_data(template)
        screen = landing_screen(template)
        seen = set()
        result = {}
        for i, key, value in used:
            if not key:
                self.add_error(f"data_{i}_key", "Name the data key this value is for.")
                continue
            if key not in declared:
                names = ", ".join(sorted(declared)) or "none"
                self.add_error(
                    f"data_{i}_key",
                    f"{screen} declares no data {key!r}; its data keys are: {names}.",
                )
                continue
            if key in seen:
                self.add_error(f"data_{i}_key", f"{key} is given twice.")
                continue
            seen.add(key)
            source = self.data.get(f"data_{i}_source") or "value"
            if not value:
                self.add_error(f"data_{i}_value", "Give a value (Meta refuses empty data).")
            elif source == "field":
                if not KEY.match(value):
                    self.add_error(f"data_{i}_value", "Name a profile field or custom property.")
                result[key] = {"field": value}
            else:
                result[key] = {"value": value}
        self.flow_action_data = result

    def _clean_rules(self) -> None:
        for i in range(RULE_ROWS):
            subject = str(self.data.get(f"rule_{i}_subject", "")).strip()
            op = self.data.get(f"rule_{i}_op", "")
            value = str(self.data.get(f"rule_{i}_value", "")).strip()
            if not subject and not op and not value:
                continue
            if not subject:
                self.add_error(f"rule_{i}_subject", "Name a profile property or an event.")
            if not op:
                self.add_error(f"rule_{i}_op", "Choose a condition.")
            elif op in EVENT_OPS and value and not (value.isdigit() and 0 < int(value) <= 3650):
                self.add_error(
                    f"rule_{i}_value", "For an event, give the days to look back (1–3650)."
                )
            elif op in ("equals", "not_equals", "contains") and not value:
                self.add_error(f"rule_{i}_value", "Give the value to compare with.")

    def _clean_schedule(self, data: dict) -> None:
        self.send_at = None
        if data.get("send_mode") != "later":
            return
        day, at, zone = data.get("send_date"), data.get("send_time"), data.get("time_zone")
        if not day:
            self.add_error("send_date", "Choose the day to send.")
        if not at:
            self.add_error("send_time", "Choose the time to send.")
        if not (day and at and zone):
            return
        tz = ZoneInfo(zone)
        when = datetime.combine(day, at).replace(tzinfo=tz)
        now = timezone.now().astimezone(tz)
        if when <= now:
            self.add_error(
                "send_time",
                f"That time has already passed in {zone} (it is now {now:%-d %b %Y, %H:%M} there). "
                "Choose a later time, or send now.",
            )
            return
        self.send_at = when

    def variable_mapping(self) -> dict:
        """Template parameter -> {"field", "fallback"}, as Campaign.variables keeps it."""
        return {
            v.param: {
                "field": self.cleaned_data[f"var_{v.param}_field"].strip(),
                "fallback": self.cleaned_data[f"var_{v.param}_fallback"],
            }
            for v in self.variables()
        }

    def save_to(self, campaign: Campaign) -> Campaign:
        """Copy the form onto the campaign (not saved)."""
        data = self.cleaned_data
        campaign.name = data["name"]
        campaign.template = data["template"]
        campaign.phone_number = data["phone_number"]
        campaign.variables = self.variable_mapping()
        campaign.flow_action_data = getattr(self, "flow_action_data", {})
        campaign.audience_kind = data["audience_kind"]
        campaign.segment = self.segment_from_data()
        campaign.send_at = self.send_at
        campaign.time_zone = data["time_zone"]
        campaign.send_rate = data["send_rate"]
        campaign.quiet_start = data["quiet_start"]
        campaign.quiet_end = data["quiet_end"]
        campaign.frequency_cap_hours = data["frequency_cap_hours"]
        campaign.control_percent = data["control_percent"]
        return campaign


def initial_from(campaign: Campaign) -> dict:
    """The form's values for a saved draft."""
    initial: dict = {
        "name": campaign.name,
        "template": campaign.template_id,
        "phone_number": campaign.phone_number_id,
        "audience_kind": campaign.audience_kind,
        "match": (campaign.segment or {}).get("match", "all"),
        "time_zone": campaign.time_zone,
        "send_rate": campaign.send_rate,
        "quiet_start": campaign.quiet_start,
        "quiet_end": campaign.quiet_end,
        "frequency_cap_hours": campaign.frequency_cap_hours,
        "control_percent": campaign.control_percent,
        "send_mode": "later" if campaign.send_at else "now",
    }
    if campaign.send_at:
        local = campaign.send_at.astimezone(ZoneInfo(campaign.time_zone))
        initial["send_date"], initial["send_time"] = local.date(), local.time().replace(second=0)
    for param, spec in (campaign.variables or {}).items():
        initial[f"var_{param}_field"] = spec.get("field", "")
        initial[f"var_{param}_fallback"] = spec.get("fallback", "")
    for i, (key, spec) in enumerate(list((campaign.flow_action_data or {}).items())[:DATA_ROWS]):
        initial[f"data_{i}_key"] = key
        initial[f"data_{i}_source"] = "field" if "field" in spec else "value"
        initial[f"data_{i}_value"] = spec.get("field", spec.get("value", ""))
    for i, rule in enumerate(((campaign.segment or {}).get("rules") or [])[:RULE_ROWS]):
        if rule.get("kind") == "event":
            initial[f"rule_{i}_subject"] = rule.get("name", "")
            initial[f"rule_{i}_op"] = rule.get("op") or "did"
            initial[f"rule_{i}_value"] = rule.get("days", 30)
        else:
            initial[f"rule_{i}_subject"] = rule.get("field", "")
            initial[f"rule_{i}_op"] = rule.get("op") or "equals"
            initial[f"rule_{i}_value"] = rule.get("value", "")
    return initial


def fill_value(spec: dict, profile: object | None) -> str:
    """A variable's value for a person, as the sender fills it: their field or custom property,
    else the fallback."""
    field = spec.get("field", "")
    value = person_value(profile_values(profile), field) if profile is not None and field else ""
    return value or spec.get("fallback", "")


class RecipientFilter(forms.Form):
    status = forms.ChoiceField(
        choices=[
            ("", "Any status"),
            ("held", "Held (quiet hours or retry)"),
            *Recipient.Status.choices,
        ],
        required=False,
    )

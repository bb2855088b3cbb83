"""The template form (create and edit), the test send form and the listing's filter."""

from __future__ import annotations

import json
import re

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse

from flowsadmin.models import Flow
from flowsadmin.routing import screens_of
from wabas.models import Waba
from wabas.numbers import whatsapp_id

from . import variables as tv
from .media import LARGEST, MB, MEDIA_RULES, Sample, SampleRejected, accept_attribute, check_sample
from .models import LANGUAGE_NAMES, MessageTemplate

NAME = re.compile(r"[a-z0-9_]+")
CATEGORIES = [
    (MessageTemplate.Category.MARKETING, "Marketing"),
    (MessageTemplate.Category.UTILITY, "Utility"),
]


def example_field_name(param: str) -> str:
    return f"example_{param}"


class TemplateForm(forms.Form):
    """Step by step as the product document's "Use a Flow in a Template": category, type, name and
    language, header, body, footer, the Complete Flow button and its flow."""

    category = forms.ChoiceField(choices=CATEGORIES, widget=forms.RadioSelect)
    name = forms.CharField(
        max_length=512,
        help_text="Lowercase letters, digits and underscores, e.g. hotel_feedback_v2.",
    )
    language = forms.ChoiceField(choices=list(LANGUAGE_NAMES.items()), initial="en_US")
    header_format = forms.ChoiceField(
        label="Header (optional)", choices=MessageTemplate.HeaderFormat.choices, required=False
    )
    header_text = forms.CharField(label="Header text", max_length=60, required=False)
    header_sample = forms.FileField(
        label="Sample media file",
        required=False,
        allow_empty_file=True,  # check_sample refuses it, in words that name the kind of file
        help_text="For Meta's review. Image: png, jpeg or jpg, at most 5 MB, 3:2 recommended. "
        "Video: mp4, at most 16 MB. Document: pdf, at most 16 MB.",
    )
    body = forms.CharField(
        max_length=1024,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="At most 1,024 characters. Personalise with profile fields or custom properties, "
        "like {{user.name}} or {{user.city}}.",
    )
    footer = forms.CharField(
        label="Footer (optional)",
        max_length=60,
        required=False,
        help_text="At most 60 characters, no variables (Meta's rule).",
    )
    button_text = forms.CharField(
        label="Complete Flow button text",
        max_length=25,
        help_text="At most 25 characters, no variables (Meta's rule).",
    )
    flow_action = forms.ChoiceField(
        choices=MessageTemplate.FlowAction.choices,
        widget=forms.RadioSelect,
        initial=MessageTemplate.FlowAction.NAVIGATE,
        help_text="Navigation: static flows, the landing screen opens at once. Data Exchange: the "
        "first screen is fetched from the flow's endpoint after the tap.",
    )
    # A plain field: a flow deprecated since the page was drawn gets a sentence, not "invalid choice".
    flow = forms.CharField(
        label="Flow",
        widget=forms.Select,
        error_messages={"required": "Browse Flows and choose one of this WABA's published flows."},
    )
    navigate_screen = forms.CharField(label="Landing screen", required=False, widget=forms.Select)

    def __init__(
        self,
        *args: object,
        waba: Waba,
        instance: MessageTemplate | None = None,
        too_large: set[str] | frozenset = frozenset(),
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.waba = waba
        self.instance = instance
        self.too_large = too_large
        self.sample: Sample | None = None
        self.found_variables: list[tv.Variable] = []
        self.flows = list(waba.flows.published().order_by("name"))
        choices = [("", "Choose a published flow")] + [(str(f.pk), f.name) for f in self.flows]
        self.fields["flow"].widget.choices = choices
        self.fields["header_sample"].widget.attrs["accept"] = accept_attribute(
            self._value("header_format")
        )
        if instance is not None and instance.is_on_meta:
            # Meta edits a template's content only: its name and language stay.
            for name in ("name", "language"):
                self.fields[name].disabled = True
            if instance.status == MessageTemplate.Status.APPROVED:
                self.fields["category"].disabled = True
                self.fields[
                    "category"
                ].help_text = "Meta doesn't let an approved template change category."
        self.fields["navigate_screen"].widget.choices = [
            ("", "Choose the landing screen"),
            *[(s, s) for s in self.screen_choices()],
        ]
        self._add_example_fields()
        # As the header and body are typed, the example fields follow (htmx; on submit without it).
        for name in ("header_text", "body"):
            self.fields[name].widget.attrs.update(
                {
                    "hx-post": reverse("templates:variables"),
                    "hx-trigger": "input changed delay:500ms",
                    "hx-target": "#variable-examples",
                    "hx-swap": "outerHTML",
                    "hx-params": "not header_sample",
                }
            )
        self.fields["header_sample"].widget.attrs["data-preview-media"] = ""

    # --- what the page needs while it is being filled in ----------------------------------------

    def _value(self, name: str) -> str:
        if self.is_bound:
            field = self.fields.get(name)
            if field is not None and field.disabled:
                return str(self.get_initial_for_field(field, name) or "")
            return str(self.data.get(name, "") or "")
        return str(self.initial.get(name, "") or "")

    def chosen_flow(self) -> Flow | None:
        pk = self._value("flow")
        return self.waba.flows.filter(pk=pk).first() if pk.isdigit() else None

    def screen_choices(self) -> list[str]:
        flow = self.chosen_flow()
        return flow.entry_screens() if flow is not None else []

    def _add_example_fields(self) -> None:
        """One example field per variable found in the header and body as typed so far."""
        try:
            self.found_variables = tv.collect(self._value("header_text"), self._value("body"))
        except tv.VariableError:
            self.found_variables = []
        saved = self.instance.examples() if self.instance is not None else {}
        for variable in self.found_variables:
            name = example_field_name(variable.param)
            self.fields[name] = forms.CharField(
                label=f"Example for {{{{{variable.name}}}}}",
                max_length=200,
                required=False,
                initial=self.initial.get(name) or saved.get(variable.name, ""),
                help_text="Meta's reviewers see the message with this value.",
            )

    def example_fields(self) -> list[forms.BoundField]:
        return [self[example_field_name(v.param)] for v in self.found_variables]

    # --- rules ------------------------------------------------------------------------------------

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if not NAME.fullmatch(name):
            raise forms.ValidationError(
                "Meta's rule: a template name has only lowercase letters, digits and underscores "
                f"(no capitals or spaces), e.g. {re.sub(r'[^a-z0-9_]+', '_', name.lower()).strip('_') or 'hotel_feedback'}."
            )
        return name

    def clean_footer(self) -> str:
        footer = self.cleaned_data["footer"]
        try:
            tv.no_variables(footer, "footer")
        except tv.VariableError as exc:
            raise forms.ValidationError(str(exc)) from None
        return footer

    def clean_button_text(self) -> str:
        text = self.cleaned_data["button_text"]
        try:
            tv.no_variables(text, "button text")
        except tv.VariableError as exc:
            raise forms.ValidationError(str(exc)) from None
        return text

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        try:
            tv.check_body(body)
        except tv.VariableError as exc:
            raise forms.ValidationError(str(exc)) from None
        return body

    def clean_header_text(self) -> str:
        text = self.cleaned_data["header_text"]
        try:
            if len(tv.parse(text)) > 1:
                raise tv.VariableError("Meta's rule: a text header can have at most one variable.")
        except tv.VariableError as exc:
            raise forms.ValidationError(str(exc)) from None
        return text

    def clean_flow(self) -> Flow:
        pk = self.cleaned_data["flow"]
        flow = self.waba.flows.filter(pk=pk).first() if pk.isdigit() else None
        if flow is None:
            raise forms.ValidationError("Choose one of this WABA's published flows.")
        if flow.status != Flow.Status.PUBLISHED:
            raise forms.ValidationError(
                f"{flow.name} is {flow.get_status_display().lower()} now, no longer published: "
                "Meta attaches only published flows. Choose another flow."
            )
        return flow

    def clean(self) -> dict:
        data = super().clean()
        self._check_unique(data)
        self._check_header(data)
        self._check_flow(data)
        self._check_examples(data)
        return data

    def _check_unique(self, data: dict) -> None:
        name, language = data.get("name"), data.get("language")
        if not name or not language:
            return
        taken = self.waba.templates.filter(name=name, language=language)
        if self.instance is not None and self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            self.add_error(
                "name",
                f"A template named {name} in {LANGUAGE_NAMES.get(language, language)} already "
                "exists in this WABA: choose another name or language.",
            )

    def _check_header(self, data: dict) -> None:
        kind = data.get("header_format") or ""
        if kind == "TEXT" and not data.get("header_text"):
            self.add_error("header_text", "Write the header text, or choose no header.")
        if kind not in MEDIA_RULES:
            return
        if "header_sample" in self.too_large:
            self.add_error(
                "header_sample",
                f"The file is larger than {LARGEST // MB} MB and was not received: "
                f"{MEDIA_RULES[kind].label} sample can be at most "
                f"{MEDIA_RULES[kind].max_bytes // MB} MB.",
            )
            return
        upload: UploadedFile | None = data.get("header_sample")
        if upload is None:
            sample = getattr(self.instance, "sample", None) if self.instance else None
            if sample is None or sample.header_format != kind:
                self.add_error(
                    "header_sample",
                    f"Upload {MEDIA_RULES[kind].label} as a sample for Meta's review.",
                )
            return
        try:
            self.sample = check_sample(upload, kind)
        except SampleRejected as exc:
            self.add_error("header_sample", str(exc))

    def _check_flow(self, data: dict) -> None:
        flow: Flow | None = data.get("flow")
        if flow is None:
            return
        if data.get("flow_action") == MessageTemplate.FlowAction.NAVIGATE:
            screen = data.get("navigate_screen") or ""
            entries = flow.entry_screens()
            if screen not in entries:
                self.add_error(
                    "navigate_screen",
                    f"Choose the landing screen: {flow.name} can be opened at "
                    f"{', '.join(entries) or 'none of its screens (its JSON is broken)'}.",
                )
        else:
            data["navigate_screen"] = ""
            document, _ = screens_of(flow.flow_json)
            if not document.get("data_api_version"):
                self.add_error(
                    "flow_action",
                    f"{flow.name} has no data endpoint, so Data Exchange can't open it: use Navigation.",
                )

    def _check_examples(self, data: dict) -> None:
        texts = (data.get("header_text") or "", data.get("body") or "")
        try:
            found = tv.collect(*texts)
        except tv.VariableError as exc:
            self.add_error("body", str(exc))
            return
        result = []
        for variable in found:
            field = example_field_name(variable.param)
            example = (self.data.get(field) or "").strip()
            if not example:
                if field in self.fields:
                    self.add_error(
                        field,
                        f"Give an example for {{{{{variable.name}}}}}: Meta's reviewers see it.",
                    )
                else:
                    self.add_error("body", f"Give an example for {{{{{variable.name}}}}}.")
            result.append(tv.Variable(variable.name, variable.param, example))
        data["variables"] = result


class TestSendForm(forms.Form):
    """To one phone number, from one of the WABA's numbers, with the variables' values."""

    to = forms.CharField(
        label="Send to",
        max_length=40,
        help_text="A WhatsApp number with its country code, e.g. +44 7700 900123.",
    )
    phone_number = forms.ModelChoiceField(label="From", queryset=None, empty_label=None)
    header_link = forms.URLField(
        assume_scheme="https",
        label="Header media link",
        required=False,
        max_length=1000,
        help_text="A public HTTPS link Meta fetches the media from; the template's sample by default.",
    )
    flow_action_data = forms.CharField(
        label="Flow action data (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='A JSON object for the landing screen\'s data, e.g. {"city": "Lisbon"}; leave empty for none.',
    )

    def __init__(self, *args: object, template: MessageTemplate, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        self.fields["phone_number"].queryset = template.waba.phone_numbers.order_by("pk")
        if not template.has_media_header:
            del self.fields["header_link"]
        if template.header_format == "LOCATION":
            # Meta's location header takes its place at send time.
            self.fields["latitude"] = forms.FloatField(min_value=-90, max_value=90, initial=38.7223)
            self.fields["longitude"] = forms.FloatField(
                min_value=-180, max_value=180, initial=-9.1393
            )
            self.fields["location_name"] = forms.CharField(
                label="Place name", max_length=100, required=False, initial="Hotel Azul"
            )
        if template.flow_action != MessageTemplate.FlowAction.NAVIGATE:
            del self.fields["flow_action_data"]
        for variable in template.variable_list():
            self.fields[example_field_name(variable.param)] = forms.CharField(
                label=f"Value for {{{{{variable.name}}}}}",
                max_length=200,
                initial=variable.example,
            )

    def clean_to(self) -> str:
        return whatsapp_id(self.cleaned_data["to"])

    def clean_flow_action_data(self) -> dict:
        text = (self.cleaned_data.get("flow_action_data") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict) or not value:
            raise forms.ValidationError(
                'Write a JSON object with at least one value, e.g. {"city": "Lisbon"}, or leave it empty.'
            )
        return value

    def location(self) -> dict:
        if "latitude" not in self.fields:
            return {}
        data = self.cleaned_data
        place = {"latitude": data["latitude"], "longitude": data["longitude"]}
        return place | ({"name": data["location_name"]} if data.get("location_name") else {})

    def values(self) -> dict[str, str]:
        """Each variable's value, by Meta's parameter name."""
        return {
            v.param: self.cleaned_data[example_field_name(v.param)]
            for v in self.template.variable_list()
        }

    def variable_fields(self) -> list[forms.BoundField]:
        return [self[example_field_name(v.param)] for v in self.template.variable_list()]


class TemplateFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *MessageTemplate.Status.choices], required=False
    )

from __future__ import annotations

from django import forms

from .graph.messages import SEND_ERRORS
from .models import Flow, Template


class FaultsForm(forms.Form):
    error_rate = forms.FloatField(
        min_value=0, max_value=1, help_text="Share of Graph calls answered 500 (code 2, transient)."
    )
    throttle_rate = forms.FloatField(
        min_value=0, max_value=1, help_text="Share answered 429 (code 80007) with Retry-After: 1."
    )
    latency_ms = forms.IntegerField(
        min_value=0, max_value=30000, label="Latency (ms)", help_text="Added to every Graph call."
    )
    error_code = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "None")] + [(code, f"{code} {title}") for code, title in SEND_ERRORS.items()],
        label="Send error code",
        help_text="Meta's answer to a share of message sends.",
    )
    error_code_rate = forms.FloatField(
        required=False, min_value=0, max_value=1, help_text="Share of sends answered that code."
    )
    error_code_to = forms.CharField(
        required=False, max_length=20, label="Only to", help_text="A WhatsApp id; empty: anyone."
    )

    def clean_error_code_rate(self) -> float:
        return self.cleaned_data.get("error_code_rate") or 0.0


class FlowStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(status, status) for status in Flow.HEALTH_ACTIONS])
    reason = forms.CharField(max_length=300, required=False)


class TemplateActionForm(forms.Form):
    """One of Meta's monitors acting on a template: pause, unpause, disable, re-rate or recategorize."""

    action = forms.ChoiceField(
        choices=[
            ("pause", "Pause"),
            ("unpause", "Unpause"),
            ("disable", "Disable"),
            ("quality", "Set quality"),
            ("recategorize", "Move to Marketing"),
        ]
    )
    quality = forms.ChoiceField(choices=Template.Quality.choices, required=False)

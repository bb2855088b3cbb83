from __future__ import annotations

import re

from django import forms
from django.core.validators import URLValidator

from .models import TIME_ZONES, PhoneNumber, Waba

SECRET_FIELDS = ("access_token", "app_secret", "webhook_verify_token")


class WabaForm(forms.ModelForm):
    """Add or edit a WABA. Secrets are write-only: blank on edit keeps the stored value.

    The key pair is deliberately absent: it is made with the WABA and never changes.
    """

    graph_base_url = forms.URLField(
        label="Graph API base URL",
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="https://graph.facebook.com for Meta; the sandbox's URL to try things out.",
    )
    access_token = forms.CharField(
        label="System-user access token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    app_secret = forms.CharField(
        label="App secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    webhook_verify_token = forms.CharField(
        label="Webhook verify token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    time_zone = forms.ChoiceField(
        choices=[(zone, zone) for zone in TIME_ZONES],
        initial="UTC",
        required=False,  # left out, the account keeps its zone (UTC for a new one)
        help_text="New campaigns are scheduled in this time zone unless you pick another.",
    )

    class Meta:
        model = Waba
        fields = [
            "name",
            "meta_waba_id",
            "meta_app_id",
            "graph_base_url",
            "graph_api_version",
            *SECRET_FIELDS,
            "time_zone",
        ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name in SECRET_FIELDS:
                field = self.fields[name]
                field.required = False
                masked = getattr(self.instance, f"masked_{name}")()
                field.help_text = f"Stored: {masked}. Leave blank to keep it."

    def _clean_secret(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        if re.search(r"\s", value):
            raise forms.ValidationError(
                "This has spaces or line breaks inside it; paste it again as one unbroken string."
            )
        if not value and self.instance.pk:
            return getattr(self.instance, name)  # keep what is stored
        return value

    def clean_access_token(self) -> str:
        return self._clean_secret("access_token")

    def clean_app_secret(self) -> str:
        return self._clean_secret("app_secret")

    def clean_webhook_verify_token(self) -> str:
        return self._clean_secret("webhook_verify_token")

    def clean_time_zone(self) -> str:
        return self.cleaned_data.get("time_zone") or self.instance.time_zone or "UTC"

    def clean_graph_base_url(self) -> str:
        return self.cleaned_data["graph_base_url"].rstrip("/")


class PhoneNumberForm(forms.ModelForm):
    class Meta:
        model = PhoneNumber
        fields = [
            "meta_phone_number_id",
            "display_phone_number",
            "verified_name",
            "quality_rating",
            "throughput_mps",
        ]


class PasswordForm(forms.Form):
    """Re-entering one's password before a private key is shown."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: object, user: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password. The key stays hidden.")
        return password

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.validators import URLValidator

from wabas.numbers import whatsapp_id

from .models import Flow
from .netguard import is_public_address


class FlowFilterForm(forms.Form):
    q = forms.CharField(label="Search by name", required=False, max_length=200)
    status = forms.ChoiceField(required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "Any status"), *Flow.Status.choices]


class EndpointSettingsForm(forms.Form):
    """What our hosted endpoint does for a flow: relay to the customer, and which tokens it takes."""

    customer_endpoint_url = forms.URLField(
        label="Customer endpoint",
        required=False,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Optional, with the hosted endpoint: we forward decrypted screens to it and relay its answer.",
    )
    requires_our_token = forms.BooleanField(
        label="Accept only flow tokens this dashboard issued",
        required=False,
        help_text="For flows sent only from here: a request with any other flow token is refused "
        "with Meta's invalid-token code, and WhatsApp closes the flow.",
    )

    def clean_customer_endpoint_url(self) -> str:
        return refuse_private_url(self.cleaned_data["customer_endpoint_url"])


class FlowForm(EndpointSettingsForm):
    """Create a flow or edit a draft, with its endpoint settings. The JSON is checked by flowjson on
    save, not here: a draft with errors is still saved, so nothing typed is lost."""

    name = forms.CharField(max_length=200)
    categories = forms.MultipleChoiceField(
        choices=Flow.Category.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Meta accepts one or more.",
    )
    endpoint = forms.ChoiceField(
        label="Meta endpoint",
        choices=Flow.Endpoint.choices,
        widget=forms.RadioSelect,
        initial=Flow.Endpoint.HOSTED,
        help_text="Hosted: Meta calls us and we handle the encryption. Custom: Meta calls your own URL.",
    )
    custom_endpoint_url = forms.URLField(
        label="Custom URL",
        required=False,
        assume_scheme="https",
        validators=[URLValidator(schemes=["https"])],
        help_text="Your own endpoint, https only; you handle encryption and health checks.",
    )
    flow_json = forms.CharField(
        label="Flow JSON",
        widget=forms.Textarea(
            attrs={"data-flow-editor": "", "rows": 24, "spellcheck": "false", "class": "code"}
        ),
        strip=False,
        help_text=f"At most {settings.FLOW_JSON_MAX_BYTES // 1024:,} KB.",
    )
    lock_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def clean_flow_json(self) -> str:
        text = self.cleaned_data["flow_json"]
        size, limit = len(text.encode("utf-8")), settings.FLOW_JSON_MAX_BYTES
        if size > limit:
            # The text stays in the form (a bound form re-renders what was sent), so nothing is lost.
            raise forms.ValidationError(
                f"This Flow JSON is {size / 1024:,.0f} KB; the limit is {limit // 1024:,} KB. "
                "Your text is kept below: shorten it (long data sources belong on your endpoint)."
            )
        return text

    def clean(self) -> dict:
        data = super().clean()
        if data.get("endpoint") == Flow.Endpoint.CUSTOM:
            if not data.get("custom_endpoint_url"):
                self.add_error("custom_endpoint_url", "Enter the URL Meta should call.")
            if data.get("customer_endpoint_url"):
                self.add_error(
                    "customer_endpoint_url",
                    "A customer endpoint only works with the hosted endpoint: your custom URL gets Meta's calls directly.",
                )
            data["requires_our_token"] = False  # checked by our endpoint, which Meta won't call
        else:
            data["custom_endpoint_url"] = ""
        return data


def refuse_private_url(url: str) -> str:
    """Refuse, when saving, a customer endpoint that names a private or loopback address.

    Host names are checked again when the relay connects (exchange/relay.py): DNS can change.
    """
    if not url or settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS:
        return url
    host = (urlsplit(url).hostname or "").lower()
    try:
        private = host == "localhost" or host.endswith(".localhost") or not is_public_address(host)
    except ValueError:  # a host name, not an address literal
        private = host == "localhost" or host.endswith(".localhost")
    if private:
        raise forms.ValidationError(
            "This points at a private or loopback address; the customer endpoint must be reachable on the internet."
        )
    return url


class SendFlowMessageForm(forms.Form):
    """One WhatsApp number to send the flow to as an interactive Flow message, and the button text."""

    to = forms.CharField(
        label="Send to",
        max_length=40,
        help_text="A WhatsApp number with its country code, e.g. +44 7700 900123.",
    )
    cta = forms.CharField(
        label="Button text",
        max_length=20,  # Meta's limit for flow_cta
        initial="Open the flow",
        help_text="What the message's button says, at most 20 characters.",
    )

    def clean_to(self) -> str:
        return whatsapp_id(self.cleaned_data["to"])

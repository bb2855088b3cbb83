"""The phone's calls to a flow's data-exchange endpoint, sealed and signed as Meta's client does.

Everything comes from what the sandbox Meta holds: the flow's `endpoint_uri`, the business public key
uploaded for the account's number, the account's app secret. The sealing is sandbox/meta_crypto.py's.
"""

from __future__ import annotations

import binascii
import time
from dataclasses import dataclass

import requests
from cryptography.exceptions import InvalidTag

from sandbox import meta_crypto
from sandbox.models import Account, PhoneNumber

# How long the WhatsApp client waits for the endpoint before showing a timeout.
ENDPOINT_TIMEOUT = 10
# How many endpoint calls the page lists under the phone.
CALLS_SHOWN = 10
HTTP_MESSAGES = {
    400: "The endpoint refused the request as malformed (HTTP 400).",
    404: "There is no endpoint at the flow's data-exchange URL (HTTP 404).",
    421: "The endpoint could not decrypt the request, even after fetching the public key again "
    "(HTTP 421). Something went wrong; the user is sent back to the chat.",
    432: "The endpoint did not accept the request signature (HTTP 432).",
}
# Answers that could not have been sealed with the request's key and inverted IV.
UNREADABLE = (ValueError, InvalidTag, binascii.Error, UnicodeDecodeError)


class PhoneError(Exception):
    """Something the phone shows instead of the next screen."""


class FlowClosed(PhoneError):
    """The endpoint answered 427: the flow can no longer be used; the message says why."""


@dataclass
class Business:
    """The business behind a flow as the sandbox Meta knows it: account, number and its key."""

    account: Account
    phone: PhoneNumber | None
    prefer: PhoneNumber | None = None

    @classmethod
    def of(cls, account: Account, *, prefer: PhoneNumber | None = None) -> Business:
        """The account's number whose public key Meta encrypts with: `prefer` (the number the message
        came from) when it has a key, else the first that has one."""
        phones = list(account.phone_numbers.all())
        if prefer is not None:
            phones.sort(key=lambda p: p.pk != prefer.pk)
        phone = next((p for p in phones if p.business_public_key), phones[0] if phones else None)
        return cls(account, phone, prefer)

    @property
    def public_pem(self) -> str:
        return self.phone.business_public_key if self.phone is not None else ""

    @property
    def app_secret(self) -> str:
        return self.account.app_secret

    def fetch_key_again(self) -> None:
        """What the WhatsApp client does after a 421: read the uploaded key afresh."""
        self.phone = Business.of(self.account, prefer=self.prefer).phone


def call_endpoint(url: str, request: dict, business: Business, calls: list[dict]) -> dict:
    """POST one sealed request to `url` and return the opened answer; PhoneError for anything else.

    Each HTTP call is appended to `calls` (the page lists them). On 421 the WhatsApp client fetches
    the business public key again and retries once; so does the phone.
    """
    if not business.public_pem:
        raise PhoneError("No business public key is uploaded for this WABA: Meta can't encrypt.")
    if not url:
        raise PhoneError(
            "This flow has no data-exchange URL: the sandbox Meta holds no endpoint_uri for it."
        )
    if request.get("version") == "4.0" and request.get("flow_token"):
        signature = meta_crypto.flow_token_signature(request["flow_token"], business.app_secret)
        request = request | {"flow_token_signature": signature}
    for attempt in (1, 2):
        try:
            sealer = meta_crypto.RequestSealer(business.public_pem, business.app_secret)
            sealed = sealer.seal(request)
        except (ValueError, TypeError) as exc:
            raise PhoneError(f"The uploaded public key is not usable: {exc}") from exc
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sealed.signature}
        started = time.monotonic()
        try:
            response = requests.post(
                url, data=sealed.body, headers=headers, timeout=ENDPOINT_TIMEOUT
            )
        except requests.Timeout as exc:
            raise PhoneError(f"The endpoint did not answer within {ENDPOINT_TIMEOUT} s.") from exc
        except requests.RequestException as exc:
            raise PhoneError(f"The endpoint could not be reached: {type(exc).__name__}.") from exc
        calls[:] = [
            *calls[-(CALLS_SHOWN - 1) :],
            {
                "action": request.get("action"),
                "screen": request.get("screen", ""),
                "status": response.status_code,
                "ms": round((time.monotonic() - started) * 1000),
            },
        ]
        if response.status_code == 421 and attempt == 1:
            business.fetch_key_again()
            continue
        if response.status_code == 200:
            try:
                answer = sealed.open(response.text)
                if not isinstance(answer, dict):
                    raise ValueError("the answer is not a JSON object")
            except UNREADABLE as exc:
                raise PhoneError(
                    "The endpoint's answer could not be decrypted with the request's key and "
                    "inverted IV."
                ) from exc
            return answer
        if response.status_code == 427:
            try:
                text = sealed.open(response.text).get("error_msg")
            except (*UNREADABLE, AttributeError):
                text = None
            raise FlowClosed(str(text) if text else "This flow can no longer be used (HTTP 427).")
        raise PhoneError(
            HTTP_MESSAGES.get(response.status_code)
            or f"The endpoint answered HTTP {response.status_code}: something went wrong."
        )
    raise PhoneError(HTTP_MESSAGES[421])  # pragma: no cover - the loop always returns or raises

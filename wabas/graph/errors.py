"""What the Graph API client raises: MetaError and its transient and auth kinds, from Meta's answers."""

from __future__ import annotations

from typing import Any

import requests

# Meta's rate-limit and "try again later" codes, from its error code pages:
# https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
THROTTLING_CODES = frozenset({2, 4, 80007, 130429, 131048, 131056, 133016})
AUTH_CODES = frozenset({0, 190})


class MetaError(Exception):
    """Meta refused or failed a call; `str()` is a sentence fit to show an admin."""

    headline = "Meta refused the request"

    def __init__(
        self,
        text: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        message: str | None = None,
        user_message: str | None = None,
        trace_id: str | None = None,
        http_status: int | None = None,
        details: Any = None,
        retry_after: float | None = None,
        never_sent: bool = False,
    ) -> None:
        super().__init__(text)
        # True when the request certainly never left (no connection): sending again cannot double it.
        self.never_sent = never_sent
        self.code = code
        self.subcode = subcode
        self.message = message if message is not None else text
        self.user_message = user_message or self.message
        self.trace_id = trace_id
        self.http_status = http_status
        self.details = details
        self.retry_after = retry_after

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.headline

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self)!r}, code={self.code!r}, subcode={self.subcode!r}, "
            f"http_status={self.http_status!r}, trace_id={self.trace_id!r})"
        )


class MetaTransientError(MetaError):
    """Meta is down, slow or throttling us: the same call may well succeed later."""

    headline = "Meta could not handle the request right now"


class MetaAuthError(MetaError):
    """Meta does not accept the access token (expired, revoked or wrong)."""

    headline = "Meta rejected the token"


def int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def retry_after(response: requests.Response) -> float | None:
    """The Retry-After header in seconds; the HTTP-date form is rare from Meta and ignored."""
    return seconds_or_none(response.headers.get("Retry-After"))


def seconds_or_none(header: str | None) -> float | None:
    """A Retry-After header's value in seconds, if it is a number of seconds."""
    seconds = int_or_none(header)
    return float(seconds) if seconds is not None and seconds >= 0 else None


def error_from_response(
    status: int, payload: object, *, retry_after: float | None = None
) -> MetaError:
    """Translate a failed answer (4xx/5xx, Meta's error object or not) into the right MetaError."""
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    code = int_or_none(error.get("code"))
    if payload is None:
        message = "Meta's answer was not JSON."
    else:
        message = str(error.get("message") or "Meta gave no reason.")
    user_message = str(error.get("error_user_msg") or error.get("error_user_title") or message)
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else error_data

    if status == 401 or code in AUTH_CODES:
        cls: type[MetaError] = MetaAuthError
    elif (
        status >= 500
        or status == 429
        or code in THROTTLING_CODES
        or error.get("is_transient") is True
    ):
        cls = MetaTransientError
    else:
        cls = MetaError
    text = f"{cls.headline} ({f'code {code}' if code is not None else f'HTTP {status}'}): {user_message}"
    if isinstance(details, str) and details and details not in text:
        text += f" ({details})"
    return cls(
        text,
        code=code,
        subcode=int_or_none(error.get("error_subcode")),
        message=message,
        user_message=user_message,
        trace_id=error.get("fbtrace_id"),
        http_status=status,
        details=details,
        retry_after=retry_after,
    )

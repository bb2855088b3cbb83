"""What a decrypted data-exchange request says, and the shapes of the answers it gets.

Framework-free (no Django, no models). The shapes are those of Meta's public page
(https://developers.facebook.com/docs/whatsapp/flows/guides/implementingyourflowendpoint); every
answer is encrypted by crypto.encrypt_response before it leaves.
"""

from __future__ import annotations

from typing import Any

# The pseudo-screen that closes the flow; it is never declared in the Flow JSON.
SUCCESS = "SUCCESS"
# The payload key that names the next screen when the flow navigates statically (no customer endpoint).
NEXT_SCREEN = "next_screen"


def ping_response() -> dict:
    """The answer to Meta's health check."""
    return {"data": {"status": "active"}}


def acknowledge_response() -> dict:
    """The answer to an error notification."""
    return {"data": {"acknowledged": True}}


def screen_response(version: Any, screen: str, data: dict) -> dict:
    return {"version": version, "screen": screen, "data": data}


def error_message_response(version: Any, screen: str, message: str) -> dict:
    """Show `screen` with a snackbar error: Meta's way to tell the user something went wrong."""
    return screen_response(version, screen, {"error_message": message})


def close_response(version: Any, flow_token: str | None, params: dict) -> dict:
    """Close the flow; `params` come back to the webhook as the nfm_reply's response_json."""
    params = dict(params)
    if flow_token and "flow_token" not in params:
        params["flow_token"] = flow_token  # Meta requires it in params
    return screen_response(version, SUCCESS, {"extension_message_response": {"params": params}})


def token_invalid_response(message: str) -> dict:
    """The body of an HTTP 427: the client closes the flow and shows the message."""
    return {"error_msg": message}


def is_error_notification(request: dict) -> bool:
    """A client-side error report about our previous answer: `data.error` (or `error_key`)."""
    data = request.get("data")
    return isinstance(data, dict) and ("error" in data or "error_key" in data)

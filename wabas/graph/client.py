"""The Graph API client: one client per WABA token, every call through `GraphClient._request`.

`_request` owns the pooled session, the timeouts, retries, error translation and redaction. Methods
return plain dicts, lists and small dataclasses, already unwrapped from Meta's shapes.
"""

from __future__ import annotations

import contextlib
import json as json_module
import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.utils import get_environ_proxies

from .errors import (
    MetaError,
    MetaTransientError,
    error_from_response,
    int_or_none,
    retry_after,
    seconds_or_none,
)
from .keepalive import ConnectionLost, CouldNotConnect, KeepAlive
from .templates import (
    HeaderParameter,
    SentMessage,
    TemplateContent,
    body_component,
    flow_button_component,
    template_from_meta,
    template_payload,
)

if TYPE_CHECKING:
    from ..models import Waba

logger = logging.getLogger(__name__)

DEFAULT_FLOW_FIELDS = (
    "id", "name", "status", "categories", "validation_errors", "json_version",
    "data_api_version", "endpoint_uri", "preview", "health_status", "updated_at",
)  # fmt: skip
PHONE_NUMBER_FIELDS = (
    "id",
    "display_phone_number",
    "verified_name",
    "quality_rating",
    "throughput",
)
TEMPLATE_FIELDS = (
    "id", "name", "language", "status", "category", "parameter_format", "components",
    "rejected_reason", "quality_score", "previous_category",
)  # fmt: skip
# A bound on pagination, so a cursor that never ends cannot keep a page waiting forever.
MAX_PAGES = 50
REDACTED = "[redacted]"


def _created_flow(body: dict) -> dict:
    """{"id", "validation_errors"} from a create answer or a listed flow."""
    if not body.get("id"):
        raise MetaError("Meta created the flow but its answer has no id.")
    return {"id": str(body["id"]), "validation_errors": body.get("validation_errors") or []}


class _TokenAuth(AuthBase):
    """Adds the Authorization header at the last moment, so no local variable of ours holds it."""

    def __init__(self, token: str, scheme: str) -> None:
        self._token = token
        self.scheme = scheme

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"{self.scheme} {self._token}"
        return request

    def __repr__(self) -> str:
        return f"<{self.scheme} token>"


class GraphClient:
    """A client for one WABA's token: flows, keys, phone numbers, templates, media and messages."""

    def __init__(
        self,
        *,
        base_url: str,
        api_version: str,
        access_token: str,
        timeout: tuple[float, float] = (3.05, 10.0),
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 4.0,
        retry_budget: float = 6.0,
        session: requests.Session | None = None,
        app_id: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version.strip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        # No retry starts once this many seconds have gone by since the first attempt: a page may be
        # waiting, and longer outages are for the task's own retries.
        self.retry_budget = retry_budget
        self._token = access_token
        # The Meta app the token belongs to: resumable uploads go to /{app-id}/uploads.
        self.app_id = app_id
        self._auth = {
            "Bearer": _TokenAuth(access_token, "Bearer"),
            "OAuth": _TokenAuth(access_token, "OAuth"),
        }
        # Message sends go over kept-alive connections of our own (keepalive.py), unless a session
        # was handed in (the in-process sandbox) or the environment routes Meta through a proxy.
        self.keepalive = None
        if session is None:
            session = requests.Session()
            # urllib3 must not retry on its own: only _request knows which calls are safe to repeat.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=10, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            if not get_environ_proxies(self.base_url):
                with contextlib.suppress(ValueError):  # a token requests will refuse to send
                    self.keepalive = KeepAlive(
                        self.base_url,
                        headers={"Authorization": f"Bearer {access_token}"},
                        timeout=timeout,
                    )
        self.session = session

    @classmethod
    def for_waba(cls, waba: Waba, *, session: requests.Session | None = None) -> GraphClient:
        """A client with the WABA's base URL, API version, decrypted token and Meta app id.

        session: every call through it (a transport mounted on it, such as the in-process sandbox).
        """
        return cls(
            base_url=waba.graph_base_url,
            api_version=waba.graph_api_version,
            access_token=waba.access_token,
            app_id=waba.meta_app_id,
            session=session,
        )

    def __repr__(self) -> str:
        return f"<GraphClient {self.base_url}/{self.api_version}>"

    def close(self) -> None:
        """Close pooled connections, a sender's threads' kept-alive ones among them (call it once
        those threads have finished)."""
        self.session.close()
        if self.keepalive is not None:
            self.keepalive.close_all()

    # --- the one way out ------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        files: Any = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
        auth_scheme: str = "Bearer",
        lean: bool = False,
    ) -> dict:
        """Call {base_url}/{api_version}/{path}; retry transient failures; raise redacted MetaErrors.

        lean: a JSON POST made many times a second (message sends) goes over `self.keepalive`.
        """
        # `path` may carry its own query (an upload session id ends in ?sig=...): requests keeps it and
        # appends `params` after it. Logs show the path without any query.
        url = f"{self.base_url}/{self.api_version}/{path.lstrip('/')}"
        log_path = "/" + path.lstrip("/").partition("?")[0]
        started = time.monotonic()
        attempt = 0
        lean = lean and self.keepalive is not None and method == "POST" and params is None
        while True:
            try:
                if lean:
                    return self._send_lean(path, log_path, json)
                return self._send(
                    method, url, log_path, params=params, json=json, data=data, files=files,
                    headers=headers, auth_scheme=auth_scheme,
                )  # fmt: skip
            except MetaError as exc:
                error = self._redacted(exc)
                if not (retry and isinstance(error, MetaTransientError)):
                    raise error from None
                if attempt >= self.max_retries or not self._pause(attempt, error, started):
                    raise error from None
                attempt += 1

    def _send(
        self, method: str, url: str, log_path: str, *, auth_scheme: str, **kwargs: Any
    ) -> dict:
        """One HTTP exchange, translated: a dict on success, a MetaError otherwise."""
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, auth=self._auth[auth_scheme], timeout=self.timeout, **kwargs
            )
        except requests.ConnectTimeout:
            logger.info("Graph %s %s: could not connect in time", method, log_path)
            raise MetaTransientError(
                f"Could not reach Meta at {self.base_url} within {self.timeout[0]} s.",
                never_sent=True,
            ) from None
        except requests.Timeout:
            logger.info("Graph %s %s: no answer within %s s", method, log_path, self.timeout[1])
            raise MetaTransientError(
                f"Meta did not answer in time ({method} {log_path} took over {self.timeout[1]} s)."
            ) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            logger.info("Graph %s %s: connection failed: %s", method, log_path, type(exc).__name__)
            raise MetaTransientError(
                f"Could not reach Meta at {self.base_url} ({type(exc).__name__}).",
                # Refused or never opened: the request cannot have left.
                never_sent=any(
                    name in repr(exc) for name in ("NewConnectionError", "ConnectionRefused")
                ),
            ) from None
        except requests.RequestException as exc:
            # A malformed base URL and the like: trying again cannot help.
            raise MetaError(f"Could not call Meta at {self.base_url}: {exc}") from None
        status = response.status_code
        duration_ms = (time.monotonic() - started) * 1000
        logger.log(
            logging.DEBUG if status < 400 else logging.INFO,
            "Graph %s %s answered %s in %.0f ms", method, log_path, status, duration_ms,
        )  # fmt: skip
        return self._answer(status, response.content, retry_after=retry_after(response))

    def _answer(self, status: int, content: bytes, *, retry_after: float | None) -> dict:
        """Meta's answer as a dict, or the MetaError it means."""
        try:
            payload = json_module.loads(content)
        except ValueError:
            payload = None
            if status < 400:
                raise MetaError(
                    f"Meta answered with something that is not JSON (HTTP {status}).",
                    http_status=status,
                ) from None
        if status >= 400:
            raise error_from_response(status, payload, retry_after=retry_after)
        if not isinstance(payload, dict):
            raise MetaError(
                f"Meta answered with JSON that is not an object (HTTP {status}).",
                http_status=status,
            )
        return payload

    def _send_lean(self, path: str, log_path: str, payload: Any) -> dict:
        """One JSON POST over this thread's kept-alive connection, translated as `_send` does."""
        body = json_module.dumps(payload, separators=(",", ":")).encode()
        try:
            answer = self.keepalive.post(f"/{self.api_version}/{path.lstrip('/')}", body)
        except CouldNotConnect as exc:
            logger.info("Graph POST %s: could not connect: %s", log_path, exc)
            raise MetaTransientError(
                f"Could not reach Meta at {self.base_url} ({exc}).", never_sent=True
            ) from None
        except ConnectionLost as exc:
            logger.info("Graph POST %s: connection failed: %s", log_path, exc)
            raise MetaTransientError(
                f"Lost the connection to Meta at {self.base_url} before its answer ({exc})."
            ) from None
        logger.log(
            logging.DEBUG if answer.status < 400 else logging.INFO,
            "Graph POST %s answered %s", log_path, answer.status,
        )  # fmt: skip
        return self._answer(
            answer.status, answer.body, retry_after=seconds_or_none(answer.retry_after)
        )

    def _pause(self, attempt: int, error: MetaTransientError, started: float) -> bool:
        """Sleep before retry number attempt+1; False when that would overrun the retry budget."""
        if error.retry_after is not None:
            delay = min(error.retry_after, self.max_backoff)
        else:
            # Exponential backoff with full jitter, so many workers don't come back in step.
            delay = random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))
        if time.monotonic() - started + delay > self.retry_budget:
            return False
        logger.warning("Meta call failed (%s); retrying in %.2f s", error, delay)
        time.sleep(delay)
        return True

    def _scrub(self, value: Any) -> Any:
        if not self._token:
            return value
        if isinstance(value, str):
            return value.replace(self._token, REDACTED)
        if isinstance(value, dict):
            return {key: self._scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._scrub(item) for item in value]
        return value

    def _redacted(self, error: MetaError) -> MetaError:
        """The same error with the token cut out of every text, even where Meta echoed it back."""
        error.args = tuple(self._scrub(arg) for arg in error.args)
        error.message = self._scrub(error.message)
        error.user_message = self._scrub(error.user_message)
        error.details = self._scrub(error.details)
        return error

    def _pages(self, path: str, params: dict[str, Any] | None = None) -> list[dict]:
        """Every item of a paginated list, following the `after` cursor while Meta says there is more."""
        params = dict(params or {})
        items: list[dict] = []
        for _ in range(MAX_PAGES):
            body = self._request("GET", path, params=params)
            items.extend(body.get("data") or [])
            paging = body.get("paging") or {}
            if not paging.get("next"):
                break
            after = (paging.get("cursors") or {}).get("after")
            if not after:
                after = (parse_qs(urlsplit(paging["next"]).query).get("after") or [None])[0]
            if not after or after == params.get("after"):
                break
            params["after"] = after
        else:
            logger.warning("Graph GET /%s: stopped after %d pages", path, MAX_PAGES)
        return items

    @staticmethod
    def _expect_success(body: dict, what: str) -> None:
        if body.get("success") is False:
            raise MetaError(f"Meta answered that it could not {what}.")

    # --- flows ----------------------------------------------------------------------------------

    def create_flow(
        self,
        waba_id: str,
        *,
        name: str,
        categories: list[str],
        flow_json: str | None = None,
        endpoint_uri: str | None = None,
        clone_flow_id: str | None = None,
        publish: bool = False,
    ) -> dict:
        """POST /{waba-id}/flows: create (or clone) a flow; {"id", "validation_errors"}."""
        payload: dict[str, Any] = {"name": name, "categories": list(categories)}
        optional = {
            "flow_json": flow_json,
            "endpoint_uri": endpoint_uri,
            "clone_flow_id": clone_flow_id,
        }
        payload |= {key: value for key, value in optional.items() if value is not None}
        if publish:
            payload["publish"] = True
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return _created_flow(
                    self._request("POST", f"{waba_id}/flows", json=payload, retry=False)
                )
            except MetaTransientError as exc:
                # The create may have gone through before the answer was lost. Look before retrying:
                # a second create would fail on the name, or worse, make a twin.
                try:
                    existing = [
                        flow for flow in self.list_flows(waba_id) if flow.get("name") == name
                    ]
                except MetaError:
                    raise exc from None  # we could not look, so we must not try again blindly
                if existing:
                    logger.info("Flow %r was created despite the error; using it", name)
                    return _created_flow(existing[0])
                if attempt >= self.max_retries or not self._pause(attempt, exc, started):
                    raise
                attempt += 1

    def get_flow(self, flow_id: str, fields: Sequence[str] = DEFAULT_FLOW_FIELDS) -> dict:
        """GET /{flow-id}?fields=...: the flow as Meta sees it, keeping the current preview link."""
        # invalidate(false) keeps the link testers already have; invalidate(true) would mint a new one.
        wanted = ["preview.invalidate(false)" if field == "preview" else field for field in fields]
        return self._request("GET", flow_id, params={"fields": ",".join(wanted)})

    def list_flows(self, waba_id: str) -> list[dict]:
        """GET /{waba-id}/flows, every page: id, name, status, categories, validation_errors."""
        return self._pages(f"{waba_id}/flows")

    def update_flow_metadata(
        self,
        flow_id: str,
        *,
        name: str | None = None,
        categories: list[str] | None = None,
        endpoint_uri: str | None = None,
    ) -> None:
        """POST /{flow-id}: change name, categories or endpoint URI (only those given)."""
        changes = {"name": name, "categories": categories, "endpoint_uri": endpoint_uri}
        payload = {key: value for key, value in changes.items() if value is not None}
        if not payload:
            raise ValueError(
                "update_flow_metadata needs at least one of name, categories, endpoint_uri."
            )
        self._expect_success(self._request("POST", flow_id, json=payload), "update the flow")

    def upload_flow_json(self, flow_id: str, flow_json: str) -> list[dict]:
        """POST /{flow-id}/assets (multipart): replace the Flow JSON; Meta's validation errors."""
        body = self._request(
            "POST",
            f"{flow_id}/assets",
            data={"name": "flow.json", "asset_type": "FLOW_JSON"},
            files={"file": ("flow.json", flow_json.encode(), "application/json")},
        )
        # Meta answers success even when the JSON has validation errors; they block publishing.
        self._expect_success(body, "store the Flow JSON")
        return body.get("validation_errors") or []

    def publish_flow(self, flow_id: str) -> None:
        """POST /{flow-id}/publish; Meta refuses with 139002 when a publishing check fails."""
        self._expect_success(self._request("POST", f"{flow_id}/publish"), "publish the flow")

    def deprecate_flow(self, flow_id: str) -> None:
        """POST /{flow-id}/deprecate; irreversible, only for published flows (else 139003)."""
        self._expect_success(self._request("POST", f"{flow_id}/deprecate"), "deprecate the flow")

    def delete_flow(self, flow_id: str) -> None:
        """DELETE /{flow-id}; only drafts can be deleted (else 139004)."""
        self._expect_success(self._request("DELETE", flow_id), "delete the flow")

    # --- the business encryption key ------------------------------------------------------------

    def set_business_public_key(self, phone_number_id: str, public_pem: str) -> None:
        """POST /{phone-number-id}/whatsapp_business_encryption: upload our public key (form field)."""
        # multipart/form-data, as in Meta's reference; (None, text) makes a plain field, not a file.
        body = self._request(
            "POST",
            f"{phone_number_id}/whatsapp_business_encryption",
            files={"business_public_key": (None, public_pem)},
        )
        self._expect_success(body, "store the public key")

    def get_business_public_key(self, phone_number_id: str) -> dict:
        """GET /{phone-number-id}/whatsapp_business_encryption: the key Meta holds and its signature status."""
        body = self._request("GET", f"{phone_number_id}/whatsapp_business_encryption")
        items = body.get("data")
        found = (items[0] if items else {}) if isinstance(items, list) else body
        return {
            "business_public_key": found.get("business_public_key"),
            "business_public_key_signature_status": found.get(
                "business_public_key_signature_status"
            ),
        }

    # --- the app's subscription to the WABA ----------------------------------------------------

    def subscribe_app(self, waba_id: str) -> None:
        """POST /{waba-id}/subscribed_apps (no body): Meta delivers the WABA's webhooks to our app.

        Without it no webhook (status changes, completions, message statuses) ever arrives, and
        Meta refuses to publish endpoint Flows (139002). Repeating it is harmless.
        """
        self._expect_success(
            self._request("POST", f"{waba_id}/subscribed_apps"), "subscribe the app to the WABA"
        )

    def list_subscribed_apps(self, waba_id: str) -> list[dict]:
        """GET /{waba-id}/subscribed_apps: the apps that receive the WABA's webhooks."""
        body = self._request("GET", f"{waba_id}/subscribed_apps")
        items = body.get("data")
        return [
            item.get("whatsapp_business_api_data") or item
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict)
        ]

    # --- phone numbers --------------------------------------------------------------------------

    def list_phone_numbers(self, waba_id: str) -> list[dict]:
        """GET /{waba-id}/phone_numbers: every business number with its quality and throughput."""
        return self._pages(f"{waba_id}/phone_numbers", {"fields": ",".join(PHONE_NUMBER_FIELDS)})

    # --- message templates ----------------------------------------------------------------------

    def create_template(
        self, waba_id: str, *, name: str, language: str, category: str, content: TemplateContent
    ) -> dict:
        """POST /{waba-id}/message_templates: {"id", "status", "category"}; never repeated.

        Meta answers with the status its review has reached (PENDING, or at once APPROVED or REJECTED)
        and the category it gave the template, which may differ from the one asked for.
        """
        payload = template_payload(name=name, language=language, category=category, content=content)
        # A lost answer must not become a second create: the caller looks the name up instead.
        body = self._request("POST", f"{waba_id}/message_templates", json=payload, retry=False)
        if "id" not in body:
            raise MetaError("Meta created the template but its answer has no id.")
        return {
            "id": str(body["id"]),
            "status": body.get("status"),
            "category": body.get("category"),
        }

    def get_template(self, template_id: str) -> dict:
        """GET /{template-id}: one template, with its status, category, quality and rejection reason.

        Keys: id, name, language, status, category, parameter_format, components, rejected_reason,
        quality_score ("GREEN", "YELLOW", "RED" or "UNKNOWN") and, when Meta moved it,
        previous_category.
        """
        body = self._request("GET", template_id, params={"fields": ",".join(TEMPLATE_FIELDS)})
        return template_from_meta(body)

    def list_templates(
        self, waba_id: str, *, name: str | None = None, status: str | None = None
    ) -> list[dict]:
        """GET /{waba-id}/message_templates, every page (each as get_template returns it).

        name keeps only the templates of that name (every language), status those in that status.
        """
        params = {"fields": ",".join(TEMPLATE_FIELDS)}
        if name is not None:
            params["name"] = name
        if status is not None:
            params["status"] = status
        return [template_from_meta(t) for t in self._pages(f"{waba_id}/message_templates", params)]

    def edit_template(
        self, template_id: str, content: TemplateContent, *, category: str | None = None
    ) -> None:
        """POST /{template-id}: replace the template's components (and category) and review it again.

        Meta allows it for APPROVED, REJECTED and PAUSED templates, an approved one at most once in
        24 hours and 10 times in 30 days, and never a new category for an approved one. Not retried:
        a repeat would spend one of those edits.
        """
        payload: dict[str, Any] = {"components": content.components()}
        if category is not None:
            payload["category"] = category
        body = self._request("POST", template_id, json=payload, retry=False)
        self._expect_success(body, "edit the template")

    def delete_template(self, waba_id: str, *, name: str, template_id: str | None = None) -> None:
        """DELETE /{waba-id}/message_templates?name=..: every language of that name.

        With template_id (sent as hsm_id) only that one language goes. Meta refuses to delete a
        DISABLED template.
        """
        params = {"name": name}
        if template_id is not None:
            params["hsm_id"] = template_id
        body = self._request("DELETE", f"{waba_id}/message_templates", params=params)
        self._expect_success(body, "delete the template")

    # --- media ----------------------------------------------------------------------------------

    def upload_media_resumable(
        self, *, content: bytes, file_name: str, mime_type: str, app_id: str | None = None
    ) -> str:
        """POST /{app-id}/uploads, then POST /{upload-session-id}: the handle `h` of the file.

        The handle is what a template's media header carries as its sample (example.header_handle).
        The app is the WABA's Meta app (`Waba.meta_app_id`, kept by `for_waba`) unless app_id says
        otherwise. An interrupted upload is resumed from where GET /{upload-session-id} says it stands.
        """
        app_id = app_id or self.app_id
        if not app_id:
            raise MetaError(
                "No Meta app id is set for this WABA: media samples are uploaded to /{app-id}/uploads."
            )
        session = self._request(
            "POST",
            f"{app_id}/uploads",
            params={"file_name": file_name, "file_length": len(content), "file_type": mime_type},
            retry=False,
        )
        session_id = session.get("id")
        if not session_id:
            raise MetaError("Meta opened no upload session (its answer has no id).")
        # The id looks like "upload:MTph...?sig=ARZ...": its query must go along untouched.
        started = time.monotonic()
        offset = 0
        attempt = 0
        while True:
            try:
                body = self._request(
                    "POST",
                    session_id,
                    data=content[offset:],
                    headers={"file_offset": str(offset)},
                    auth_scheme="OAuth",  # the scheme Meta's upload guide uses for this step
                    retry=False,
                )
                break
            except MetaTransientError as exc:
                # Resending from 0 could double the bytes: ask where the upload stands, go on from there.
                if attempt >= self.max_retries or not self._pause(attempt, exc, started):
                    raise
                attempt += 1
                status = self._request("GET", session_id, auth_scheme="OAuth")
                offset = min(int_or_none(status.get("file_offset")) or 0, len(content))
        if not body.get("h"):
            raise MetaError("Meta took the upload but returned no handle.")
        return str(body["h"])

    # --- messages -------------------------------------------------------------------------------

    def send_flow_message(
        self,
        phone_number_id: str,
        *,
        to: str,
        flow_id: str,
        flow_cta: str,
        body: str,
        flow_token: str,
        mode: str = "published",
        flow_action: str = "navigate",
        screen: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> SentMessage:
        """POST /{phone-number-id}/messages (type interactive, action flow): a Flow message to one person.

        flow_message_version is "3", the only one; mode "draft" is the only way to send a DRAFT flow
        (for testing before publishing). flow_action "navigate" opens `screen` (the first one when
        None) with `data` (Meta needs it, when given, to be a non-empty object); "data_exchange"
        asks the flow's endpoint for the first screen (INIT).
        Never retried, like every send.
        """
        parameters: dict[str, Any] = {
            "flow_message_version": "3",
            "flow_id": flow_id,
            "flow_token": flow_token,
            "flow_cta": flow_cta,
            "mode": mode,
        }
        parameters["flow_action"] = flow_action
        if flow_action == "navigate" and screen:
            parameters["flow_action_payload"] = {"screen": screen} | (
                {"data": dict(data)} if data else {}
            )
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "interactive",
            "interactive": {
                "type": "flow",
                "body": {"text": body},
                "action": {"name": "flow", "parameters": parameters},
            },
        }
        return self._sent(
            self._request("POST", f"{phone_number_id}/messages", json=payload, retry=False), to
        )

    @staticmethod
    def _sent(answer: dict, to: str) -> SentMessage:
        try:
            message = answer["messages"][0]
            wamid = str(message["id"])
        except (KeyError, IndexError, TypeError):
            raise MetaError("Meta accepted the message but returned no message id.") from None
        contacts = answer.get("contacts") or [{}]
        return SentMessage(
            wamid=wamid,
            message_status=str(message.get("message_status") or "accepted"),
            wa_id=str(contacts[0].get("wa_id") or to),
        )

    def send_template_message(
        self,
        phone_number_id: str,
        *,
        to: str,
        template_name: str,
        language: str,
        body: Sequence[str] | Mapping[str, str] = (),
        header: HeaderParameter | None = None,
        flow_token: str | None = None,
        flow_action_data: Mapping[str, Any] | None = None,
        button_index: int = 0,
        biz_opaque_callback_data: str | None = None,
    ) -> SentMessage:
        """POST /{phone-number-id}/messages (type template): the wamid and Meta's message_status.

        body: the body's values, a list in {{1}}, {{2}} order or a mapping for a NAMED template.
        header: the header's value, when it has a variable or is media or a location.
        flow_token: set for a template with a Flow button (Meta refuses such a send without the button
        component); flow_action_data is the first screen's data for navigate buttons; button_index is
        the Flow button's position among the template's buttons.
        biz_opaque_callback_data comes back in every status webhook of the message.
        Never retried: a duplicate message to a customer is worse than a failure the caller can see.
        """
        components = [header.component()] if header else []
        if body:
            components.append(body_component(body))
        if flow_token is not None:
            components.append(
                flow_button_component(
                    index=button_index, flow_token=flow_token, flow_action_data=flow_action_data
                )
            )
        template: dict[str, Any] = {"name": template_name, "language": {"code": language}}
        if components:
            template["components"] = components
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": template,
        }
        if biz_opaque_callback_data is not None:
            payload["biz_opaque_callback_data"] = biz_opaque_callback_data
        answer = self._request(
            "POST", f"{phone_number_id}/messages", json=payload, retry=False, lean=True
        )
        return self._sent(answer, to)

"""Forwarding a decrypted Flow request to the customer's endpoint, within a strict budget.

Meta's client gives our endpoint about 10 seconds and Meta's health checks want p90 under 1 s, so the
customer gets a short connect timeout and a total budget that covers connecting, waiting and reading
the whole answer (a server that drips one byte a second can't stretch it). Each failure is its own
exception, named by the `kind` the endpoint records for the flow's health.

Server-side request forgery: the URL is typed by a dashboard user, and we POST decrypted user data to
it from inside our network. Unless private addresses are allowed (development, tests), the address is
checked when the connection is made, and the socket goes to that very address, so a DNS answer that
changes between a check and the connect can't slip a private address in.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util import connection as urllib3_connection

from flowsadmin.netguard import is_public_address
from wabas.safe_text import loads_clean


class RelayError(Exception):
    kind = "customer_unreachable"


class AddressRefused(RelayError):
    kind = "customer_refused"


class Unreachable(RelayError):
    kind = "customer_unreachable"


class TimedOut(RelayError):
    kind = "customer_timeout"


class BadStatus(RelayError):
    kind = "customer_status"


class BadAnswer(RelayError):
    kind = "customer_invalid"


def public_address_of(host: str, port: int) -> str:
    """The first public address the host resolves to; raises AddressRefused when it has none."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unreachable(f"The customer endpoint's host {host!r} does not resolve.") from exc
    for _family, _type, _proto, _name, sockaddr in found:
        if is_public_address(sockaddr[0]):
            return sockaddr[0]
    raise AddressRefused(
        f"The customer endpoint's host {host!r} is a private or loopback address; "
        "only public addresses are allowed."
    )


class _PublicOnly:
    """Connect only to a public address of the host, checked at connect time (see the module doc)."""

    def _new_conn(self) -> socket.socket:
        address = public_address_of(self._dns_host, self.port)
        try:
            return urllib3_connection.create_connection(
                (address, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to connect: {exc}") from exc


class _PublicHTTPConnection(_PublicOnly, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicOnly, HTTPSConnection):
    pass  # TLS still checks the certificate against the host name: only the socket is pinned


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPPool,
            "https": _PublicHTTPSPool,
        }


_sessions: dict[bool, requests.Session] = {}


def _session(allow_private: bool) -> requests.Session:
    """One pooled session per process and mode, so connections to a customer are reused."""
    session = _sessions.get(allow_private)
    if session is None:
        session = requests.Session()
        session.trust_env = (
            False  # no proxy from the environment: it would bypass the address check
        )
        if not allow_private:
            adapter = _PublicOnlyAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        _sessions[allow_private] = session
    return session


def _read_within(response: requests.Response, deadline: float, max_bytes: int) -> bytes:
    """The whole body, unless it takes past the deadline or grows past max_bytes."""
    chunks, size = [], 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimedOut("The customer endpoint took too long to send its answer.")
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(remaining)  # each read waits at most for what is left of the budget
        try:
            chunk = response.raw.read1(65536, decode_content=True)
        except (ReadTimeoutError, TimeoutError) as exc:
            raise TimedOut("The customer endpoint took too long to send its answer.") from exc
        except (HTTPError, OSError) as exc:  # urllib3's ProtocolError and friends, resets
            raise Unreachable(f"The customer endpoint's answer broke off: {exc}") from exc
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise BadAnswer(f"The customer endpoint's answer is larger than {max_bytes} bytes.")
        chunks.append(chunk)


def post_json(
    url: str,
    payload: dict,
    *,
    allow_private: bool,
    connect_timeout: float,
    total_timeout: float,
    max_bytes: int,
) -> dict:
    """POST payload as JSON and return the JSON object answered; raises a RelayError subclass."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused("The customer endpoint must be an http or https URL.")
    deadline = time.monotonic() + total_timeout
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Accept-Encoding": "identity",
        "User-Agent": "flows-dashboard-relay/1",
    }
    try:
        response = _session(allow_private).post(
            url,
            data=body,
            headers=headers,
            timeout=(min(connect_timeout, total_timeout), total_timeout),
            stream=True,
            allow_redirects=False,  # a redirect could point anywhere; the customer must answer
        )
    except (requests.ConnectTimeout, requests.ReadTimeout) as exc:
        raise TimedOut("The customer endpoint did not answer in time.") from exc
    except requests.RequestException as exc:
        raise Unreachable(f"The customer endpoint could not be reached: {exc}") from exc
    try:
        if not 200 <= response.status_code < 300:
            raise BadStatus(f"The customer endpoint answered HTTP {response.status_code}.")
        content = _read_within(response, deadline, max_bytes)
    finally:
        response.close()
    try:
        answer = loads_clean(
            content
        )  # what the customer says enters here: NUL, surrogates replaced
    except (ValueError, RecursionError) as exc:
        raise BadAnswer("The customer endpoint's answer is not JSON.") from exc
    if not isinstance(answer, dict):
        raise BadAnswer("The customer endpoint's answer is not a JSON object.")
    return answer

"""A lean HTTP/1.1 transport for the one call a campaign makes a thousand times a second: a message send.

`requests` spends four times the CPU of the exchange itself on each call (settings merged, proxies and
CA paths looked up in the environment, the URL parsed and re-parsed, hooks, adapters); at Meta's top
throughput of 1,000 messages a second that alone would take a core. Here each thread keeps one
connection to the Graph host open and writes the request itself with the standard library's
http.client: the same bytes on the wire for a tenth of the work.

The client (GraphClient) still owns what a call means: errors, redaction, logging. This module only
moves bytes, and says whether a failure certainly happened before the request left (CouldNotConnect:
safe to send again) or maybe after (ConnectionLost: Meta may have the message).
"""

from __future__ import annotations

import http.client
import os
import select
import ssl
import threading
from typing import NamedTuple
from urllib.parse import urlsplit


class CouldNotConnect(OSError):
    """No connection could be made: nothing was sent."""


class ConnectionLost(OSError):
    """The connection failed or timed out after the request may have left."""


class Answer(NamedTuple):
    status: int
    body: bytes
    retry_after: str | None


class KeepAlive:
    """POSTs JSON to one scheme://host:port, one kept-alive connection per thread."""

    def __init__(self, base_url: str, *, timeout: tuple[float, float]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Not an http(s) URL: {base_url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.connect_timeout, self.read_timeout = timeout
        self._tls = None
        if self.https:
            # The CA bundle requests would use, so both transports trust the same servers.
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            self._tls = ssl.create_default_context(cafile=bundle or None)
        self._local = threading.local()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST `body` to {base_url}{path}; the answer, whatever its status."""
        connection = self._connection()
        try:
            connection.request("POST", self.prefix + path, body=body, headers=headers)
            response = connection.getresponse()
            answer = Answer(response.status, response.read(), response.getheader("Retry-After"))
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ConnectionLost(f"{type(exc).__name__}: {exc}") from None
        if response.will_close:
            self.close()
        return answer

    def close(self) -> None:
        """Close this thread's connection (the next post opens a new one)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and connection.sock is not None and _dropped(connection.sock):
            # The server closed it while idle: reusing it would fail after the request was written.
            self.close()
            connection = None
        if connection is None or connection.sock is None:
            connection = self._connect()
            self._local.connection = connection
        return connection

    def _connect(self) -> http.client.HTTPConnection:
        if self.https:
            connection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.connect_timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self.connect_timeout
            )
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            raise CouldNotConnect(f"{type(exc).__name__}: {exc}") from None
        connection.sock.settimeout(self.read_timeout)
        return connection


def _dropped(sock: object) -> bool:
    """An idle kept-alive socket that is readable has been closed (or sent junk): not reusable."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))

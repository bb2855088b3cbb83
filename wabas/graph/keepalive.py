"""A lean HTTP/1.1 transport for the one call a campaign makes a thousand times a second: a message send.

`requests` spends four times the CPU of the exchange itself on each call (settings merged, proxies and
CA paths looked up in the environment, the URL parsed and re-parsed, hooks, adapters), and even the
standard library's http.client parses each answer's headers with the email package: at Meta's top
throughput of 1,000 messages a second either would take most of a core. Here each thread keeps one
connection to the Graph host open, writes the request (a fixed shape: POST, a JSON body, the same few
headers) and hands the answer to httptools, the C parser (llhttp) that uvicorn uses, which also does
chunked bodies and keep-alive rules. About a third of http.client's CPU per send, measured.

The client (GraphClient) still owns what a call means: errors, redaction, logging. This module only
moves bytes, and says whether a failure certainly happened before the request left (CouldNotConnect:
safe to send again) or maybe after (ConnectionLost: Meta may have the message). It never sends a
request twice by itself.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import threading
from typing import NamedTuple
from urllib.parse import urlsplit

import httptools

RECEIVE_BYTES = 65536


class CouldNotConnect(OSError):
    """No connection could be made: nothing was sent."""


class ConnectionLost(OSError):
    """The connection failed or timed out after the request may have left."""


class Answer(NamedTuple):
    status: int
    body: bytes
    retry_after: str | None


class _Connection:
    """One kept-alive connection and its answer parser (one per connection: answers follow each
    other on the stream), with httptools' callbacks for the answer being read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = httptools.HttpResponseParser(self)
        self.start()

    def start(self) -> None:
        self.body: list[bytes] = []
        self.complete = self.keep_alive = False
        self.retry_after: str | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self.retry_after = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        # Asked here: once the message is complete, llhttp forgets what its headers said.
        self.keep_alive = self.parser.should_keep_alive()


class KeepAlive:
    """POSTs JSON to one scheme://host:port with fixed headers, one kept-alive connection per thread."""

    def __init__(
        self, base_url: str, *, headers: dict[str, str], timeout: tuple[float, float]
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Not an http(s) URL: {base_url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        lines = {"Host": parts.netloc, **headers, "Content-Type": "application/json"}
        if any(c in f"{k}{v}" for k, v in lines.items() for c in "\r\n\0"):
            raise ValueError("A header name or value holds a line break.")
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in lines.items()).encode("latin-1")
        self.connect_timeout, self.read_timeout = timeout
        self._tls = None
        if self.https:
            # The CA bundle requests would use, so both transports trust the same servers.
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            self._tls = ssl.create_default_context(cafile=bundle or None)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[_Connection] = set()  # every thread's, for close_all

    def post(self, path: str, body: bytes) -> Answer:
        """POST `body` to {base_url}{path}; the answer, whatever its status."""
        target = (self.prefix + path).encode("ascii", "replace")
        if any(c in target for c in b" ?\r\n\0"):  # "?": not ASCII
            raise CouldNotConnect(f"Not a path to send to: {path!r}")
        connection = self._connection()
        connection.start()
        try:
            connection.sock.sendall(
                b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
                % (target, self._headers, len(body), body)
            )
            while not connection.complete:
                data = connection.sock.recv(RECEIVE_BYTES)
                if not data:
                    raise ConnectionLost("the server closed the connection before its answer ended")
                connection.parser.feed_data(data)
        except (OSError, httptools.HttpParserError) as exc:
            self.close()
            if isinstance(exc, ConnectionLost):
                raise
            raise ConnectionLost(f"{type(exc).__name__}: {exc}") from None
        if not connection.keep_alive:
            self.close()
        return Answer(
            connection.parser.get_status_code(), b"".join(connection.body), connection.retry_after
        )

    def close(self) -> None:
        """Close this thread's connection (the next post opens a new one)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._lock:
                self._open.discard(connection)
            connection.sock.close()

    def close_all(self) -> None:
        """Close every thread's connection, once those threads are done with them: a connection
        left open keeps the server's side of it (a thread, a database session) waiting."""
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.sock.close()

    def _connection(self) -> _Connection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and _dropped(connection.sock):
            # The server closed it while idle: reusing it would fail after the request was written.
            self.close()
            connection = None
        if connection is None:
            connection = _Connection(self._connect())
            self._local.connection = connection
            with self._lock:
                self._open.add(connection)
        return connection

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise CouldNotConnect(f"{type(exc).__name__}: {exc}") from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except OSError as exc:  # the TLS handshake failed: still nothing sent
            sock.close()
            raise CouldNotConnect(f"{type(exc).__name__}: {exc}") from None
        sock.settimeout(self.read_timeout)
        return sock


def _dropped(sock: socket.socket) -> bool:
    """An idle kept-alive socket that is readable has been closed (or sent junk): not reusable;
    nor is one close_all closed."""
    if sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))

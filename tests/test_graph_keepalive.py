"""Message sends over the Graph client's kept-alive connections (wabas/graph/keepalive.py), against
small loopback servers that misbehave as a network does: connections closed while idle, requests
read and never answered, nobody listening, TLS with our own certificate authority."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wabas.graph import GraphClient, MetaTransientError

TOKEN = "EAAGkeepaliveTOKEN"


class Messages(BaseHTTPRequestHandler):
    """Answers every POST as Meta answers a send; the server's `behaviour` says what else it does."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        server = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with server.lock:
            server.received.append((self.path, self.headers["Authorization"], json.loads(body)))
            server.connections.add(self.client_address)
            number = len(server.received)
        if server.behaviour == "hang up":  # read the request, never answer
            self.close_connection = True
            return
        answer = json.dumps({"messages": [{"id": f"wamid.{number}"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if server.behaviour == "chunked":  # the body in two chunks, its length not said up front
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = len(answer) // 2
            for part in (answer[:half], answer[half:], b""):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            return
        if server.behaviour == "say close":
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        # "close when idle": the server drops the kept-alive connection after answering, without
        # saying so in a header, as a load balancer's idle timeout does.
        self.close_connection = server.behaviour == "close when idle"

    def finish(self) -> None:  # the connection ended, from either side
        super().finish()
        with self.server.lock:
            self.server.ended += 1

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def meta() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Messages)
    server.daemon_threads = True
    server.lock, server.received, server.connections = threading.Lock(), [], set()
    server.ended = 0
    server.behaviour = "answer"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client_for(base_url: str, **options: object) -> GraphClient:
    return GraphClient(base_url=base_url, api_version="v23.0", access_token=TOKEN, **options)


def send(client: GraphClient, to: str = "447700900001") -> str:
    return client.send_template_message(
        "106540352242922", to=to, template_name="stay_feedback", language="en_US"
    ).wamid


def url_of(server: ThreadingHTTPServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}"


def test_closing_the_client_ends_every_threads_connection(meta):
    """A sender's threads keep a connection each; closing the client once they are done closes all
    of them, so the server's side (a thread, a database session) is not left waiting for more."""
    client = client_for(url_of(meta))
    assert send(client) == "wamid.1"  # this thread's own
    threads = [threading.Thread(target=send, args=(client,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(meta.connections) == 3 and meta.ended == 0

    client.close()

    deadline = time.monotonic() + 5
    while meta.ended < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert meta.ended == 3
    assert send(client) == "wamid.4"  # a closed connection is replaced, not written to
    assert len(meta.connections) == 4


def test_sends_reuse_one_connection_and_carry_the_token_and_version(meta):
    client = client_for(url_of(meta))

    assert [send(client, to=f"4477009000{n:02d}") for n in range(3)] == [
        "wamid.1",
        "wamid.2",
        "wamid.3",
    ]

    assert len(meta.connections) == 1
    path, authorization, payload = meta.received[0]
    assert path == "/v23.0/106540352242922/messages"
    assert authorization == f"Bearer {TOKEN}"
    assert payload["to"] == "447700900000" and payload["type"] == "template"


def test_a_connection_closed_while_idle_is_replaced_and_nothing_is_sent_twice(meta):
    meta.behaviour = "close when idle"
    client = client_for(url_of(meta))

    first = send(client)
    time.sleep(0.2)  # idle: the server's close reaches us
    assert [first, send(client)] == ["wamid.1", "wamid.2"]
    assert len(meta.received) == 2 and len(meta.connections) == 2


@pytest.mark.parametrize(("behaviour", "connections"), [("chunked", 1), ("say close", 2)])
def test_chunked_answers_and_connection_close_are_understood(meta, behaviour, connections):
    meta.behaviour = behaviour
    client = client_for(url_of(meta))

    assert [send(client), send(client)] == ["wamid.1", "wamid.2"]
    assert len(meta.received) == 2 and len(meta.connections) == connections


def test_a_request_read_but_never_answered_may_have_been_sent(meta):
    meta.behaviour = "hang up"
    client = client_for(url_of(meta))

    with pytest.raises(MetaTransientError) as caught:
        send(client)

    assert not caught.value.never_sent  # Meta may have the message: the sender must not resend
    assert len(meta.received) == 1
    assert TOKEN not in str(caught.value)


def test_an_answer_slower_than_the_read_timeout_may_have_been_sent():
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        client = client_for(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=(1, 0.3))
        with pytest.raises(MetaTransientError) as caught:
            send(client)
    finally:
        listener.close()
    assert not caught.value.never_sent


def test_nobody_listening_means_nothing_was_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nobody listens on it once closed
    with pytest.raises(MetaTransientError) as caught:
        send(client_for(f"http://127.0.0.1:{port}"))
    assert caught.value.never_sent


def make_authority(tmp_path) -> tuple[str, ssl.SSLContext]:
    """A certificate authority of our own and a server context for 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject, issuer, key, signer, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test authority")])
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    ca_cert = certificate(ca_name, ca_name, ca_key, ca_key, ca=True)
    server_cert = certificate(server_name, ca_name, server_key, ca_key, ca=False)
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / "server.pem"
    chain.write_bytes(
        server_cert.public_bytes(serialization.Encoding.PEM)
        + server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain)
    return str(bundle), context


def test_https_trusts_the_ca_bundle_requests_would_and_refuses_an_unknown_authority(
    meta, tmp_path, monkeypatch
):
    bundle, context = make_authority(tmp_path)
    meta.socket = context.wrap_socket(meta.socket, server_side=True)

    with pytest.raises(MetaTransientError) as caught:  # the system's authorities don't know it
        send(client_for(url_of(meta, "https")))
    assert caught.value.never_sent and meta.received == []

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    client = client_for(url_of(meta, "https"))
    assert [send(client), send(client)] == ["wamid.1", "wamid.2"]
    assert len(meta.connections) == 1


def test_a_proxy_in_the_environment_sends_through_requests_which_honours_it(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert client_for("https://graph.example.test").keepalive is None
    monkeypatch.delenv("HTTPS_PROXY")
    assert client_for("https://graph.example.test").keepalive is not None

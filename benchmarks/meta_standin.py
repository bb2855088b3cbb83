"""A loopback stand-in for Meta's messages endpoint that answers at once, for the send benchmark.

Run as `python benchmarks/meta_standin.py PORT`: a threaded HTTP/1.1 server (keep-alive, Nagle off)
answering every POST as Meta answers a template send, with a fresh wamid; it counts what it got.
"""

from __future__ import annotations

import itertools
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_ids = itertools.count()


class MessagesEndpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (
            b'{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],'
            b'"messages":[{"id":"wamid.bench%d","message_status":"accepted"}]}' % next(_ids)
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), MessagesEndpoint).serve_forever()

"""A requests transport that hands calls to the sandbox Meta straight to Django, in this process.

seed_demo runs before any server is up, yet the demo template should be made the way the dashboard
makes it: our service, our Graph client, the sandbox's Graph API. Mounted on a GraphClient's session
for the sandbox's URL, this answers those requests through Django's own request handling (the test
Client's handler), so nothing but the transport differs from a real HTTP call.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from django.test import Client
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

# Headers the handler sets itself from the body and the URL.
_OWN_HEADERS = {"content-length", "content-type", "host"}


class InProcessAdapter(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.client = Client(raise_request_exception=False)

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        url = urlsplit(request.url)
        host = url.netloc or "127.0.0.1"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _OWN_HEADERS}
        body = request.body or b""
        answer = self.client.generic(
            request.method,
            f"{url.path}?{url.query}" if url.query else url.path,
            data=body.encode() if isinstance(body, str) else body,
            content_type=request.headers.get("Content-Type", "application/octet-stream"),
            headers=headers,
            SERVER_NAME=host.split(":")[0],
            SERVER_PORT=host.split(":")[1] if ":" in host else "80",
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers = CaseInsensitiveDict(dict(answer.headers.items()))
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        return None

"""Concurrent ct-up updates of one person keep every key: 60 endpoint requests at once, on real
PostgreSQL through a live server, each adding its own key to the same profile."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from audience.models import Event, Profile
from flowsadmin.tokens import issue_flow_token

from .endpoint_support import exchange_request
from .meta_client import MetaPhone

ANA = "15551234567"
UPDATES = 60


@pytest.mark.django_db(transaction=True)
def test_sixty_concurrent_ct_ups_to_one_profile_keep_all_sixty_keys(live_server, waba, bus_flow):
    Profile.objects.create(whatsapp_id=ANA, properties={"before": "kept"})
    phone = MetaPhone(waba.key_pair.public_pem, waba.app_secret)
    token = issue_flow_token(whatsapp_id=ANA, flow=bus_flow)
    url = f"{live_server.url}/meta/flows/{bus_flow.public_id}/"
    sealed = [
        phone.seal(
            exchange_request(
                "welcome_screen",
                {
                    "next_screen": "seat_selection",
                    "ct-up": {f"key_{i}": f"value {i}", "City": "Pune"},
                },
                token,
            )
        )
        for i in range(UPDATES)
    ]

    def send(request) -> int:
        response = requests.post(
            url,
            data=request.body,
            headers={"X-Hub-Signature-256": request.signature, "Content-Type": "application/json"},
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=UPDATES) as pool:
        statuses = list(pool.map(send, sealed))
    assert statuses == [200] * UPDATES
    profile = Profile.objects.get(whatsapp_id=ANA)
    assert profile.properties == {"before": "kept"} | {
        f"key_{i}": f"value {i}" for i in range(UPDATES)
    }
    assert profile.city == "Pune"
    assert Event.objects.filter(name="WAF_ProfileUpdated").count() == UPDATES

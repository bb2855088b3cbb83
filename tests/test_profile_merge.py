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


def test_the_merge_works_on_sqlite_too(tmp_path):
    """`make run` keeps SQLite by default: its json_patch path merges like PostgreSQL's ||."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = os.environ | {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    script = (
        "from audience.models import Profile\n"
        "p = Profile.objects.create(whatsapp_id='1555', properties={'before': 'kept'})\n"
        "stale = Profile.objects.get(pk=p.pk)\n"
        "Profile.objects.get(pk=p.pk).merge_update({'a': '1'})\n"
        "stale.merge_update({'b': '2', 'City': 'Pune'})\n"
        "p.refresh_from_db()\n"
        "print(sorted(p.properties.items()), p.city)\n"
    )
    for args in (["migrate", "--no-input", "-v", "0"], ["shell", "-c", script]):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1]
        == "[('a', '1'), ('b', '2'), ('before', 'kept')] Pune"
    )

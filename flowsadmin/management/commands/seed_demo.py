from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse

from flowsadmin.models import Flow
from flowsadmin.roles import ADMIN, CAMPAIGN_MANAGER, MARKETER, sync_roles
from sandbox.services import ensure_account
from wabas.models import PhoneNumber, Waba
from wabas.services import create_waba
from wabas.tasks import register_public_keys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Demo logins are fixed so the README can print them; seed_demo refuses to run without the sandbox.
DEMO_USERS = [
    ("admin", ADMIN, "demo-admin-2026"),
    ("marketer", MARKETER, "demo-marketer-2026"),
    ("campaigns", CAMPAIGN_MANAGER, "demo-campaigns-2026"),
]
DEMO_WABA_ID = "100000000000001"
DEMO_FLOWS = [
    ("Hotel feedback", ["SURVEY"], "hotel-feedback.static.flow.json"),
    ("Bus booking", ["APPOINTMENT_BOOKING"], "bus-booking.clevertap-endpoint.flow.json"),
    ("Weather or age", ["OTHER"], "weather-or-age.customer-endpoint.flow.json"),
]
# Flows our endpoint relays to a customer's server: here the sandbox's stand-in for it (by URL name).
CUSTOMER_ENDPOINTS = {"Weather or age": "sandbox:customer_weather"}


class Command(BaseCommand):
    help = "Create the demo users, a demo WABA on the sandbox Meta with its key pair, a phone number and the example flows. Safe to run again."

    def handle(self, **options: object) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError(
                "seed_demo creates users with published passwords; it runs only with SANDBOX_ENABLED=true."
            )
        sync_roles()
        with transaction.atomic():
            admin = self._users()
            waba = self._waba()
            self._flows(waba, admin)
            self._sandbox_account(waba)
            unregistered = waba.phone_numbers.exclude(key_status=PhoneNumber.KeyStatus.REGISTERED)
            # Meta must know the public key before it can encrypt anything for our endpoint. A worker
            # retries until the server is up; in-process tasks would fail now, before it starts.
            if not settings.CELERY_TASK_ALWAYS_EAGER:
                register_public_keys(unregistered)
        self.stdout.write(
            f"Demo WABA: {waba.name} ({waba.meta_waba_id}), key {waba.key_pair.fingerprint[:23]}…"
        )
        self.stdout.write("Demo logins (username / password):")
        for username, role, password in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {password:<22} {role}")

    def _users(self) -> object:
        User = get_user_model()
        for username, role, password in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.save()
            user.groups.set([Group.objects.get(name=role)])
        return User.objects.get(username="admin")

    def _waba(self) -> Waba:
        waba = Waba.objects.filter(meta_waba_id=DEMO_WABA_ID).first()
        if waba is None:
            waba = create_waba(
                Waba(
                    name="Demo Hotel",
                    meta_waba_id=DEMO_WABA_ID,
                    # The sandbox Meta is served by this same app under /sandbox/.
                    graph_base_url=f"{settings.PUBLIC_BASE_URL}/sandbox/graph",
                    graph_api_version="v23.0",
                    meta_app_id="300000000000001",
                    access_token="demo-" + secrets.token_urlsafe(24),
                    app_secret=secrets.token_hex(16),
                    webhook_verify_token=secrets.token_urlsafe(16),
                )
            )
        PhoneNumber.objects.get_or_create(
            meta_phone_number_id="200000000000001",
            defaults={
                "waba": waba,
                "display_phone_number": "+1 555 0100",
                "verified_name": "Demo Hotel",
                "quality_rating": PhoneNumber.Quality.GREEN,
                "throughput_mps": 80,
            },
        )
        return waba

    def _sandbox_account(self, waba: Waba) -> None:
        """The sandbox plays Meta: it must hold the same account, token and app secret as the WABA."""
        ensure_account(
            waba_id=waba.meta_waba_id,
            name=waba.name,
            access_token=waba.access_token,
            app_secret=waba.app_secret,
            app_id=waba.meta_app_id,
            phone_numbers=[
                (p.meta_phone_number_id, p.display_phone_number, p.verified_name)
                for p in waba.phone_numbers.all()
            ],
        )

    def _flows(self, waba: Waba, admin: object) -> None:
        for name, categories, filename in DEMO_FLOWS:
            url_name = CUSTOMER_ENDPOINTS.get(name)
            Flow.objects.get_or_create(
                waba=waba,
                name=name,
                defaults={
                    "categories": categories,
                    "flow_json": (EXAMPLES / filename).read_text(encoding="utf-8"),
                    "customer_endpoint_url": (
                        settings.PUBLIC_BASE_URL + reverse(url_name) if url_name else ""
                    ),
                    "created_by": admin,
                },
            )

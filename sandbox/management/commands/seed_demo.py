from __future__ import annotations

import io
import json
import secrets
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

import flowsadmin
from accounts.roles import ADMIN, CAMPAIGN_MANAGER, MARKETER, sync_roles
from audience.models import Profile
from audience.services import record_completion
from campaigns.models import Campaign
from campaigns.sending import send_inline, start_campaign
from campaigns.services import publish_campaign
from campaigns.webhooks import handle_message_statuses
from flowsadmin.models import Flow, FlowChange
from sandbox.inprocess import InProcessAdapter
from sandbox.models import Account, Faults
from sandbox.models import Flow as MetaFlow
from sandbox.models import Message as MetaMessage
from sandbox.models import Template as MetaTemplate
from sandbox.relocation import relocate, served_from
from sandbox.services import (
    PublishRefused,
    advance_message,
    ensure_account,
    publish_flow,
    review_template,
    save_new_flow,
    set_faults,
)
from sandbox.validation import FlowJsonSyntaxError, validate
from templates_app.media import Sample
from templates_app.models import MessageTemplate
from templates_app.services import (
    MetaUnreachable,
    TemplateFields,
    TemplateRefused,
    create_template,
    refresh_template,
)
from templates_app.variables import Variable
from wabas.graph import GraphClient
from wabas.models import PhoneNumber, Waba
from wabas.services import create_waba

# The example flows belong to the Flows app; the sandbox only seeds them.
EXAMPLES = Path(flowsadmin.__file__).resolve().parent / "examples"

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
DEMO_TEMPLATE = "hotel_stay_feedback"
DEMO_CAMPAIGN = "Demo: how was your stay?"
# The demo campaign's audience: numbers in Meta's fictional range, all in London (its segment).
DEMO_PEOPLE = [
    ("15555550101", "Ana"),
    ("15555550102", "Ben"),
    ("15555550103", "Chloé"),
    ("15555550104", "Dev"),
    ("15555550105", "Eve"),
    ("15555550106", "Femi"),
    # So the results show what goes wrong too: the sandbox can't deliver to a number ending in 0000
    # (failed, 131026), and Meta holds back a marketing message from the next one (131049).
    ("15555550000", "Gus"),
    ("15555550107", "Hana"),
]
UNDELIVERABLE, HELD_BACK = "15555550000", "15555550107"


def sandbox_graph_url() -> str:
    """The Graph API base URL of the sandbox Meta, which this same app serves under /sandbox/."""
    return f"{settings.PUBLIC_BASE_URL}/sandbox/graph"


class Command(BaseCommand):
    help = (
        "Create the demo users, a demo WABA on the sandbox Meta with its key pair registered, a phone "
        "number and the example flows, published. Safe to run again."
    )

    def handle(self, **options: object) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError(
                "seed_demo creates users with published passwords; it runs only with SANDBOX_ENABLED=true."
            )
        sync_roles()
        self._follow_the_address()
        with transaction.atomic():
            admin = self._users()
            waba = self._waba()
            self._flows(waba, admin)
            account = self._sandbox_account(waba)
            # The server is not up yet, so nothing can reach the sandbox over HTTP: write Meta's side
            # in-process instead. Only ever to the sandbox, never to a Meta the WABA was moved to.
            if waba.graph_base_url.rstrip("/") == sandbox_graph_url():
                self._register_keys(waba, account)
                # Our app subscribed to the WABA, as connect_waba's POST subscribed_apps would.
                account.subscribed = True
                account.save(update_fields=["subscribed"])
                if not waba.subscribed:
                    waba.mark_subscribed()
                demo_names = [name for name, _, _ in DEMO_FLOWS]
                for flow in waba.flows.filter(name__in=demo_names).order_by("pk"):
                    self._publish(flow, account)
            else:
                self.stdout.write(
                    f"The demo WABA talks to {waba.graph_base_url}, not the sandbox: its keys and "
                    "flows were left as they are."
                )
        # Outside the transaction, like every call to Meta: the template goes the dashboard's way.
        if waba.graph_base_url.rstrip("/") == sandbox_graph_url():
            self._template(waba)
        self._campaign(waba)
        self.stdout.write(
            f"Demo WABA: {waba.name} ({waba.meta_waba_id}), key {waba.key_pair.fingerprint[:23]}…"
        )
        self.stdout.write("Demo logins (username / password):")
        for username, role, password in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {password:<22} {role}")

    def _follow_the_address(self) -> None:
        """Served at another address than last time (another port, a new host name): the URLs the
        demo stored with the old one move to this one, so the demo keeps working without a new
        database. A demo WABA moved to a real Meta is left alone."""
        waba = Waba.objects.filter(meta_waba_id=DEMO_WABA_ID).first()
        old = served_from(waba) if waba else None
        if old is None or old == settings.PUBLIC_BASE_URL:
            return
        changed = relocate(old, settings.PUBLIC_BASE_URL)
        self.stdout.write(
            f"The demo moved from {old} to {settings.PUBLIC_BASE_URL}: {changed} stored URLs follow."
        )

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
                    graph_base_url=sandbox_graph_url(),
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

    def _template(self, waba: Waba) -> None:
        """An approved template with an image header and a Flow button on the hotel flow, made by our
        template service through the sandbox's Graph API, then approved by the sandbox's review."""
        flow = waba.flows.filter(name="Hotel feedback", status=Flow.Status.PUBLISHED).first()
        if flow is None:
            self.stdout.write("No demo template: the Hotel feedback flow is not published.")
            return
        # No server is up yet: the sandbox answers in this process (sandbox/inprocess.py).
        client = self._inprocess_client(waba)
        # Celery tasks the sandbox queues (its review, its webhooks) run here and now: the broker
        # may not be up either, and the dashboard learns the verdict from the refresh below.
        celery_app = app_of_tasks()
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        try:
            template = MessageTemplate.objects.filter(waba=waba, name=DEMO_TEMPLATE).first()
            if template is None:
                template = self._create_template(waba, flow, client)
            if template is None or not template.is_on_meta:
                return
            meta = MetaTemplate.objects.filter(template_id=template.meta_template_id).first()
            if meta is not None and meta.status == MetaTemplate.Status.PENDING:
                review_template(meta)
            refresh_template(template, client=client)
        finally:
            celery_app.conf.task_always_eager = eager
            client.session.close()
        self.stdout.write(f"Demo template {template.name}: {template.get_status_display()}.")

    def _inprocess_client(self, waba: Waba) -> GraphClient:
        """The WABA's Graph client, every call answered by the sandbox in this process."""
        session = requests.Session()
        session.mount(sandbox_graph_url(), InProcessAdapter())
        return GraphClient.for_waba(waba, session=session)

    def _campaign(self, waba: Waba) -> None:
        """A small finished campaign with results, so the campaign pages have something to show.

        Sent the dashboard's way: created, published and started by the campaign services, sent by
        the sender through the sandbox's Graph API (in-process: no server is up yet), so each demo
        number has the message in its sandbox phone inbox. Then the sandbox moves each message along
        sent -> delivered -> read, the status webhooks it records are handed to our webhook handler
        (the server they are addressed to isn't up), and Ana completes the flow. Sandbox numbers
        (+1 555 01xx, Meta's fictional range) so nobody real is named. Sent once: a second run finds
        the campaign and leaves it be.
        """
        template = MessageTemplate.objects.filter(
            waba=waba, name=DEMO_TEMPLATE, status=MessageTemplate.Status.APPROVED
        ).first()
        if template is None or template.flow is None:
            self.stdout.write("No demo campaign: the demo template is not approved.")
            return
        if Campaign.objects.filter(waba=waba, name=DEMO_CAMPAIGN).exists():
            return
        if waba.graph_base_url.rstrip("/") != sandbox_graph_url():
            self.stdout.write("No demo campaign: the demo WABA does not talk to the sandbox.")
            return
        by = get_user_model().objects.filter(username="campaigns").first()
        for whatsapp_id, name in DEMO_PEOPLE:
            Profile.objects.get_or_create(
                whatsapp_id=whatsapp_id,
                defaults={"name": name, "phone": f"+{whatsapp_id}", "city": "London"},
            )
        # One transaction, though the send calls Meta: that Meta is the sandbox, answering in this
        # process on this connection, so the sandbox's messages and our recipients commit together
        # (a failed seed leaves neither, and the next run sends afresh). It also holds back what
        # publishing queues for after the commit (the dispatcher's kick, which with eager Celery
        # would send the campaign itself, over HTTP, to a server that isn't up) until the campaign
        # is finished and there is nothing left for it to do.
        with transaction.atomic():
            campaign = Campaign.objects.create(
                waba=waba,
                name=DEMO_CAMPAIGN,
                template=template,
                phone_number=waba.phone_numbers.order_by("pk").first(),
                variables={"user_name": {"field": "name", "fallback": "there"}},
                segment={
                    "match": "all",
                    "rules": [
                        {"kind": "property", "field": "city", "op": "equals", "value": "London"}
                    ],
                },
                send_rate=20,
                created_by=by,
            )
            publish_campaign(campaign, by=by)
            start_campaign(campaign)
            client = self._inprocess_client(waba)
            before = model_to_dict(Faults.current(), exclude=["id"])
            set_faults(error_code=131049, error_code_rate=1, error_code_to=HELD_BACK)
            try:
                sent = send_inline(campaign.pk, client=client)
            finally:
                set_faults(**before)
                client.close()
            self._statuses(waba, campaign)
            self._complete(waba, campaign, DEMO_PEOPLE[0][0])
        campaign.refresh_from_db()
        self.stdout.write(
            f"Demo campaign {campaign.name}: {campaign.get_status_display().lower()}, "
            f"{sent} of {campaign.audience_size} sent."
        )

    def _statuses(self, waba: Waba, campaign: Campaign) -> None:
        """The sandbox's status progression, run here; its webhooks (Meta's envelope, recorded on
        SentWebhook) go to the handler our webhook receiver would call."""
        wamids = list(campaign.recipients.exclude(wamid=None).values_list("wamid", flat=True))
        for message in MetaMessage.objects.filter(wamid__in=wamids).select_related(
            "phone__account", "template"
        ):
            while message.next_status() is not None:
                before = message.status
                message = advance_message(message)
                if message.status == before:
                    break
        account = Account.objects.get(waba_id=waba.meta_waba_id)
        for delivery in account.webhooks.filter(field="messages").order_by("pk"):
            for entry in json.loads(delivery.body).get("entry", []):
                for change in entry.get("changes", []):
                    value = change.get("value") or {}
                    if {s.get("id") for s in value.get("statuses") or []} & set(wamids):
                        handle_message_statuses(waba, value)

    def _complete(self, waba: Waba, campaign: Campaign, whatsapp_id: str) -> None:
        """The flow's reply as WhatsApp sends it when the person finishes the flow."""
        recipient = (
            campaign.recipients.filter(whatsapp_id=whatsapp_id).exclude(flow_token="").first()
        )
        if recipient is None:
            return
        answers = {"flow_token": recipient.flow_token, "recommend": "0_Yes"}
        record_completion(
            waba,
            {
                "from": whatsapp_id,
                "id": f"wamid.demo-reply.{campaign.pk}",
                "timestamp": str(int(timezone.now().timestamp())),
                "type": "interactive",
                "interactive": {
                    "type": "nfm_reply",
                    "nfm_reply": {
                        "name": "flow",
                        "body": "Sent",
                        "response_json": json.dumps(answers),
                    },
                },
            },
            contact_name=DEMO_PEOPLE[0][1],
        )

    def _create_template(self, waba: Waba, flow: Flow, client: GraphClient) -> object:
        fields = TemplateFields(
            category="MARKETING",
            name=DEMO_TEMPLATE,
            language="en_US",
            header_format="IMAGE",
            header_text="",
            body="Hi {{user.name}}, thank you for staying at Demo Hotel. Tell us how it went: it "
            "takes two minutes.",
            footer="Demo Hotel",
            button_text="Rate your stay",
            flow=flow,
            flow_action="navigate",
            navigate_screen=flow.entry_screens()[0],
            variables=[Variable(name="user.name", param="user_name", example="Ana")],
        )
        try:
            return create_template(
                waba,
                fields,
                sample=demo_image(),
                by=get_user_model().objects.filter(username="campaigns").first(),
                client=client,
            )
        except (TemplateRefused, MetaUnreachable) as exc:
            self.stdout.write(f"The demo template was kept but not submitted: {exc}")
            return exc.template

    def _sandbox_account(self, waba: Waba) -> Account:
        """The sandbox plays Meta: it must hold the same account, token and app secret as the WABA."""
        return ensure_account(
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

    def _register_keys(self, waba: Waba, account: Account) -> None:
        """Store the WABA's public key on its sandbox numbers, as register_public_key_task would."""
        public_pem = waba.key_pair.public_pem
        meta_phones = {p.phone_number_id: p for p in account.phone_numbers.all()}
        for phone in waba.phone_numbers.all():
            meta_phone = meta_phones[phone.meta_phone_number_id]
            if meta_phone.business_public_key != public_pem:
                meta_phone.store_public_key(public_pem)
            if phone.key_status != PhoneNumber.KeyStatus.REGISTERED:
                phone.mark_key_registered()

    def _publish(self, flow: Flow, account: Account) -> None:
        """Put a local draft on the sandbox Meta and publish it on both sides, as saving, publishing
        and refreshing it from the dashboard would. Flows past draft here are left alone."""
        if flow.status != Flow.Status.DRAFT:
            return
        meta = (
            account.flows.filter(flow_id=flow.meta_flow_id).first() if flow.meta_flow_id else None
        )
        # An older seed's drafts have no Flow ID; Meta's names are unique per account.
        meta = meta or account.flows.filter(name=flow.name).first()
        meta = meta or MetaFlow(account=account, name=flow.name)
        if meta.can("update"):
            # A draft on Meta takes our latest metadata and JSON, as a save in the editor would.
            try:
                result = validate(flow.flow_json)
            except FlowJsonSyntaxError as exc:
                self.stdout.write(
                    f"{flow.name} stays a local draft: its JSON is not valid ({exc})."
                )
                return
            meta.categories = flow.categories
            meta.endpoint_uri = flow.data_exchange_url() if result.data_api_version else ""
            meta.set_json(
                flow.flow_json,
                errors=result.errors,
                version=result.version,
                data_api_version=result.data_api_version,
            )
            # No webhooks: nobody listens yet, and a retried "created as DRAFT" delivered after the
            # publish would move our flow back to draft.
            if meta.pk:
                meta.save()
            else:
                save_new_flow(meta, notify=False)
            try:
                publish_flow(meta, notify=False)
            except PublishRefused as exc:
                self.stdout.write(f"{flow.name} stays a draft on the sandbox: {exc}")
        flow.meta_flow_id = meta.flow_id
        flow.save(update_fields=["meta_flow_id"])
        if meta.status == MetaFlow.Status.PUBLISHED:
            flow.mark_published()
            FlowChange.objects.create(
                flow=flow, action="publish", detail="seed_demo, on the sandbox"
            )
            self.stdout.write(f"Published {flow.name} (Flow ID {meta.flow_id}).")
        # What a refresh reads from GET /{flow-id}.
        flow.apply_meta_state(
            {
                "status": meta.status,
                "validation_errors": meta.validation_errors,
                "preview": meta.preview(settings.PUBLIC_BASE_URL),
                "health_status": meta.health_status(),
            }
        )


def app_of_tasks() -> object:
    from celery import current_app

    return current_app


def demo_image() -> Sample:
    """A 3:2 PNG drawn now: a sea-blue sky over a sand-coloured beach, with a sun."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (900, 600), (74, 144, 196))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 400, 900, 600), fill=(230, 207, 160))
    draw.ellipse((640, 80, 780, 220), fill=(255, 214, 102))
    draw.rectangle((120, 250, 420, 400), fill=(250, 250, 250))
    draw.polygon([(100, 250), (270, 160), (440, 250)], fill=(190, 70, 60))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return Sample(
        content=buffer.getvalue(),
        content_type="image/png",
        filename="demo-hotel.png",
        width=900,
        height=600,
    )

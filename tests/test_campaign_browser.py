"""In real Chromium: the campaign manager builds a campaign from a segment, previews it for a person
of the audience, publishes it and sees the campaign page; then a finished campaign's results.
Screenshots of each page at 1280 and 400 px in test-output/."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from audience.models import Event, Profile
from campaigns.models import Campaign
from flowsadmin.models import Flow
from sandbox.models import Message

from .browser import sign_in
from .campaign_support import add_recipients, make_campaign, make_template
from .template_helpers import HOTEL_JSON
from .test_flow_browser import click, see
from .test_sandbox_inbox_browser import at_widths, play_hotel_feedback


def test_the_campaign_manager_builds_previews_and_publishes_a_campaign_from_a_segment(
    live_server, browser: WebDriver, sandbox_waba, campaign_manager
):
    flow = Flow.objects.create(
        waba=sandbox_waba,
        name="Hotel feedback",
        status=Flow.Status.PUBLISHED,
        meta_flow_id="771023498811223",
        flow_json=HOTEL_JSON,
    )
    template = make_template(sandbox_waba, flow)
    Profile.objects.create(whatsapp_id="15551230001", name="Ana", city="London")
    Profile.objects.create(whatsapp_id="15551230002", name="Ben", city="London")
    Profile.objects.create(whatsapp_id="15551230003", name="Chloé", city="Paris")
    Profile.objects.create(whatsapp_id="15551230004", name="Dana", city="London")
    base = live_server.url
    sign_in(browser, base, "charlie")

    # From the navigation to the listing, then Create Campaign.
    click(browser, "//nav//a[normalize-space()='Campaigns']")
    see(browser, "No campaigns yet.")
    at_widths(browser, "campaign-list-empty")
    click(browser, "//a[normalize-space()='+ Create Campaign']")
    see(browser, "1. Name and channel")

    browser.find_element(By.ID, "id_name").send_keys("Spring stays")
    Select(browser.find_element(By.ID, "id_template")).select_by_value(str(template.pk))
    # The template step fills in its variables (htmx) and the preview shows the Flow CTA.
    see(browser, "{{user.city}} from")
    see(browser, "Landing screen")
    browser.find_element(By.ID, "id_var_user_name_fallback").clear()
    browser.find_element(By.ID, "id_var_user_name_fallback").send_keys("there")
    browser.find_element(By.ID, "id_rule_0_subject").send_keys("city")
    Select(browser.find_element(By.ID, "id_rule_0_op")).select_by_value("equals")
    browser.find_element(By.ID, "id_rule_0_value").send_keys("London")
    # The audience count follows the segment live.
    see(browser, "Audience: 3 people")
    # A second condition: its row waits for "Add a condition".
    assert not browser.find_element(By.ID, "id_rule_1_subject").is_displayed()
    click(browser, "//button[normalize-space()='Add a condition']")
    assert browser.switch_to.active_element == browser.find_element(By.ID, "id_rule_1_subject")
    browser.find_element(By.ID, "id_rule_1_subject").send_keys("name")
    Select(browser.find_element(By.ID, "id_rule_1_op")).select_by_value("not_equals")
    browser.find_element(By.ID, "id_rule_1_value").send_keys("Dana")
    see(browser, "Audience: 2 people")
    see(browser, "Hi Ana, how was your stay in London?")
    # Preview for another person of the audience.
    Select(browser.find_element(By.ID, "id_sample")).select_by_value("15551230002")
    see(browser, "Hi Ben, how was your stay in London?")
    at_widths(browser, "campaign-create")

    click(browser, "//button[normalize-space()='Review and publish']")
    see(browser, "2 people will get stay_feedback now")
    at_widths(browser, "campaign-publish")
    click(browser, "//button[normalize-space()='Publish Campaign']")
    see(browser, "Published: Spring stays goes to 2 people now.")
    campaign = Campaign.objects.get(name="Spring stays")
    assert campaign.status != Campaign.Status.DRAFT
    assert campaign.segment["rules"] == [
        {"kind": "property", "field": "city", "op": "equals", "value": "London"},
        {"kind": "property", "field": "name", "op": "not_equals", "value": "Dana"},
    ]
    see(browser, "Progress")
    at_widths(browser, "campaign-published")
    # Sending and playing the flow: test_a_published_campaign_is_sent_and_a_completion_shows_in_its_results.

    # A finished campaign's results, with its chart and recipients.
    done = make_campaign(
        template,
        name="Winter stays",
        status="COMPLETED",
        audience_size=8,
        control_percent=10,
        started_at=timezone.now() - timedelta(hours=1),
        finished_at=timezone.now(),
    )
    add_recipients(done, ["read", "read", "read", "delivered", "delivered", "sent", "failed"])
    add_recipients(done, ["control"], start=50)
    done.recipients.filter(status="failed").update(error_code="131026", error="Undeliverable")
    done.recipients.filter(status="read").update(completed_at=timezone.now())
    browser.get(f"{base}/campaigns/{done.pk}/")
    see(browser, "Sends and completions over time")
    see(browser, "Failed, by reason")
    at_widths(browser, "campaign-results")
    browser.get(f"{base}/campaigns/")
    see(browser, "Winter stays")
    at_widths(browser, "campaign-list")


def test_a_published_campaign_is_sent_and_a_completion_shows_in_its_results(
    live_server, browser: WebDriver, campaign_template, fresh_limiter, admin_user
):
    """Publish from the page, watch the progress reach the end, play one person's message on the
    sandbox phone, and see that completion in the campaign's results, attributed by its token."""
    Profile.objects.create(whatsapp_id="15551230001", name="Ana", city="London")
    Profile.objects.create(whatsapp_id="15551230002", name="Ben", city="London")
    base = live_server.url
    sign_in(browser, base, "charlie")
    browser.get(f"{base}/campaigns/new/")
    browser.find_element(By.ID, "id_name").send_keys("Spring stays")
    Select(browser.find_element(By.ID, "id_template")).select_by_value(str(campaign_template.pk))
    see(browser, "Landing screen")
    browser.find_element(By.ID, "id_rule_0_subject").send_keys("city")
    Select(browser.find_element(By.ID, "id_rule_0_op")).select_by_value("equals")
    browser.find_element(By.ID, "id_rule_0_value").send_keys("London")
    see(browser, "Audience: 2 people")
    click(browser, "//button[normalize-space()='Review and publish']")
    click(browser, "//button[normalize-space()='Publish Campaign']")
    see(browser, "Published: Spring stays goes to 2 people now.")
    campaign = Campaign.objects.get(name="Spring stays")
    # The page polls its progress until every recipient is decided (tasks run in-process here).
    see(browser, "100 % · 2 of 2 recipients decided")
    assert set(campaign.recipients.values_list("status", flat=True)) <= {
        "sent",
        "delivered",
        "read",
    }
    at_widths(browser, "campaign-sent")

    # Ana opens her message on the sandbox phone (the sandbox's pages are the admin's) and completes it.
    ana = campaign.recipients.get(whatsapp_id="15551230001")
    message = Message.objects.get(wamid=ana.wamid)
    assert message.flow_token == ana.flow_token
    browser.delete_all_cookies()
    sign_in(browser, base, "alice")
    browser.get(f"{base}/sandbox/phone/inbox/15551230001/")
    play_hotel_feedback(browser, message.pk, comment="Lovely pool")

    ana.refresh_from_db()
    assert ana.completed_at is not None
    submitted = Event.objects.get(
        name="WAF_HotelFeedback_Submitted", profile__whatsapp_id="15551230001"
    )
    assert submitted.properties["campaign_id"] == campaign.pk
    browser.delete_all_cookies()
    sign_in(browser, base, "charlie")
    browser.get(f"{base}/campaigns/{campaign.pk}/")
    completed = browser.find_element(
        By.XPATH, "//div[@class='cp-figures']/p[span='Completed']/strong"
    ).text
    assert completed == "1"
    at_widths(browser, "campaign-completed")

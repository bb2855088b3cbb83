"""Who a campaign reaches: uploaded CSVs of phone numbers (garbage, duplicates, numbers without a
country code, a 50 MB file read with bounded memory), segments, an empty audience, a schedule in the past."""

from __future__ import annotations

import io
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from audience.models import Profile
from campaigns.audience import segment_profiles
from campaigns.models import AudienceUpload, Campaign, UploadedNumber
from campaigns.uploads import store_upload

from .campaign_support import make_campaign
from .conftest import client_for
from .test_campaign_pages import form_data

GARBAGE = (
    "phone,name\n"
    "+44 7911 123123,Ana\n"  # line 2: valid
    "hello,Ben\n"  # 3: not a number
    "+44 7911 123123,Ana again\n"  # 4: duplicate of 2
    "07911 123456,Chloé\n"  # 5: no country code
    "\n"  # 6: blank, not a row
    "+1 202 555 01,Dan\n"  # 7: too short
    "0044 7911 123789,Eve\n"  # 8: 00 prefix, valid
    "=cmd|' /C calc'!A0,Mallory\n"  # 9: garbage
)


def upload_csv(client, template, text: str | bytes, **changes) -> object:
    content = text.encode() if isinstance(text, str) else text
    data = form_data(template, audience_kind="UPLOAD", **changes)
    data["csv_file"] = SimpleUploadedFile("people.csv", content, "text/csv")
    return client.post(reverse("campaigns:create"), data)


def test_a_csv_with_garbage_duplicates_and_no_country_codes_reports_each_row_by_line(
    campaign_manager, sendable
):
    client = client_for(campaign_manager)
    response = upload_csv(client, sendable, GARBAGE)
    assert response.status_code == 302
    upload = AudienceUpload.objects.get()
    assert (upload.rows, upload.valid, upload.problem_count) == (7, 2, 5)
    assert sorted(UploadedNumber.objects.values_list("whatsapp_id", "line")) == [
        ("447911123123", 2),
        ("447911123789", 8),
    ]
    problems = {p["line"]: p["problem"] for p in upload.problems}
    assert problems[3] == "not a phone number"
    assert problems[4] == "duplicate of line 2"
    assert problems[5].startswith("no country code")
    assert problems[7].startswith("not a valid phone number")
    assert problems[9] == "not a phone number"
    page = client.get(response["Location"]).content.decode()
    assert "7 rows, 2 valid, 5 not used." in page
    assert "Numbers without a country code were refused." in page
    assert '<td class="num">4</td><td>+44 7911 123123</td><td>duplicate of line 2</td>' in page
    assert "<strong>2</strong> people will get stay_feedback now" in page


def test_a_default_region_reads_numbers_without_a_country_code(campaign_manager, sendable):
    client = client_for(campaign_manager)
    upload_csv(client, sendable, "07911 123456\n+33 6 12 34 56 78\n", default_region="GB")
    upload = AudienceUpload.objects.get()
    assert upload.problem_count == 0 and upload.default_region == "GB"
    assert sorted(UploadedNumber.objects.values_list("whatsapp_id", flat=True)) == [
        "33612345678",
        "447911123456",
    ]


def test_a_new_upload_replaces_the_drafts_list(campaign_manager, sendable):
    client = client_for(campaign_manager)
    upload_csv(client, sendable, "+447911123123\n")
    campaign = Campaign.objects.get()
    data = form_data(sendable, audience_kind="UPLOAD")
    data["csv_file"] = SimpleUploadedFile("two.csv", b"+447911123124\n+447911123125\n")
    client.post(reverse("campaigns:edit", args=[campaign.pk]), data)
    assert sorted(UploadedNumber.objects.values_list("whatsapp_id", flat=True)) == [
        "447911123124",
        "447911123125",
    ]


def test_a_huge_problem_list_keeps_the_first_rows_and_counts_them_all(sendable):
    campaign = make_campaign(sendable)
    text = "".join(f"not-a-number-{i}\n" for i in range(3000))
    upload = store_upload(campaign, io.BytesIO(text.encode()), file_name="bad.csv")
    assert upload.problem_count == 3000
    assert len(upload.problems) == AudienceUpload.MAX_KEPT_PROBLEMS
    assert upload.problems[0] == {
        "line": 1,
        "value": "not-a-number-0",
        "problem": "not a phone number",
    }


def test_a_line_too_long_to_be_a_row_is_reported_not_read_whole(sendable):
    campaign = make_campaign(sendable)
    content = b"+447911123123\n" + b"9" * 100_000 + b"\n+447911123124\n"
    upload = store_upload(campaign, io.BytesIO(content), file_name="long.csv")
    assert upload.valid == 2
    assert upload.problems == [{"line": 2, "value": "", "problem": "line longer than 4096 bytes"}]


def test_a_50_mb_file_is_read_line_by_line_with_bounded_memory(sendable, tmp_path: Path):
    """A 50 MB export: 25,000 rows with a long notes column, every tenth a duplicate of the last."""
    path = tmp_path / "big.csv"
    note = "x" * 2000  # exports carry names, addresses, notes: long rows
    rows = 0
    with path.open("w") as file:
        file.write("phone,notes\n")
        while file.tell() < 50 * 1024 * 1024:
            n = rows - 1 if rows % 10 == 9 else rows
            file.write(f"+4479{11000000 + n},{note}\n")
            rows += 1
    size = path.stat().st_size
    campaign = make_campaign(sendable)
    tracemalloc.start()
    try:
        with path.open("rb") as file:
            upload = store_upload(campaign, file, file_name="big.csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size >= 50 * 1024 * 1024
    assert (upload.rows, upload.problem_count) == (rows, rows // 10)
    assert upload.valid == rows - rows // 10
    assert UploadedNumber.objects.filter(upload=upload).count() == upload.valid
    assert upload.problems[0] == {
        "line": 11,
        "value": "+447911000008",
        "problem": "duplicate of line 10",
    }
    # Bounded: a batch's worth of rows, nothing like the file (about 4 MB here, whatever the size).
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"


def test_an_empty_audience_cannot_be_published(campaign_manager, sendable, people):
    client = client_for(campaign_manager)
    campaign = make_campaign(sendable, segment={"rules": [{"field": "city", "value": "Oslo"}]})
    page = client.get(reverse("campaigns:publish", args=[campaign.pk])).content.decode()
    assert "Nobody is in this campaign&#x27;s audience, so it can&#x27;t be published." in page
    assert "Publish Campaign</button>" not in page
    response = client.post(reverse("campaigns:publish", args=[campaign.pk]))
    assert response.status_code == 409
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_an_upload_without_one_valid_number_cannot_be_published(campaign_manager, sendable):
    client = client_for(campaign_manager)
    upload_csv(client, sendable, "nobody\n")
    campaign = Campaign.objects.get()
    assert client.post(reverse("campaigns:publish", args=[campaign.pk])).status_code == 409
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_a_schedule_in_the_past_is_refused_with_the_time_there(campaign_manager, sendable, people):
    past = timezone.now() - timedelta(hours=2)
    data = form_data(
        sendable,
        send_mode="later",
        send_date=past.date().isoformat(),
        send_time=past.strftime("%H:%M"),
        time_zone="UTC",
    )
    page = client_for(campaign_manager).post(reverse("campaigns:create"), data).content.decode()
    assert "That time has already passed in UTC (it is now" in page
    assert "Choose a later time, or send now." in page
    assert not Campaign.objects.exists()


def test_a_draft_whose_scheduled_time_passed_is_not_published(campaign_manager, sendable, people):
    campaign = make_campaign(sendable, send_at=timezone.now() - timedelta(minutes=1))
    response = client_for(campaign_manager).post(reverse("campaigns:publish", args=[campaign.pk]))
    assert response.status_code == 409
    assert "Its scheduled time has passed" in response.content.decode()


@pytest.mark.parametrize(
    "segment, names",
    [
        ({"match": "all", "rules": [{"field": "city", "value": "London"}]}, {"Ana", "Ben", ""}),
        (
            {
                "match": "all",
                "rules": [
                    {"kind": "property", "field": "city", "value": "London"},
                    {"kind": "event", "name": "Stay Feedback", "days": 30},
                ],
            },
            {"Ana"},
        ),
        (
            {
                "match": "any",
                "rules": [
                    {"kind": "property", "field": "city", "value": "Paris"},
                    {"kind": "event", "name": "Stay Feedback", "days": 30},
                ],
            },
            {"Ana", "Chloé"},
        ),
        ({"rules": [{"kind": "event", "name": "Stay Feedback", "days": 3}]}, set()),
        (
            {"rules": [{"kind": "event", "name": "Stay Feedback", "op": "did_not", "days": 30}]},
            {"Ben", "", "Chloé"},
        ),
        ({"rules": [{"field": "city", "op": "not_equals", "value": "london"}]}, {"Chloé"}),
        ({"rules": [{"field": "name", "op": "contains", "value": "N"}]}, {"Ana", "Ben"}),
        ({"rules": [{"field": "tier", "op": "is_set"}]}, {"Ben"}),
        ({"rules": [{"field": "tier", "op": "not_equals", "value": "gold"}]}, {"Ana", "", "Chloé"}),
    ],
)
def test_segments_name_people_by_properties_and_events(waba, people, segment, names):
    Profile.objects.filter(name="Ben").update(properties={"tier": "gold"})
    assert {p.name for p in segment_profiles(waba, segment)} == names

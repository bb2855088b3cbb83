"""The permission matrix of every template URL: each role, a user without one, and a visitor."""

from __future__ import annotations

import pytest
from django.urls import reverse

from templates_app.models import MessageTemplate, TemplateSample
from templates_app.views import public_sample_link

from .conftest import client_for
from .template_helpers import png

ALLOW, DENY, LOGIN = "allow", "deny", "login"
VIEWERS = {"admin": ALLOW, "marketer": ALLOW, "campaigns": ALLOW, "norole": DENY, "anon": LOGIN}
BUILDERS = {"admin": ALLOW, "marketer": DENY, "campaigns": ALLOW, "norole": DENY, "anon": LOGIN}


@pytest.fixture
def cast(admin_user, marketer, campaign_manager, no_role_user) -> dict:
    return {
        "admin": admin_user,
        "marketer": marketer,
        "campaigns": campaign_manager,
        "norole": no_role_user,
        "anon": None,
    }


@pytest.fixture
def template(waba) -> MessageTemplate:
    # Not on Meta and without a flow: every action answers without calling Meta.
    template = MessageTemplate.objects.create(
        waba=waba,
        name="stay_feedback",
        status="NOT_SUBMITTED",
        header_format="IMAGE",
        body="How was your stay?",
        button_text="Rate",
    )
    TemplateSample.objects.create(
        template=template, content=png(), content_type="image/png", filename="room.png", size=1
    )
    return template


def urls(template: MessageTemplate) -> list[tuple[str, str, str, dict]]:
    pk = [template.pk]
    return [
        ("list", "get", reverse("templates:list"), VIEWERS),
        ("detail", "get", reverse("templates:detail", args=pk), VIEWERS),
        ("sample", "get", reverse("templates:sample", args=pk), VIEWERS),
        ("create", "get", reverse("templates:create"), BUILDERS),
        ("create post", "post", reverse("templates:create"), BUILDERS),
        ("edit", "get", reverse("templates:edit", args=pk), BUILDERS),
        ("preview", "post", reverse("templates:preview"), BUILDERS),
        ("variables", "post", reverse("templates:variables"), BUILDERS),
        ("flow screens", "get", reverse("templates:flow_screens"), BUILDERS),
        ("try again", "post", reverse("templates:submit", args=pk), BUILDERS),
        ("refresh", "post", reverse("templates:refresh", args=pk), BUILDERS),
        ("send test", "get", reverse("templates:send_test", args=pk), BUILDERS),
        ("send test post", "post", reverse("templates:send_test", args=pk), BUILDERS),
        ("delete", "get", reverse("templates:delete", args=pk), BUILDERS),
        # Last: it deletes the template when allowed.
        ("delete post", "post", reverse("templates:delete", args=pk), BUILDERS),
    ]


@pytest.mark.parametrize("role", ["admin", "marketer", "campaigns", "norole", "anon"])
def test_every_template_url_answers_each_role_as_the_matrix_says(waba, template, cast, role):
    client = client_for(cast[role])
    for name, method, url, expected in urls(template):
        response = getattr(client, method)(url)
        want = expected[role]
        if want == ALLOW:
            assert response.status_code in (200, 302), (name, role, response.status_code)
            if response.status_code == 302:
                assert not response["Location"].startswith(reverse("login")), (name, role)
        elif want == DENY:
            assert response.status_code == 403, (name, role, response.status_code)
        else:
            assert response.status_code == 302, (name, role)
            assert response["Location"].startswith(reverse("login") + "?next="), name
    deleted = not MessageTemplate.objects.filter(pk=template.pk).exists()
    assert deleted == (expected_delete := BUILDERS[role] == ALLOW), (role, expected_delete)


@pytest.mark.parametrize(
    ("role", "shown"),
    [("admin", True), ("marketer", True), ("campaigns", True), ("norole", False)],
)
def test_templates_are_in_the_navigation_for_the_roles_that_use_them(waba, cast, role, shown):
    page = client_for(cast[role]).get(reverse("home"), follow=True).content.decode()
    assert (f'<a href="{reverse("templates:list")}"' in page) == shown


def test_marketers_see_no_buttons_that_would_change_a_template(waba, template, marketer):
    page = client_for(marketer).get(reverse("templates:detail", args=[template.pk])).content
    for url_name in (
        "templates:edit",
        "templates:delete",
        "templates:send_test",
        "templates:submit",
    ):
        assert reverse(url_name, args=[template.pk]).encode() not in page
    listing = client_for(marketer).get(reverse("templates:list")).content
    assert reverse("templates:create").encode() not in listing


def test_the_link_meta_fetches_a_sample_from_needs_its_signature(client, template):
    link = public_sample_link(template)
    path = link[link.index("/templates/") :]
    assert client.get(path).status_code == 200
    assert client.get(path[:-3] + "xyz/").status_code == 404

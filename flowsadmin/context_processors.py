from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from wabas.access import can_use_wabas, current_waba
from wabas.models import Waba

# The top navigation: (label, URL name, permission); an entry is shown only to a user who holds its
# permission.
NAVIGATION = [
    ("Flows", "flows:list", "flowsadmin.view_flow"),
    ("Templates", "templates:list", "templates_app.view_messagetemplate"),
    ("Campaigns", "campaigns:list", "campaigns.view_campaign"),
    ("People", "people:list", "audience.view_profile"),
    ("Settings", "wabas:list", "wabas.view_waba"),
]
if settings.SANDBOX_ENABLED:
    NAVIGATION.append(("Sandbox Meta", "sandbox:home", "wabas.change_waba"))


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    items = []
    for label, url_name, perm in NAVIGATION:
        if user.has_perm(perm):
            url = reverse(url_name)
            items.append({"label": label, "url": url, "current": request.path.startswith(url)})
    context: dict = {"nav_items": items}
    if can_use_wabas(user):
        context["all_wabas"] = Waba.objects.only("pk", "name")
        context["current_waba"] = current_waba(request)
    return context

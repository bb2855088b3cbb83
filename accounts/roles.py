"""The three roles, as Django groups with permissions.

A role is only a group: views check permissions, never group names, so a custom group works too.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

ADMIN = "Admin"
MARKETER = "Marketer"
CAMPAIGN_MANAGER = "Campaign manager"

FLOW_PERMISSIONS = [
    "flowsadmin.view_flow",
    "flowsadmin.add_flow",
    "flowsadmin.change_flow",
    "flowsadmin.delete_flow",
]

# Campaign managers and admins build templates and send tests; marketers look at them.
TEMPLATE_PERMISSIONS = [
    "templates_app.view_messagetemplate",
    "templates_app.add_messagetemplate",
    "templates_app.change_messagetemplate",
    "templates_app.delete_messagetemplate",
    "templates_app.send_test_messagetemplate",
]

# Campaign managers and admins build, send and watch campaigns; marketers don't see them.
CAMPAIGN_PERMISSIONS = [
    "campaigns.view_campaign",
    "campaigns.add_campaign",
    "campaigns.change_campaign",
    "campaigns.delete_campaign",  # drafts only: see Campaign.ALLOWED
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    ADMIN: [
        *FLOW_PERMISSIONS,
        *TEMPLATE_PERMISSIONS,
        *CAMPAIGN_PERMISSIONS,
        "wabas.view_waba",
        "wabas.add_waba",
        "wabas.change_waba",
        "wabas.view_keys",
        "wabas.reveal_private_key",
        "wabas.view_keyaccesslog",
        "wabas.view_webhookdelivery",
        "wabas.change_webhookdelivery",  # Replay a failed or stuck delivery
        "wabas.add_phonenumber",
        "wabas.change_phonenumber",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "audience.view_profile",
    ],
    MARKETER: [*FLOW_PERMISSIONS, "templates_app.view_messagetemplate", "audience.view_profile"],
    CAMPAIGN_MANAGER: [
        "flowsadmin.view_flow",
        *TEMPLATE_PERMISSIONS,
        *CAMPAIGN_PERMISSIONS,
        "audience.view_profile",
    ],
}

ROLES = list(ROLE_PERMISSIONS)

# Who may play a flow on the sandbox phone (when the sandbox is on): whoever may see the flow, so
# marketers and campaign managers try their own flows; the sandbox's own settings stay admin-only.
TRY_FLOWS_PERMISSION = "flowsadmin.view_flow"


def _permissions(names: list[str]) -> list[Permission]:
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query))
    if len(found) != len(names):
        missing = set(names) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
        raise LookupError(f"Permissions not found (migrate first?): {sorted(missing)}")
    return found


def sync_roles() -> None:
    """Create the role groups and give each exactly its permissions. Idempotent."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions(names))


def role_of(user: object) -> str:
    """The user's role name for display: the first role group they are in."""
    names = {group.name for group in user.groups.all()}
    if getattr(user, "is_superuser", False):
        return ADMIN
    return next((role for role in ROLES if role in names), "No role")

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(**kwargs: object) -> None:
    from .roles import sync_roles

    sync_roles()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Users and roles"

    def ready(self) -> None:
        # accounts is the last installed app: Django sends post_migrate app by app in INSTALLED_APPS
        # order and creates each app's permissions in its own post_migrate, so by accounts' turn every
        # permission a role names exists. The dispatch_uid predates this app; kept so nothing connects
        # the sync twice.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="flowsadmin.sync_roles")

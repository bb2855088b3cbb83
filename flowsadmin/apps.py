from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(**kwargs: object) -> None:
    from .roles import sync_roles

    sync_roles()


class FlowsadminConfig(AppConfig):
    name = "flowsadmin"
    verbose_name = "Flows"

    def ready(self) -> None:
        # flowsadmin is the last installed app, so every app's permissions exist by its post_migrate.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="flowsadmin.sync_roles")

        from wabas.webhooks import register_handler

        from .webhooks import handle_flows_change

        register_handler("flows", handle_flows_change)

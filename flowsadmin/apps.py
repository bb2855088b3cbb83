from django.apps import AppConfig


class FlowsadminConfig(AppConfig):
    name = "flowsadmin"
    verbose_name = "Flows"

    def ready(self) -> None:
        from wabas.webhooks import register_handler

        from . import checks  # noqa: F401  (registers the deploy checks)
        from .webhooks import handle_flows_change

        register_handler("flows", handle_flows_change)

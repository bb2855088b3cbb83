from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from wabas.webhooks import register_handler

        from .webhooks import handle_message_statuses

        register_handler("messages", handle_message_statuses)

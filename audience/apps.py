from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "audience"
    verbose_name = "People"

    def ready(self) -> None:
        from wabas.webhooks import register_handler

        from .webhooks import handle_messages_change

        # Flow completions arrive as nfm_reply messages; campaigns handles the statuses of the same field.
        register_handler("messages", handle_messages_change)

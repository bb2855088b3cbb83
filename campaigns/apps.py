from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from audience.signals import flow_token_seen
        from wabas.webhooks import register_handler

        from .attribution import record_flow_token_seen
        from .webhooks import handle_message_statuses

        register_handler("messages", handle_message_statuses)
        # Flow opened / completed reach campaigns from the endpoint and the completion webhook.
        flow_token_seen.connect(record_flow_token_seen, dispatch_uid="campaigns.attribution")

from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from audience.signals import flow_token_seen
        from wabas.webhooks import register_handler

        from .attribution import record_flow_token_seen
        from .webhooks import handle_message_statuses, handle_template_status

        register_handler("messages", handle_message_statuses)
        # After templates_app's own handler (registered first, as it sits first in INSTALLED_APPS):
        # the template's status is already saved when campaigns react to it.
        register_handler("message_template_status_update", handle_template_status)
        # Flow opened / completed reach campaigns from the endpoint and the completion webhook.
        flow_token_seen.connect(record_flow_token_seen, dispatch_uid="campaigns.attribution")

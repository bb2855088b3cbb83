from django.apps import AppConfig


class TemplatesAppConfig(AppConfig):
    name = "templates_app"
    verbose_name = "Message templates"

    def ready(self) -> None:
        from flowsadmin.signals import flow_deprecated
        from wabas.webhooks import register_handler

        from .webhooks import (
            detach_deprecated_flow,
            handle_template_category,
            handle_template_quality,
            handle_template_status,
        )

        register_handler("message_template_status_update", handle_template_status)
        register_handler("message_template_quality_update", handle_template_quality)
        register_handler("template_category_update", handle_template_category)
        flow_deprecated.connect(
            detach_deprecated_flow, dispatch_uid="templates_app.detach_deprecated_flow"
        )

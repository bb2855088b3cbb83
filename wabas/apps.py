from django.apps import AppConfig


class WabasConfig(AppConfig):
    name = "wabas"
    verbose_name = "WhatsApp Business Accounts"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

from django.apps import AppConfig
from django.core.signals import setting_changed


class WabasConfig(AppConfig):
    name = "wabas"
    verbose_name = "WhatsApp Business Accounts"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .fields import forget_cipher

        setting_changed.connect(forget_cipher, dispatch_uid="wabas.forget_cipher")

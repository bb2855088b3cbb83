from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ExchangeConfig(AppConfig):
    name = "exchange"
    verbose_name = "Data exchange"

    def ready(self) -> None:
        from flowsadmin.models import Flow
        from wabas.models import Waba

        from . import cache

        # The endpoint keeps hosted flows per process: a saved or deleted row must not be served
        # from there (cache.py says for how long other processes may still serve it).
        for signal in (post_save, post_delete):
            signal.connect(cache.forget_flow, sender=Flow, dispatch_uid="exchange.forget_flow")
            signal.connect(
                cache.forget_hosted_flows, sender=Waba, dispatch_uid="exchange.forget_waba"
            )

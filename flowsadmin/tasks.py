from __future__ import annotations

from celery import shared_task

from wabas.graph import GraphClient
from wabas.tasks import meta_task

from .models import Flow
from .services import refresh_flow


@meta_task
def refresh_flow_task(flow_id: int) -> None:
    """Refresh one flow from Meta; the on-demand button and the schedule both use it."""
    flow = Flow.objects.select_related("waba").filter(pk=flow_id).first()
    if flow is None:
        return
    refresh_flow(flow, client=GraphClient.for_waba(flow.waba))


@shared_task
def refresh_flows_task() -> int:
    """Queue a refresh of every flow that can still change on Meta (beat schedule)."""
    ids = list(Flow.objects.needing_refresh().values_list("pk", flat=True))
    for flow_id in ids:
        refresh_flow_task.delay(flow_id)
    return len(ids)

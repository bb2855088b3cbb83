from __future__ import annotations

from celery import shared_task

from wabas.graph import GraphClient
from wabas.tasks import meta_task

from .models import MessageTemplate
from .services import refresh_template


@meta_task
def refresh_template_task(template_id: int) -> None:
    """Ask Meta for one template's status, quality and category (for when a webhook was missed)."""
    template = MessageTemplate.objects.select_related("waba").filter(pk=template_id).first()
    if template is None or not template.meta_template_id:
        return
    refresh_template(template, client=GraphClient.for_waba(template.waba))


@shared_task
def refresh_pending_templates_task() -> int:
    """Queue a refresh of every template still under review (beat schedule)."""
    ids = list(MessageTemplate.objects.awaiting_review().values_list("pk", flat=True))
    for template_id in ids:
        refresh_template_task.delay(template_id)
    return len(ids)

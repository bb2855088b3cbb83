"""Housekeeping for what the hosted endpoint records: its problem records."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import EndpointError


@shared_task
def forget_old_endpoint_errors_task() -> int:
    """Delete endpoint problems older than ENDPOINT_ERROR_RETENTION_DAYS; returns how many.

    A broken step can record a problem on every request, so the table must not grow forever; the
    flow's page shows only the recent ones anyway.
    """
    cutoff = timezone.now() - timedelta(days=settings.ENDPOINT_ERROR_RETENTION_DAYS)
    deleted, _ = EndpointError.objects.filter(at__lt=cutoff).delete()
    return deleted

"""The Celery app: Redis broker, settings from Django's CELERY_* names, tasks found in every app."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsadmin.settings")

app = Celery("flowsadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

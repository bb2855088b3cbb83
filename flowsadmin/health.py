"""GET /healthz: what a load balancer asks before it sends this web server traffic."""

from __future__ import annotations

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from wabas.models import WebhookDelivery


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: 503 when the database is down; the broker is reported too."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except DatabaseError:
        database = "unavailable"
    if settings.CELERY_TASK_ALWAYS_EAGER:
        broker = "not used: tasks run in-process"
    else:
        try:
            client = redis.Redis.from_url(
                settings.CELERY_BROKER_URL, socket_connect_timeout=0.5, socket_timeout=0.5
            )
            client.ping()
            broker = "ok"
        except redis.RedisError:
            broker = "unavailable"
    body = {"database": database, "broker": broker}
    if database == "ok":
        # Failed or stuck webhook deliveries: a completion may be waiting on an admin or a worker.
        body["webhooks_needing_attention"] = WebhookDelivery.objects.needing_attention().count()
    status = 200 if database == "ok" else 503
    return JsonResponse(body, status=status)

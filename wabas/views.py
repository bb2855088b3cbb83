from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from .access import can_use_wabas, get_waba_or_404
from .forms import PasswordForm, PhoneNumberForm, WabaForm
from .graph import GraphClient, MetaTransientError
from .models import KeyAccessLog, KeyPair, SelectedWaba, Waba, WebhookDelivery
from .services import connect_waba, create_waba, record_key_access
from .tasks import (
    connect_waba_task,
    queue_delivery,
    register_public_key_task,
    register_public_keys,
)
from .webhooks import store_delivery, waba_signed_by

# Failed password attempts allowed per user within the window before reveals are refused outright.
MAX_FAILED_REVEALS = 5
FAILED_REVEAL_WINDOW = timedelta(minutes=15)


@permission_required("wabas.view_waba", raise_exception=True)
def waba_list(request: HttpRequest) -> HttpResponse:
    wabas = Waba.objects.prefetch_related("phone_numbers")
    return render(request, "wabas/waba_list.html", {"wabas": wabas})


@sensitive_post_parameters(*("access_token", "app_secret", "webhook_verify_token"))
@permission_required("wabas.add_waba", raise_exception=True)
def waba_create(request: HttpRequest) -> HttpResponse:
    form = WabaForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        waba = create_waba(form.save(commit=False))
        connect_waba_task.delay_on_commit(waba.pk)
        SelectedWaba.remember(request.user, waba)
        messages.success(request, f"{waba} added, with a new encryption key pair.")
        return redirect("wabas:detail", pk=waba.pk)
    return render(request, "wabas/waba_form.html", {"form": form})


@sensitive_post_parameters(*("access_token", "app_secret", "webhook_verify_token"))
@permission_required("wabas.change_waba", raise_exception=True)
def waba_edit(request: HttpRequest, pk: int) -> HttpResponse:
    waba = get_waba_or_404(pk)
    form = WabaForm(request.POST or None, instance=waba)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"{waba} saved.")
        return redirect("wabas:detail", pk=waba.pk)
    return render(request, "wabas/waba_form.html", {"form": form, "waba": waba})


@permission_required("wabas.view_waba", raise_exception=True)
def waba_detail(request: HttpRequest, pk: int) -> HttpResponse:
    waba = get_waba_or_404(pk)
    return render(request, "wabas/waba_detail.html", _detail_context(request, waba))


def key_panel_context(request: HttpRequest, waba: Waba) -> dict:
    """What wabas/_key_panel.html needs, for users who may see keys; the Flows listing uses it too."""
    if not request.user.has_perm("wabas.view_keys"):
        return {}
    return {
        "key_pair": getattr(waba, "key_pair", None),
        "phone_numbers": waba.phone_numbers.all(),
        "password_form": PasswordForm(user=request.user),
    }


def _detail_context(request: HttpRequest, waba: Waba, **extra: object) -> dict:
    context = {"waba": waba, "phone_numbers": waba.phone_numbers.all()}
    return context | key_panel_context(request, waba) | extra


@permission_required("wabas.add_phonenumber", raise_exception=True)
def phone_create(request: HttpRequest, pk: int) -> HttpResponse:
    waba = get_waba_or_404(pk)
    form = PhoneNumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone = form.save(commit=False)
        phone.waba = waba
        phone.save()
        register_public_key_task.delay_on_commit(phone.pk)
        messages.success(request, f"{phone} added to {waba}; registering the public key with Meta.")
        return redirect("wabas:detail", pk=waba.pk)
    return render(request, "wabas/phone_form.html", {"form": form, "waba": waba})


@permission_required("wabas.change_phonenumber", raise_exception=True)
def phone_edit(request: HttpRequest, pk: int, phone_pk: int) -> HttpResponse:
    waba = get_waba_or_404(pk)
    phone = get_object_or_404(waba.phone_numbers, pk=phone_pk)
    form = PhoneNumberForm(request.POST or None, instance=phone)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"{phone} saved.")
        return redirect("wabas:detail", pk=waba.pk)
    return render(request, "wabas/phone_form.html", {"form": form, "waba": waba, "phone": phone})


@permission_required("wabas.view_keys", raise_exception=True)
def public_key_download(request: HttpRequest, pk: int) -> HttpResponse:
    waba = get_waba_or_404(pk)
    key_pair = get_object_or_404(KeyPair, waba=waba)
    response = HttpResponse(key_pair.public_pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = content_disposition_header(
        True, f"waba-{waba.meta_waba_id}-public.pem"
    )
    return response


@never_cache
@require_POST
@sensitive_post_parameters("password")
@sensitive_variables("private_pem")
@permission_required("wabas.reveal_private_key", raise_exception=True)
def private_key(request: HttpRequest, pk: int) -> HttpResponse:
    """Reveal or download the private key, after the user re-enters their password; always audited."""
    waba = get_waba_or_404(pk)
    action = request.POST.get("action")
    if action not in KeyAccessLog.Action.values:
        action = KeyAccessLog.Action.REVEAL
    form = PasswordForm(request.POST, user=request.user)
    recent_failures = KeyAccessLog.objects.filter(
        user=request.user, succeeded=False, at__gte=timezone.now() - FAILED_REVEAL_WINDOW
    ).count()
    refusal = None
    if recent_failures >= MAX_FAILED_REVEALS:
        form.is_valid()
        form.errors.clear()
        form.add_error(None, "Too many wrong passwords. Try again in 15 minutes.")
        refusal = KeyAccessLog.Refusal.TOO_MANY
    elif not form.is_valid():
        refusal = KeyAccessLog.Refusal.WRONG_PASSWORD
    if refusal is not None:
        record_key_access(waba, request=request, action=action, succeeded=False, refusal=refusal)
        return _render_key_panel(request, waba, password_form=form)

    record_key_access(waba, request=request, action=action, succeeded=True)
    private_pem = waba.key_pair.private_pem
    if action == KeyAccessLog.Action.DOWNLOAD:
        response = HttpResponse(private_pem, content_type="application/x-pem-file")
        response["Content-Disposition"] = content_disposition_header(
            True, f"waba-{waba.meta_waba_id}-private.pem"
        )
        return response
    return _render_key_panel(request, waba, private_pem=private_pem)


def _render_key_panel(request: HttpRequest, waba: Waba, **extra: object) -> HttpResponse:
    context = _detail_context(request, waba, **extra)
    if request.htmx:
        return render(request, "wabas/_key_panel.html", context)
    return render(request, "wabas/waba_detail.html", context)


@permission_required("wabas.view_keyaccesslog", raise_exception=True)
def key_access_log(request: HttpRequest) -> HttpResponse:
    entries = KeyAccessLog.objects.select_related("waba")
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "wabas/keyaccesslog_list.html", {"page": page})


@require_POST
def switch_waba(request: HttpRequest) -> HttpResponse:
    """Remember the WABA the user chose in the top bar, then go back where they were."""
    if not can_use_wabas(request.user):
        raise PermissionDenied
    waba = get_object_or_404(Waba, pk=request.POST.get("waba"))
    SelectedWaba.remember(request.user, waba)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = "home"
    return redirect(back)


@permission_required("wabas.change_waba", raise_exception=True)
@require_POST
def waba_connect(request: HttpRequest, pk: int) -> HttpResponse:
    """Check the credentials with Meta now and import the phone numbers; keys are registered after."""
    waba = get_waba_or_404(pk)
    try:
        connected = connect_waba(waba, client=GraphClient.for_waba(waba))
    except MetaTransientError as exc:
        messages.error(request, f"Meta did not answer in time; nothing changed. ({exc})")
        return redirect("wabas:detail", pk=waba.pk)
    if connected:
        register_public_keys(waba.phone_numbers.all())
        messages.success(
            request, "Connected to Meta. Phone numbers imported; keys are being registered."
        )
    else:
        messages.error(request, waba.meta_error)
    return redirect("wabas:detail", pk=waba.pk)


@permission_required("wabas.change_waba", raise_exception=True)
@require_POST
def keys_register(request: HttpRequest, pk: int) -> HttpResponse:
    """Upload the public key again for every phone number of the WABA."""
    waba = get_waba_or_404(pk)
    register_public_keys(waba.phone_numbers.all())
    messages.success(request, "Registering the public key with Meta for every phone number.")
    return redirect("wabas:detail", pk=waba.pk)


@login_not_required
@csrf_exempt
def webhook(request: HttpRequest) -> HttpResponse:
    """Meta's webhook: the GET handshake, and signed POSTs stored before they are processed."""
    if request.method == "GET":
        return _webhook_handshake(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    body = request.body
    signature = request.headers.get("X-Hub-Signature-256", "")
    waba = waba_signed_by(body, signature)
    if waba is None:
        return HttpResponseForbidden("Bad or missing X-Hub-Signature-256.")
    delivery, new = store_delivery(body, signature=signature, waba=waba)
    if not new and not delivery.is_unfinished():
        return HttpResponse("Already received.")
    if new:
        try:
            json.loads(body)
        except ValueError:
            delivery.finish(
                WebhookDelivery.Status.FAILED, "Not a Meta webhook: the body is not JSON."
            )
            return HttpResponseBadRequest("The body is not JSON.")
    # Stored and committed (this view runs in autocommit), so it is queued now, not on commit: if
    # Redis can't take it, Meta is told to try again and its re-delivery queues the stored body.
    if not queue_delivery(delivery):
        return HttpResponse("Stored; not queued yet, please deliver again.", status=503)
    return HttpResponse("OK" if new else "Queued again.")


def _webhook_handshake(request: HttpRequest) -> HttpResponse:
    token = request.GET.get("hub.verify_token", "")
    if request.GET.get("hub.mode") != "subscribe" or not token:
        return HttpResponseForbidden("Not a subscription request.")
    for waba in Waba.objects.all():
        if waba.webhook_verify_token and constant_time_compare(waba.webhook_verify_token, token):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
    return HttpResponseForbidden("Unknown verify token.")


@permission_required("wabas.view_webhookdelivery", raise_exception=True)
def webhook_list(request: HttpRequest) -> HttpResponse:
    """Every delivery, or (?show=attention) the failed and stuck ones an admin may replay."""
    attention = request.GET.get("show") == "attention"
    deliveries = WebhookDelivery.objects.select_related("waba").defer("body")
    if attention:
        deliveries = deliveries.needing_attention()
    page = Paginator(deliveries, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "attention": attention,
        "attention_count": WebhookDelivery.objects.needing_attention().count(),
        "can_replay": request.user.has_perm("wabas.change_webhookdelivery"),
    }
    return render(request, "wabas/webhookdelivery_list.html", context)


@require_POST
@permission_required("wabas.change_webhookdelivery", raise_exception=True)
def webhook_replay(request: HttpRequest, pk: int) -> HttpResponse:
    """Process a failed or stuck delivery again (its handlers are idempotent)."""
    delivery = get_object_or_404(WebhookDelivery.objects.defer("body"), pk=pk)
    if not delivery.can_replay():
        messages.info(request, "That delivery was processed already; nothing to replay.")
    else:
        delivery.mark_for_replay()
        if queue_delivery(delivery):
            messages.success(request, "Queued again; its result shows here once it has run.")
        else:
            messages.error(request, "The task queue (Redis) is not answering; try again shortly.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}):
        back = reverse("wabas:webhook_list")
    return redirect(back)


@permission_required("wabas.view_webhookdelivery", raise_exception=True)
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery, pk=pk)
    try:
        pretty = json.dumps(json.loads(delivery.body_text()), indent=2, ensure_ascii=False)
    except ValueError:
        pretty = delivery.body_text()
    context = {
        "delivery": delivery,
        "pretty": pretty,
        "can_replay": request.user.has_perm("wabas.change_webhookdelivery"),
    }
    return render(request, "wabas/webhookdelivery_detail.html", context)

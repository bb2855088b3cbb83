from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from .access import can_use_wabas, get_waba_for_user
from .forms import PasswordForm, PhoneNumberForm, WabaForm
from .models import KeyAccessLog, KeyPair, SelectedWaba, Waba
from .services import create_waba, record_key_access

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
        SelectedWaba.remember(request.user, waba)
        messages.success(request, f"{waba} added, with a new encryption key pair.")
        return redirect("wabas:detail", pk=waba.pk)
    return render(request, "wabas/waba_form.html", {"form": form})


@sensitive_post_parameters(*("access_token", "app_secret", "webhook_verify_token"))
@permission_required("wabas.change_waba", raise_exception=True)
def waba_edit(request: HttpRequest, pk: int) -> HttpResponse:
    waba = get_waba_for_user(request, pk)
    form = WabaForm(request.POST or None, instance=waba)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"{waba} saved.")
        return redirect("wabas:detail", pk=waba.pk)
    return render(request, "wabas/waba_form.html", {"form": form, "waba": waba})


@permission_required("wabas.view_waba", raise_exception=True)
def waba_detail(request: HttpRequest, pk: int) -> HttpResponse:
    waba = get_waba_for_user(request, pk)
    return render(request, "wabas/waba_detail.html", _detail_context(request, waba))


def _detail_context(request: HttpRequest, waba: Waba, **extra: object) -> dict:
    context = {"waba": waba, "phone_numbers": waba.phone_numbers.all()}
    if request.user.has_perm("wabas.view_keys"):
        context["key_pair"] = getattr(waba, "key_pair", None)
        context["password_form"] = PasswordForm(user=request.user)
    return context | extra


@permission_required("wabas.add_phonenumber", raise_exception=True)
def phone_create(request: HttpRequest, pk: int) -> HttpResponse:
    waba = get_waba_for_user(request, pk)
    form = PhoneNumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone = form.save(commit=False)
        phone.waba = waba
        phone.save()
        messages.success(request, f"{phone} added to {waba}.")
        return redirect("wabas:detail", pk=waba.pk)
    return render(request, "wabas/phone_form.html", {"form": form, "waba": waba})


@permission_required("wabas.change_phonenumber", raise_exception=True)
def phone_edit(request: HttpRequest, pk: int, phone_pk: int) -> HttpResponse:
    waba = get_waba_for_user(request, pk)
    phone = get_object_or_404(waba.phone_numbers, pk=phone_pk)
    form = PhoneNumberForm(request.POST or None, instance=phone)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"{phone} saved.")
        return redirect("wabas:detail", pk=waba.pk)
    return render(request, "wabas/phone_form.html", {"form": form, "waba": waba, "phone": phone})


@permission_required("wabas.view_keys", raise_exception=True)
def public_key_download(request: HttpRequest, pk: int) -> HttpResponse:
    waba = get_waba_for_user(request, pk)
    key_pair = get_object_or_404(KeyPair, waba=waba)
    response = HttpResponse(key_pair.public_pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="waba-{waba.meta_waba_id}-public.pem"'
    return response


@never_cache
@require_POST
@sensitive_post_parameters("password")
@sensitive_variables("private_pem")
@permission_required("wabas.reveal_private_key", raise_exception=True)
def private_key(request: HttpRequest, pk: int) -> HttpResponse:
    """Reveal or download the private key, after the user re-enters their password; always audited."""
    waba = get_waba_for_user(request, pk)
    action = request.POST.get("action")
    if action not in KeyAccessLog.Action.values:
        action = KeyAccessLog.Action.REVEAL
    form = PasswordForm(request.POST, user=request.user)
    recent_failures = KeyAccessLog.objects.filter(
        user=request.user, succeeded=False, at__gte=timezone.now() - FAILED_REVEAL_WINDOW
    ).count()
    if recent_failures >= MAX_FAILED_REVEALS:
        form.is_valid()
        form.errors.clear()
        form.add_error(None, "Too many wrong passwords. Try again in 15 minutes.")
        record_key_access(waba, request=request, action=action, succeeded=False)
        return _render_key_panel(request, waba, password_form=form)
    if not form.is_valid():
        record_key_access(waba, request=request, action=action, succeeded=False)
        return _render_key_panel(request, waba, password_form=form)

    record_key_access(waba, request=request, action=action, succeeded=True)
    private_pem = waba.key_pair.private_pem
    if action == KeyAccessLog.Action.DOWNLOAD:
        response = HttpResponse(private_pem, content_type="application/x-pem-file")
        response["Content-Disposition"] = (
            f'attachment; filename="waba-{waba.meta_waba_id}-private.pem"'
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

from __future__ import annotations

import redis
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required, permission_required
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from wabas.access import current_waba
from wabas.forms import PasswordForm

from .forms import FlowFilterForm, RoleForm, UserCreateForm
from .models import Flow
from .roles import ROLES, role_of


def home(request: HttpRequest) -> HttpResponse:
    """Send each role to the first page it can use."""
    if request.user.has_perm("flowsadmin.view_flow"):
        return redirect("flows:list")
    if request.user.has_perm("wabas.view_waba"):
        return redirect("wabas:list")
    return render(request, "flowsadmin/no_role.html", status=403)


@permission_required("flowsadmin.view_flow", raise_exception=True)
def flow_list(request: HttpRequest) -> HttpResponse:
    waba = current_waba(request)
    filters = FlowFilterForm(request.GET or None)
    flows = Flow.objects.none()
    if waba is not None:
        flows = waba.flows.select_related("created_by")
        if filters.is_valid():
            if q := filters.cleaned_data["q"]:
                flows = flows.filter(name__icontains=q)
            if status := filters.cleaned_data["status"]:
                flows = flows.filter(status=status)
    page = Paginator(flows, 25).get_page(request.GET.get("page"))
    context = {"waba": waba, "page": page, "filters": filters}
    if request.htmx:
        return render(request, "flowsadmin/flow_list.html#flow-table", context)
    if waba is not None and request.user.has_perm("wabas.view_keys"):
        context["key_pair"] = getattr(waba, "key_pair", None)
        context["phone_numbers"] = waba.phone_numbers.all()
        context["password_form"] = PasswordForm(user=request.user)
    return render(request, "flowsadmin/flow_list.html", context)


@sensitive_post_parameters("password1", "password2")
@permission_required("auth.view_user", raise_exception=True)
def user_list(request: HttpRequest) -> HttpResponse:
    """Everyone who can sign in, with their role; admins add teammates here."""
    form = UserCreateForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("auth.add_user"):
            raise PermissionDenied
        if form.is_valid():
            with transaction.atomic():
                user = form.save()
                user.groups.set([Group.objects.get(name=form.cleaned_data["role"])])
            messages.success(
                request, f"{user.username} can now sign in as {form.cleaned_data['role']}."
            )
            return redirect("users:list")
    users = get_user_model().objects.prefetch_related("groups").order_by("username")
    rows = [(user, role_of(user)) for user in users]
    return render(
        request, "flowsadmin/user_list.html", {"rows": rows, "form": form, "roles": ROLES}
    )


@require_POST
@permission_required("auth.change_user", raise_exception=True)
def user_role(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick one of the roles.")
    elif user == request.user:
        # An admin demoting themselves could leave nobody able to manage users.
        messages.error(request, "You cannot change your own role.")
    else:
        user.groups.set([Group.objects.get(name=form.cleaned_data["role"])])
        messages.success(request, f"{user.username} is now {form.cleaned_data['role']}.")
    return redirect("users:list")


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
    status = 200 if database == "ok" else 503
    return JsonResponse({"database": database, "broker": broker}, status=status)

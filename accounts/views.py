from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from .forms import RoleForm, UserCreateForm
from .roles import ROLES, role_of


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
    return render(request, "accounts/user_list.html", {"rows": rows, "form": form, "roles": ROLES})


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


@sensitive_post_parameters("new_password1", "new_password2")
@permission_required("auth.change_user", raise_exception=True)
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One teammate: their role, whether they can sign in, and a new password set by an admin."""
    person = get_object_or_404(get_user_model(), pk=pk)
    form = SetPasswordForm(person, request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Saving changes the session hash: every session the person had ends with the old password.
        form.save()
        messages.success(request, f"{person.username} has a new password; their sessions ended.")
        return redirect("users:detail", pk=person.pk)
    context = {"person": person, "role": role_of(person), "roles": ROLES, "password_form": form}
    return render(request, "accounts/user_detail.html", context, status=400 if form.errors else 200)


@require_POST
@permission_required("auth.change_user", raise_exception=True)
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate a teammate (they can't sign in, and their open sessions end) or let them back in."""
    person = get_object_or_404(get_user_model(), pk=pk)
    active = request.POST.get("active") == "true"
    if person == request.user:
        # Locking oneself out could leave nobody able to manage users.
        messages.error(request, "You cannot deactivate yourself.")
    elif person.is_active != active:
        person.is_active = active
        person.save(update_fields=["is_active"])
        if active:
            messages.success(request, f"{person.username} can sign in again.")
        else:
            messages.success(request, f"{person.username} is deactivated and can't sign in.")
    return redirect("users:detail", pk=person.pk)

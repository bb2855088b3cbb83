from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
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

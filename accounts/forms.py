from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from .roles import ROLES

ROLE_CHOICES = [(role, role) for role in ROLES]


class UserCreateForm(UserCreationForm):
    """An admin adds a teammate with a role."""

    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=ROLE_CHOICES)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username", "email"]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from .roles import ADMIN, CAMPAIGN_MANAGER, MARKETER

# Least powerful first: a marketer edits flows but sends nothing to anyone; a campaign manager sends
# to people; an admin holds the keys and the users.
ROLE_CHOICES = [(role, role) for role in (MARKETER, CAMPAIGN_MANAGER, ADMIN)]


class UserCreateForm(UserCreationForm):
    """An admin adds a teammate with a role."""

    email = forms.EmailField(required=False)
    # Someone who picks nothing gets the role that can do the least harm.
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=MARKETER)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username", "email"]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)

"""Find People: search profiles, and one profile's properties and activity."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .models import Profile


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Phone, WhatsApp id, email or name", required=False, max_length=200, strip=True
    )


@permission_required("audience.view_profile", raise_exception=True)
def profile_list(request: HttpRequest) -> HttpResponse:
    """Profiles matching the search, most recently active first; htmx gets only the results."""
    form = SearchForm(request.GET or None)
    profiles = Profile.objects.all()
    q = form.cleaned_data["q"] if form.is_valid() else ""
    if q:
        profiles = profiles.search(q)
    page = Paginator(profiles, 50).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "q": q}
    template = "audience/profile_list.html"
    if request.htmx:
        template += "#profile-table"
    return render(request, template, context)


@permission_required("audience.view_profile", raise_exception=True)
def profile_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A profile's fields and custom properties, and its events newest first."""
    profile = get_object_or_404(Profile, pk=pk)
    events = profile.events.select_related("flow").order_by("-occurred_at", "-pk")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "audience/profile_detail.html", {"profile": profile, "page": page})

from __future__ import annotations

from django.urls import path

from . import views

app_name = "users"

urlpatterns = [
    path("", views.user_list, name="list"),
    path("<int:pk>/", views.user_detail, name="detail"),
    path("<int:pk>/role/", views.user_role, name="role"),
    path("<int:pk>/active/", views.user_active, name="active"),
]

from django.urls import path

from . import views

app_name = "wabas"

urlpatterns = [
    path("", views.waba_list, name="list"),
    path("new/", views.waba_create, name="create"),
    path("<int:pk>/", views.waba_detail, name="detail"),
    path("<int:pk>/edit/", views.waba_edit, name="edit"),
    path("<int:pk>/phones/new/", views.phone_create, name="phone_create"),
    path("<int:pk>/phones/<int:phone_pk>/edit/", views.phone_edit, name="phone_edit"),
    path("<int:pk>/keys/public.pem", views.public_key_download, name="public_key"),
    path("<int:pk>/keys/private/", views.private_key, name="private_key"),
    path("<int:pk>/keys/register/", views.keys_register, name="keys_register"),
    path("<int:pk>/connect/", views.waba_connect, name="connect"),
    path("webhooks/", views.webhook_list, name="webhook_list"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:pk>/replay/", views.webhook_replay, name="webhook_replay"),
    path("key-access-log/", views.key_access_log, name="key_access_log"),
    path("switch/", views.switch_waba, name="switch"),
]

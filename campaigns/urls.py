from django.urls import path

from . import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/publish/", views.campaign_publish, name="publish"),
    path("<int:pk>/delete/", views.campaign_delete, name="delete"),
    path("<int:pk>/recipients.csv", views.campaign_recipients_csv, name="recipients_csv"),
    path("<int:pk>/<slug:action>/", views.campaign_action, name="action"),
]

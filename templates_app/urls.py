from django.urls import path

from . import views

app_name = "templates"

urlpatterns = [
    path("", views.template_list, name="list"),
    path("new/", views.template_create, name="create"),
    path("preview/", views.template_preview, name="preview"),
    path("variables/", views.template_variables, name="variables"),
    path("flow-screens/", views.template_flow_screens, name="flow_screens"),
    path("media/<str:token>/", views.template_public_sample, name="public_sample"),
    path("<int:pk>/", views.template_detail, name="detail"),
    path("<int:pk>/edit/", views.template_edit, name="edit"),
    path("<int:pk>/submit/", views.template_submit, name="submit"),
    path("<int:pk>/refresh/", views.template_refresh, name="refresh"),
    path("<int:pk>/delete/", views.template_delete, name="delete"),
    path("<int:pk>/sample/", views.template_sample, name="sample"),
    path("<int:pk>/test/", views.template_send_test, name="send_test"),
]

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import include, path

from exchange.views import data_exchange, flow_contract_test
from wabas.views import webhook

from . import health, send_views, views

flow_patterns = (
    [
        path("", views.flow_list, name="list"),
        path("new/", views.flow_create, name="create"),
        path("validate/", views.flow_validate, name="validate"),
        path("live-preview/", views.flow_live_preview, name="live_preview"),
        path("<int:pk>/", views.flow_detail, name="detail"),
        # The flow page's tabs: before the action catch-all below, which would take their names.
        path("<int:pk>/json/", views.flow_json, name="json"),
        path("<int:pk>/responses/", views.flow_responses, name="responses"),
        path("<int:pk>/insights/", views.flow_insights, name="insights"),
        path("<int:pk>/history/", views.flow_history, name="history"),
        path("<int:pk>/endpoint/", views.flow_endpoint_settings, name="endpoint_settings"),
        path("<int:pk>/revisions/<int:number>/", views.flow_revision, name="revision"),
        path("<int:pk>/preview/", views.flow_preview, name="preview"),
        path("<int:pk>/responses.csv", views.flow_responses_csv, name="responses_csv"),
        path("<int:pk>/send-message/", send_views.flow_send_message, name="send_message"),
        path("<int:pk>/contract-test/", flow_contract_test, name="contract_test"),
        path("<int:pk>/<slug:action>/", views.flow_action, name="action"),
    ],
    "flows",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("meta/webhook/", webhook, name="meta_webhook"),
    path("meta/flows/<uuid:public_id>/", data_exchange, name="data_exchange"),
    path("flows/", include(flow_patterns)),
    path("templates/", include("templates_app.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("settings/wabas/", include("wabas.urls")),
    path("settings/users/", include("accounts.urls")),
    path("people/", include("audience.urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))

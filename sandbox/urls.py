from django.urls import path, re_path

from . import customer, graph, views
from .phone import inbox
from .phone import views as phone

app_name = "sandbox"

urlpatterns = [
    path("", views.home, name="home"),
    path("flows/<int:pk>/status/", views.flow_status, name="flow_status"),
    path("templates/<int:pk>/action/", views.template_action, name="template_action"),
    path("faults/", views.faults, name="faults"),
    path("phone/<int:pk>/", phone.phone, name="phone"),
    path("phone/meta/<str:flow_id>/", phone.by_meta_id, name="phone_by_meta_id"),
    # The phone's inbox: template messages the sandbox Meta delivered to one WhatsApp id.
    path("phone/inbox/", inbox.inbox, name="inbox_pick"),
    path("phone/inbox/<str:whatsapp_id>/", inbox.inbox, name="inbox"),
    path("phone/messages/<int:pk>/", inbox.message_page, name="phone_message"),
    # A customer's own endpoint for the weather example flow, for our hosted endpoint to relay to.
    path("customer/weather/", customer.weather_endpoint, name="customer_weather"),
    path("preview/<str:token>/", views.preview, name="preview"),
    path("assets/<str:token>/flow.json", views.asset, name="asset"),
    # The Graph API: /sandbox/graph/v23.0/<object id>[/<edge>]; ids may contain a colon (upload:...).
    re_path(r"^graph/(?P<version>v\d+\.\d+)/(?P<path>.*)$", graph.graph, name="graph"),
    re_path(r"^graph/(?P<path>.*)$", graph.unknown_version),
]

from django.contrib.auth.decorators import login_required
from django.urls import path

from exchange_console.accounts.rbac import change_permission_required
from exchange_console.console import changes, edge, views, wizards

app_name = "console"

send_wizard = login_required(change_permission_required("SendConnector")(
    wizards.NewSendConnectorWizard.as_view(url_name="console:new-send-connector-step")))
receive_wizard = login_required(change_permission_required("ReceiveConnector", server_kwarg="server")(
    wizards.NewReceiveConnectorWizard.as_view(url_name="console:new-receive-connector-step")))


def new_dialog(noun):
    return login_required(change_permission_required(noun)(views.new_object_dialog))


urlpatterns = [
    path("organization/hub-transport/<slug:tab>/", views.organization, name="organization"),
    path("servers/hub-transport/", views.server, name="servers"),
    path("servers/hub-transport/<str:name>/", views.server, name="server"),
    path("recipients/mailbox/", views.mailboxes, name="mailboxes"),
    path("toolbox/", views.toolbox, name="toolbox"),
    path("lists/<slug:slug>/changes/", changes.list_changes, name="list-changes"),
    path("send-connectors/new/", send_wizard, name="new-send-connector"),
    path("send-connectors/new/<slug:step>/", send_wizard, name="new-send-connector-step"),
    path("servers/<str:server>/receive-connectors/new/", receive_wizard, name="new-receive-connector"),
    path("servers/<str:server>/receive-connectors/new/<slug:step>/", receive_wizard,
         name="new-receive-connector-step"),
    path("accepted-domains/new/", new_dialog("AcceptedDomain"), {"kind_slug": "accepted-domain"},
         name="new-accepted-domain"),
    path("remote-domains/new/", new_dialog("RemoteDomain"), {"kind_slug": "remote-domain"}, name="new-remote-domain"),
    path("mailboxes/new/", new_dialog("Mailbox"), {"kind_slug": "mailbox"}, name="new-mailbox"),
    path("edge-subscriptions/new/", edge.new_edge_subscription, name="new-edge-subscription"),
    path("completion/<str:token>/", views.completion_page, name="completion"),
    path("properties/<slug:kind_slug>/<int:pk>/", views.properties, name="properties"),
    path("objects/<slug:kind_slug>/<int:pk>/<slug:action>/", views.object_action, name="object-action"),
    path("objects/<slug:kind_slug>/<int:pk>/<slug:action>/confirm/", views.confirm_action, name="confirm-action"),
]

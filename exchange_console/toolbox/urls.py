from django.urls import path

from exchange_console.toolbox import mail_route, queue_viewer, topology, views

app_name = "toolbox"

urlpatterns = [
    path("queues/", queue_viewer.queue_viewer, name="queues"),
    path("queues/action/", queue_viewer.queue_action, name="queue-action"),
    path("queues/export/", queue_viewer.export_list, name="queue-export"),
    path("queues/messages/<int:pk>/", queue_viewer.message_detail, name="queue-message"),
    path("message-tracking/", views.message_tracking, name="tracking"),
    path("message-tracking/path/", views.message_path, name="tracking-path"),
    path("protocol-logs/", views.protocol_logs, name="protocol-logs"),
    path("mail-route/", mail_route.mail_route, name="mail-route"),
    path("protocol-logs/<str:server>/sessions/<str:session_id>/", views.protocol_session, name="protocol-session"),
    path("protocol-logs/<str:server>/tail/", views.protocol_tail, name="protocol-tail"),
    path("topology/", topology.topology, name="topology"),
]

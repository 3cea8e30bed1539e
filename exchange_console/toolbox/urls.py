from django.urls import path

from exchange_console.toolbox import views

app_name = "toolbox"

urlpatterns = [
    path("message-tracking/", views.message_tracking, name="tracking"),
    path("message-tracking/path/", views.message_path, name="tracking-path"),
    path("protocol-logs/", views.protocol_logs, name="protocol-logs"),
    path("protocol-logs/<str:server>/sessions/<str:session_id>/", views.protocol_session, name="protocol-session"),
    path("protocol-logs/<str:server>/tail/", views.protocol_tail, name="protocol-tail"),
]

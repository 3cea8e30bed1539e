"""What a server's transport worker reported about its bindings is visible in the console and the shell."""
from django.contrib.auth import get_user_model

from exchange_console.organization.models import TransportServer
from tests.shell_helpers import shell_lines

TAKEN = "[Errno 98] error while attempting to bind on address ('0.0.0.0', 2587): address already in use"


def report(server, bindings):
    """What transport.worker.record_listener_status writes (tests/test_receive_worker.py runs the real one)."""
    TransportServer.objects.filter(pk=server.pk).update(receive_listener_status={"bindings": bindings})


def test_before_a_worker_reports_every_binding_is_not_running(hub):
    assert shell_lines("Get-ReceiveConnector 'Default HUB01' | fl ListenerStatus") == [
        "ListenerStatus : 0.0.0.0:2025 Not running"]
    assert shell_lines("Get-TransportServer HUB01 | fl ReceiveListenerStatus") == [
        "ReceiveListenerStatus : Not running"]


def test_a_binding_that_cannot_open_shows_in_the_shell_and_the_console(hub, client):
    report(hub, {"0.0.0.0:2025": "Listening", "0.0.0.0:2587": TAKEN})
    assert shell_lines("Get-ReceiveConnector 'Client HUB01' | fl ListenerStatus") == [
        f"ListenerStatus : 0.0.0.0:2587 {TAKEN}"]
    assert shell_lines("Get-ReceiveConnector 'Default HUB01' | fl ListenerStatus") == [
        "ListenerStatus : 0.0.0.0:2025 Listening"]
    (status,) = shell_lines("Get-TransportServer HUB01 | fl ReceiveListenerStatus")
    assert status == f"ReceiveListenerStatus : 0.0.0.0:2025 Listening; 0.0.0.0:2587 {TAKEN}"
    client.force_login(get_user_model().objects.create_superuser("olga", password="Corr3ct-Horse!"))
    page = client.get("/console/servers/hub-transport/HUB01/").content.decode()
    assert "Listener Status" in page and "address already in use" in page

"""Organization Configuration > Hub Transport > Routing Group Connectors: the list Exchange 2010's console shows
(name, routing groups, cost, size limit) and each connector's properties, read-only: they are managed in the shell."""
import pytest

from exchange_console.connectors.models import RoutingGroupConnector
from exchange_console.organization.models import Installation, Mailbox
from tests.console_helpers import dialog_data, text
from tests.shell_helpers import ems

LIST = "/console/organization/hub-transport/routing-group-connectors/"


@pytest.fixture
def interop(hub):
    ems("New-RoutingGroup 'First Routing Group' -Legacy\n"
        "New-LegacyExchangeServer EX2003 -Fqdn ex2003.contoso.com -RoutingGroup 'First Routing Group'\n"
        "New-RoutingGroupConnector Interop -SourceTransportServers HUB01 -TargetTransportServers EX2003 -Cost 5 "
        "-MaxMessageSize 20MB -BiDirectional $true")
    return RoutingGroupConnector.objects.get(routing_group__name="Exchange Routing Group (DWBGZMFD01QNBJR)")


def test_the_list_shows_both_directions_with_the_emc_columns(admin_client, interop):
    page = text(admin_client.get(LIST))
    assert "Routing Group Connectors" in page
    assert "Name Source Routing Group Target Routing Group Cost MaxMessageSize" in page
    assert "Interop Exchange Routing Group (DWBGZMFD01QNBJR) First Routing Group 5 20 MB" in page
    assert "Interop First Routing Group Exchange Routing Group (DWBGZMFD01QNBJR) 5 20 MB" in page


def test_the_properties_are_shown_and_the_dialog_says_to_use_the_shell(admin_client, interop):
    url = f"/console/properties/routing-group-connector/{interop.pk}/"
    response = admin_client.get(url)
    assert "managed in the Exchange Management Shell" in text(response)
    html = response.content.decode()
    for value in ("EX2003", "HUB01", "First Routing Group", 'value="5"'):
        assert value in html, value
    assert "disabled" in html and 'value="apply"' not in html
    response = admin_client.post(url, {"Cost": "7", "version": interop.version})
    assert response.status_code == 403
    assert RoutingGroupConnector.objects.get(pk=interop.pk).cost == 5


def test_an_edge_transport_servers_own_console_has_no_such_list(admin_client, hub):
    assert "Routing Group Connectors" in text(admin_client.get("/console/organization/hub-transport/send-connectors/"))
    Installation.objects.create(kind=Installation.EDGE)
    assert admin_client.get(LIST).status_code == 404
    assert "Routing Group Connectors" not in text(
        admin_client.get("/console/organization/hub-transport/send-connectors/"))


def test_a_mailboxs_dialog_shows_and_sets_its_legacy_database(admin_client, interop):
    ems("New-Mailbox Lee -PrimarySmtpAddress lee@contoso.com -Password (ConvertTo-SecureString 'Passw0rd!' "
        "-AsPlainText -Force)")
    lee = Mailbox.objects.get(name="Lee")
    url = f"/console/properties/mailbox/{lee.pk}/"
    database = "EX2003\\First Storage Group\\Mailbox Store (EX2003)"
    admin_client.post(url, dialog_data("mailbox", lee, Database=database))
    lee = Mailbox.objects.get(pk=lee.pk)
    assert lee.server_name == "EX2003"
    assert database in admin_client.get(url).content.decode()
    response = admin_client.post(url, dialog_data("mailbox", lee, Database="EX9\\SG\\Store"))
    assert "isn&#x27;t a legacy Exchange server" in response.content.decode()

"""The connectors' Exchange 2010 parameters in the console's properties dialogs (issue 15, point 5): set from their
tab, the Set- command shown; what is stored without effect here said on the dialog, not shown as working."""
import pytest

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.services import new_object
from tests.console_helpers import dialog_data, text


@pytest.fixture
def connector(hub):
    return new_object(SEND_CONNECTOR, {"Name": "To Partner", "AddressSpaces": "partner.example"})


def url(kind, obj):
    return f"/console/properties/{kind}/{obj.pk}/"


def test_the_send_connector_dialog_sets_error_policies_and_the_source_ip_address(admin_client, connector):
    page = text(admin_client.get(url("send-connector", connector)))
    assert "Retry DNS failures (no NDR)" in page and "Source IP address:" in page
    data = dialog_data("send-connector", connector, action="ok", SourceIPAddress="127.0.0.2",
                       ErrorPolicies=["DowngradeDnsFailures", "DowngradeCustomFailures"])
    response = admin_client.post(url("send-connector", connector), data)
    assert response.status_code == 302
    connector.refresh_from_db()
    assert (connector.source_ip_address, connector.error_policies) == (
        "127.0.0.2", ["DowngradeDnsFailures", "DowngradeCustomFailures"])
    assert ("Set-SendConnector 'To Partner' -ErrorPolicies 'DowngradeDnsFailures, DowngradeCustomFailures' "
            "-SourceIPAddress '127.0.0.2'") in text(admin_client.get(response.url))


def test_the_receive_connector_dialog_says_what_takes_no_effect_here(admin_client, hub):
    connector = ReceiveConnector.objects.get(name="Default HUB01")
    page = admin_client.get(url("receive-connector", connector))
    assert "Saved, but without effect here:" in text(page)
    assert ('value="AuthMechanism: Integrated: Integrated Windows authentication (NTLM, Kerberos) isn&#x27;t offered '
            'here') in page.content.decode()
    data = dialog_data("receive-connector", connector, action="ok", BareLinefeedRejectionEnabled="on")
    response = admin_client.post(url("receive-connector", connector), data)
    assert response.status_code == 302
    assert ReceiveConnector.objects.get(pk=connector.pk).bare_linefeed_rejection_enabled

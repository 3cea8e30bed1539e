"""The checks' findings in the console, before the change is saved: on the wizards' New Connector page and when a
properties dialog's OK is pressed. Warnings let the administrator go on; errors (a routing loop, an open relay) need
"Save this change although it breaks mail flow" ticked, and the completion page lists what was saved with."""
import pytest

from exchange_console.accounts.models import AdminAuditEntry
from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.organization import setup
from tests.console_helpers import WizardDriver, dialog_data, errors, rows, text

CONFIRMATION = "Save this change although it breaks mail flow"
LOOP = "Routing loop: mail for example.invalid goes HUB01 'Loop' -> HUB01\\Default HUB01 -> 'Loop'"
OUTSIDE = ("Send connector 'ISP' authenticates as an Exchange server to relay.isp.example, which isn't one of the "
           "organization's servers: only those accept that authentication.")
OPEN_RELAY = "HUB01 would be an open relay"


@pytest.fixture
def hub(organization):
    """HUB01 as installed, its Default connector on port 25 where a send connector's smart hosts are reached (no
    worker listens in these tests)."""
    return setup.install_transport_server("HUB01", "hub01.contoso.com", "Default-First-Site-Name")


@pytest.fixture
def wizard(admin_client, hub):
    driver = WizardDriver(admin_client, "console:new-send-connector-step", "new_send_connector_wizard")
    driver.start()
    return driver


def through_smart_host(wizard, name, smart_host, mechanism):
    """Every page of the New Send Connector wizard up to New: all addresses through one smart host."""
    wizard.next("introduction", {"Name": name, "Usage": "Custom"}, "address-space")
    wizard.next("address-space", rows("AddressSpaces", {"type": ["SMTP"], "address": ["*"], "cost": ["1"]}),
                "network")
    wizard.next("network", {"DNSRoutingEnabled": "False", **rows("SmartHosts", {"value": [smart_host]})},
                "smart-host-authentication")
    wizard.next("smart-host-authentication", {"SmartHostAuthMechanism": mechanism}, "source-server")
    wizard.next("source-server", {"SourceTransportServers": ["HUB01"]}, "new-connector")
    return wizard.client.get(wizard.url("new-connector"))


def test_it_shows_a_routing_loop_on_the_new_connector_page_and_creates_nothing_unconfirmed(wizard):
    summary = text(through_smart_host(wizard, "Loop", "hub01.contoso.com", "None"))
    assert f"Error: {LOOP}" in summary and CONFIRMATION in summary
    refused = wizard.post("new-connector", {})
    assert refused.status_code == 200
    assert errors(refused) == [f"Force: this connector breaks mail flow (see the errors above). Tick '{CONFIRMATION}' "
                               "to create it anyway, or go back and change it."]
    assert not SendConnector.objects.exists()
    # The summary's run was rolled back whole: no audit entry of a change that never was.
    assert not AdminAuditEntry.objects.filter(object_type="SendConnector").exists()


def test_a_confirmed_routing_loop_is_created_and_the_completion_page_says_so(wizard):
    through_smart_host(wizard, "Loop", "hub01.contoso.com", "None")
    response = wizard.post("new-connector", {"Force": "on"})
    assert response.status_code == 302, errors(response)
    page = text(wizard.client.get(response.url, follow=True))
    assert SendConnector.objects.filter(name="Loop").exists()
    assert "Exchange Management Shell command completed:" in page
    assert f"Saved despite the error: {LOOP}" in page
    assert AdminAuditEntry.objects.filter(cmdlet="New-SendConnector", succeeded=True).count() == 1


def test_a_warning_is_shown_and_the_wizard_goes_on(wizard):
    summary = text(through_smart_host(wizard, "ISP", "relay.isp.example", "ExchangeServer"))
    assert f"Warning: {OUTSIDE}" in summary and CONFIRMATION not in summary
    page = text(wizard.finish("new-connector"))
    assert SendConnector.objects.filter(name="ISP").exists()
    assert f"Warning: {OUTSIDE}" in page


def test_a_connector_without_findings_shows_none(wizard):
    summary = text(through_smart_host(wizard, "Relay", "192.168.1.100", "None"))
    assert "mail flow checks" not in summary and CONFIRMATION not in summary


def dialog_url(obj):
    return f"/console/properties/receive-connector/{obj.pk}/"


def externally_secured(connector, **review):
    """The dialog's post that makes the connector take its clients for Exchange servers without authenticating them
    (Externally Secured), from any address: its Exchange servers group grants them Accept-Any-Recipient."""
    return dialog_data("receive-connector", connector, action="ok", AuthMechanism=["Tls", "ExternalAuthoritative"],
                       **review)


def test_properties_show_an_open_relay_before_ok_and_save_it_only_confirmed(admin_client, hub):
    connector = ReceiveConnector.objects.get(name="Default HUB01")
    shown = admin_client.post(dialog_url(connector), externally_secured(connector))
    assert shown.status_code == 200 and OPEN_RELAY in text(shown) and CONFIRMATION in text(shown)
    seen = shown.context["review"].fingerprint
    connector.refresh_from_db()
    assert "ExternalAuthoritative" not in connector.auth_mechanism

    unconfirmed = admin_client.post(dialog_url(connector), externally_secured(connector, **{"findings-seen": seen}))
    assert errors(unconfirmed) == [f"This change breaks mail flow: tick '{CONFIRMATION}' to save it anyway, or change "
                                   "it."]
    connector.refresh_from_db()
    assert "ExternalAuthoritative" not in connector.auth_mechanism

    saved = admin_client.post(dialog_url(connector), externally_secured(
        connector, **{"findings-seen": seen, "findings-force": "on"}))
    assert saved.status_code == 302, errors(saved)
    connector.refresh_from_db()
    assert "ExternalAuthoritative" in connector.auth_mechanism


def test_properties_show_a_warning_once_then_ok_saves(admin_client, hub):
    from exchange_console.connectors.schemas import SEND_CONNECTOR
    from exchange_console.services import new_object

    isp = new_object(SEND_CONNECTOR, {"Name": "ISP", "AddressSpaces": "*", "DNSRoutingEnabled": False,
                                      "SmartHosts": "relay.isp.example", "SourceTransportServers": "HUB01"})
    url = f"/console/properties/send-connector/{isp.pk}/"
    data = dialog_data("send-connector", isp, action="apply", SmartHostAuthMechanism="ExchangeServer")
    shown = admin_client.post(url, data, HTTP_HX_REQUEST="true")
    assert f"Warning: {OUTSIDE}" in text(shown) and CONFIRMATION not in text(shown)
    isp.refresh_from_db()
    assert isp.smart_host_auth_mechanism == "None"

    applied = admin_client.post(url, {**data, "findings-seen": shown.context["review"].fingerprint},
                                HTTP_HX_REQUEST="true")
    isp.refresh_from_db()
    assert isp.smart_host_auth_mechanism == "ExchangeServer"
    assert "The change was saved with these findings" in text(applied) and OUTSIDE in text(applied)


def test_a_change_without_findings_saves_at_the_first_ok(admin_client, hub):
    connector = ReceiveConnector.objects.get(name="Default HUB01")
    response = admin_client.post(dialog_url(connector), dialog_data("receive-connector", connector, action="ok",
                                                                    MaxMessageSize="20 MB (20,971,520 bytes)"))
    assert response.status_code == 302, errors(response)

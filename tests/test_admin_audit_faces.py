"""The admin audit log records each face's changes alike: a wizard, a properties dialog, a shell pipeline,
and a refused change, each with who, from where, the command, the outcome and the changed properties."""
import pytest

from exchange_console.accounts.models import AdminAuditEntry
from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.services import acting_as, new_object
from exchange_console.shell.engine import Session
from exchange_console.shell.host import BufferHost
from tests.console_helpers import WizardDriver, dialog_data, rows


@pytest.fixture
def console(client, olga):
    client.force_login(olga)
    return client


def test_a_wizard_is_audited_with_the_command_the_completion_page_shows(console, hub):
    wizard = WizardDriver(console, "console:new-receive-connector-step", f"new_receive_connector_wizard_{hub.pk}",
                          server="HUB01")
    wizard.start()
    wizard.next("introduction", {"Name": "Relay", "Usage": "Custom"}, "local-network")
    wizard.next("local-network", rows("Bindings", {"address": ["127.0.0.1"], "port": ["2526"]}), "remote-network")
    wizard.next("remote-network", rows("RemoteIPRanges", {"value": ["10.0.0.5"]}), "new-connector")
    wizard.finish("new-connector")
    entry = AdminAuditEntry.objects.get()
    assert (entry.caller, entry.origin, entry.cmdlet, entry.succeeded) == (
        "olga", "127.0.0.1", "New-ReceiveConnector", True)
    assert entry.command == ("New-ReceiveConnector -Name 'Relay' -Server 'HUB01' -Usage 'Custom' "
                             "-Bindings '127.0.0.1:2526' -RemoteIPRanges '10.0.0.5'")
    assert entry.object_identity == "HUB01\\Relay" and entry.changes["RemoteIPRanges"] == ["", "{10.0.0.5}"]


def test_a_properties_change_is_audited_with_its_difference(console):
    connector = ReceiveConnector.objects.get(name="Default HUB01")
    console.post(f"/console/properties/receive-connector/{connector.pk}/",
                 dialog_data("receive-connector", connector, action="ok", Banner="220 Contoso mail"))
    entry = AdminAuditEntry.objects.get(cmdlet="Set-ReceiveConnector")
    assert entry.command == "Set-ReceiveConnector 'HUB01\\Default HUB01' -Banner '220 Contoso mail'"
    assert entry.changes == {"Banner": ["", "220 Contoso mail"]} and entry.succeeded


def test_a_shell_pipeline_is_audited_once_per_object(olga):
    for name in ("To Fabrikam", "To Tailspin"):
        new_object(SEND_CONNECTOR, {"Name": name, "AddressSpaces": "*"})
    with acting_as(olga, "EMS"):
        Session(BufferHost()).run("Get-SendConnector | Where-Object { $_.Name -like 'To *' } | "
                                  "Set-SendConnector -MaxMessageSize 20MB")
    entries = AdminAuditEntry.objects.order_by("object_identity")
    assert [(entry.origin, entry.command) for entry in entries] == [
        ("EMS", "Set-SendConnector 'To Fabrikam' -MaxMessageSize 20MB"),
        ("EMS", "Set-SendConnector 'To Tailspin' -MaxMessageSize 20MB")]


def test_a_refused_change_is_audited_with_its_error(console):
    console.post("/console/accepted-domains/new/", {"Name": "Bad", "DomainName": "*bad.example",
                                                    "DomainType": "Authoritative"})
    entry = AdminAuditEntry.objects.get()
    assert (entry.cmdlet, entry.succeeded, entry.caller) == ("New-AcceptedDomain", False, "olga")
    assert "DomainName: '*bad.example' is not a valid domain name" in entry.error

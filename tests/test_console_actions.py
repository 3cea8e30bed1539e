"""Enable/Disable/Remove from the action pane and the context menu, and the New dialogs."""
import pytest

from exchange_console.accounts.models import RoleGroup, RoleGroupMember
from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.models import AcceptedDomain, Mailbox, RemoteDomain
from exchange_console.organization.schemas import ACCEPTED_DOMAIN
from exchange_console.console import completion
from exchange_console.services import acting_as, new_object
from tests.console_helpers import errors, text


@pytest.fixture
def connector(hub):
    return new_object(SEND_CONNECTOR, {"Name": "To Internet", "AddressSpaces": "*", "DNSRoutingEnabled": True})


def action_url(kind, obj, action):
    return f"/console/objects/{kind}/{obj.pk}/{action}/"


def test_the_list_offers_the_actions_for_each_row(admin_client, connector):
    html = admin_client.get("/console/organization/hub-transport/send-connectors/").content.decode()
    assert f'data-toggle="{action_url("send-connector", connector, "disable")}"' in html
    assert f'data-remove="{action_url("send-connector", connector, "remove")}"' in html
    assert 'data-label="Send connector"' in html and 'data-name="To Internet"' in html


def test_disable_and_enable_through_htmx_refresh_the_list(admin_client, connector):
    response = admin_client.post(action_url("send-connector", connector, "disable"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Trigger"] == "configChanged"
    connector.refresh_from_db()
    assert not connector.enabled
    listing = admin_client.get("/console/organization/hub-transport/send-connectors/", HTTP_HX_REQUEST="true",
                               HTTP_HX_TARGET="result-list")
    assert "To Internet Disabled" in text(listing)
    assert "Exchange Management Shell command completed: Set-SendConnector 'To Internet' -Enabled $false" in text(listing)
    admin_client.post(action_url("send-connector", connector, "enable"), HTTP_HX_REQUEST="true")
    connector.refresh_from_db()
    assert connector.enabled


def test_remove_asks_for_confirmation_naming_the_object(admin_client, connector):
    properties = admin_client.get(f"/console/properties/send-connector/{connector.pk}/").content.decode()
    assert f'href="{action_url("send-connector", connector, "remove")}confirm/"' in properties  # without script
    page = admin_client.get(action_url("send-connector", connector, "remove") + "confirm/")
    assert "Are you sure you want to permanently remove Send connector 'To Internet'?" in text(page)
    assert SendConnector.objects.filter(pk=connector.pk).exists()
    response = admin_client.post(action_url("send-connector", connector, "remove"))
    assert response.status_code == 302
    assert not SendConnector.objects.filter(pk=connector.pk).exists()
    page = text(admin_client.get(response.url))
    assert "Remove-SendConnector 'To Internet'" in page


def test_a_refused_remove_shows_exchanges_message(admin_client, hub):
    domain = AcceptedDomain.objects.get(domain_name="contoso.com")
    new_object(ACCEPTED_DOMAIN,
               {"Name": "fabrikam.com", "DomainName": "fabrikam.com"})
    response = admin_client.post(action_url("accepted-domain", domain, "remove"), follow=True)
    assert "The default accepted domain 'contoso.com' can't be removed" in text(response)
    assert AcceptedDomain.objects.filter(pk=domain.pk).exists()


def test_receive_connectors_are_disabled_from_the_server_pane(admin_client, hub):
    connector = ReceiveConnector.objects.get(name="Client HUB01")
    response = admin_client.post(action_url("receive-connector", connector, "disable"))
    assert response.url == "/console/servers/hub-transport/HUB01/"
    connector.refresh_from_db()
    assert not connector.enabled


def test_actions_an_object_does_not_have_are_not_found(admin_client, hub):
    domain = AcceptedDomain.objects.get()
    assert admin_client.post(action_url("accepted-domain", domain, "disable")).status_code == 404
    server = hub
    assert admin_client.post(action_url("transport-server", server, "remove")).status_code == 404


def test_actions_require_login_and_refuse_other_methods(client, admin_client, connector):
    response = client.post(action_url("send-connector", connector, "remove"))
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert admin_client.get(action_url("send-connector", connector, "remove")).status_code == 405
    assert admin_client.post(action_url("send-connector", connector, "remove") + "confirm/").status_code == 405
    assert SendConnector.objects.filter(pk=connector.pk).exists()


def test_new_accepted_domain_creates_and_shows_the_command(admin_client, hub):
    response = admin_client.post("/console/accepted-domains/new/", {
        "Name": "Fabrikam", "DomainName": "*.fabrikam.com", "DomainType": "InternalRelay"}, follow=True)
    assert AcceptedDomain.objects.get(name="Fabrikam").domain_type == "InternalRelay"
    assert ("Exchange Management Shell command completed: New-AcceptedDomain -Name 'Fabrikam' "
            "-DomainName '*.fabrikam.com' -DomainType 'InternalRelay'") in text(response)


def test_new_accepted_domain_shows_the_error_beside_the_field(admin_client, hub):
    page = admin_client.post("/console/accepted-domains/new/", {
        "Name": "Bad", "DomainName": "*fabrikam.com", "DomainType": "Authoritative"})
    assert errors(page) == ["DomainName: '*fabrikam.com' is not a valid domain name; use contoso.com or *.contoso.com"]
    assert 'value="*fabrikam.com"' in page.content.decode()
    assert "Exchange Management Shell command attempted: New-AcceptedDomain -Name 'Bad'" in text(page)
    assert not AcceptedDomain.objects.filter(name="Bad").exists()


def test_new_mailbox_and_remote_domain(admin_client, hub):
    admin_client.post("/console/mailboxes/new/", {"Name": "Kim", "PrimarySmtpAddress": "kim@contoso.com",
                                                  "Password": "pass word 1"})
    mailbox = Mailbox.objects.get(name="Kim")
    assert mailbox.check_password("pass word 1")
    page = admin_client.post("/console/mailboxes/new/", {"Name": "Lee", "PrimarySmtpAddress": "lee@fabrikam.com",
                                                         "Password": "x"})
    assert errors(page) == ["PrimarySmtpAddress: the domain 'fabrikam.com' is not an accepted domain of this "
                            "organization."]
    admin_client.post("/console/remote-domains/new/", {"Name": "Fabrikam", "DomainName": "fabrikam.com"})
    assert RemoteDomain.objects.filter(domain_name="fabrikam.com").exists()


def test_new_dialogs_require_login(client, hub):
    response = client.get("/console/mailboxes/new/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_an_expired_completion_page_is_not_found(admin_client, hub):
    assert admin_client.get("/console/completion/unknown/").status_code == 404


def test_a_change_the_role_groups_do_not_grant_is_refused_with_its_message(connector, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="x")
    RoleGroupMember.objects.create(user=viewer, role_group=RoleGroup.named(RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT))
    with acting_as(viewer, "127.0.0.1"):
        result, _ = completion.apply("Set", SEND_CONNECTOR, {"Enabled": False}, connector)
    assert not result.succeeded
    assert result.error.startswith("Access denied: viewer isn't allowed to run Set-SendConnector")
    assert result.command == "Set-SendConnector 'To Internet' -Enabled $false"
    connector.refresh_from_db()
    assert connector.enabled

"""What each role group sees and may do, over every console and toolbox URL: allowed pages render, the
actions a role can't take are hidden, and the server refuses them anyway."""
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from exchange_console.accounts.models import RoleGroup, RoleGroupMember
from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.models import AcceptedDomain, Mailbox, RemoteDomain, TransportServer
from exchange_console.organization.schemas import MAILBOX
from exchange_console.services import new_object

ROLES = {
    "org": RoleGroup.ORGANIZATION_MANAGEMENT, "viewer": RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT,
    "server": RoleGroup.SERVER_MANAGEMENT, "recipients": RoleGroup.RECIPIENT_MANAGEMENT, "outsider": None,
}


@pytest.fixture
def objects(second_hub):
    connector = new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
    mailbox = new_object(MAILBOX, {"Name": "Kim", "PrimarySmtpAddress": "kim@contoso.com", "Password": "x1-Passw0rd"})
    hub1 = TransportServer.objects.get(name="HUB01")
    return {"send": connector, "mailbox": mailbox, "hub1": hub1, "hub2": TransportServer.objects.get(name="HUB02"),
            "receive1": ReceiveConnector.objects.filter(server=hub1).first(),
            "receive2": ReceiveConnector.objects.filter(server__name="HUB02").first()}


def signed_in(client, persona, objects):
    user = get_user_model().objects.create_user(persona, password="Corr3ct-Horse!")
    if ROLES[persona]:
        member = RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(ROLES[persona]))
        if persona == "server":
            member.servers.set([objects["hub1"]])
    client.force_login(user)
    return client


def pages(objects):
    return [
        reverse("console:organization", args=["send-connectors"]), reverse("console:organization", args=["accepted-domains"]),
        reverse("console:organization", args=["remote-domains"]), reverse("console:organization", args=["global-settings"]),
        reverse("console:organization", args=["foreign-connectors"]), reverse("console:servers"),
        reverse("console:server", args=["HUB01"]), reverse("console:mailboxes"), reverse("console:toolbox"),
        reverse("console:properties", args=["send-connector", objects["send"].pk]),
        reverse("console:properties", args=["receive-connector", objects["receive1"].pk]),
        reverse("console:properties", args=["mailbox", objects["mailbox"].pk]),
        reverse("console:properties", args=["transport-server", objects["hub1"].pk]),
        reverse("toolbox:queues"), reverse("toolbox:tracking"), reverse("toolbox:protocol-logs"),
        reverse("toolbox:mail-route"),
    ]


@pytest.mark.parametrize("persona", ["org", "viewer", "server", "recipients"])
def test_every_member_of_a_role_group_may_view_every_page(client, objects, persona):
    client = signed_in(client, persona, objects)
    for url in pages(objects):
        assert client.get(url).status_code == 200, url


def test_an_account_in_no_role_group_may_view_nothing(client, objects):
    client = signed_in(client, "outsider", objects)
    for url in pages(objects):
        assert client.get(url).status_code == 403, url


# (what is posted, what must be true afterwards when it succeeds, which personas may)
def changes(objects):
    send, mailbox = objects["send"], objects["mailbox"]
    return [
        (reverse("console:object-action", args=["send-connector", send.pk, "disable"]), {},
         lambda: not SendConnector.objects.get(pk=send.pk).enabled, {"org"}),
        (reverse("console:object-action", args=["receive-connector", objects["receive1"].pk, "disable"]), {},
         lambda: not ReceiveConnector.objects.get(pk=objects["receive1"].pk).enabled, {"org", "server"}),
        (reverse("console:object-action", args=["receive-connector", objects["receive2"].pk, "disable"]), {},
         lambda: not ReceiveConnector.objects.get(pk=objects["receive2"].pk).enabled, {"org"}),
        (reverse("console:object-action", args=["mailbox", mailbox.pk, "remove"]), {},
         lambda: not Mailbox.objects.filter(pk=mailbox.pk).exists(), {"org", "recipients"}),
        (reverse("console:new-accepted-domain"), {"Name": "Fabrikam", "DomainName": "fabrikam.com",
                                                  "DomainType": "Authoritative"},
         lambda: AcceptedDomain.objects.filter(name="Fabrikam").exists(), {"org"}),
        (reverse("console:new-remote-domain"), {"Name": "Partner", "DomainName": "partner.example"},
         lambda: RemoteDomain.objects.filter(name="Partner").exists(), {"org"}),
    ]


@pytest.mark.parametrize("persona", sorted(ROLES))
def test_each_change_succeeds_exactly_for_the_role_groups_that_grant_it(client, objects, persona):
    client = signed_in(client, persona, objects)
    for url, data, happened, allowed in changes(objects):
        client.post(url, data)
        assert happened() == (persona in allowed), (persona, url)


def test_view_only_administrators_see_no_change_actions(client, objects):
    client = signed_in(client, "viewer", objects)
    listing = client.get(reverse("console:organization", args=["send-connectors"])).content.decode()
    assert "New Send Connector..." not in listing and "data-remove=" not in listing
    dialog = client.get(reverse("console:properties", args=["send-connector", objects["send"].pk])).content.decode()
    assert 'value="apply"' not in dialog and "let you view these settings, not change them" in dialog


def test_server_management_sees_actions_only_on_its_servers(client, objects):
    client = signed_in(client, "server", objects)
    own = client.get(reverse("console:server", args=["HUB01"])).content.decode()
    other = client.get(reverse("console:server", args=["HUB02"])).content.decode()
    assert "New Receive Connector..." in own and "data-remove=" in own
    assert "New Receive Connector..." not in other and "data-remove=" not in other
    assert "New Send Connector..." not in client.get(
        reverse("console:organization", args=["send-connectors"])).content.decode()


def test_organization_management_sees_every_action(client, objects):
    client = signed_in(client, "org", objects)
    listing = client.get(reverse("console:organization", args=["send-connectors"])).content.decode()
    assert "New Send Connector..." in listing and "data-remove=" in listing


def test_a_list_notices_when_another_administrator_changes_it(client, objects):
    from exchange_console.services import acting_as, set_object

    olga = signed_in(client, "org", objects)
    listing = olga.get(reverse("console:organization", args=["send-connectors"]))
    stamp = listing.context["stamp"]
    poll = reverse("console:list-changes", args=["send-connectors"]) + f"?stamp={stamp}"
    quiet = olga.get(poll).content.decode()
    assert 'hx-trigger="every 5s"' in quiet and "changed" not in quiet
    otto = get_user_model().objects.create_user("otto", password="Corr3ct-Horse!")
    RoleGroupMember.objects.create(user=otto, role_group=RoleGroup.named(RoleGroup.ORGANIZATION_MANAGEMENT))
    with acting_as(otto, "192.0.2.12"):
        set_object(SEND_CONNECTOR, objects["send"], {"Comment": "otto was here"})
    notice = olga.get(poll).content.decode()
    assert "otto changed send connector 'Out' at " in notice and "Refresh" in notice
    receive_poll = reverse("console:list-changes", args=["receive-connectors"])
    hub2_stamp = olga.get(reverse("console:server", args=["HUB02"])).context["stamp"]
    assert "every 5s" in olga.get(f"{receive_poll}?stamp={hub2_stamp}&server=HUB02").content.decode()


@pytest.mark.parametrize("persona, administrators, audit_log", [
    ("org", True, True), ("viewer", False, True), ("server", False, False), ("recipients", False, False)])
def test_the_console_tree_links_the_administration_pages_a_role_may_open(client, objects, persona, administrators,
                                                                         audit_log):
    page = signed_in(client, persona, objects).get(reverse("console:organization", args=["send-connectors"]))
    html = page.content.decode()
    assert ('href="/administrators/"' in html) == administrators
    assert ('href="/audit-log/"' in html) == audit_log

"""Every URL of the console, the toolbox and the administration pages, for each role group: what each may
open, and the 403 (or 405 for the wrong method) everyone else gets. A new URL must be added here."""
import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from exchange_console.accounts.models import AdminAuditEntry, RoleGroup, RoleGroupMember
from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.services import acting_as, new_object
from tests.queue_data import add_queued_messages

ROLES = {"org": RoleGroup.ORGANIZATION_MANAGEMENT, "viewer": RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT,
         "server": RoleGroup.SERVER_MANAGEMENT, "recipients": RoleGroup.RECIPIENT_MANAGEMENT, "outsider": None}
MEMBERS = {"org", "viewer", "server", "recipients"}


def url_names(patterns=None, namespace=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from url_names(pattern.url_patterns, f"{pattern.namespace}:" if pattern.namespace else namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield namespace + pattern.name


@pytest.fixture
def world(hub):
    connector = new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
    (queue,) = add_queued_messages(hub, 1, queues=1)
    auditor = get_user_model().objects.create_superuser("auditor", "auditor@contoso.com", "Corr3ct-Horse!")
    with acting_as(auditor, "192.0.2.1"):   # an audit entry, for the page of the configuration at it
        new_object(SEND_CONNECTOR, {"Name": "Audited", "AddressSpaces": "audited.example"})
    return {"connector": connector, "receive": ReceiveConnector.objects.filter(server=hub).first(),
            "message": queue.messages.get(), "admin": get_user_model().objects.create_user("someone"),
            "audit_entry": AdminAuditEntry.objects.get()}


def matrix(world):
    """{url name: (path, {persona: expected GET status})}; personas not named get 403."""
    everyone = dict.fromkeys(MEMBERS, 200)
    connector, receive = world["connector"], world["receive"]
    return {
        "login": (reverse("login"), {**dict.fromkeys(ROLES, 302)}),
        "logout": (reverse("logout"), {**dict.fromkeys(ROLES, 405)}),
        "home": (reverse("home"), {**dict.fromkeys(MEMBERS, 302)}),
        "console:organization": (reverse("console:organization", args=["send-connectors"]), everyone),
        "console:servers": (reverse("console:servers"), everyone),
        "console:server": (reverse("console:server", args=["HUB01"]), everyone),
        "console:mailboxes": (reverse("console:mailboxes"), everyone),
        "console:toolbox": (reverse("console:toolbox"), everyone),
        "console:list-changes": (reverse("console:list-changes", args=["send-connectors"]), everyone),
        "console:new-send-connector": (reverse("console:new-send-connector"), {"org": 302}),   # to its first page
        "console:new-send-connector-step": (reverse("console:new-send-connector-step", args=["introduction"]),
                                            {"org": 200}),
        "console:new-receive-connector": (reverse("console:new-receive-connector", args=["HUB01"]),
                                          {"org": 302, "server": 302}),
        "console:new-receive-connector-step": (
            reverse("console:new-receive-connector-step", args=["HUB01", "introduction"]), {"org": 200, "server": 200}),
        "console:new-accepted-domain": (reverse("console:new-accepted-domain"), {"org": 200}),
        "console:new-remote-domain": (reverse("console:new-remote-domain"), {"org": 200}),
        "console:new-mailbox": (reverse("console:new-mailbox"), {"org": 200, "recipients": 200}),
        "console:new-edge-subscription": (reverse("console:new-edge-subscription"), {"org": 200}),
        "console:completion": (reverse("console:completion", args=["expired"]), dict.fromkeys(MEMBERS, 404)),
        "console:properties": (reverse("console:properties", args=["send-connector", connector.pk]), everyone),
        "console:object-action": (reverse("console:object-action", args=["send-connector", connector.pk, "disable"]),
                                  dict.fromkeys(MEMBERS, 405)),
        "console:confirm-action": (reverse("console:confirm-action", args=["receive-connector", receive.pk, "disable"]),
                                   everyone),
        "toolbox:queues": (reverse("toolbox:queues"), everyone),
        "toolbox:queue-action": (reverse("toolbox:queue-action"), dict.fromkeys(MEMBERS, 405)),
        "toolbox:queue-export": (reverse("toolbox:queue-export"), everyone),
        "toolbox:queue-message": (reverse("toolbox:queue-message", args=[world["message"].pk]), everyone),
        "toolbox:tracking": (reverse("toolbox:tracking"), everyone),
        "toolbox:tracking-path": (reverse("toolbox:tracking-path"), everyone),
        "toolbox:protocol-logs": (reverse("toolbox:protocol-logs"), everyone),
        "toolbox:mail-route": (reverse("toolbox:mail-route"), everyone),
        "toolbox:protocol-session": (reverse("toolbox:protocol-session", args=["HUB01", "08D675E58CA1DA38"]), everyone),
        "toolbox:protocol-tail": (reverse("toolbox:protocol-tail", args=["HUB01"]), everyone),
        "toolbox:topology": (reverse("toolbox:topology"), everyone),
        "administrators": (reverse("administrators"), {"org": 200}),
        "new-administrator": (reverse("new-administrator"), {"org": 200}),
        "administrator": (reverse("administrator", args=[world["admin"].pk]), {"org": 200}),
        "audit-log": (reverse("audit-log"), {"org": 200, "viewer": 200}),
        "audit-snapshot": (reverse("audit-snapshot", args=[world["audit_entry"].pk]), {"org": 200, "viewer": 200}),
        "certificates": (reverse("certificates", args=["HUB01"]), everyone),
        "enable-certificate": (reverse("enable-certificate", args=["HUB01", 1]), dict.fromkeys(MEMBERS, 405)),
    }


def test_the_matrix_names_every_url(world):
    assert set(matrix(world)) == set(url_names())


@pytest.mark.parametrize("persona", sorted(ROLES))
def test_each_role_group_gets_exactly_its_pages(client, world, persona):
    user = get_user_model().objects.create_user(f"persona-{persona}", password="Corr3ct-Horse!")
    if ROLES[persona]:
        member = RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(ROLES[persona]))
        if persona == "server":
            member.servers.set([world["receive"].server])
    client.force_login(user)
    for name, (path, expected) in matrix(world).items():
        assert client.get(path).status_code == expected.get(persona, 403), (persona, name)


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    for name, (path, expected) in matrix(world).items():
        if name in ("login", "logout"):
            continue
        response = client.get(path)
        if expected.get("org") == 405:      # POST-only: the method is refused before anything else
            assert response.status_code == 405, name
        else:
            assert response.status_code == 302 and response.url.startswith("/login/"), name


@pytest.mark.parametrize("persona", sorted(ROLES))
def test_routing_group_connectors_are_shown_to_every_member_and_changed_by_none(client, hub, persona):
    """Organization Configuration > Hub Transport > Routing Group Connectors and a connector's properties: every
    member reads them; nobody changes them in the console (the shell manages them, as in Exchange 2010)."""
    from exchange_console.connectors.schemas import ROUTING_GROUP_CONNECTOR
    from exchange_console.organization.schemas import LEGACY_EXCHANGE_SERVER, ROUTING_GROUP

    new_object(ROUTING_GROUP, {"Name": "First Routing Group"})
    new_object(LEGACY_EXCHANGE_SERVER, {"Name": "EX2003", "Fqdn": "ex2003.contoso.com",
                                        "RoutingGroup": "First Routing Group"})
    connector = new_object(ROUTING_GROUP_CONNECTOR, {"Name": "Interop", "SourceTransportServers": "HUB01",
                                                     "TargetTransportServers": "EX2003"})
    user = get_user_model().objects.create_user(f"persona-{persona}", password="Corr3ct-Horse!")
    if ROLES[persona]:
        member = RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(ROLES[persona]))
        if persona == "server":
            member.servers.set([hub])
    client.force_login(user)
    expected = 200 if persona in MEMBERS else 403
    properties = reverse("console:properties", args=["routing-group-connector", connector.pk])
    for path in (reverse("console:organization", args=["routing-group-connectors"]), properties,
                 reverse("console:list-changes", args=["routing-group-connectors"])):
        assert client.get(path).status_code == expected, path
    assert client.post(properties, {"Cost": "5"}).status_code == 403
    assert connector.__class__.objects.get().cost == 1

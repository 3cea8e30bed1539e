"""Organization Management's pages: administrators and their role groups, and the admin audit log."""
import pytest
from django.contrib.auth import get_user_model

from exchange_console.accounts.models import AdminAuditEntry, RoleGroup, RoleGroupMember
from exchange_console.connectors.models import SendConnector

GOOD_PASSWORD = "Tr0ub4dor&3-horse"


def administrator(username, *role_groups):
    user = get_user_model().objects.create_user(username, password=GOOD_PASSWORD)
    for name in role_groups:
        RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(name))
    return user


@pytest.fixture
def olga(hub):
    return administrator("olga", RoleGroup.ORGANIZATION_MANAGEMENT)


@pytest.fixture
def as_olga(client, olga):
    client.force_login(olga)
    return client


def signed_in(client, user):
    client.force_login(user)
    return client


def new_administrator(client, **fields):
    data = {"username": "sam", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD,
            "role_groups": [RoleGroup.SERVER_MANAGEMENT], **fields}
    return client.post("/administrators/new/", data)


def test_organization_management_creates_an_administrator_with_role_groups(as_olga, hub):
    response = new_administrator(as_olga, servers=[hub.pk])
    assert response.status_code == 302
    sam = get_user_model().objects.get(username="sam")
    member = RoleGroupMember.objects.get(user=sam)
    assert member.role_group.name == RoleGroup.SERVER_MANAGEMENT and list(member.servers.all()) == [hub]
    assert sam.check_password(GOOD_PASSWORD)
    listing = as_olga.get("/administrators/").content.decode()
    assert "Server Management (HUB01)" in listing
    entry = AdminAuditEntry.objects.get(cmdlet="New-Administrator")
    assert entry.caller == "olga" and "********" in entry.command and GOOD_PASSWORD not in entry.command


@pytest.mark.parametrize("fields, message", [
    ({"password": "short", "confirm": "short"}, "This password is too short."),
    ({"password": "password123", "confirm": "password123"}, "This password is too common."),
    ({"confirm": "something else"}, "The passwords don&#x27;t match."),
    ({"username": "olga"}, "Name: the administrator &#x27;olga&#x27; already exists."),
])
def test_password_rules_and_names_are_enforced(as_olga, fields, message):
    response = new_administrator(as_olga, **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not get_user_model().objects.filter(username="sam").exists()


def test_changing_role_groups_and_disabling_is_audited(as_olga):
    victor = administrator("victor", RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT)
    response = as_olga.post(f"/administrators/{victor.pk}/",
                            {"role_groups": [RoleGroup.RECIPIENT_MANAGEMENT], "enabled": ""})
    assert response.status_code == 302
    victor.refresh_from_db()
    assert not victor.is_active
    assert list(victor.role_groups.values_list("name", flat=True)) == [RoleGroup.RECIPIENT_MANAGEMENT]
    commands = list(AdminAuditEntry.objects.order_by("id").values_list("command", flat=True))
    assert commands == ["Set-Administrator 'victor' -RoleGroups 'Recipient Management'",
                        "Set-Administrator 'victor' -Enabled $false"]


def test_an_administrator_cannot_disable_their_own_account(as_olga, olga):
    response = as_olga.post(f"/administrators/{olga.pk}/",
                            {"role_groups": [RoleGroup.ORGANIZATION_MANAGEMENT], "enabled": ""})
    assert "you can&#x27;t disable your own account" in response.content.decode()
    olga.refresh_from_db()
    assert olga.is_active


@pytest.mark.parametrize("role_group", [RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT, RoleGroup.SERVER_MANAGEMENT,
                                        RoleGroup.RECIPIENT_MANAGEMENT])
def test_only_organization_management_manages_administrators(client, hub, role_group):
    user = administrator("someone", role_group)
    client = signed_in(client, user)
    assert client.get("/administrators/").status_code == 403
    assert new_administrator(client).status_code == 403
    assert not get_user_model().objects.filter(username="sam").exists()


def test_an_account_in_no_role_group_sees_nothing(client, hub):
    client = signed_in(client, administrator("oscar"))
    assert client.get("/console/organization/hub-transport/send-connectors/").status_code == 403
    assert client.get("/toolbox/message-tracking/").status_code == 403


def test_console_changes_are_audited_with_the_callers_address(as_olga):
    from exchange_console.connectors.schemas import SEND_CONNECTOR
    from exchange_console.services import new_object

    connector = new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
    as_olga.post(f"/console/objects/send-connector/{connector.pk}/disable/", REMOTE_ADDR="192.0.2.44")
    assert not SendConnector.objects.get().enabled
    entry = AdminAuditEntry.objects.get()
    assert (entry.caller, entry.origin, entry.command) == ("olga", "192.0.2.44", "Set-SendConnector 'Out' -Enabled $false")


def test_the_audit_log_page_searches_by_administrator_object_and_cmdlet(as_olga, client):
    from exchange_console.connectors.schemas import SEND_CONNECTOR
    from exchange_console.services import acting_as, new_object, set_object

    victor = administrator("victor", RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT)
    with acting_as(get_user_model().objects.get(username="olga"), "EMS"):
        connector = new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
        set_object(SEND_CONNECTOR, connector, {"Comment": "checked"})
    page = as_olga.get("/audit-log/", {"caller": "olga", "cmdlet": "Set-SendConnector"}).content.decode()
    assert "Set-SendConnector &#x27;Out&#x27; -Comment &#x27;checked&#x27;" in page
    assert "New-SendConnector" not in page
    assert "Comment: (empty) &rarr; checked" in page
    assert signed_in(client, victor).get("/audit-log/", {"object_identity": "Out"}).status_code == 200


@pytest.mark.parametrize("url", ["/administrators/", "/audit-log/"])
def test_admin_pages_refuse_other_methods_and_anonymous_visitors(client, as_olga, url):
    assert as_olga.put(url).status_code == 405
    as_olga.logout()
    assert client.get(url).url.startswith("/login/")

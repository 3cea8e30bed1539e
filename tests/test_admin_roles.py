"""Role groups decide who may change what, in the write path every face goes through; changes are audited."""
import pytest
from django.contrib.auth import get_user_model

from exchange_console.accounts.models import AdminAuditEntry, RoleGroup, RoleGroupMember
from exchange_console.accounts.rbac import AccessDenied
from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR, SEND_CONNECTOR
from exchange_console.organization.models import TransportServer
from exchange_console.organization.schemas import MAILBOX, TRANSPORT_SERVER
from exchange_console.services import ConfigurationError, acting_as, new_object, remove_object, set_object
from tests.shell_helpers import shell


def administrator(username, role_group=None, servers=()):
    user = get_user_model().objects.create_user(username, password="Corr3ct-Horse!")
    if role_group:
        member = RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(role_group))
        member.servers.set(servers)
    return user


@pytest.fixture
def personas(second_hub):
    hub1 = TransportServer.objects.get(name="HUB01")
    return {
        "org": administrator("olga", RoleGroup.ORGANIZATION_MANAGEMENT),
        "viewer": administrator("victor", RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT),
        "server": administrator("sam", RoleGroup.SERVER_MANAGEMENT, servers=[hub1]),
        "recipients": administrator("rita", RoleGroup.RECIPIENT_MANAGEMENT),
        "outsider": administrator("oscar"),
    }


CHANGES = {
    "send connector": lambda: new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"}),
    "receive connector on HUB01": lambda: new_object(RECEIVE_CONNECTOR, {
        "Name": "Relay", "Server": "HUB01", "Bindings": "0.0.0.0:2600", "RemoteIPRanges": "10.0.0.0/8"}),
    "receive connector on HUB02": lambda: new_object(RECEIVE_CONNECTOR, {
        "Name": "Relay", "Server": "HUB02", "Bindings": "0.0.0.0:2600", "RemoteIPRanges": "10.0.0.0/8"}),
    "HUB01 settings": lambda: set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"),
                                         {"MessageRetryInterval": "00:02:00"}),
    "mailbox": lambda: new_object(MAILBOX, {"Name": "Kim", "PrimarySmtpAddress": "kim@contoso.com",
                                            "Password": "P@ssw0rd!"}),
}
ALLOWED = {
    "org": set(CHANGES),
    "viewer": set(),
    "server": {"receive connector on HUB01", "HUB01 settings"},
    "recipients": {"mailbox"},
    "outsider": set(),
}


@pytest.mark.parametrize("persona", sorted(ALLOWED))
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_role_groups_allow_exactly_their_changes(personas, persona, change):
    with acting_as(personas[persona], "192.0.2.10"):
        if change in ALLOWED[persona]:
            CHANGES[change]()
            entry = AdminAuditEntry.objects.get()
            assert (entry.caller, entry.origin, entry.succeeded) == (personas[persona].username, "192.0.2.10", True)
        else:
            with pytest.raises(AccessDenied, match=f"Access denied: {personas[persona].username} isn't allowed"):
                CHANGES[change]()
            entry = AdminAuditEntry.objects.get()
            assert not entry.succeeded and "Access denied" in entry.error


def test_changes_without_a_caller_are_neither_checked_nor_audited(hub):
    new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
    assert not AdminAuditEntry.objects.exists()


def test_an_audit_entry_has_the_command_and_the_difference(personas):
    with acting_as(personas["org"], "EMS"):
        connector = new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*", "SmartHosts": "10.0.0.25",
                                                "DNSRoutingEnabled": False})
        set_object(SEND_CONNECTOR, connector, {"MaxMessageSize": "20MB", "Comment": "bigger"})
        remove_object(SEND_CONNECTOR, SendConnector.objects.get())
    created, changed, removed = AdminAuditEntry.objects.order_by("id")
    assert created.command == ("New-SendConnector -Name 'Out' -AddressSpaces 'SMTP:*;1' -DNSRoutingEnabled $false "
                               "-SmartHosts '[10.0.0.25]'")
    assert created.changes["AddressSpaces"] == ["", "{SMTP:*;1}"]
    assert changed.command == "Set-SendConnector 'Out' -MaxMessageSize 20MB -Comment 'bigger'"
    assert changed.changes == {"MaxMessageSize": ["10 MB (10,485,760 bytes)", "20 MB (20,971,520 bytes)"],
                               "Comment": ["", "bigger"]}
    assert (removed.cmdlet, removed.command, removed.object_identity) == ("Remove-SendConnector",
                                                                          "Remove-SendConnector 'Out'", "Out")
    assert removed.changes["Name"] == ["Out", ""]


def test_a_refused_change_is_audited_with_its_error(personas):
    with acting_as(personas["org"], "192.0.2.10"), pytest.raises(ConfigurationError):
        new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*contoso.com", "Port": 0})
    entry = AdminAuditEntry.objects.get()
    assert not entry.succeeded and entry.object_identity == "Out"
    assert "AddressSpaces: '*contoso.com' is not a valid SMTP address space" in entry.error
    assert entry.command == "New-SendConnector -Name 'Out' -AddressSpaces '*contoso.com' -Port '0'"


def test_secrets_never_reach_the_audit_log(personas):
    with acting_as(personas["org"], "EMS"):
        connector = new_object(SEND_CONNECTOR, {
            "Name": "ISP", "AddressSpaces": "*", "SmartHosts": "smtp.isp.example", "DNSRoutingEnabled": False,
            "SmartHostAuthMechanism": "BasicAuthRequireTLS", "AuthenticationCredential": ("relay", "Sup3r-S3cret")})
        set_object(SEND_CONNECTOR, connector, {"AuthenticationCredential": ("relay", "Other-S3cret")})
        new_object(MAILBOX, {"Name": "Kim", "PrimarySmtpAddress": "kim@contoso.com", "Password": "Mailb0x-S3cret"})
        with pytest.raises(ConfigurationError):
            new_object(MAILBOX, {"Name": "Kim", "PrimarySmtpAddress": "kim@contoso.com", "Password": "Refused-S3cret"})
    logged = repr(list(AdminAuditEntry.objects.values()))
    for secret in ("Sup3r-S3cret", "Other-S3cret", "Mailb0x-S3cret", "Refused-S3cret"):
        assert secret not in logged
    assert "ConvertTo-SecureString '********'" in logged


def test_search_admin_audit_log_finds_changes_by_cmdlet_caller_and_outcome(personas):
    with acting_as(personas["org"], "EMS"):
        connector = new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
        set_object(SEND_CONNECTOR, connector, {"MaxMessageSize": "20MB"})
    with acting_as(personas["viewer"], "192.0.2.7"), pytest.raises(AccessDenied):
        set_object(SEND_CONNECTOR, connector, {"Enabled": False})
    (entry,) = shell("Search-AdminAuditLog -Cmdlets Set-SendConnector -UserIds olga")
    assert entry.get("CmdletParameters") == "Set-SendConnector 'Out' -MaxMessageSize 20MB"
    assert entry.get("ModifiedProperties") == ["MaxMessageSize: 10 MB (10,485,760 bytes) -> 20 MB (20,971,520 bytes)"]
    assert (entry.get("Caller"), entry.get("Succeeded"), entry.get("ObjectModified")) == ("olga", True, "Out")
    (refused,) = shell("Search-AdminAuditLog -IsSuccess $false")
    assert (refused.get("Caller"), refused.get("OriginatingServer")) == ("victor", "192.0.2.7")
    assert len(shell("Search-AdminAuditLog -ObjectIds Out -Parameters MaxMessageSize")) == 1
    assert len(shell("Search-AdminAuditLog -StartDate '01/01/2099'")) == 0
    assert len(shell("Search-AdminAuditLog -ResultSize 2")) == 2


def test_a_stale_save_is_refused_naming_who_changed_what(personas):
    other_admin = administrator("otto", RoleGroup.ORGANIZATION_MANAGEMENT)
    connector = new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
    with acting_as(personas["org"], "192.0.2.10"):
        set_object(SEND_CONNECTOR, connector, {"Comment": "first admin"}, expected_version=1)
    with acting_as(other_admin, "192.0.2.11"), pytest.raises(ConfigurationError) as refused:
        set_object(SEND_CONNECTOR, connector, {"Comment": "second admin"}, expected_version=1)
    message = str(refused.value)
    assert "The object 'Out' was changed by olga at " in message
    assert "(Comment: (empty) -> first admin) after you opened it (version 2, you had 1)" in message
    assert refused.value.last_change.caller == "olga"
    assert SendConnector.objects.get().comment == "first admin"

"""Role groups and Server Management's management scopes from the shell: the same memberships, refusals and audit
entries as the console's Administrators page, since both go through accounts/services.py."""
import pytest
from django.contrib.auth import get_user_model

from exchange_console.accounts import services
from exchange_console.accounts.models import AdminAuditEntry, ManagementScope, RoleGroup, RoleGroupMember
from exchange_console.accounts.rbac import memberships
from exchange_console.services import ConfigurationError, acting_as
from exchange_console.shell.errors import ShellError
from tests.shell_helpers import ems, lines

PASSWORD = "Corr3ct-Horse!"


def make_user(name):
    return get_user_model().objects.create_user(name, password=PASSWORD)


@pytest.fixture
def kim(olga):
    return make_user("kim")


def error_of(line, user=None):
    """The error the shell reports for `line`, as `Cmdlet : message`."""
    with pytest.raises(ShellError) as raised:
        ems(line, user=user)
    return f"{raised.value.command} : {raised.value.message}"


def groups_of(user):
    user._exchange_roles = None  # memberships() caches on the object
    return memberships(user)


# --- reading -------------------------------------------------------------------------------------------------

def test_get_role_group_lists_the_built_in_groups_with_their_members(olga):
    shown = lines(ems("Get-RoleGroup"))
    assert shown[0].split() == ["Name", "Members", "ManagedBy"]
    names = [line for line in shown[2:]]
    assert [line.split("{")[0].strip() for line in names] == sorted(RoleGroup.BUILT_IN)
    assert "{olga}" in next(line for line in names if line.startswith("Organization Management"))


def test_get_role_group_by_name_in_any_case_with_format_list(olga):
    shown = ems("Get-RoleGroup 'organization management' | Format-List Name,Members,ManagedBy,RoleGroupType")
    assert "Name          : Organization Management" in shown
    assert "Members       : {olga}" in shown
    assert "RoleGroupType : Standard" in shown


def test_get_role_group_member_shows_name_and_recipient_type(olga, kim):
    RoleGroupMember.objects.create(user=kim, role_group=RoleGroup.named(RoleGroup.ORGANIZATION_MANAGEMENT))
    shown = lines(ems("Get-RoleGroupMember 'Organization Management'"))
    assert shown[0].split() == ["Name", "RecipientType"]
    assert [line.split() for line in shown[2:]] == [["kim", "User"], ["olga", "User"]]


def test_an_unknown_role_group_isnt_found(olga):
    shown = error_of("Get-RoleGroupMember 'Help Desk'")
    assert "Get-RoleGroupMember : The operation couldn't be performed because object 'Help Desk' couldn't be " \
           "found on 'the role groups of this organization'." in shown


# --- adding and removing, audited ------------------------------------------------------------------------------

def test_add_role_group_member_is_what_the_console_shows_and_is_audited(client, olga, kim):
    ems("Add-RoleGroupMember 'Recipient Management' -Member kim", user=olga)
    assert set(groups_of(kim)) == {RoleGroup.RECIPIENT_MANAGEMENT}
    entry = AdminAuditEntry.objects.get(cmdlet="Add-RoleGroupMember")
    assert (entry.caller, entry.origin, entry.succeeded, entry.object_identity) == (
        "olga", "EMS", True, "Recipient Management")
    assert entry.command == "Add-RoleGroupMember 'Recipient Management' -Member 'kim'"
    assert entry.changes == {"Members": ["", "kim"]}
    client.force_login(olga)
    page = client.get("/administrators/").content.decode()
    assert "<td><a href" in page and "kim" in page and "Recipient Management" in page


def test_remove_role_group_member_asks_first_like_every_remove(olga, kim):
    RoleGroupMember.objects.create(user=kim, role_group=RoleGroup.named(RoleGroup.SERVER_MANAGEMENT))
    shown = ems("Remove-RoleGroupMember 'Server Management' -Member kim", answers=["n"], user=olga)
    assert 'Removing "kim" from role group "Server Management".' in shown
    assert set(groups_of(kim)) == {RoleGroup.SERVER_MANAGEMENT}
    ems("Remove-RoleGroupMember 'Server Management' -Member kim -Confirm:$false", user=olga)
    assert groups_of(kim) == {}
    entry = AdminAuditEntry.objects.get(cmdlet="Remove-RoleGroupMember")
    assert entry.succeeded and entry.changes == {"Members": ["kim", ""]}


def test_whatif_changes_nothing_and_records_nothing(olga, kim):
    shown = ems("Add-RoleGroupMember 'Server Management' -Member kim -WhatIf", user=olga)
    assert 'What if: Adding "kim" to role group "Server Management".' in shown
    assert groups_of(kim) == {}
    assert not AdminAuditEntry.objects.filter(cmdlet="Add-RoleGroupMember").exists()


@pytest.mark.parametrize("line, error", [
    ("Add-RoleGroupMember 'Help Desk' -Member kim",
     "Identity: the role group 'Help Desk' couldn't be found"),
    ("Add-RoleGroupMember 'Server Management' -Member nobody",
     "Member: the user 'nobody' couldn't be found."),
    ("Add-RoleGroupMember 'Organization Management' -Member olga",
     "Member: 'olga' is already a member of the role group 'Organization Management'."),
    ("Remove-RoleGroupMember 'Server Management' -Member kim -Confirm:$false",
     "Member: 'kim' isn't a member of the role group 'Server Management'."),
    ("Remove-RoleGroupMember 'Organization Management' -Member olga -Confirm:$false",
     "Member: 'olga' is the last member of Organization Management; removing it would leave no one able to "
     "manage the organization."),
])
def test_refusals_name_the_parameter_and_are_audited_as_failed(olga, kim, line, error):
    before = {user.username: set(groups_of(user)) for user in (olga, kim)}
    shown = error_of(line, user=olga)
    assert f"{line.split()[0]} : {error}" in shown
    assert {user.username: set(groups_of(user)) for user in (olga, kim)} == before
    entry = AdminAuditEntry.objects.get()
    assert not entry.succeeded and error in entry.error


def test_the_console_refuses_removing_the_last_organization_manager_too(client, olga):
    client.force_login(olga)
    response = client.post(f"/administrators/{olga.pk}/", {"role_groups": [RoleGroup.SERVER_MANAGEMENT],
                                                           "enabled": "on"})
    assert response.status_code == 200
    assert "is the last member of Organization Management" in response.content.decode()
    assert set(groups_of(olga)) == {RoleGroup.ORGANIZATION_MANAGEMENT}


def test_a_second_manager_can_then_be_removed(olga, kim):
    ems("Add-RoleGroupMember 'Organization Management' -Member kim", user=olga)
    ems("Remove-RoleGroupMember 'Organization Management' -Member olga -Confirm:$false", user=kim)
    assert groups_of(olga) == {} and set(groups_of(kim)) == {RoleGroup.ORGANIZATION_MANAGEMENT}


def test_only_organization_management_changes_memberships(olga, kim):
    RoleGroupMember.objects.create(user=kim, role_group=RoleGroup.named(RoleGroup.SERVER_MANAGEMENT))
    shown = error_of("Add-RoleGroupMember 'Organization Management' -Member kim", user=kim)
    assert "Access denied: kim isn't allowed to run Add-RoleGroupMember. Only Organization Management manages " \
           "administrators." in shown
    assert set(groups_of(kim)) == {RoleGroup.SERVER_MANAGEMENT}
    assert not AdminAuditEntry.objects.get(caller="kim").succeeded


# --- management scopes for Server Management ---------------------------------------------------------------------

def test_new_get_and_remove_management_scope(olga, second_hub):
    shown = ems("New-ManagementScope -Name 'HUB01 only' -ServerRestrictionFilter {Name -eq 'HUB01'}", user=olga)
    assert lines(shown)[0].split() == ["Name", "ScopeRestrictionType", "Exclusive", "RecipientRoot",
                                       "RecipientFilter", "ServerFilter"]
    assert lines(ems("Get-ManagementScope"))[2].split() == ["HUB01", "only", "ServerScope", "False", "Name", "-eq",
                                                           "'HUB01'"]
    ems("Remove-ManagementScope 'HUB01 only' -Confirm:$false", user=olga)
    assert not ManagementScope.objects.exists()
    assert list(AdminAuditEntry.objects.order_by("id").values_list("cmdlet", "succeeded")) == [
        ("New-ManagementScope", True), ("Remove-ManagementScope", True)]


@pytest.mark.parametrize("line, error", [
    ("New-ManagementScope -Name X -ServerRestrictionFilter {Colour -eq 'red'}",
     "New-ManagementScope : ServerRestrictionFilter: 'Colour' isn't a property"),
    ("New-ManagementScope -Name X -ServerRestrictionFilter {Name -eq}",
     "New-ManagementScope : ServerRestrictionFilter: expected 'Property -operator value'"),
    ("Add-RoleGroupMember 'Server Management' -Member kim -CustomConfigWriteScope Missing",
     "Add-RoleGroupMember : CustomConfigWriteScope: the management scope 'Missing' couldn't be found."),
    ("Add-RoleGroupMember 'Server Management' -Member kim -CustomConfigWriteScope Nowhere",
     "Add-RoleGroupMember : CustomConfigWriteScope: the management scope 'Nowhere' matches no server"),
    ("Add-RoleGroupMember 'Recipient Management' -Member kim -CustomConfigWriteScope Nowhere",
     "Add-RoleGroupMember : CustomConfigWriteScope: only members of Server Management are limited to servers"),
])
def test_scope_refusals_name_the_parameter(olga, kim, line, error):
    ManagementScope.objects.create(name="Nowhere", server_restriction_filter="Name -eq 'HUB09'")
    assert error in error_of(line, user=olga)
    assert groups_of(kim) == {}
    assert ManagementScope.objects.count() == 1


def test_a_scope_assigned_to_a_member_cant_be_removed(olga, kim, hub):
    ems("New-ManagementScope 'HUB01 only' -ServerRestrictionFilter {Name -eq 'HUB01'}", user=olga)
    ems("Add-RoleGroupMember 'Server Management' -Member kim -CustomConfigWriteScope 'HUB01 only'", user=olga)
    shown = error_of("Remove-ManagementScope 'HUB01 only' -Confirm:$false", user=olga)
    assert "Remove-ManagementScope : Identity: the management scope 'HUB01 only' can't be removed because it's " \
           "assigned to kim." in shown
    assert ManagementScope.objects.filter(name="HUB01 only").exists()


def test_a_member_restricted_by_the_shell_changes_only_that_server(olga, kim, second_hub):
    ems("New-ManagementScope 'HUB01 only' -ServerRestrictionFilter {Name -eq 'HUB01'}", user=olga)
    ems("Add-RoleGroupMember 'Server Management' -Member kim -CustomConfigWriteScope 'HUB01 only'", user=olga)
    member = lines(ems("Get-RoleGroupMember 'Server Management' | Format-List Name,CustomConfigWriteScope,Servers"))
    assert member == ["Name                   : kim", "CustomConfigWriteScope : HUB01 only",
                      "Servers                : {HUB01}"]

    assert "Access denied: kim isn't allowed to run Set-TransportServer on 'HUB02'" in error_of(
        "Set-TransportServer HUB02 -MessageRetryInterval 00:02:00", user=kim)
    assert "Access denied" not in ems("Set-TransportServer HUB01 -MessageRetryInterval 00:02:00", user=kim)
    assert lines(ems("(Get-TransportServer HUB01).MessageRetryInterval; (Get-TransportServer HUB02)."
                     "MessageRetryInterval")) == ["00:02:00", "00:01:00"]


def test_the_console_shows_the_servers_a_scope_gave_and_clears_the_scope_when_it_changes_them(
        client, olga, kim, second_hub):
    ems("New-ManagementScope 'HUB01 only' -ServerRestrictionFilter {Name -eq 'HUB01'}", user=olga)
    ems("Add-RoleGroupMember 'Server Management' -Member kim -CustomConfigWriteScope 'HUB01 only'", user=olga)
    client.force_login(olga)
    assert "Server Management (HUB01)" in client.get("/administrators/").content.decode()
    with acting_as(olga, "127.0.0.1"):
        services.set_role_groups(kim, [RoleGroup.SERVER_MANAGEMENT], [second_hub])
    member = RoleGroupMember.objects.get(user=kim)
    assert member.scope is None and [server.name for server in member.servers.all()] == ["HUB02"]
    ems("Remove-ManagementScope 'HUB01 only' -Confirm:$false", user=olga)
    assert not ManagementScope.objects.exists()


def test_the_write_path_refuses_without_the_shell(olga):
    with acting_as(olga, "127.0.0.1"), pytest.raises(ConfigurationError, match="Member: the user 'ghost'"):
        services.add_role_group_member(RoleGroup.SERVER_MANAGEMENT, "ghost")

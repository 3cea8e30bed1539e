"""Management scopes and role group members as schemas: the parameters Get-ManagementScope and Get-RoleGroupMember
show that New-ManagementScope and Add-RoleGroupMember take back, for the configuration's script
(exchange_console/configuration). Their changes go through accounts/services.py, not the schemas' write path."""
from exchange_console import params as p
from exchange_console.accounts.models import ManagementScope, RoleGroupMember
from exchange_console.schema import ObjectSchema, Param

MANAGEMENT_SCOPE = ObjectSchema(
    noun="ManagementScope",
    model=ManagementScope,
    params=[
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True),
        Param("ServerRestrictionFilter", "server_restriction_filter", p.String(allow_empty=False), mandatory=True),
    ],
    identity=lambda scope: scope.name,
)

ROLE_GROUP_MEMBER = ObjectSchema(
    noun="RoleGroupMember",
    model=RoleGroupMember,
    params=[
        Param("Member", "user", p.String(), getter=lambda member: member.user.username),
        Param("CustomConfigWriteScope", "scope", p.String(),
              getter=lambda member: member.scope.name if member.scope_id else ""),
    ],
    identity=lambda member: member.role_group.name,
)

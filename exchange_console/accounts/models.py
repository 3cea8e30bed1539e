"""Administrators' role groups (Exchange 2010 RBAC) and the admin audit log."""
from django.conf import settings
from django.db import models

from exchange_console.organization.models import TransportServer


class RoleGroup(models.Model):
    """One of Exchange 2010's built-in management role groups; what each allows is in rbac.py."""
    ORGANIZATION_MANAGEMENT = "Organization Management"
    VIEW_ONLY_ORGANIZATION_MANAGEMENT = "View-Only Organization Management"
    SERVER_MANAGEMENT = "Server Management"
    RECIPIENT_MANAGEMENT = "Recipient Management"
    BUILT_IN = (ORGANIZATION_MANAGEMENT, VIEW_ONLY_ORGANIZATION_MANAGEMENT, SERVER_MANAGEMENT, RECIPIENT_MANAGEMENT)

    name = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True, default="")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="RoleGroupMember", related_name="role_groups")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @classmethod
    def named(cls, name):
        """A built-in role group, named in any case (created by a migration; made again if a database flush
        removed it)."""
        built_in = next((group for group in cls.BUILT_IN if group.lower() == str(name).strip().lower()), None)
        if built_in is None:
            raise cls.DoesNotExist(f"'{name}' isn't a role group")
        return cls.objects.get_or_create(name=built_in)[0]


class ManagementScope(models.Model):
    """New-ManagementScope -ServerRestrictionFilter: the servers a Server Management member may change. The
    filter is resolved to servers when the scope is assigned (RoleGroupMember.servers)."""
    name = models.CharField(max_length=64, unique=True)
    server_restriction_filter = models.TextField()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class RoleGroupMember(models.Model):
    """Membership; for Server Management, the servers it covers (none listed: every server) and the management
    scope they came from, when the shell assigned one."""
    role_group = models.ForeignKey(RoleGroup, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_memberships")
    servers = models.ManyToManyField(TransportServer, blank=True)
    scope = models.ForeignKey(ManagementScope, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="members")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["role_group", "user"], name="one_membership_per_group")]


class AdminAuditEntry(models.Model):
    """Who changed what, from where, as which shell command; kept for refused changes too."""
    when = models.DateTimeField(auto_now_add=True, db_index=True)
    caller = models.CharField(max_length=150, db_index=True)   # the administrator's user name
    origin = models.CharField(max_length=64)                    # client IP of the console, or "EMS"
    cmdlet = models.CharField(max_length=64, db_index=True)     # e.g. Set-SendConnector
    command = models.TextField()                                # the whole line, secrets as ********
    object_type = models.CharField(max_length=64)
    object_identity = models.CharField(max_length=300, db_index=True)
    succeeded = models.BooleanField()
    error = models.TextField(blank=True, default="")
    changes = models.JSONField(default=dict)                    # {Parameter: [before, after]} as Get- shows them

    class Meta:
        ordering = ["-when", "-id"]


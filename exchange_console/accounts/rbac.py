"""Exchange 2010 role-based access control, decided in one place for the console, the shell and tasks.

Organization Management may change everything; View-Only Organization Management sees everything and
changes nothing; Server Management changes receive connectors, transport server settings and queues of its
servers; Recipient Management changes mailboxes. Every member of a role group may read the configuration.
"""
from functools import wraps

from django.core.exceptions import PermissionDenied

from exchange_console.accounts.models import RoleGroup, RoleGroupMember

SERVER_NOUNS = {"ReceiveConnector", "TransportServer", "ExchangeCertificate", "Queue", "Message"}
RECIPIENT_NOUNS = {"Mailbox"}


class AccessDenied(PermissionDenied):
    pass


def memberships(user):
    """{role group name: set of server ids (empty: all servers)} for one user, cached on the user object."""
    cached = getattr(user, "_exchange_roles", None)
    if cached is None:
        cached = {}
        rows = RoleGroupMember.objects.filter(user=user).select_related("role_group").prefetch_related("servers")
        for member in rows:
            cached[member.role_group.name] = {server.pk for server in member.servers.all()}
        user._exchange_roles = cached
    return cached


def is_organization_manager(user):
    return user.is_superuser or RoleGroup.ORGANIZATION_MANAGEMENT in memberships(user)


def can_view(user):
    return bool(user and user.is_authenticated and (user.is_superuser or memberships(user)))


def can_view_audit_log(user):
    return is_organization_manager(user) or RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT in memberships(user)


def can_change(user, noun, server=None):
    """May user create, change or remove an object of this noun (on that server, for server objects)?"""
    if not (user and user.is_authenticated):
        return False
    if is_organization_manager(user):
        return True
    roles = memberships(user)
    if noun in RECIPIENT_NOUNS:
        return RoleGroup.RECIPIENT_MANAGEMENT in roles
    if noun in SERVER_NOUNS and RoleGroup.SERVER_MANAGEMENT in roles:
        scope = roles[RoleGroup.SERVER_MANAGEMENT]
        return not scope or (server is not None and server.pk in scope)
    return False


def server_of(schema, obj):
    """The transport server a server-scoped object belongs to (None for organization-wide objects)."""
    return obj if schema.noun == "TransportServer" else getattr(obj, "server", None)


def can_change_object(user, schema, obj):
    return can_change(user, schema.noun, server_of(schema, obj))


def check_change(user, verb, noun, server=None, identity=""):
    if not can_change(user, noun, server):
        target = f" on '{identity}'" if identity else ""
        raise AccessDenied(f"Access denied: {user.get_username()} isn't allowed to run {verb}-{noun}{target}. "
                           f"The role groups you belong to don't grant it.")


def change_permission_required(noun, server_kwarg=None):
    """For views that only serve a change (New... wizards and dialogs): 403 before any page is shown to an
    administrator whose role groups don't grant it."""
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            from exchange_console.organization.models import TransportServer

            server = TransportServer.objects.filter(name=kwargs[server_kwarg]).first() if server_kwarg else None
            if not can_change(request.user, noun, server):
                raise AccessDenied(f"Access denied: your role groups don't allow New-{noun}.")
            return view(request, *args, **kwargs)
        return wrapped
    return decorator

"""Templates hide what the signed-in administrator's role groups don't allow (the write path refuses it anyway)."""
from django import template

from exchange_console.accounts.rbac import can_change, can_view_audit_log, is_organization_manager

register = template.Library()


@register.filter
def may_change(user, noun):
    """{% if request.user|may_change:"SendConnector" %}: organization-wide objects and mailboxes."""
    return can_change(user, noun)


@register.filter
def may_change_on(user, server):
    """{% if request.user|may_change_on:selected_server %}: receive connectors and settings of one server."""
    return can_change(user, "ReceiveConnector", server)


@register.filter
def manages_administrators(user):
    return is_organization_manager(user)


@register.filter
def sees_audit_log(user):
    return can_view_audit_log(user)

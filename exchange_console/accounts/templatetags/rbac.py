"""Templates hide what the signed-in administrator's role groups don't allow (the write path refuses it anyway)."""
from django import template

from exchange_console.accounts.rbac import can_change

register = template.Library()


@register.filter
def may_change(user, noun):
    """{% if request.user|may_change:"SendConnector" %}: organization-wide objects and mailboxes."""
    return can_change(user, noun)


@register.filter
def may_change_on(user, server):
    """{% if request.user|may_change_on:selected_server %}: receive connectors and settings of one server."""
    return can_change(user, "ReceiveConnector", server)

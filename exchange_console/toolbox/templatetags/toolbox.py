from django import template

register = template.Library()


@register.filter
def get_item(row, key):
    """A log field by its Exchange name (date-time, event-id...), which template dot lookups can't spell."""
    return row.get(key, "")

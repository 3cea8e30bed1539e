from django import template

register = template.Library()


@register.filter
def get_item(row, key):
    """A log field by its Exchange name (date-time, event-id...), which template dot lookups can't spell."""
    return row.get(key, "")


@register.filter
def display(record, name):
    """A property as Get-/Format-List shows it (record: a shell record such as ConfigRecord)."""
    return record.display(name)

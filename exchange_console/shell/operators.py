"""PowerShell's comparison operators (-eq -ne -gt -ge -lt -le -like -notlike -match -notmatch -contains
-notcontains): case-insensitive unless the c- form is used, the right side converted to the left side's type,
and an array on the left filtered rather than compared."""
import fnmatch
import re
from datetime import timedelta

from exchange_console.lib import sizes, timespans
from exchange_console.shell.errors import ShellError
from exchange_console.shell.values import ShellObject, Unlimited, to_string, truthy


def compare(operator, left, right, case_sensitive=False):
    if operator in ("contains", "notcontains"):
        found = any(_equal(item, right, case_sensitive) for item in _items(left))
        return found if operator == "contains" else not found
    if isinstance(left, (list, tuple)):
        return [item for item in left if compare(operator, item, right, case_sensitive)]
    return OPERATORS[operator](left, right, case_sensitive)


def _items(value):
    if isinstance(value, (list, tuple)):
        return value
    return [] if value is None else [value]


def _comparable(value):
    """Objects compare by their identity (Exchange's ToString), as `$_.Server -eq 'HUB01'` expects."""
    if hasattr(value, "pk") or isinstance(value, ShellObject):
        return str(value)
    return value


def _convert(right, left):
    """The right operand converted to the left operand's type, as PowerShell does; None if it can't be."""
    if right is None or isinstance(left, Unlimited) or isinstance(right, Unlimited):
        return right
    try:
        if isinstance(left, bool):
            return truthy(right)
        if isinstance(left, (int, float)):
            return right if isinstance(right, (int, float)) else sizes.parse_size(str(right))
        if isinstance(left, timedelta):
            return timespans.parse_timespan(right)
    except ValueError:
        return None
    return right


def _equal(left, right, case_sensitive):
    left, right = _comparable(left), _comparable(right)
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, str):
        right = to_string(right)
        return left == right if case_sensitive else left.lower() == right.lower()
    return left == _convert(right, left)


def _order(left, right, case_sensitive):
    """-1, 0 or 1; None when the operands can't be ordered (PowerShell's $null compares as lowest)."""
    left, right = _comparable(left), _comparable(right)
    if left is None or right is None:
        return None if left is right else (-1 if left is None else 1)
    if isinstance(left, str):
        left, right = (left, to_string(right)) if case_sensitive else (left.lower(), to_string(right).lower())
    else:
        right = _convert(right, left)
        if right is None:
            return None
    return (left > right) - (left < right)


def _like(left, right, case_sensitive):
    text, pattern = to_string(left), to_string(right)
    if not case_sensitive:
        text, pattern = text.lower(), pattern.lower()
    return fnmatch.fnmatchcase(text, pattern)


def _match(left, right, case_sensitive):
    pattern = to_string(right)
    try:
        return re.search(pattern, to_string(left), 0 if case_sensitive else re.IGNORECASE) is not None
    except re.error as error:
        raise ShellError(f"The regular expression pattern {pattern} is not valid: {error}.") from None


def _ordered(test):
    def operator(left, right, case_sensitive):
        order = _order(left, right, case_sensitive)
        return order is not None and test(order)
    return operator


OPERATORS = {
    "eq": _equal,
    "ne": lambda left, right, cs: not _equal(left, right, cs),
    "gt": _ordered(lambda order: order > 0),
    "ge": _ordered(lambda order: order >= 0),
    "lt": _ordered(lambda order: order < 0),
    "le": _ordered(lambda order: order <= 0),
    "like": _like,
    "notlike": lambda left, right, cs: not _like(left, right, cs),
    "match": _match,
    "notmatch": lambda left, right, cs: not _match(left, right, cs),
}

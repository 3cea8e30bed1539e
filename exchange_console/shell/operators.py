"""PowerShell's operators. Comparison (-eq -ne -gt -ge -lt -le -like -notlike -match -notmatch -contains
-notcontains -in -notin): case-insensitive unless the c- form is used, the right side converted to the left side's type,
and an array on the left filtered rather than compared. Arithmetic (+ - * / %) on numbers, strings, arrays,
hash tables and dates, as the left operand's type decides; the string operators -join, -split, -replace and
-f; and the range 1..10."""
import fnmatch
import math
import re
from datetime import datetime, timedelta

from exchange_console.lib import sizes, timespans
from exchange_console.shell.errors import ShellError
from exchange_console.shell.members import format_date, to_datetime
from exchange_console.shell.parser import parse_number
from exchange_console.shell.values import Hashtable, ShellObject, Unlimited, display_value, to_string, truthy


def operate(operator, left, right, case_sensitive=False):
    """The value of `left -operator right` for any binary operator but -and, -or and -xor."""
    if operator in ARITHMETIC:
        return ARITHMETIC[operator](left, right)
    if operator in STRING_OPERATORS:
        return STRING_OPERATORS[operator](left, right, case_sensitive)
    return compare(operator, left, right, case_sensitive)


def compare(operator, left, right, case_sensitive=False):
    if operator in ("contains", "notcontains"):
        found = any(_equal(item, right, case_sensitive) for item in _items(left))
        return found if operator == "contains" else not found
    if operator in ("in", "notin"):   # PowerShell 3.0's mirror of -contains, which admins' scripts use
        return compare("contains" if operator == "in" else "notcontains", right, left, case_sensitive)
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
        if isinstance(left, datetime):  # `$_.DateReceived -lt '2026-01-31'`
            return to_datetime(right)
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
    return matches(left, right, case_sensitive) is not None


def matches(left, right, case_sensitive=False):
    """What -match sets $matches to: the groups by number and by name; None when the text doesn't match.
    The numbers are kept as text, so that `$matches[1]` and `$matches.1` find them alike."""
    found = _regex(to_string(right), case_sensitive).search(to_string(left))
    if found is None:
        return None
    groups = Hashtable({"0": found.group(0)})
    groups.update((str(number), text) for number, text in enumerate(found.groups(), start=1) if text is not None)
    groups.update((name, text) for name, text in found.groupdict().items() if text is not None)
    return groups


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


# --- arithmetic ----------------------------------------------------------------------------------------------------

def number(value):
    """A value as a number for arithmetic: numbers as they are, numeric text converted, $null as 0."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        converted = parse_number(value.strip()) if value.strip() else 0
        if converted is not None:
            return converted
    raise ShellError(f'Cannot convert value "{to_string(value)}" to type "System.Int32". Error: "Input string was '
                     f'not in a correct format."')


def _items_of(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _add(left, right):
    if left is None:
        return right
    if isinstance(left, (list, tuple)):
        return list(left) + _items_of(right)
    if isinstance(left, Hashtable):
        if not isinstance(right, Hashtable):
            raise ShellError("You can add another hash table only to a hash table.")
        duplicate = next((key for key in right if left.has(key)), None)
        if duplicate is not None:
            raise ShellError(f"Item has already been added. Key in dictionary: '{duplicate}'  Key being added: "
                             f"'{duplicate}'")
        return Hashtable({**left, **right})
    if isinstance(left, str):
        return left + to_string(right)
    if isinstance(left, datetime):
        return left + _timespan(right)
    if isinstance(left, timedelta):
        return left + _timespan(right)
    return _numeric(left, right, lambda a, b: a + b, "op_Addition")


def _subtract(left, right):
    if isinstance(left, datetime):
        return left - right if isinstance(right, datetime) else left - _timespan(right)
    if isinstance(left, timedelta):
        return left - _timespan(right)
    return _numeric(left, right, lambda a, b: a - b, "op_Subtraction")


def _multiply(left, right):
    if isinstance(left, (str, list, tuple)):
        times = int(number(right))
        _check_size(len(left) * times)
        return left * times if isinstance(left, str) else list(left) * times
    return _numeric(left, right, lambda a, b: a * b, "op_Multiply")


def _check_size(count):
    """A string, array or range this large would take the shell's memory, as it would take .NET's."""
    if count > MAX_ITEMS:
        raise ShellError("Exception of type 'System.OutOfMemoryException' was thrown.")


def _divide(left, right):
    def divide(a, b):
        if b == 0:
            raise ShellError("Attempted to divide by zero.")
        quotient = a / b
        return int(quotient) if quotient.is_integer() and isinstance(a, int) and isinstance(b, int) else quotient
    return _numeric(left, right, divide, "op_Division")


def _remainder(left, right):
    def remainder(a, b):
        if b == 0:
            raise ShellError("Attempted to divide by zero.")
        result = math.fmod(a, b)  # .NET's remainder takes the dividend's sign
        return int(result) if isinstance(a, int) and isinstance(b, int) else result
    return _numeric(left, right, remainder, "op_Modulus")


def _numeric(left, right, operation, method):
    if not isinstance(left, (int, float, str, type(None))) or isinstance(right, (list, tuple, Hashtable)):
        kind = "System.Object[]" if isinstance(left, (list, tuple)) else type(left).__name__
        raise ShellError(f"Method invocation failed because [{kind}] doesn't contain a method named '{method}'.")
    return operation(number(left), number(right))


def _timespan(value):
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)):  # a number of ticks, as .NET adds them to a DateTime
        return timedelta(microseconds=value / 10)
    return timespans.parse_timespan(to_string(value))


def _range(left, right):
    start, end = int(number(left)), int(number(right))
    _check_size(abs(end - start))
    step = 1 if end >= start else -1
    return list(range(start, end + step, step))


MAX_ITEMS = 50_000_000
MAX_ALIGNMENT = 1_000_000  # .NET refuses a wider alignment in a format item

ARITHMETIC = {"+": _add, "-": _subtract, "*": _multiply, "/": _divide, "%": _remainder, "..": _range}


# --- string operators ----------------------------------------------------------------------------------------------

def join(items, separator=""):
    return to_string(separator).join(display_value(item) for item in _items_of(items))


def split(text, right, case_sensitive=False):
    """-split: by a regular expression, with an optional most-parts count (`$s -split ",", 2`)."""
    pattern, limit = (right[0], right[1]) if isinstance(right, (list, tuple)) and len(right) > 1 else (right, 0)
    regex, most = _regex(to_string(pattern), case_sensitive), max(int(number(limit)) - 1, 0)
    return [part for item in _items_of(text) for part in regex.split(to_string(item), most)]


def split_whitespace(text):
    """The unary form: `-split "a b  c"` splits at runs of white space and drops the empty ends."""
    return [part for item in _items_of(text) for part in to_string(item).split()]


def replace(text, right, case_sensitive=False):
    """-replace: a regular expression and a replacement that may name groups as .NET does ($1, ${name})."""
    items = _items_of(right)
    if len(items) > 2:
        raise ShellError("The -replace operator allows only two elements to follow it, not "
                         f"{len(items)}.")
    pattern, replacement = to_string(items[0]), to_string(items[1]) if len(items) == 2 else ""
    regex = _regex(pattern, case_sensitive)
    substituted = [regex.sub(lambda match: _substitution(match, replacement), to_string(item))
                   for item in _items_of(text)]
    return substituted if isinstance(text, (list, tuple)) else substituted[0]


_DOTNET_GROUP = re.compile(r"\(\?<(?![=!])|\\k<(\w+)>")


def _regex(pattern, case_sensitive):
    """A .NET regular expression: (?<name>...) and \\k<name> are written (?P<name>...) and (?P=name) here."""
    python = _DOTNET_GROUP.sub(lambda found: f"(?P={found.group(1)})" if found.group(1) else "(?P<", pattern)
    try:
        return re.compile(python, 0 if case_sensitive else re.IGNORECASE)
    except re.error as error:
        raise ShellError(f"The regular expression pattern {pattern} is not valid: {error}.") from None


_GROUP_REFERENCE = re.compile(r"\$(?:\$|(\d+)|\{(\w+)\})")


def _substitution(match, replacement):
    def group(reference):
        if reference.group(0) == "$$":
            return "$"
        name = reference.group(1) or reference.group(2)
        try:
            return match.group(int(name) if name.isdigit() else name) or ""
        except (IndexError, re.error):  # a group the pattern doesn't have stays as written, as in .NET
            return reference.group(0)
    return _GROUP_REFERENCE.sub(group, replacement)


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}")


def format_string(pattern, arguments):
    """-f: .NET composite formatting, `{index[,alignment][:format]}`, with `{{` and `}}` for braces."""
    arguments = _items_of(arguments)

    def item(match):
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        index = int(match.group(1))
        if index >= len(arguments):
            raise ShellError("Error formatting a string: Index (zero based) must be greater than or equal to zero "
                             "and less than the size of the argument list..")
        text = _formatted(arguments[index], match.group(3))
        width = int(match.group(2) or 0)
        if abs(width) >= MAX_ALIGNMENT:
            raise ShellError("Error formatting a string: Input string was not in a correct format..")
        return text.ljust(-width) if width < 0 else text.rjust(width)
    return _FORMAT_ITEM.sub(item, to_string(pattern))


def _formatted(value, spec):
    if not spec:
        return display_value(value)
    if isinstance(value, datetime):
        return format_date(value, spec)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return display_value(value)
    kind, digits = spec[0].upper(), spec[1:]
    if kind in "NFPDX" and (digits == "" or digits.isdigit()):
        places = int(digits) if digits else (0 if kind in "DX" else 2)
        if kind == "N":
            return f"{value:,.{places}f}"
        if kind == "F":
            return f"{value:.{places}f}"
        if kind == "P":
            return f"{value * 100:,.{places}f} %"
        if kind == "D":
            return f"{int(value):0{places}d}"
        return f"{int(value):0{places}{'X' if spec[0] == 'X' else 'x'}}"
    return _custom_number(value, spec)


def _custom_number(value, spec):
    """Custom numeric formats made of 0, # , and . (`0.00`, `#,##0`, `000`); other text is left as it is."""
    if not re.fullmatch(r"[0#,]*(\.[0#]*)?", spec):
        return spec
    whole, _, fraction = spec.partition(".")
    text = f"{abs(value):{',' if ',' in whole else ''}.{len(fraction)}f}"
    if fraction.endswith("#"):  # optional places drop their trailing zeros
        kept = len(fraction.rstrip("#"))
        digits, _, decimals = text.partition(".")
        decimals = decimals[:kept] + decimals[kept:].rstrip("0")
        text = digits + ("." + decimals if decimals else "")
    digits, point, decimals = text.partition(".")
    digits = digits.zfill(whole.count("0")) if "," not in whole else digits
    return ("-" if value < 0 else "") + digits + point + decimals


STRING_OPERATORS = {
    "join": lambda left, right, cs: join(left, right),
    "split": split,
    "replace": replace,
    "f": lambda left, right, cs: format_string(left, right),
}

"""What flows through the shell's pipelines: configuration objects under Exchange's property names, custom
objects (Select-Object, Measure-Object), credentials, script blocks, and how each converts to text and back
into a value the service layer accepts."""
from datetime import datetime, timedelta
from functools import total_ordering

from exchange_console import params as p
from exchange_console.lib import sizes, timespans


class ShellObject:
    """An object with named properties, as PowerShell's formatting and Where-/Select-/Sort-Object see it."""

    def property_names(self):
        raise NotImplementedError

    def get(self, name):
        """The property's value (None when the object has no such property, as in PowerShell)."""
        raise NotImplementedError

    def display(self, name):
        return display_value(self.get(name))

    def default_columns(self):
        """The properties a table shows by default; PowerShell lists objects of more than four instead."""
        names = self.property_names()
        return names if len(names) <= 4 else None

    def canonical(self, name):
        """The property's own spelling for a name typed in any case, or None."""
        return next((own for own in self.property_names() if own.lower() == str(name).lower()), None)


class ConfigRecord(ShellObject):
    """A configuration object (send connector, accepted domain...) seen through its schema."""

    def __init__(self, schema, obj, columns=None):
        self.schema, self.obj, self.columns = schema, obj, columns or schema.default_columns
        self.assigned = {}  # `$rc.RemoteIPRanges += ...`: kept in this copy until a Set- cmdlet is given it

    def shown_params(self):
        return [param for param in self.schema.params if param.shown]

    def property_names(self):
        return [param.name for param in self.shown_params()]

    def _param(self, name):
        return next((param for param in self.shown_params() if param.name.lower() == str(name).lower()), None)

    def get(self, name):
        param = self._param(name)
        if param is None:
            return None
        if param.name in self.assigned:
            return self.assigned[param.name]
        return shell_value(param, self.schema.value(self.obj, param))

    def assign(self, name, value):
        self.assigned[self._param(name).name] = value

    def display(self, name):
        param = self._param(name)
        if param is not None and param.name in self.assigned:
            return display_value(self.assigned[param.name])
        return "" if param is None else param.type.format(self.schema.value(self.obj, param))

    def default_columns(self):
        return list(self.columns)

    @property
    def identity(self):
        return self.schema.identity(self.obj)

    def __str__(self):
        return self.identity


class PSObject(ShellObject):
    """A custom object: ordered (name, value) pairs, each optionally with the text its source displayed."""

    def __init__(self, properties, displays=None):
        self.properties, self.displays = dict(properties), dict(displays or {})

    def property_names(self):
        return list(self.properties)

    def get(self, name):
        own = self.canonical(name)
        return None if own is None else self.properties[own]

    def display(self, name):
        own = self.canonical(name)
        if own in self.displays:
            return self.displays[own]
        return display_value(self.get(name))

    def __str__(self):
        return "@{" + "; ".join(f"{name}={display_value(value)}" for name, value in self.properties.items()) + "}"


class SecureString:
    """A password typed or converted in the shell; it never shows itself."""

    def __init__(self, plain):
        self.plain = plain

    def __str__(self):
        return "System.Security.SecureString"

    __repr__ = __str__


class PSCredential(ShellObject):
    def __init__(self, user_name, password):
        self.user_name, self.password = user_name, password

    def property_names(self):
        return ["UserName", "Password"]

    def get(self, name):
        return {"username": self.user_name, "password": self.password}.get(str(name).lower())

    def __str__(self):
        return "System.Management.Automation.PSCredential"


class ScriptBlock:
    def __init__(self, node, source):
        self.node, self.source = node, source

    def __str__(self):
        return self.source[self.node.pos + 1:self.node.end - 1]


class Hashtable(dict):
    """@{...}: keys compared without regard to case, as in PowerShell."""

    def lookup(self, key):
        return next((value for own, value in self.items() if own.lower() == key.lower()), None)

    def has(self, key):
        return any(own.lower() == key.lower() for own in self)


@total_ordering
class Unlimited:
    """Exchange's `Unlimited`: larger than any size or count, equal to the text 'Unlimited'."""

    def __eq__(self, other):
        return isinstance(other, Unlimited) or (isinstance(other, str) and other.strip().lower() == "unlimited")

    def __lt__(self, other):
        return False

    def __hash__(self):
        return hash("unlimited")

    def __str__(self):
        return "Unlimited"


UNLIMITED = Unlimited()


class ByteQuantifiedSize(int):
    """A size in bytes that shows itself as Exchange does: `10 MB (10,485,760 bytes)`."""

    def __str__(self):
        return sizes.format_size(int(self))


def shell_value(param, value):
    """A stored value as scripts see it: sizes and Unlimited behave in comparisons, credentials stay masked."""
    if value is None and getattr(param.type, "unlimited", False):
        return UNLIMITED
    if isinstance(param.type, p.Size):
        return ByteQuantifiedSize(value)
    if isinstance(param.type, p.Credential):
        return PSCredential(value[0], SecureString(value[1])) if value else None
    return value


def service_value(value):
    """A shell value as new_object/set_object take it (model instances, plain strings and numbers)."""
    if isinstance(value, ConfigRecord):
        return value.obj
    if isinstance(value, PSCredential):
        return (value.user_name, service_value(value.password))
    if isinstance(value, SecureString):
        return value.plain
    if isinstance(value, Unlimited):
        return "unlimited"
    if isinstance(value, ByteQuantifiedSize):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (list, tuple)):
        return [service_value(item) for item in value]
    if isinstance(value, ShellObject):
        return value.get("Identity") or str(value)
    return value


def display_value(value):
    """How PowerShell shows a value in a table or list cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(display_value(item) for item in value) + "}"
    if isinstance(value, timedelta):
        return timespans.format_timespan(value)
    if isinstance(value, datetime):  # as Exchange's own timestamps show
        return p.DateTime().format(value)
    return str(value)


def to_string(value):
    """PowerShell's conversion to string (in "...$x..." and for -like): arrays join with spaces."""
    if isinstance(value, (list, tuple)):
        return " ".join(to_string(item) for item in value)
    return display_value(value)


def truthy(value):
    """PowerShell's truth: $null, $false, 0, '' and empty arrays are false; a one-item array is its item."""
    if isinstance(value, (list, tuple)):
        return truthy(value[0]) if len(value) == 1 else bool(value)
    if isinstance(value, (ShellObject, ScriptBlock, SecureString, Unlimited)):
        return True
    return bool(value)


def unroll(value):
    """What a value sends down a pipeline: an array's items one by one, anything else by itself."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [] if value is None else [value]


def collapse(items):
    """A pipeline's output as a value: $null for nothing, the item for one, an array for more."""
    if not items:
        return None
    return items[0] if len(items) == 1 else list(items)

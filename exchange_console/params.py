"""Exchange parameter types: how a value is parsed (from the shell, a form or Python), shown, and written back
as a shell literal.

Every face goes through these, so `-MaxMessageSize 25MB` in the shell, "25MB" in a form field and
`max_message_size=26214400` in a test are one value with one error message. Parsed values are what the
model fields store: ints, bools, strings, timedeltas, lists of canonical strings, model instances.
"""
import ipaddress
from datetime import timedelta

from exchange_console.lib import domains, ipranges, sizes, timespans
from exchange_console.lib.errors import ParameterError


def shell_quote(text):
    return "'" + str(text).replace("'", "''") + "'"


class ParamType:
    multivalued = False

    def parse(self, value):
        raise NotImplementedError

    def format(self, value):
        """The value as Get-/Format-List shows it."""
        return "" if value is None else str(value)

    def render(self, value):
        """The value as a literal on an EMS command line."""
        return "$null" if value is None else shell_quote(self.format(value))


class String(ParamType):
    def __init__(self, max_length=None, allow_empty=True, check=None):
        self.max_length, self.allow_empty, self.check = max_length, allow_empty, check

    def parse(self, value):
        text = "" if value is None else str(value).strip()
        if not text and not self.allow_empty:
            raise ValueError("a value is required")
        if self.max_length and len(text) > self.max_length:
            raise ValueError(f"'{text}' is longer than {self.max_length} characters")
        if text and self.check:
            self.check(text)
        return text

    def render(self, value):
        return shell_quote(value) if value else "$null"


class Bool(ParamType):
    TRUE = {"true", "$true", "1", "yes", "on"}
    FALSE = {"false", "$false", "0", "no", "off", ""}

    def parse(self, value):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValueError(f"'{value}' is not a Boolean; use $true or $false")

    def format(self, value):
        return "True" if value else "False"

    def render(self, value):
        return "$true" if value else "$false"


class Int(ParamType):
    def __init__(self, minimum, maximum, unlimited=False):
        self.minimum, self.maximum, self.unlimited = minimum, maximum, unlimited

    def parse(self, value):
        if value is None or (isinstance(value, str) and value.strip().lower() == "unlimited"):
            if self.unlimited:
                return None
            raise ValueError("'unlimited' is not allowed; give a number")
        if isinstance(value, bool):
            raise ValueError(f"'{value}' is not a number")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"'{value}' is not a whole number") from None
        if not self.minimum <= number <= self.maximum:
            raise ValueError(f"{number} is outside the range {self.minimum} to {self.maximum}")
        return number

    def format(self, value):
        return "Unlimited" if value is None else str(value)

    def render(self, value):
        return "'unlimited'" if value is None else str(value)


class Size(ParamType):
    def __init__(self, minimum=0, maximum=2**63 - 1, unlimited=True):
        self.minimum, self.maximum, self.unlimited = minimum, maximum, unlimited

    def parse(self, value):
        parsed = sizes.parse_size(value)
        if parsed is None:
            if not self.unlimited:
                raise ValueError("'unlimited' is not allowed here")
            return None
        if not self.minimum <= parsed <= self.maximum:
            raise ValueError(
                f"{sizes.format_size(parsed)} is outside the range "
                f"{sizes.format_size(self.minimum)} to {sizes.format_size(self.maximum)}"
            )
        return parsed

    def format(self, value):
        return sizes.format_size(value)

    def render(self, value):
        return sizes.shell_size(value)


class TimeSpan(ParamType):
    def __init__(self, minimum=timedelta(0), maximum=timedelta(days=365)):
        self.minimum, self.maximum = minimum, maximum

    def parse(self, value):
        span = timespans.parse_timespan(value)
        if not self.minimum <= span <= self.maximum:
            raise ValueError(
                f"{timespans.format_timespan(span)} is outside the range "
                f"{timespans.format_timespan(self.minimum)} to {timespans.format_timespan(self.maximum)}"
            )
        return span

    def format(self, value):
        return timespans.format_timespan(value)


class DateTime(ParamType):
    """Read-only timestamps (WhenChanged, NextRetryTime...) as Exchange shows them: 11/28/2026 04:55:13 (UTC)."""

    def format(self, value):
        return "" if value is None else value.strftime("%m/%d/%Y %H:%M:%S")


class Enum(ParamType):
    def __init__(self, *choices, nullable=False):
        self.choices, self.nullable = choices, nullable

    def parse(self, value):
        if value is None or (self.nullable and str(value).strip() in ("", "$null")):
            if self.nullable:
                return None
            raise ValueError(f"a value is required; accepted values: {', '.join(self.choices)}")
        text = str(value).strip()
        for choice in self.choices:
            if choice.lower() == text.lower():
                return choice
        raise ValueError(f"'{text}' is not valid; accepted values: {', '.join(self.choices)}")

    def format(self, value):
        return "" if value is None else value


class MultiValued(ParamType):
    """A list of items. Strings are split on commas, so a form field and a shell array read the same."""
    multivalued = True

    def __init__(self, allow_empty=True):
        self.allow_empty = allow_empty

    def parse_item(self, item):
        raise NotImplementedError

    def parse(self, value):
        items = split_list(value)
        parsed = []
        for item in items:
            canonical = self.parse_item(item)
            if canonical not in parsed:
                parsed.append(canonical)
        if not parsed and not self.allow_empty:
            raise ValueError("at least one value is required")
        return parsed

    def format(self, value):
        return "{" + ", ".join(str(item) for item in value or []) + "}"

    def render(self, value):
        if not value:
            return "$null"
        return ",".join(shell_quote(item) for item in value)


def split_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        items = []
        for item in value:
            items.extend(split_list(item) if isinstance(item, str) else [item])
        return items
    return [part.strip() for part in str(value).split(",") if part.strip()]


class MultiEnum(MultiValued):
    """Flags such as PermissionGroups: 'None' (or the flags' own zero name, e.g. ErrorPolicies' 'Default') stands
    for the empty set and cannot be combined."""

    def __init__(self, *choices, empty="None"):
        super().__init__()
        self.choices, self.empty = choices, empty
        self.enum = Enum(empty, *choices)

    def parse(self, value):
        items = [self.enum.parse(item) for item in split_list(value)]
        if self.empty in items:
            if len(items) > 1:
                raise ValueError(f"{self.empty} can't be combined with other values")
            return []
        return [choice for choice in self.choices if choice in items]

    def format(self, value):
        return ", ".join(value) if value else self.empty

    def render(self, value):
        return shell_quote(", ".join(value) if value else self.empty)


class AddressSpaces(MultiValued):
    def __init__(self, allow_non_smtp=True):
        super().__init__()
        self.allow_non_smtp = allow_non_smtp

    def parse_item(self, item):
        return str(domains.parse_address_space(item, self.allow_non_smtp))


class IPRanges(MultiValued):
    def parse_item(self, item):
        return ipranges.parse_ip_range(item).text


class Bindings(MultiValued):
    def parse_item(self, item):
        return str(ipranges.parse_binding(item))


class SmartHosts(MultiValued):
    def parse_item(self, item):
        return domains.parse_smart_host(item)


class IPEndpoints(MultiValued):
    def parse_item(self, item):
        return ipranges.parse_ip_endpoint(item)


class DomainList(MultiValued):
    """Plain domains, no wildcards (TLSSendDomainSecureList and friends)."""

    def parse_item(self, item):
        text = str(item).strip().lower()
        if "*" in text:
            raise ValueError(f"'{text}': wildcards are not allowed in this list")
        if not domains.is_domain(text):
            raise ValueError(f"'{text}' is not a valid domain name")
        return text


class IPAddress(ParamType):
    """One IPv4 or IPv6 address (SourceIPAddress); 0.0.0.0 means any local address."""

    def parse(self, value):
        text = "" if value is None else str(value).strip().strip("[]")
        try:
            return str(ipaddress.ip_address(text or "0.0.0.0"))
        except ValueError:
            raise ValueError(f"'{text}' is not a valid IP address") from None


def check_fqdn(text):
    if not domains.is_domain(text):
        raise ValueError(f"'{text}' is not a valid fully qualified domain name")


def check_domain_pattern(text):
    if not domains.is_domain_pattern(text):
        raise ValueError(f"'{text}' is not a valid domain name; use contoso.com or *.contoso.com")


def check_smtp_address(text):
    domains.parse_smtp_address(text)


class ObjectRefs(MultiValued):
    """References to other configuration objects by name (e.g. SourceTransportServers)."""

    def __init__(self, queryset_factory, noun):
        super().__init__()
        self.queryset_factory, self.noun = queryset_factory, noun

    def parse(self, value):
        lookup, found = None, []
        for item in split_list(value):
            if not hasattr(item, "pk"):
                if lookup is None:
                    lookup = {obj.name.lower(): obj for obj in self.queryset_factory()}
                name, item = item, lookup.get(str(item).strip().lower())
                if item is None:
                    raise ValueError(f"{self.noun} '{name}' couldn't be found")
            if item not in found:
                found.append(item)
        return found

    def format(self, value):
        return "{" + ", ".join(obj.name for obj in value or []) + "}"

    def render(self, value):
        return ",".join(shell_quote(obj.name) for obj in value) if value else "$null"


class ObjectRef(ParamType):
    def __init__(self, queryset_factory, noun, identity=lambda obj: obj.name):
        self.queryset_factory, self.noun, self.identity = queryset_factory, noun, identity

    def parse(self, value):
        if value is None or value == "":
            return None
        if hasattr(value, "pk"):
            return value
        text = str(value).strip()
        for obj in self.queryset_factory():
            if self.identity(obj).lower() == text.lower() or obj.name.lower() == text.lower():
                return obj
        raise ValueError(f"{self.noun} '{text}' couldn't be found")

    def format(self, value):
        return "" if value is None else self.identity(value)

    def render(self, value):
        return "$null" if value is None else shell_quote(self.identity(value))


class Credential(ParamType):
    """A (user name, password) pair; the password is never shown or rendered in clear."""

    def parse(self, value):
        if value is None or value == "":
            return None
        if isinstance(value, (tuple, list)) and len(value) == 2:
            user, password = value
        elif hasattr(value, "username") and hasattr(value, "password"):
            user, password = value.username, value.password
        else:
            raise ValueError("a credential needs a user name and a password")
        if not str(user).strip() or not password:
            raise ValueError("a credential needs a user name and a password")
        return (str(user).strip(), str(password))

    def format(self, value):
        return "" if not value else value[0]

    def render(self, value):
        if not value:
            return "$null"
        return (f"(New-Object System.Management.Automation.PSCredential({shell_quote(value[0])}, "
                f"(ConvertTo-SecureString '********' -AsPlainText -Force)))")


def parse_param(param_name, param_type, value):
    """Parse one value, turning any refusal into a ParameterError that names the parameter."""
    try:
        return param_type.parse(value)
    except ParameterError:
        raise
    except (ValueError, TypeError) as error:
        raise ParameterError(param_name, f"{param_name}: {error}") from None

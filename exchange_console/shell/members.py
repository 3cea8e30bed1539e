""".NET members that administrators' scripts call, on a whitelist: string methods, dates and time spans, casts,
`[string]::Join`, `[math]::Round`, `[System.IO.File]::ReadAllBytes` (through the shell's file mapping) and the
SecurityIdentifier -> NTAccount translation Exchange scripts use for the anonymous principal. Anything else is
refused with one clear message: the shell runs no arbitrary .NET code."""
import math
import re
from datetime import date, datetime, timedelta, timezone as utc_zone
from functools import partial

from django.utils import timezone

from exchange_console.shell import files
from exchange_console.shell.errors import ShellError
from exchange_console.shell.values import ByteQuantifiedSize, Hashtable, ShellObject, Unlimited, to_string, truthy

# Well-known SIDs (MS-DTYP 2.4.2.4) and the names Translate gives them on an English Windows.
WELL_KNOWN_SIDS = {"S-1-0-0": "NULL SID", "S-1-1-0": "Everyone", "S-1-5-7": "NT AUTHORITY\\ANONYMOUS LOGON",
                   "S-1-5-11": "NT AUTHORITY\\Authenticated Users", "S-1-5-18": "NT AUTHORITY\\SYSTEM",
                   "S-1-5-19": "NT AUTHORITY\\LOCAL SERVICE", "S-1-5-20": "NT AUTHORITY\\NETWORK SERVICE",
                   "S-1-5-32-544": "BUILTIN\\Administrators", "S-1-5-32-545": "BUILTIN\\Users"}
# .NET type names scripts write, by their last part ([System.IO.File] and [IO.File] alike), as PowerShell names them.
TYPES = {"int": "System.Int32", "int32": "System.Int32", "long": "System.Int64", "int64": "System.Int64",
         "double": "System.Double", "decimal": "System.Decimal", "string": "System.String", "bool": "System.Boolean",
         "boolean": "System.Boolean", "datetime": "System.DateTime", "timespan": "System.TimeSpan",
         "byte[]": "System.Byte[]", "string[]": "System.String[]", "int[]": "System.Int32[]",
         "array": "System.Array", "math": "System.Math", "file": "System.IO.File",
         "ntaccount": "System.Security.Principal.NTAccount",
         "securityidentifier": "System.Security.Principal.SecurityIdentifier",
         "psobject": "System.Management.Automation.PSObject",
         "pscustomobject": "System.Management.Automation.PSObject"}
DATE_PATTERNS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y",
                 "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%Y%m%d"]
# .NET custom date format specifiers and their strftime counterparts; longest first, so `yyyy` wins over `yy`.
DATE_SPECIFIERS = [("yyyy", "%Y"), ("yy", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"), ("dddd", "%A"),
                   ("ddd", "%a"), ("dd", "%d"), ("HH", "%H"), ("hh", "%I"), ("mm", "%M"), ("ss", "%S"),
                   ("tt", "%p")]
# .NET standard date formats (en-US), one letter each.
STANDARD_DATE_FORMATS = {"d": "M/d/yyyy", "D": "dddd, MMMM d, yyyy", "g": "M/d/yyyy h:mm tt",
                         "G": "M/d/yyyy h:mm:ss tt", "s": "yyyy-MM-ddTHH:mm:ss", "t": "h:mm tt", "T": "h:mm:ss tt",
                         "u": "yyyy-MM-dd HH:mm:ssZ", "f": "dddd, MMMM d, yyyy h:mm tt",
                         "F": "dddd, MMMM d, yyyy h:mm:ss tt"}
_DATE_TOKEN = re.compile(r"'[^']*'|\\.|yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|fff|ff|f|tt|.",
                         re.DOTALL)


class TypeName:
    """A type literal used as a value, as in `.Translate([System.Security.Principal.NTAccount])`."""

    def __init__(self, full_name):
        self.full_name = full_name

    def __str__(self):
        return self.full_name


class NTAccount(ShellObject):
    def __init__(self, value):
        self.value = value

    def property_names(self):
        return ["Value"]

    def get(self, name):
        return self.value if str(name).lower() == "value" else None

    def __str__(self):
        return self.value


class SecurityIdentifier(NTAccount):
    def translate(self, target):
        if getattr(target, "full_name", None) != TYPES["ntaccount"]:
            raise _call_failed("Translate", 1, "Only NTAccount is a valid target type.")
        if self.value not in WELL_KNOWN_SIDS:
            raise _call_failed("Translate", 1, "Some or all identity references could not be translated.")
        return NTAccount(WELL_KNOWN_SIDS[self.value])


def known_type(written):
    """The full .NET name of a type as a script writes it, or None when it isn't one the shell knows."""
    return TYPES.get(written.lower().rpartition(".")[2])


def type_name(written):
    """The full .NET name of a type, or PowerShell's error for a type it can't find."""
    full_name = known_type(written)
    if full_name is None:
        raise ShellError(f"Unable to find type [{written}]: make sure that the assembly containing this type is "
                         f"loaded.")
    return full_name


def type_literal(written):
    return TypeName(type_name(written))


def new_security_identifier(arguments):
    if len(arguments) != 1 or not re.fullmatch(r"S-1(-\d+)+", to_string(arguments[0]), re.IGNORECASE):
        raise ShellError('Exception calling ".ctor": "Value was invalid. Parameter name: sddlForm"')
    return SecurityIdentifier(to_string(arguments[0]).upper())


# --- casts ---------------------------------------------------------------------------------------------------------

def cast(written, value):
    full_name = type_name(written)
    try:
        return CASTS[full_name](value)
    except KeyError:
        raise ShellError(f'Cannot convert value "{to_string(value)}" to type "{full_name}".') from None
    except (ValueError, TypeError, OverflowError) as error:
        reason = error.args[0] if error.args and isinstance(error.args[0], str) and error.args[0].endswith(".") \
            else "Input string was not in a correct format."
        raise ShellError(f'Cannot convert value "{to_string(value)}" to type "{full_name}". '
                         f'Error: "{reason}"') from None


def to_int(value):
    return int(round(to_float(value)))  # .NET rounds half to even, as Python does


def to_float(value):
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0.0
    try:
        return float(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError):
        raise ValueError("Input string was not in a correct format.") from None


def to_datetime(value):
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return timezone.make_aware(datetime(value.year, value.month, value.day))
    text = to_string(value).strip()
    for pattern in DATE_PATTERNS:
        try:
            return timezone.make_aware(datetime.strptime(text, pattern))
        except ValueError:
            continue
    raise ValueError("String was not recognized as a valid DateTime.")


def to_bytes(value):
    """A byte[] is an array of numbers 0-255, as PowerShell pipes and counts it."""
    items = value if isinstance(value, (list, tuple, bytes)) else [value]
    numbers = [to_int(item) for item in items]
    if any(not 0 <= number <= 255 for number in numbers):
        raise ValueError("Value was either too large or too small for an unsigned byte.")
    return numbers


def to_list(convert):
    def converted(value):
        items = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
        return [convert(item) for item in items]
    return converted


CASTS = {"System.Int32": to_int, "System.Int64": to_int, "System.Double": to_float, "System.Decimal": to_float,
         "System.String": lambda value: "" if value is None else to_string(value), "System.Boolean": truthy,
         "System.DateTime": to_datetime, "System.Byte[]": to_bytes, "System.String[]": to_list(to_string),
         "System.Int32[]": to_list(to_int), "System.Array": to_list(lambda item: item)}


# --- static members ------------------------------------------------------------------------------------------------

def static_member(written, name, arguments):
    """`[type]::Name` (arguments None) or `[type]::Name(arguments)`."""
    full_name = type_name(written)
    found = STATIC.get((full_name, name.lower(), arguments is None))
    if found is None:
        raise refused(full_name, name)
    return invoked(found, name, arguments or [])


def _round(number, digits=0):
    return round(to_float(number), to_int(digits)) if digits else float(round(to_float(number)))


STATIC = {
    ("System.String", "join", False): lambda separator, items: to_string(separator).join(
        to_string(item) for item in (items if isinstance(items, (list, tuple)) else [items])),
    ("System.String", "isnullorempty", False): lambda text: text is None or to_string(text) == "",
    ("System.String", "empty", True): lambda: "",
    ("System.Math", "round", False): _round,
    ("System.Math", "floor", False): lambda number: float(math.floor(to_float(number))),
    ("System.Math", "ceiling", False): lambda number: float(math.ceil(to_float(number))),
    ("System.Math", "abs", False): lambda number: abs(number),
    ("System.Math", "max", False): lambda a, b: max(a, b),
    ("System.Math", "min", False): lambda a, b: min(a, b),
    ("System.DateTime", "now", True): lambda: timezone.localtime(),
    ("System.DateTime", "today", True): lambda: timezone.localtime().replace(hour=0, minute=0, second=0,
                                                                              microsecond=0),
    ("System.DateTime", "parse", False): lambda text: cast("datetime", text),
    ("System.IO.File", "readallbytes", False): lambda path: list(files.read_bytes(to_string(path))),
    ("System.IO.File", "readalltext", False): lambda path: files.read_text(to_string(path)),
    ("System.IO.File", "readalllines", False): lambda path: files.read_text(to_string(path)).splitlines(),
    ("System.IO.File", "exists", False): lambda path: files.exists(to_string(path)),
}


# --- instance members ----------------------------------------------------------------------------------------------

def call_method(target, name, arguments):
    """`$x.Name(arguments)` for the whitelisted members of strings, numbers, sizes, dates and SIDs."""
    methods = next((methods for kind, methods in METHODS if isinstance(target, kind)), {})
    method = methods.get(name.lower())
    if method is None and name.lower() == "tostring" and not arguments:
        return to_string(target)
    if method is None:
        raise refused(dotnet_name(target), name)
    return invoked(partial(method, target), name, arguments)


def invoked(method, name, arguments):
    """The method's result, or PowerShell's error for arguments it can't take."""
    try:
        return method(*arguments)
    except TypeError:
        raise ShellError(f'Cannot find an overload for "{name}" and the argument count: "{len(arguments)}".') \
            from None
    except (ValueError, IndexError, OverflowError) as error:
        raise _call_failed(name, len(arguments), str(error)) from None


def property_of(value, name):
    """Properties of dates and time spans (`.Day`, `.TotalHours`); None for any other, as PowerShell gives."""
    for kind, properties in PROPERTIES:
        if isinstance(value, kind) and name.lower() in properties:
            return properties[name.lower()](value)
    return None


def dotnet_name(value):
    for kind, full_name in ((str, "System.String"), (bool, "System.Boolean"), (int, "System.Int32"),
                            (float, "System.Double"), (datetime, "System.DateTime"),
                            (timedelta, "System.TimeSpan"), (list, "System.Object[]")):
        if isinstance(value, kind):
            return full_name
    return type(value).__name__ if not isinstance(value, ShellObject) else "System.Management.Automation.PSObject"


def refused(full_name, name):
    return ShellError(f"Method calls other than the common string, date and math members are not supported in "
                      f"this shell: [{full_name}] has no member '{name}' here; use a cmdlet instead.")


def _call_failed(name, count, reason):
    return ShellError(f'Exception calling "{name}" with "{count}" argument(s): "{reason}"')


def _split(text, *separators):
    """String.Split(chars): any of the characters separates, as .NET's Split(char[]) does."""
    chars = "".join(to_string(separator) for separator in separators) or " "
    return re.split("[" + re.escape(chars) + "]", text)


def _substring(text, start, length=None):
    start = to_int(start)
    end = len(text) if length is None else start + to_int(length)
    if start < 0 or start > len(text) or end < start or end > len(text):
        raise ValueError("Index and length must refer to a location within the string.")
    return text[start:end]


def _trim(strip):
    def trimmed(text, *chars):
        return strip(text, "".join(to_string(c) for c in chars) or None)
    return trimmed


STRING_METHODS = {
    "tolower": lambda text: text.lower(), "toupper": lambda text: text.upper(),
    "trim": _trim(str.strip), "trimstart": _trim(str.lstrip), "trimend": _trim(str.rstrip),
    "split": _split, "replace": lambda text, old, new: text.replace(to_string(old), to_string(new)),
    "contains": lambda text, part: to_string(part) in text,
    "startswith": lambda text, part: text.startswith(to_string(part)),
    "endswith": lambda text, part: text.endswith(to_string(part)),
    "substring": _substring,
    "indexof": lambda text, part: text.find(to_string(part)),
    "lastindexof": lambda text, part: text.rfind(to_string(part)),
    "padleft": lambda text, width, char=" ": text.rjust(to_int(width), to_string(char)),
    "padright": lambda text, width, char=" ": text.ljust(to_int(width), to_string(char)),
}


def format_number(number, pattern=None):
    """Int32/Double.ToString(format) for .NET's standard numeric formats N, F, P and D (en-US)."""
    if not pattern:
        return to_string(number)
    code, digits = pattern[:1].upper(), pattern[1:]
    if code not in "NFPD" or not digits.isdigit() and digits:
        raise ValueError("Format specifier was invalid.")
    places = int(digits) if digits else (0 if code == "D" else 2)
    if code == "D":
        return f"{int(number):0{places}d}"
    if code == "P":
        return f"{number * 100:,.{places}f} %"
    return f"{number:,.{places}f}" if code == "N" else f"{number:.{places}f}"


def format_date(moment, pattern=None):
    """DateTime.ToString(format) with .NET's custom and standard (en-US) format strings."""
    pattern = STANDARD_DATE_FORMATS.get(pattern or "G", pattern or "G")
    parts = []
    for token in _DATE_TOKEN.findall(pattern):
        if token.startswith("'"):
            parts.append(token[1:-1])
        elif token.startswith("\\"):
            parts.append(token[1:])
        elif token in ("M", "d", "H", "h", "m", "s"):
            value = {"M": moment.month, "d": moment.day, "H": moment.hour, "h": moment.hour % 12 or 12,
                     "m": moment.minute, "s": moment.second}[token]
            parts.append(str(value))
        elif token in ("f", "ff", "fff"):
            parts.append(f"{moment.microsecond:06d}"[:len(token)])
        else:
            code = dict(DATE_SPECIFIERS).get(token)
            parts.append(moment.strftime(code) if code else token)
    return "".join(parts)


def _add(unit):
    return lambda moment, amount: moment + timedelta(**{unit: to_float(amount)})


def _add_months(moment, months):
    month_index = moment.month - 1 + to_int(months)
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    last_day = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30,
                31, 30, 31][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


DATE_METHODS = {
    "adddays": _add("days"), "addhours": _add("hours"), "addminutes": _add("minutes"),
    "addseconds": _add("seconds"), "addmonths": _add_months,
    "addyears": lambda moment, years: _add_months(moment, to_int(years) * 12),
    "tostring": format_date, "toshortdatestring": lambda moment: format_date(moment, "d"),
    "tolongdatestring": lambda moment: format_date(moment, "D"),
    "toshorttimestring": lambda moment: format_date(moment, "t"),
    "touniversaltime": lambda moment: moment.astimezone(utc_zone.utc),
    "tolocaltime": lambda moment: timezone.localtime(moment),
}
DATE_PROPERTIES = {
    "year": lambda moment: moment.year, "month": lambda moment: moment.month, "day": lambda moment: moment.day,
    "hour": lambda moment: moment.hour, "minute": lambda moment: moment.minute,
    "second": lambda moment: moment.second, "dayofweek": lambda moment: moment.strftime("%A"),
    "dayofyear": lambda moment: moment.timetuple().tm_yday,
    "date": lambda moment: moment.replace(hour=0, minute=0, second=0, microsecond=0),
}
TIMESPAN_PROPERTIES = {
    "totaldays": lambda span: span.total_seconds() / 86400, "totalhours": lambda span: span.total_seconds() / 3600,
    "totalminutes": lambda span: span.total_seconds() / 60, "totalseconds": lambda span: span.total_seconds(),
    "days": lambda span: span.days, "hours": lambda span: span.seconds // 3600,
    "minutes": lambda span: span.seconds // 60 % 60, "seconds": lambda span: span.seconds % 60,
}
# Exchange's ByteQuantifiedSize: `$_.MaxMessageSize.Value.ToMB()` in size reports (whole units, rounded down).
SIZE_METHODS = {f"to{unit}": (lambda power: lambda size: int(size) // 1024 ** power)(power)
                for power, unit in enumerate(("bytes", "kb", "mb", "gb", "tb"))}
SIZE_METHODS["tostring"] = lambda size: to_string(size)
SIZE_PROPERTIES = {"value": lambda size: size, "isunlimited": lambda size: False}
METHODS = [(str, STRING_METHODS), (ByteQuantifiedSize, SIZE_METHODS), (bool, {}),
           (Hashtable, {"containskey": lambda table, key: table.has(to_string(key))}),
           ((int, float), {"tostring": format_number}), (datetime, DATE_METHODS),
           (SecurityIdentifier, {"translate": lambda sid, target: sid.translate(target)})]
HASHTABLE_PROPERTIES = {"count": len, "keys": lambda table: list(table), "values": lambda table: list(table.values())}
PROPERTIES = [(Hashtable, HASHTABLE_PROPERTIES), (datetime, DATE_PROPERTIES), (timedelta, TIMESPAN_PROPERTIES),
              (ByteQuantifiedSize, SIZE_PROPERTIES),
              (Unlimited, {"isunlimited": lambda value: True, "value": lambda value: None})]

"""PowerShell's own cmdlets that Exchange scripts lean on: filtering, selecting, sorting, grouping, formatting,
measuring, looping over objects, dates, and making credentials and custom objects."""
import fnmatch

from django.utils import timezone

from exchange_console.shell import members
from exchange_console.shell.errors import NonInteractiveError, ShellError
from exchange_console.shell.formatting import FormattedText, format_list, format_table, select_properties
from exchange_console.shell.registry import CMDLETS, Parameter, cmdlet
from exchange_console.shell.values import (
    ConfigRecord, Hashtable, PSCredential, PSObject, ScriptBlock, SecureString, ShellObject, Unlimited, collapse,
    display_value, to_string, truthy, unroll,
)

INPUT = Parameter("InputObject", pipeline=True, type_name="System.Management.Automation.PSObject")
CREDENTIAL_TYPES = {"system.management.automation.pscredential", "management.automation.pscredential",
                    "automation.pscredential", "pscredential"}
CONSOLE_COLORS = {"black", "darkblue", "darkgreen", "darkcyan", "darkred", "darkmagenta", "darkyellow", "gray",
                  "darkgray", "blue", "green", "cyan", "red", "magenta", "yellow", "white"}


def property_of(obj, name):
    if isinstance(obj, ShellObject):
        return obj.get(name)
    if isinstance(obj, Hashtable):
        return obj.lookup(name)
    return None


@cmdlet("Where-Object",
        Parameter("FilterScript", position=0, mandatory=True, type_name="System.Management.Automation.ScriptBlock",
                  accepts=ScriptBlock), INPUT, aliases=("where", "?"))
def where_object(invocation):
    """`Where-Object { $_.Enabled -and $_.Name -like 'To*' }`. PowerShell 2.0 has only the script block form:
    `Where-Object Enabled -eq $true` (3.0's simplified form) is refused with 2.0's binding error."""
    script = invocation.get("FilterScript")
    return [item for item in invocation.each("InputObject") if truthy(invocation.session.call(script, item))]


@cmdlet("Select-Object", Parameter("Property", position=0, type_name="System.Object[]"),
        Parameter("ExpandProperty"), Parameter("First", type_name="System.Int32"),
        Parameter("Last", type_name="System.Int32"), Parameter("Unique", switch=True), INPUT, aliases=("select",))
def select_object(invocation):
    selected = _select(invocation)
    return _unique(selected) if invocation.get("Unique") else selected


def _select(invocation):
    items = invocation.each("InputObject")
    if "First" in invocation:
        items = items[:whole_number(invocation, "First")]
    if "Last" in invocation:
        last = whole_number(invocation, "Last")
        items = items[-last:] if last else []
    if "ExpandProperty" in invocation:
        name = to_string(invocation.get("ExpandProperty"))
        return [value for item in items for value in unroll(property_of(item, name))]
    if "Property" not in invocation:
        return items
    return [_selected(invocation, item, unroll(invocation.get("Property"))) for item in items]


def _unique(items):
    """The first of each run of equal objects by their text, without regard to case, as -Unique keeps them."""
    seen, kept = set(), []
    for item in items:
        key = str(item).lower() if not isinstance(item, ShellObject) or isinstance(item, ConfigRecord) else \
            tuple(display_value(item.get(name)).lower() for name in item.property_names())
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def whole_number(invocation, name):
    value = invocation.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ShellError(f'Cannot bind parameter \'{name}\'. Cannot convert value "{to_string(value)}" to type '
                     f'"System.Int32".')


def _selected(invocation, item, properties):
    """A new object with the chosen properties; `@{Name=...; Expression={...}}` adds a calculated one."""
    values, displays = {}, {}
    for spec in properties:
        if isinstance(spec, Hashtable):
            name = to_string(spec.lookup("Name") or spec.lookup("Label") or spec.lookup("n") or spec.lookup("l"))
            expression = spec.lookup("Expression") or spec.lookup("e")
            values[name] = (collapse(invocation.session.call(expression, item)) if isinstance(expression, ScriptBlock)
                            else property_of(item, to_string(expression)))
            continue
        names = select_properties(item, [spec]) if isinstance(item, ShellObject) else [to_string(spec)]
        for name in names:
            values[name] = property_of(item, name)
            if isinstance(item, ShellObject) and item.canonical(name):
                displays[name] = item.display(name)
    return PSObject(values, displays)


@cmdlet("Sort-Object", Parameter("Property", position=0, type_name="System.Object[]"),
        Parameter("Descending", switch=True), Parameter("Unique", switch=True), INPUT, aliases=("sort",))
def sort_object(invocation):
    names = [to_string(name) for name in unroll(invocation.get("Property"))]

    def key(item):
        if not names:
            return sort_key(item if not isinstance(item, ShellObject) else str(item))
        return tuple(sort_key(property_of(item, name)) for name in names)

    ordered = sorted(invocation.each("InputObject"), key=key, reverse=bool(invocation.get("Descending")))
    if not invocation.get("Unique"):
        return ordered
    kept = {}  # one object per distinct key: the sort key, without regard to case
    for item in ordered:
        kept.setdefault(key(item), item)
    return list(kept.values())


@cmdlet("Group-Object", Parameter("Property", position=0, type_name="System.Object[]"),
        Parameter("NoElement", switch=True), INPUT, aliases=("group",))
def group_object(invocation):
    """Count, Name and Group of each set of objects with equal property values, in the order first seen; the
    name compares without regard to case, as PowerShell's does."""
    names = [to_string(name) for name in unroll(invocation.get("Property"))]
    groups = {}
    for item in invocation.each("InputObject"):
        values = [property_of(item, name) for name in names] if names else [item]
        name = ", ".join(to_string(value) for value in values)
        groups.setdefault(name.lower(), (name, []))[1].append(item)
    return [PSObject({"Count": len(group), "Name": name} if invocation.get("NoElement") else
                     {"Count": len(group), "Name": name, "Group": group}) for name, group in groups.values()]


@cmdlet("ForEach-Object", Parameter("Process", position=0, type_name="System.Management.Automation.ScriptBlock[]"),
        Parameter("Begin", type_name="System.Management.Automation.ScriptBlock"),
        Parameter("End", type_name="System.Management.Automation.ScriptBlock"), INPUT, aliases=("foreach", "%"))
def foreach_object(invocation):
    """-Begin once, -Process for each object with $_ set to it, -End once; their output goes down the pipeline."""
    blocks = {name: invocation.get(name) for name in ("Begin", "Process", "End")}
    for name, block in blocks.items():
        if block is not None and not isinstance(block, ScriptBlock):
            raise ShellError(f"Cannot bind parameter '{name}'. Cannot convert the \"{to_string(block)}\" value of "
                             f"type \"System.String\" to type \"System.Management.Automation.ScriptBlock\".")
    session = invocation.session
    output = list(session.call(blocks["Begin"], None)) if blocks["Begin"] else []
    for item in invocation.each("InputObject"):
        output.extend(session.call(blocks["Process"], item) if blocks["Process"] else [])
    output.extend(session.call(blocks["End"], None) if blocks["End"] else [])
    return output


def sort_key(value):
    """Orders values as PowerShell does: $null first, numbers by size (Unlimited last), text without case."""
    if value is None:
        return (0, 0)
    if isinstance(value, Unlimited):
        return (2, 0)
    if isinstance(value, (bool, int, float)):
        return (1, value)
    if hasattr(value, "total_seconds"):
        return (1, value.total_seconds())
    return (3, to_string(value).lower())


@cmdlet("Format-List", Parameter("Property", position=0, type_name="System.Object[]"), INPUT, aliases=("fl",))
def format_list_cmdlet(invocation):
    objects, patterns = _formattable(invocation)
    return [FormattedText(format_list(objects, patterns or None))]


@cmdlet("Format-Table", Parameter("Property", position=0, type_name="System.Object[]"),
        Parameter("AutoSize", switch=True), Parameter("Wrap", switch=True), INPUT, aliases=("ft",))
def format_table_cmdlet(invocation):
    objects, patterns = _formattable(invocation)
    if not objects:
        return []
    columns = select_properties(objects[0], patterns) if patterns else (
        objects[0].default_columns() or objects[0].property_names())
    return [FormattedText(format_table(objects, columns))]


def _formattable(invocation):
    """The objects to format and the properties asked for; calculated properties (@{n=...; e={...}}) make new
    objects first, as Select-Object does."""
    specs = unroll(invocation.get("Property"))
    items = invocation.each("InputObject")
    if any(isinstance(spec, Hashtable) for spec in specs):
        selected = [_selected(invocation, item, specs) for item in items]
        return selected, selected[0].property_names() if selected else []
    return ([item if isinstance(item, ShellObject) else PSObject({"Value": item}) for item in items],
            [to_string(spec) for spec in specs])


@cmdlet("Measure-Object", Parameter("Property", position=0), Parameter("Sum", switch=True),
        Parameter("Average", switch=True), Parameter("Maximum", switch=True), Parameter("Minimum", switch=True),
        INPUT, aliases=("measure",))
def measure_object(invocation):
    name = invocation.get("Property")
    values = [property_of(item, to_string(name)) if name else item for item in invocation.each("InputObject")]
    statistics = {"Average": lambda xs: sum(xs) / len(xs), "Sum": sum, "Maximum": max, "Minimum": min}
    wanted = [statistic for statistic in statistics if invocation.get(statistic)]
    numbers = [_numeric(value) for value in values if value is not None] if wanted else []
    result = {"Count": len(values)}
    for statistic, compute in statistics.items():
        result[statistic] = _number(compute(numbers)) if statistic in wanted and numbers else None
    result["Property"] = to_string(name) if name else None
    return [PSObject(result)]


def _numeric(value):
    """A value to add up: a number, or text that reads as one (Import-Csv's values are text)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ShellError(f"Input object \"{display_value(value)}\" is not numeric.")


def _number(value):
    return int(value) if float(value).is_integer() else value


@cmdlet("ConvertTo-SecureString", Parameter("String", position=0, mandatory=True, pipeline=True),
        Parameter("AsPlainText", switch=True), Parameter("Force", switch=True))
def convert_to_secure_string(invocation):
    if not invocation.get("AsPlainText"):
        raise ShellError("Only plain text can be converted here; use -AsPlainText -Force.")
    if not invocation.get("Force"):
        raise ShellError("The system cannot protect plain text input. To suppress this warning and convert the "
                         "plain text to a SecureString, reissue the command specifying the Force parameter.")
    return [SecureString(to_string(text)) for text in invocation.each("String")]


@cmdlet("New-Object", Parameter("TypeName", position=0, mandatory=True),
        Parameter("ArgumentList", position=1, type_name="System.Object[]"),
        Parameter("Property", type_name="System.Collections.Hashtable"))
def new_object(invocation):
    """The objects scripts construct: PSCredential(user, password) for smart host credentials, PSObject with
    -Property @{...} for report rows, SecurityIdentifier("S-1-5-7") to name the anonymous principal."""
    type_name = to_string(invocation.get("TypeName"))
    arguments = unroll(invocation.get("ArgumentList"))
    if type_name.lower() not in CREDENTIAL_TYPES:
        full_name = members.known_type(type_name)
        if full_name == members.TYPES["securityidentifier"]:
            return [members.new_security_identifier(arguments)]
        if full_name == members.TYPES["psobject"]:
            return [PSObject(invocation.get("Property") or {})]
        raise ShellError(f"Cannot find type [{type_name}]: make sure the assembly containing this type is loaded.")
    if len(arguments) != 2:
        raise ShellError(f'Cannot find an overload for "PSCredential" and the argument count: "{len(arguments)}".')
    user, password = arguments
    if not isinstance(password, SecureString):
        raise ShellError('Cannot convert argument "1", for "PSCredential" to type "System.Security.SecureString": '
                         'use (ConvertTo-SecureString "password" -AsPlainText -Force).')
    return [PSCredential(to_string(user), password)]


@cmdlet("Get-Credential", Parameter("Credential", position=0))
def get_credential(invocation):
    host = invocation.session.host
    hint = "Build the credential with New-Object System.Management.Automation.PSCredential instead."
    user = to_string(invocation.get("Credential") or "")
    if not user:
        host.write("\nWindows PowerShell credential request\nEnter your credentials.")
        user = host.read_line("User: ", hint).strip()
    password = host.read_secret(f"Password for user {user}: ", hint)
    if not user or not password:
        raise ShellError("Cannot process command because a user name and a password are required.")
    return [PSCredential(user, SecureString(password))]


@cmdlet("Write-Output", Parameter("InputObject", position=0, pipeline=True), aliases=("echo",))
def write_output(invocation):
    return [value for item in invocation.each("InputObject") for value in unroll(item)]


@cmdlet("Out-Null", INPUT)
def out_null(invocation):
    return []


@cmdlet("Write-Host", Parameter("Object", position=0), Parameter("ForegroundColor"),
        Parameter("BackgroundColor"), Parameter("NoNewline", switch=True), Parameter("Separator"))
def write_host(invocation):
    """Text for the administrator, not the pipeline; colours are checked, as PowerShell does, and not shown."""
    for name in ("ForegroundColor", "BackgroundColor"):
        color = to_string(invocation.get(name, "white"))
        if color.lower() not in CONSOLE_COLORS:
            raise ShellError(f'Cannot bind parameter \'{name}\'. Cannot convert value "{color}" to type '
                             f'"System.ConsoleColor" due to invalid enumeration values. Specify one of the following '
                             f'enumeration values and try again. The possible enumeration values are "Black, DarkBlue, '
                             f'DarkGreen, DarkCyan, DarkRed, DarkMagenta, DarkYellow, Gray, DarkGray, Blue, Green, '
                             f'Cyan, Red, Magenta, Yellow, White".')
    value = invocation.get("Object", "")
    separator = to_string(invocation.get("Separator", " "))
    text = separator.join(to_string(item) for item in value) if isinstance(value, list) else to_string(value)
    host = invocation.session.host
    if invocation.get("NoNewline"):
        host.out.write(text)
    else:
        host.write(text)
    return []


@cmdlet("Read-Host", Parameter("Prompt", position=0), Parameter("AsSecureString", switch=True))
def read_host(invocation):
    """A line typed at the terminal; a script run without one stops here, as PowerShell -NonInteractive does."""
    host = invocation.session.host
    prompt = f"{to_string(invocation.get('Prompt'))}: " if "Prompt" in invocation else ""
    hint = "Give the value in the script or as a variable instead of asking for it."
    if not host.interactive:
        raise NonInteractiveError(hint)
    if invocation.get("AsSecureString"):
        return [SecureString(host.read_secret(prompt, hint))]
    return [host.read_line(prompt, hint)]


@cmdlet("Get-Date", Parameter("Date", position=0, pipeline=True, type_name="System.DateTime"), Parameter("Format"),
        Parameter("Year", type_name="System.Int32"), Parameter("Month", type_name="System.Int32"),
        Parameter("Day", type_name="System.Int32"))
def get_date(invocation):
    """Now, in the console's time zone (TIME_ZONE), or -Date; as text with -Format (a .NET format string)."""
    moment = members.cast("datetime", invocation.get("Date")) if "Date" in invocation else timezone.localtime()
    parts = {part.lower(): whole_number(invocation, part) for part in ("Year", "Month", "Day") if part in invocation}
    try:
        moment = moment.replace(**parts)
    except ValueError as error:
        raise ShellError(f"Cannot process the date: {error}.") from None
    if "Format" in invocation:
        return [members.format_date(moment, to_string(invocation.get("Format")))]
    return [moment]


@cmdlet("Get-Command", Parameter("Name", position=0))
def get_command(invocation):
    pattern = to_string(invocation.get("Name") or "*").lower()
    return [PSObject({"CommandType": "Cmdlet", "Name": registered.name}) for registered in CMDLETS
            if fnmatch.fnmatchcase(registered.name.lower(), pattern)]

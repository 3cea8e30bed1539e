"""PowerShell's own cmdlets that Exchange scripts lean on: filtering, selecting, sorting, formatting, measuring,
and making credentials."""
import fnmatch

from exchange_console.shell.errors import ShellError
from exchange_console.shell.formatting import FormattedText, format_list, format_table, select_properties
from exchange_console.shell.operators import compare
from exchange_console.shell.registry import CMDLETS, Parameter, cmdlet
from exchange_console.shell.values import (
    Hashtable, PSCredential, PSObject, ScriptBlock, SecureString, ShellObject, Unlimited, collapse, display_value,
    to_string, truthy, unroll,
)

INPUT = Parameter("InputObject", pipeline=True, type_name="System.Management.Automation.PSObject")
# Where-Object's operator switches in its simplified form (Where-Object Enabled -EQ $true).
WHERE_OPERATORS = {"EQ": "eq", "NE": "ne", "GT": "gt", "GE": "ge", "LT": "lt", "LE": "le", "Like": "like",
                   "NotLike": "notlike", "Match": "match", "NotMatch": "notmatch", "Contains": "contains",
                   "NotContains": "notcontains"}
CREDENTIAL_TYPES = {"system.management.automation.pscredential", "management.automation.pscredential",
                    "automation.pscredential", "pscredential"}


def property_of(obj, name):
    if isinstance(obj, ShellObject):
        return obj.get(name)
    if isinstance(obj, Hashtable):
        return obj.lookup(name)
    return None


@cmdlet("Where-Object",
        Parameter("FilterScript", position=0, type_name="System.Management.Automation.ScriptBlock"),
        Parameter("Property"), Parameter("Value", position=1, type_name="System.Object"), INPUT,
        *[Parameter(name, switch=True) for name in WHERE_OPERATORS],
        aliases=("where", "?"))
def where_object(invocation):
    """`Where-Object { $_.Enabled -eq $true }` or the simplified `Where-Object Enabled -eq $true`. As in
    PowerShell, a first positional argument that is a script block is the filter, otherwise the property."""
    script = invocation.get("FilterScript")
    if isinstance(script, ScriptBlock):
        return [item for item in invocation.each("InputObject")
                if truthy(invocation.session.call(script, item))]
    prop = invocation.get("Property", script)
    if prop is None:
        raise ShellError("Give a script block ({ $_.Enabled -eq $true }) or a property name "
                         "(Where-Object Enabled -eq $true).")
    operators = [operator for switch, operator in WHERE_OPERATORS.items() if invocation.get(switch)]
    if len(operators) > 1:
        raise ShellError("Parameter set cannot be resolved using the specified named parameters.")
    value = invocation.get("Value")
    keep = []
    for item in invocation.each("InputObject"):
        actual = property_of(item, to_string(prop))
        if truthy(compare(operators[0], actual, value) if operators else actual):
            keep.append(item)
    return keep


@cmdlet("Select-Object", Parameter("Property", position=0, type_name="System.Object[]"),
        Parameter("ExpandProperty"), Parameter("First", type_name="System.Int32"),
        Parameter("Last", type_name="System.Int32"), INPUT, aliases=("select",))
def select_object(invocation):
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
        Parameter("Descending", switch=True), INPUT, aliases=("sort",))
def sort_object(invocation):
    names = [to_string(name) for name in unroll(invocation.get("Property"))]

    def key(item):
        if not names:
            return sort_key(item if not isinstance(item, ShellObject) else str(item))
        return tuple(sort_key(property_of(item, name)) for name in names)

    return sorted(invocation.each("InputObject"), key=key, reverse=bool(invocation.get("Descending")))


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
    patterns = [to_string(name) for name in unroll(invocation.get("Property"))]
    return [FormattedText(format_list(_formattable(invocation), patterns or None))]


@cmdlet("Format-Table", Parameter("Property", position=0, type_name="System.Object[]"),
        Parameter("AutoSize", switch=True), Parameter("Wrap", switch=True), INPUT, aliases=("ft",))
def format_table_cmdlet(invocation):
    objects = _formattable(invocation)
    if not objects:
        return []
    patterns = [to_string(name) for name in unroll(invocation.get("Property"))]
    columns = select_properties(objects[0], patterns) if patterns else (
        objects[0].default_columns() or objects[0].property_names())
    return [FormattedText(format_table(objects, columns))]


def _formattable(invocation):
    return [item if isinstance(item, ShellObject) else PSObject({"Value": item})
            for item in invocation.each("InputObject")]


@cmdlet("Measure-Object", Parameter("Property", position=0), Parameter("Sum", switch=True),
        Parameter("Average", switch=True), Parameter("Maximum", switch=True), Parameter("Minimum", switch=True),
        INPUT, aliases=("measure",))
def measure_object(invocation):
    name = invocation.get("Property")
    values = [property_of(item, to_string(name)) if name else item for item in invocation.each("InputObject")]
    statistics = {"Average": lambda xs: sum(xs) / len(xs), "Sum": sum, "Maximum": max, "Minimum": min}
    wanted = [statistic for statistic in statistics if invocation.get(statistic)]
    numbers = [value for value in values if value is not None]
    if wanted and not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in numbers):
        raise ShellError(f"Input object \"{display_value(numbers[0])}\" is not numeric.")
    result = {"Count": len(values)}
    for statistic, compute in statistics.items():
        result[statistic] = _number(compute(numbers)) if statistic in wanted and numbers else None
    result["Property"] = to_string(name) if name else None
    return [PSObject(result)]


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
        Parameter("ArgumentList", position=1, type_name="System.Object[]"))
def new_object(invocation):
    """Only PSCredential(user, password) is constructed: scripts build smart host credentials this way."""
    type_name = to_string(invocation.get("TypeName"))
    if type_name.lower() not in CREDENTIAL_TYPES:
        raise ShellError(f"Cannot find type [{type_name}]: make sure the assembly containing this type is loaded.")
    arguments = unroll(invocation.get("ArgumentList"))
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


@cmdlet("Write-Host", Parameter("Object", position=0))
def write_host(invocation):
    invocation.session.host.write(to_string(invocation.get("Object", "")))
    return []


@cmdlet("Get-Command", Parameter("Name", position=0))
def get_command(invocation):
    pattern = to_string(invocation.get("Name") or "*").lower()
    return [PSObject({"CommandType": "Cmdlet", "Name": registered.name}) for registered in CMDLETS
            if fnmatch.fnmatchcase(registered.name.lower(), pattern)]

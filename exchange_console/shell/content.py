"""PowerShell 2.0's cmdlets that read and write files and turn objects into text: Get-Content, Set-Content,
Add-Content, Out-File, Export-Csv, Import-Csv, ConvertTo-Html and Out-String. Paths go through the shell's
file mapping (files.py); encodings and defaults are PowerShell 2.0's (Out-File writes Unicode, Export-Csv
ASCII with a #TYPE line, Set-Content the ANSI code page), lines end with CRLF as on Windows."""
import codecs
import csv
import html
import io

from exchange_console.shell import files, members
from exchange_console.shell.errors import ShellError
from exchange_console.shell.formatting import format_output
from exchange_console.shell.registry import Parameter, cmdlet
from exchange_console.shell.utility import whole_number
from exchange_console.shell.values import ConfigRecord, PSObject, ShellObject, to_string, unroll

NEWLINE = "\r\n"
# -Encoding names (System.Text.Encoding as FileSystemCmdletProviderEncoding names them) and their Python codecs.
ENCODINGS = {"unicode": "utf-16-le", "string": "utf-16-le", "unknown": "utf-16-le", "bigendianunicode": "utf-16-be",
             "utf8": "utf-8", "utf7": "utf-7", "utf32": "utf-32-le", "ascii": "ascii", "default": "cp1252",
             "oem": "cp437", "byte": None}
BOMS = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-8": codecs.BOM_UTF8,
        "utf-32-le": codecs.BOM_UTF32_LE}
PATH = Parameter("Path", position=0, mandatory=True)
ENCODING = Parameter("Encoding")
INPUT = Parameter("InputObject", pipeline=True, type_name="System.Management.Automation.PSObject")
HTML_HEAD = ['<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"  '
             '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">', '<html xmlns="http://www.w3.org/1999/xhtml">',
             "<head>"]


def encoding_of(invocation, default):
    name = to_string(invocation.get("Encoding", default)).lower()
    if name not in ENCODINGS:
        raise ShellError(f"Cannot bind parameter 'Encoding'. Cannot convert value \"{name}\" to type "
                         f"\"Microsoft.PowerShell.Commands.FileSystemCmdletProviderEncoding\". Error: \"Unable to "
                         f"match the identifier name {name} to a valid enumerator name. Specify one of the following "
                         f"enumerator names and try again: Unknown, String, Unicode, Byte, BigEndianUnicode, UTF8, "
                         f"UTF7, UTF32, Ascii, Default, Oem\"")
    return name


def encoded(text, encoding, bom=True):
    codec = ENCODINGS[encoding]
    return (BOMS.get(codec, b"") if bom else b"") + text.encode(codec, errors="replace")


def decoded(data, encoding=None):
    """A file's text in the -Encoding given, else by its byte order mark; without one UTF-8, or the ANSI code
    page when it isn't UTF-8."""
    if encoding:
        codec = ENCODINGS[encoding]
        return data.removeprefix(BOMS.get(codec, b"")).decode(codec, errors="replace")
    for codec, bom in BOMS.items():
        if data.startswith(bom) and not (codec == "utf-16-le" and data.startswith(codecs.BOM_UTF32_LE)):
            return data[len(bom):].decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _lines(items):
    return "".join(line + NEWLINE for item in items for line in format_output([item]))


def _write(invocation, path_parameter, text_or_bytes, append=False):
    for path in unroll(invocation.get(path_parameter)):
        files.write(to_string(path), text_or_bytes, append=append)


# --- reading and writing files -------------------------------------------------------------------------------------

@cmdlet("Get-Content", Parameter("Path", position=0, mandatory=True, pipeline=True), ENCODING,
        Parameter("ReadCount", type_name="System.Int64"), Parameter("TotalCount", type_name="System.Int64"),
        aliases=("cat", "gc", "type"))
def get_content(invocation):
    """Lines of text; with -Encoding Byte the bytes (one byte[] with -ReadCount 0, as scripts load certificates)."""
    output = []
    encoding = encoding_of(invocation, "unknown") if "Encoding" in invocation else None
    for path in invocation.each("Path"):
        data = files.read_bytes(to_string(path))
        if encoding == "byte":
            output.extend([list(data)] if invocation.get("ReadCount") == 0 else list(data))
        else:
            output.extend(decoded(data, encoding).splitlines())
    if "TotalCount" in invocation:
        output = output[:whole_number(invocation, "TotalCount")]
    return output


def _set_content(invocation, append):
    values = [value for item in invocation.each("Value") for value in unroll(item)]
    encoding = encoding_of(invocation, "default")
    if encoding == "byte":
        data = bytes(members.cast("byte[]", values))
    else:
        data = encoded("".join(to_string(value) + NEWLINE for value in values), encoding, bom=not append)
    _write(invocation, "Path", data, append)
    return []


@cmdlet("Set-Content", PATH, Parameter("Value", position=1, mandatory=True, pipeline=True), ENCODING,
        aliases=("sc",))
def set_content(invocation):
    return _set_content(invocation, append=False)


@cmdlet("Add-Content", PATH, Parameter("Value", position=1, mandatory=True, pipeline=True), ENCODING,
        aliases=("ac",))
def add_content(invocation):
    return _set_content(invocation, append=True)


@cmdlet("Out-File", Parameter("FilePath", position=0, mandatory=True), ENCODING,
        Parameter("Append", switch=True), INPUT)
def out_file(invocation):
    """What the console would show, written to the file (Unicode unless -Encoding says otherwise)."""
    append = bool(invocation.get("Append"))
    text = _lines(invocation.each("InputObject"))
    _write(invocation, "FilePath", encoded(text, encoding_of(invocation, "unicode"), bom=not append), append)
    return []


# --- CSV -----------------------------------------------------------------------------------------------------------

def _type_name(item):
    if isinstance(item, ConfigRecord):
        return f"Microsoft.Exchange.Data.Directory.SystemConfiguration.{item.schema.noun}"
    if isinstance(item, ShellObject):
        return "System.Management.Automation.PSCustomObject"
    return {str: "System.String", int: "System.Int32", float: "System.Double"}.get(type(item), "System.Object")


def _cells(item, names):
    """The text of each property: what Format-List shows for it, as a CSV cell."""
    if isinstance(item, ShellObject):
        return [item.display(name) for name in names]
    return [str(len(to_string(item)))]  # a string's one property, Length, as PowerShell exports it


@cmdlet("Export-Csv", PATH, Parameter("NoTypeInformation", switch=True), ENCODING,
        Parameter("Delimiter"), Parameter("NoClobber", switch=True), INPUT, aliases=("epcsv",))
def export_csv(invocation):
    items = invocation.each("InputObject")
    if not items:
        return []
    names = items[0].property_names() if isinstance(items[0], ShellObject) else ["Length"]
    buffer = io.StringIO()
    if not invocation.get("NoTypeInformation"):
        buffer.write(f"#TYPE {_type_name(items[0])}{NEWLINE}")
    writer = csv.writer(buffer, delimiter=delimiter(invocation), quoting=csv.QUOTE_ALL, lineterminator=NEWLINE)
    writer.writerow(names)
    writer.writerows(_cells(item, names) for item in items)
    path = to_string(invocation.get("Path"))
    if invocation.get("NoClobber") and files.exists(path):
        raise ShellError(f"The file '{path}' already exists.")
    files.write(path, encoded(buffer.getvalue(), encoding_of(invocation, "ascii")))
    return []


@cmdlet("Import-Csv", Parameter("Path", position=0, mandatory=True, pipeline=True), Parameter("Delimiter"),
        Parameter("Header", type_name="System.String[]"), aliases=("ipcsv",))
def import_csv(invocation):
    """One object per row, its properties named by the header row (or -Header), every value a string."""
    rows = []
    for path in invocation.each("Path"):
        text = decoded(files.read_bytes(to_string(path)))
        lines = [line for line in text.splitlines() if not line.startswith("#TYPE")]
        reader = csv.reader(lines, delimiter=delimiter(invocation))
        try:
            header = [to_string(name) for name in unroll(invocation.get("Header"))] or next(reader, [])
            rows.extend(PSObject({name: (row[i] if i < len(row) else None) for i, name in enumerate(header)})
                        for row in reader if row)
        except csv.Error as error:
            raise ShellError(f"The file '{to_string(path)}' isn't CSV: {error}.") from None
    return rows


def delimiter(invocation):
    """-Delimiter: one character, ',' unless given (a System.Char in PowerShell)."""
    text = to_string(invocation.get("Delimiter", ","))
    if len(text) != 1 or text in '"\r\n':
        raise ShellError(f'Cannot bind parameter \'Delimiter\'. Cannot convert value "{text}" to type "System.Char". '
                         f'Error: "String must be exactly one character long."')
    return text


# --- text ----------------------------------------------------------------------------------------------------------

@cmdlet("ConvertTo-Html", Parameter("Property", position=0, type_name="System.Object[]"), Parameter("Title"),
        Parameter("Head"), Parameter("Body"), Parameter("PreContent"), Parameter("PostContent"),
        Parameter("Fragment", switch=True), INPUT)
def convert_to_html(invocation):
    """An XHTML page (or, with -Fragment, a table) of the objects' properties, one string per line; every value
    is HTML-escaped, as a report of mail addresses and headers must be."""
    items = [item if isinstance(item, ShellObject) else PSObject({"*": item})
             for item in invocation.each("InputObject")]
    wanted = [to_string(name) for name in unroll(invocation.get("Property"))]
    names = wanted or (items[0].property_names() if items else [])
    table = ["<table>", "<colgroup>", *["<col/>"] * len(names), "</colgroup>",
             "<tr>" + "".join(f"<th>{html.escape(name)}</th>" for name in names) + "</tr>",
             *("<tr>" + "".join(f"<td>{html.escape(item.display(name))}</td>" for name in names) + "</tr>"
               for item in items), "</table>"]
    pre = [to_string(text) for text in unroll(invocation.get("PreContent"))]
    post = [to_string(text) for text in unroll(invocation.get("PostContent"))]
    if invocation.get("Fragment"):
        return [*pre, *table, *post]
    head = [to_string(text) for text in unroll(invocation.get("Head"))] or [
        f"<title>{html.escape(to_string(invocation.get('Title', 'HTML TABLE')))}</title>"]
    body = [to_string(text) for text in unroll(invocation.get("Body"))]
    return [*HTML_HEAD, *head, "</head><body>", *body, *pre, *table, *post, "</body></html>"]


@cmdlet("Out-String", Parameter("Stream", switch=True), INPUT)
def out_string(invocation):
    """The text the console would show: one string, or one per line with -Stream."""
    lines = format_output(invocation.each("InputObject"))
    if invocation.get("Stream"):
        return lines
    return ["".join(line + NEWLINE for line in lines)] if lines else []

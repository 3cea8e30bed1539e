"""Output as the Exchange Management Shell shows it: configuration objects in a table of their default columns,
Format-List as `Name : value` lines under Exchange's property names, plain values one per line."""
import fnmatch

from exchange_console.shell.values import Hashtable, PSObject, ShellObject, display_value


class FormattedText:
    """What Format-List and Format-Table output: lines that are written as they are."""

    def __init__(self, lines):
        self.lines = lines


def format_output(objects):
    """The lines PowerShell's Out-Default writes for a pipeline's output."""
    lines = []
    for view, group in _groups(objects):
        if view == "text":
            for text in group:
                lines.extend(text.lines)
        elif view == "value":
            lines.extend(display_value(value) for value in group)
        elif view == "list":
            lines.extend(format_list(group))
        else:
            lines.extend(format_table(group, list(view)))
    return lines


def _view(obj):
    if isinstance(obj, FormattedText):
        return "text"
    if isinstance(obj, ShellObject):
        columns = obj.default_columns()
        return tuple(columns) if columns else "list"
    return "value"


def _groups(objects):
    """Runs of objects that share a view, so one table holds consecutive objects of one kind."""
    groups = []
    for obj in _entries(objects):
        view = _view(obj)
        if groups and groups[-1][0] == view:
            groups[-1][1].append(obj)
        else:
            groups.append((view, [obj]))
    return groups


def _entries(objects):
    """A hashtable shows as a Name/Value table of its entries."""
    for obj in objects:
        if isinstance(obj, Hashtable):
            yield from (PSObject({"Name": key, "Value": value}) for key, value in obj.items())
        else:
            yield obj


def select_properties(obj, patterns):
    """Property names matching the typed names or wildcards (`*`, `*Size*`), in the object's own order."""
    names = obj.property_names()
    chosen = []
    for pattern in patterns:
        pattern = str(pattern)
        if any(c in pattern for c in "*?["):
            matched = [name for name in names if fnmatch.fnmatchcase(name.lower(), pattern.lower())]
        else:
            matched = [obj.canonical(pattern) or pattern]
        chosen.extend(name for name in matched if name not in chosen)
    return chosen


def format_table(objects, columns):
    headers = [objects[0].canonical(column) or column for column in columns]
    rows = [[_cell(obj.display(column)) for column in columns] for obj in objects]
    widths = [max([len(header)] + [len(row[i]) for row in rows]) for i, header in enumerate(headers)]

    def line(cells):
        return " ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    return ["", line(headers), line(["-" * len(header) for header in headers]), *(line(row) for row in rows), ""]


def format_list(objects, patterns=None):
    lines = [""]
    for obj in objects:
        names = select_properties(obj, patterns) if patterns else obj.property_names()
        names = [name for name in names if obj.canonical(name)]
        width = max((len(name) for name in names), default=0)
        lines.extend(f"{name.ljust(width)} : {obj.display(name)}".rstrip() for name in names)
        lines.append("")
    return lines


def _cell(text):
    return " ".join(text.splitlines())


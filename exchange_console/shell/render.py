"""The exact EMS command line a change amounts to, e.g.
`New-SendConnector -Name 'To Internet' -Usage 'Custom' -AddressSpaces 'SMTP:*;1' ...`.

Values are parsed by the schema's parameter types first, so the rendered line is canonical and running it
gives the same object (the console's completion pages and the audit log show it).
"""
from exchange_console.params import parse_param, shell_quote


def render_value(param, value):
    return param.type.render(parse_param(param.name, param.type, value))


def render_command(verb, schema, values, identity=None):
    """verb: New, Set or Remove; values: {ExchangeParameterName: value}; identity: the positional Identity."""
    parts = [f"{verb}-{schema.noun}"]
    if identity is not None:
        parts.append(shell_quote(identity))
    by_name = {name.lower(): value for name, value in values.items()}
    for param in schema.params:  # schema order, so the same change always renders the same line
        if param.name.lower() in by_name:
            parts.append(f"-{param.name} {render_value(param, by_name[param.name.lower()])}")
    return " ".join(parts)

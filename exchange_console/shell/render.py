"""The exact EMS command line a change amounts to, e.g.
`New-SendConnector -Name 'To Internet' -Usage 'Custom' -AddressSpaces 'SMTP:*;1' ...`.

Values are parsed by the schema's parameter types first, so the rendered line is canonical and running it
gives the same object (the console's completion pages and the audit log show it). Secrets render masked; a
script that must carry one names a shell variable for it instead (`variables`), which it sets beforehand.
"""
from exchange_console.params import parse_param, shell_quote


def render_value(param, value):
    return param.type.render(parse_param(param.name, param.type, value))


def render_command(verb, schema, values, identity=None, variables=None):
    """verb: New, Set or Remove; values: {ExchangeParameterName: value}; identity: the positional Identity;
    variables: {ExchangeParameterName: shell variable name} rendered as `-Name $variable` instead of the value."""
    parts = [f"{verb}-{schema.noun}"]
    if identity is not None:
        parts.append(shell_quote(identity))
    by_name = {name.lower(): value for name, value in values.items()}
    by_variable = {name.lower(): variable for name, variable in (variables or {}).items()}
    for param in schema.params:  # schema order, so the same change always renders the same line
        key = param.name.lower()
        if key in by_variable:
            parts.append(f"-{param.name} ${by_variable[key]}")
        elif key in by_name:
            parts.append(f"-{param.name} {render_value(param, by_name[key])}")
    return " ".join(parts)

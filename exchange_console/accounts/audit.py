"""The admin audit log: one entry per change an administrator asked for, with the equivalent shell command
(secrets as ********) and the properties it changed, as Get- shows them."""
from exchange_console.accounts.models import AdminAuditEntry
from exchange_console.lib.errors import ParameterError
from exchange_console.params import Credential, shell_quote
from exchange_console.shell.render import render_command

MASK = "********"
NOT_AUDITED = {"Identity", "Guid", "WhenChanged", "WhenCreated"}


def properties(schema, obj):
    """{Parameter: displayed value} of every property Get- shows, secrets masked."""
    shown = {}
    for param in schema.params:
        if param.shown and param.name not in NOT_AUDITED:
            value = schema.value(obj, param)
            shown[param.name] = MASK if is_secret(param) and value else param.type.format(value)
    return shown


def is_secret(param):
    return isinstance(param.type, Credential) or param.name == "Password"


def command_line(verb, schema, values, identity):
    """The shell command for the change; values that can't be parsed are quoted as typed, secrets masked."""
    try:
        return render_command(verb, schema, values, identity=identity)
    except ParameterError:
        parts = [render_command(verb, schema, {}, identity=identity)]
        for name, value in values.items():
            try:
                secret = is_secret(schema.param(name))
            except ParameterError:
                secret = False
            parts.append(f"-{name} {shell_quote(MASK) if secret else shell_quote(value)}")
        return " ".join(parts)


def record(caller, verb, schema, obj, values, before, after, error=None):
    identity = _identity(schema, obj, values)
    if error is not None:
        changes = {}
    elif verb == "Remove":
        changes = {name: [value, ""] for name, value in before.items()}
    else:
        changes = {name: [before.get(name, ""), value] for name, value in after.items() if before.get(name) != value}
    AdminAuditEntry.objects.create(
        caller=caller.user.get_username(), origin=caller.origin, cmdlet=f"{verb}-{schema.noun}",
        command=command_line(verb, schema, values, identity if verb != "New" else None),
        object_type=schema.noun, object_identity=identity, succeeded=error is None,
        error="" if error is None else str(error), changes=changes,
    )


def _identity(schema, obj, values):
    if obj is not None and obj.pk is not None:
        return schema.identity(obj)
    for name, value in values.items():
        if name.lower() == "name":
            return str(value)
    return ""

"""The EMS commands that turn one state (state.py) into another: New- for what the target has and the source
hasn't, Set- with the parameters that differ, Remove- for the rest. Values are written as the parameter types
render them, so the shell parses each back to the stored value; a New- line carries only what its defaults and
usage presets (ObjectSchema.presets) wouldn't give, found by proposing the object as the write path would.

Secrets aren't in a state: a New-Mailbox takes its password, and a smart host's credential its password, from a
variable set at the top of the script with PASSWORD_PLACEHOLDER for the administrator to fill in.
"""
from django.core.exceptions import ObjectDoesNotExist

from exchange_console import params as p
from exchange_console.configuration.state import KINDS_BY_NOUN, UNREADABLE, by_key, shown
from exchange_console.connectors.schemas import AD_PERMISSION, SecurityPrincipal
from exchange_console.lib.errors import ParameterError
from exchange_console.params import shell_quote
from exchange_console.services import ConfigurationError, propose

PASSWORD_PLACEHOLDER = "<password>"
SECURE_STRING = f"ConvertTo-SecureString {shell_quote(PASSWORD_PLACEHOLDER)} -AsPlainText -Force"
SECURE_PLACEHOLDER = f"({SECURE_STRING})"
NAMED_OBJECTS = (p.ObjectRef, p.ObjectRefs, SecurityPrincipal)  # parsing them looks the object up


def readable(param, text):
    """A shown value as its parameter type parses it: lists shown as {a, b} are the list."""
    if isinstance(param.type, p.MultiValued) and not isinstance(param.type, p.MultiEnum):
        return [item.strip() for item in text.strip("{}").split(",") if item.strip()]
    return text


def literal(param, text):
    """A shown value as an EMS literal that parses back to it."""
    if isinstance(param.type, NAMED_OBJECTS):  # by name, whether or not the object exists here yet
        items = readable(param, text) if param.type.multivalued else [text] if text else []
        return ",".join(shell_quote(item) for item in items) or "$null"
    return param.type.render(param.type.parse(readable(param, text)))


class Script:
    """Lines of a script being written, and the secret variables they use."""

    def __init__(self):
        self.secrets, self.lines = [], []

    def secret(self, line_for, prefix, comment):
        name = f"{prefix}{sum(1 for line in self.secrets if line.startswith('$' + prefix)) + 1}"
        self.secrets.append(f"${name} = {line_for}  # {comment}")
        return f"${name}"

    def command(self, verb, schema, identity, values, written=None, extra=""):
        """verb-Noun 'identity' -Param value...; `written`: {Parameter: what to write instead (a variable)}."""
        written = written or {}
        positional = identity is not None and verb != "New"  # New- names the object with its -Name
        parts = [f"{verb}-{schema.noun}"] + ([shell_quote(identity)] if positional else [])
        for param in schema.params:  # schema order, as render_command writes a change
            if param.name in written:
                parts.append(f"-{param.name} {written[param.name]}")
            elif param.name in values:
                parts.extend(self._argument(schema, identity, param, values[param.name]))
        self.lines.append(" ".join(parts + ([extra] if extra else [])))

    def _argument(self, schema, identity, param, text):
        if isinstance(param.type, p.Credential) and text:
            credential = (f"New-Object System.Management.Automation.PSCredential({shell_quote(text)}, "
                          f"{SECURE_PLACEHOLDER})")
            return [f"-{param.name} {self.secret(credential, 'Credential', f'{schema.noun} {identity}')}"]
        if schema is AD_PERMISSION and param.name == "Deny":  # a switch
            return ["-Deny"] if text == "True" else []
        return [f"-{param.name} {literal(param, text)}"]


def script_lines(source, target):
    """(secret variable lines, command lines) that turn the source state into the target state."""
    script, before, after = Script(), by_key(source), by_key(target)
    renamed = {item["renamed_from"]: item for item in target if _renamed(item, before)}
    gone = [item for item in source if item["key"] not in after and item["key"] not in renamed]
    for item in reversed(gone):
        if not KINDS_BY_NOUN[item["noun"]].remove_last:
            remove(script, item)
    for item in target:
        if item["key"] in before:
            change(script, before[item["key"]], item)
        elif _renamed(item, before):  # Set- it under the name it has now, -Name giving the other one
            change(script, before[item["renamed_from"]], item)
        else:
            create(script, item, before)
    for item in reversed(gone):
        if KINDS_BY_NOUN[item["noun"]].remove_last:
            remove(script, item)
    return script.secrets, script.lines


def _renamed(item, before):
    """Whether the target item is the source's object under another name (history.py says which), one Set- -Name
    can rename."""
    return (item["key"] not in before and item.get("renamed_from") in before
            and not schema_of(item).param("Name").create_only)


def schema_of(item):
    return KINDS_BY_NOUN[item["noun"]].schema


def change(script, old, new):
    schema = schema_of(new)
    values = {name: text for name, text in new["values"].items()
              if text != old["values"].get(name) and not schema.param(name).create_only
              and not (name == "MakeDefault" and text == "False")}  # another domain's MakeDefault takes it
    if values:
        script.command("Set", schema, old["identity"], values)


def create(script, item, before):
    schema, kind = schema_of(item), KINDS_BY_NOUN[item["noun"]]
    if kind.removed_by:  # an entry of a list: Add-ADPermission, Add-RoleGroupMember
        script.command("Add", schema, item["identity"], {name: text for name, text in item["values"].items() if text})
        return
    values = new_values(schema, item["values"])
    if "SiteLinks" in values:  # a site joins the links there are; a link made later names its sites itself
        links = readable(schema.param("SiteLinks"), values["SiteLinks"])
        values["SiteLinks"] = "{" + ", ".join(name for name in links if f"adsitelink:{name}".lower() in before) + "}"
    secrets = {param.name: script.secret(SECURE_STRING, f"{schema.noun}{param.name}", f"{schema.noun} "
                                         f"{item['identity']}")
               for param in schema.params if (schema.noun, param.name) in UNREADABLE and param.mandatory}
    script.command("New", schema, item["identity"], values, written=secrets, extra=kind.new_switches)


def remove(script, item):
    schema, kind = schema_of(item), KINDS_BY_NOUN[item["noun"]]
    if not kind.removable:
        script.lines.append(f"# {schema.noun} '{item['identity']}' isn't in the configuration written here; the shell "
                            f"can't remove it (Active Directory or setup does).")
        return
    values = {name: text for name, text in item["values"].items() if name in kind.removed_by}
    script.command("Remove", schema, item["identity"], values, extra="-Confirm:$false")


def new_values(schema, values):
    """The values a New- line needs: those its defaults and presets wouldn't give the object."""
    given = {name for name, text in values.items()
             if (schema.param(name).mandatory or schema.param(name).create_only) and text}
    for _ in range(len(values)):
        proposed = _proposed(schema, {name: values[name] for name in given})
        if proposed is None:
            return dict(values)
        missing = {name for name, text in values.items()
                   if name not in given and shown(schema, proposed, schema.param(name)) != text}
        if not missing:
            return {name: values[name] for name in values if name in given}
        given |= missing
    return dict(values)


def _proposed(schema, values):
    """The object New- would make of these values (defaults and presets applied), or None if this database can't
    tell (a value names an object it doesn't have)."""
    if schema.presets is None:  # without presets, what isn't given keeps the model's default
        return schema.model()
    parsed = {name: (text, PASSWORD_PLACEHOLDER) if isinstance(schema.param(name).type, p.Credential) and text
              else readable(schema.param(name), text) for name, text in values.items()}
    try:
        return propose(schema, parsed)
    except (ConfigurationError, ParameterError, ObjectDoesNotExist):
        return None


def script_text(source, target, header=()):
    secrets, lines = script_lines(source, target)
    parts = list(header)
    if secrets:
        parts += ["", f"# Secrets aren't exported: replace each {PASSWORD_PLACEHOLDER} below before running the "
                      "script.",
                  *secrets]
    parts += ["", *lines] if lines else []
    return "\n".join(parts) + "\n"

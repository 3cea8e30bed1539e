"""The organization as it was at an entry of the admin audit log, and the script that returns to it.

The audit log records each change an administrator made with the properties it changed, before and after, as Get-
shows them (accounts/audit.py). Undoing the later entries, newest first, on the live state gives the state just
after the entry: a Set- takes back its before values, a New- (or Add-ADPermission) is taken away, a Remove- brings the
object back with the properties it had. What nobody recorded stays as it is now: changes made by setup, by EdgeSync
or before the log began, and secrets (the log masks them; a removed smart host's credential comes back as a
placeholder to fill in)."""
from exchange_console.accounts.audit import MASK
from exchange_console.accounts.models import AdminAuditEntry
from exchange_console.configuration.script import script_text
from exchange_console.configuration.state import KINDS, KINDS_BY_NOUN, UNREADABLE, capture, entry_key
from exchange_console.lib.errors import ParameterError

ORDER = {kind.noun: index for index, kind in enumerate(KINDS)}


def state_at(entry):
    """The state just after the audit entry `entry` (its change made, the later ones not)."""
    state = capture()
    for later in AdminAuditEntry.objects.filter(succeeded=True, pk__gt=entry.pk).order_by("-pk"):
        kind = KINDS_BY_NOUN.get(later.object_type)
        if kind is not None and kind.audited:
            state = undo(state, kind.schema, later)
    return sorted(state, key=lambda item: ORDER[item["noun"]])  # stable: objects keep their order within a kind


def return_script(entry):
    """The EMS commands that take the live configuration back to what it was at the entry."""
    header = [f"# Back to the configuration as it was after the admin audit log's entry {entry.pk} "
              f"({entry.cmdlet} '{entry.object_identity}' by {entry.caller}, {entry.when:%Y-%m-%d %H:%M:%S} UTC)."]
    return script_text(capture(), state_at(entry), header=header)


def undo(state, schema, change):
    verb = change.cmdlet.partition("-")[0]
    before = _readable(schema, {name: values[0] for name, values in change.changes.items()})
    after = _readable(schema, {name: values[1] for name, values in change.changes.items()})
    identity = None if schema.singleton else change.object_identity
    if verb in ("New", "Add"):
        key = entry_key(schema.noun, identity, after)
        return [item for item in state if item["key"] != key]
    if verb == "Remove":
        values = {name: ("" if text == MASK else text) for name, text in before.items()}
        item = {"noun": schema.noun, "identity": identity, "key": entry_key(schema.noun, identity, values),
                "values": values}
        return [*state, item]
    key = entry_key(schema.noun, identity, {})
    state = [_set_back(item, schema, before) if item["key"] == key else item for item in state]
    if identity is not None and "Name" in before:
        state = _entries_renamed(state, schema, identity, _past_identity(identity, before))
    return state


def _set_back(item, schema, before):
    values = {**item["values"], **{name: text for name, text in before.items() if text != MASK}}
    identity, renamed_from = item["identity"], item.get("renamed_from")
    if "Name" in before and identity is not None:  # renamed: the object had its old name
        identity, renamed_from = _past_identity(identity, before), renamed_from or item["key"]
    return {**item, "identity": identity, "key": entry_key(schema.noun, identity, values), "values": values,
            **({"renamed_from": renamed_from} if renamed_from else {})}


def _past_identity(identity, before):
    """The identity under the name the object had (a receive connector's keeps its SERVER\\ part)."""
    prefix, separator, _ = identity.rpartition("\\")
    return f"{prefix}{separator}{before['Name']}"


def _entries_renamed(state, schema, identity, past):
    """The entries of a renamed object's lists (a receive connector's ADPermission entries) under the name it had."""
    renamed = []
    for item in state:
        if KINDS_BY_NOUN[item["noun"]].entry_of == schema.noun and item["identity"] == identity:
            item = {**item, "identity": past, "key": entry_key(item["noun"], past, item["values"])}
        renamed.append(item)
    return renamed


def _readable(schema, shown):
    """The recorded properties under the parameters a script sets: Default is MakeDefault's, and read-only
    properties (Cost, ListenerStatus...) aren't set."""
    values = {}
    for name, text in shown.items():
        try:
            param = schema.param(name)
        except ParameterError:
            continue
        if not param.settable:
            param = next((other for other in schema.params
                          if other.settable and not other.shown and other.field == param.field), None)
        if param is not None and (schema.noun, param.name) not in UNREADABLE:
            values[param.name] = text
    return values

"""Declarations of the configuration objects in Exchange's vocabulary.

An ObjectSchema says, for one kind of object (SendConnector, ReceiveConnector...), which Exchange parameters
it has, the model field and ParamType behind each, the usage presets applied at creation and the cross-field
rules. The shell's cmdlets, the console's forms and the transport's notifications all read these.
"""
from dataclasses import dataclass, field
from typing import Any, Callable

from exchange_console.lib.errors import ParameterError
from exchange_console.params import ParamType, String

NOT_GIVEN = object()


@dataclass(eq=False)
class Param:
    name: str                      # Exchange's parameter and property name, e.g. "MaxMessageSize"
    field: str                     # model attribute, e.g. "max_message_size"
    type: ParamType
    settable: bool = True          # False: shown by Get-, never set
    create_only: bool = False      # New- only (e.g. Usage, Server)
    mandatory: bool = False        # New- refuses to run without it
    m2m: bool = False              # a many-to-many relation, saved after the row
    shown: bool = True             # Format-List shows it
    getter: Callable | None = None  # read-only properties computed from the object


@dataclass
class ObjectSchema:
    noun: str                                   # "SendConnector": New-SendConnector, Get-SendConnector...
    model: Any
    params: list[Param]
    rules: list[Callable] = field(default_factory=list)  # rule(proposed) -> iterable of ParameterError
    remove_rules: list[Callable] = field(default_factory=list)  # rule(obj) -> iterable of ParameterError
    before_save: Callable | None = None         # before_save(obj): side effects that belong to the write
    presets: Callable | None = None             # presets(proposed, given) on creation
    affected_servers: Callable | None = None    # affected_servers(obj) -> TransportServer list
    default_columns: tuple = ("Identity",)
    identity: Callable = staticmethod(lambda obj: obj.identity)
    singleton: bool = False
    # notes(obj) -> [(parameter, text)]: what the object sets that is stored but can't take effect here, so that
    # Get-, the console and a cmdlet's warning say so instead of letting it look as if it worked
    notes: Callable | None = None   # may be a generator function

    def __post_init__(self):
        self._by_name = {param.name.lower(): param for param in self.params}

    def param(self, name):
        param = self._by_name.get(str(name).lower())
        if param is None:
            raise ParameterError(name, f"A parameter cannot be found that matches parameter name '{name}'.")
        return param

    def value(self, obj, param):
        if param.getter:
            return param.getter(obj)
        if param.m2m:
            return pending_refs(obj, param.field)
        return getattr(obj, param.field)


def notes_param(notes):
    """NotAppliedHere: what the object sets that is stored but takes no effect here (ObjectSchema.notes), each
    with why, as 'Parameter: why; ...'."""
    return read_only("NotAppliedHere", "not_applied_here",
                     getter=lambda obj: "; ".join(f"{parameter}: {why}" for parameter, why in notes(obj)))


def read_only(name, field, param_type=None, getter=None):
    """A property Get- shows and nothing sets (Identity, Status, MessageCount...)."""
    return Param(name, field, param_type or String(), settable=False, getter=getter)


def pending_refs(obj, field_name):
    """A many-to-many value as proposed (before save) or as stored."""
    pending = getattr(obj, "_pending_refs", {})
    if field_name in pending:
        return pending[field_name]
    if obj.pk is None:
        return []
    return list(getattr(obj, field_name).all())


def rule(parameter, message):
    return ParameterError(parameter, message)

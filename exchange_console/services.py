"""The one write path for configuration: parse, apply presets, check every rule, save in one transaction,
bump the version, and tell the affected transport servers once the transaction has committed.

Wizards, properties dialogs and cmdlets all call new_object / set_object / remove_object; nothing else saves
configuration. A refused change raises ConfigurationError and leaves the database as it was.
"""
import logging

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from exchange_console.lib.errors import ParameterError
from exchange_console.params import parse_param
from exchange_console.schema import pending_refs

log = logging.getLogger(__name__)


class ConfigurationError(Exception):
    """One or more parameters refused; `errors` lists ParameterErrors, each naming its parameter."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(error.message for error in self.errors))

    def by_parameter(self):
        result = {}
        for error in self.errors:
            result.setdefault(error.parameter, []).append(error.message)
        return result


class ConcurrentChangeError(ConfigurationError):
    """The object changed since the editor read it (its version moved on)."""

    def __init__(self, obj, expected_version):
        self.current = obj
        message = (f"The object '{obj.identity}' was changed by someone else after you opened it "
                   f"(version {obj.version}, you had {expected_version}). Reload it and apply your change again.")
        super().__init__([ParameterError("Identity", message)])


def parse_values(schema, values, creating):
    """Exchange parameter names -> {Param: parsed value}; every refusal is collected, none is lost."""
    parsed, errors = {}, []
    for name, raw in values.items():
        try:
            param = schema.param(name)
            if not param.settable or (param.create_only and not creating):
                raise ParameterError(name, f"A parameter cannot be found that matches parameter name '{name}'.")
            parsed[param] = parse_param(param.name, param.type, raw)
        except ParameterError as error:
            errors.append(error)
    if creating:
        for param in schema.params:
            if param.mandatory and param not in parsed and not any(e.parameter == param.name for e in errors):
                errors.append(ParameterError(param.name, f"{param.name}: a value is required."))
    if errors:
        raise ConfigurationError(errors)
    return parsed


def assign(obj, parsed):
    for param, value in parsed.items():
        if param.m2m:
            obj._pending_refs = {**getattr(obj, "_pending_refs", {}), param.field: value}
        else:
            setattr(obj, param.field, value)


def check_rules(schema, obj):
    errors = []
    for check in schema.rules:
        errors.extend(check(obj) or ())
    if errors:
        raise ConfigurationError(errors)


def save(schema, obj):
    try:
        with transaction.atomic():
            if schema.before_save:
                schema.before_save(obj)
            obj.save()
            for field_name, refs in getattr(obj, "_pending_refs", {}).items():
                getattr(obj, field_name).set(refs)
    except IntegrityError as error:
        raise ConfigurationError([ParameterError("Identity", f"The change conflicts with another object: {error}")])
    obj._pending_refs = {}
    notify_servers(schema, obj)


def notify_servers(schema, obj):
    """After commit, ask each affected server's transport worker to reload its configuration."""
    if schema.affected_servers is None:
        return
    servers = list(schema.affected_servers(obj))
    transaction.on_commit(lambda: _send_reload(servers))


def _send_reload(servers):
    from transport.tasks import reload_configuration

    for server in servers:
        try:
            reload_configuration.apply_async(args=[server.name], queue=server.celery_queue)
        except Exception:  # the change is saved; a worker also reloads when it starts
            log.exception("Could not notify transport server %s of a configuration change", server.name)


@transaction.atomic
def new_object(schema, values):
    parsed = parse_values(schema, values, creating=True)
    obj = schema.model()
    assign(obj, parsed)
    if schema.presets:
        schema.presets(obj, {param.name for param in parsed})
    check_rules(schema, obj)
    save(schema, obj)
    return obj


@transaction.atomic
def set_object(schema, obj, values, expected_version=None):
    """Apply changes to a fresh, locked copy; the caller's instance is untouched if the change is refused."""
    current = schema.model.objects.select_for_update().get(pk=obj.pk)
    if expected_version is not None and current.version != expected_version:
        raise ConcurrentChangeError(current, expected_version)
    before = list(schema.affected_servers(current)) if schema.affected_servers else []
    parsed = parse_values(schema, values, creating=False)
    for param in schema.params:  # keep m2m values current for rules that read them
        if param.m2m and param not in parsed:
            parsed[param] = pending_refs(current, param.field)
    assign(current, parsed)
    check_rules(schema, current)
    current.version += 1
    save(schema, current)
    _notify_previous(before, schema, current)
    return current


def _notify_previous(before, schema, obj):
    """Servers that stopped being affected (a source server removed) must hear of it too."""
    after = {server.pk for server in schema.affected_servers(obj)} if schema.affected_servers else set()
    dropped = [server for server in before if server.pk not in after]
    if dropped:
        transaction.on_commit(lambda: _send_reload(dropped))


@transaction.atomic
def remove_object(schema, obj, expected_version=None):
    current = schema.model.objects.select_for_update().get(pk=obj.pk)
    if expected_version is not None and current.version != expected_version:
        raise ConcurrentChangeError(current, expected_version)
    servers = list(schema.affected_servers(current)) if schema.affected_servers else []
    for check in schema.remove_rules:
        errors = list(check(current) or ())
        if errors:
            raise ConfigurationError(errors)
    try:
        current.delete()
    except ProtectedError as error:
        users = ", ".join(sorted(str(user) for user in error.protected_objects))
        raise ConfigurationError([ParameterError(
            "Identity", f"'{current.identity}' can't be removed because it is still used by: {users}.")]) from None
    transaction.on_commit(lambda: _send_reload(servers))

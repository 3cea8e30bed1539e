"""The one write path for configuration: parse, apply presets, check every rule, save in one transaction,
bump the version, and tell the affected transport servers once the transaction has committed.

Wizards, properties dialogs and cmdlets all call new_object / set_object / remove_object; nothing else saves
configuration. A refused change raises ConfigurationError and leaves the database as it was.

Faces say who is acting with `acting_as(user, origin)`; inside it every change is authorized by the role
groups (accounts/rbac.py) and recorded in the admin audit log, refused ones included. Without a caller
(install steps, the transport's own bookkeeping) nothing is checked or recorded.
"""
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from exchange_console.lib.errors import ParameterError
from exchange_console.params import parse_param
from exchange_console.schema import pending_refs

log = logging.getLogger(__name__)

_caller = ContextVar("exchange_caller", default=None)
_forced = ContextVar("exchange_forced", default=False)


@dataclass(frozen=True)
class Caller:
    user: object
    origin: str  # the console client's IP address, or "EMS"


def forcing(force=True):
    """Within it, changes are saved despite the checks' errors (-Force, the console's confirmation, -WhatIf's
    report); the findings are on the object as `findings` either way."""
    return _forcing_context(force)


@contextmanager
def _forcing_context(force):
    token = _forced.set(bool(force))
    try:
        yield
    finally:
        _forced.reset(token)


class _RolledBack(Exception):
    def __init__(self, result):
        super().__init__()
        self.result = result


def preview(change):
    """What a change would be, without saving it (-WhatIf, the console's findings before New or OK): the change
    runs in full, forced, in a transaction that is then rolled back, audit entry and reloads included. Returns what
    the change returned, its `findings` on it; a refusal other than the checks' raises as the change would."""
    try:
        with transaction.atomic(), forcing():
            raise _RolledBack(change())
    except _RolledBack as done:
        return done.result


@contextmanager
def acting_as(user, origin):
    token = _caller.set(Caller(user, origin))
    try:
        yield
    finally:
        _caller.reset(token)


def current_caller():
    return _caller.get()


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
    """The object changed since the editor read it (its version moved on). `last_change` is the audit entry
    of the latest change (who, when, what), when one was recorded."""

    def __init__(self, schema, obj, expected_version):
        from exchange_console.accounts.models import AdminAuditEntry

        self.current = obj
        self.last_change = AdminAuditEntry.objects.filter(
            object_type=schema.noun, object_identity=schema.identity(obj), succeeded=True).first()
        super().__init__([ParameterError("Identity", self._message(schema.identity(obj), expected_version))])

    def _message(self, identity, expected_version):
        change = self.last_change
        if change is None:
            who = "by someone else"
        else:
            what = "; ".join(f"{name}: {before or '(empty)'} -> {after or '(empty)'}"
                             for name, (before, after) in change.changes.items())
            who = f"by {change.caller} at {change.when:%Y-%m-%d %H:%M:%S} UTC" + (f" ({what})" if what else "")
        return (f"The object '{identity}' was changed {who} after you opened it (version {self.current.version}, "
                f"you had {expected_version}). Reload it and apply your change again.")


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


def reload_local_servers():
    """Once the transaction commits, every server running on this database reloads (a change that concerns them
    all without being one of their objects: a certificate of the other side trusted or dropped)."""
    from exchange_console.organization.models import TransportServer

    servers = list(TransportServer.objects.local())
    transaction.on_commit(lambda: _send_reload(servers))


def _send_reload(servers):
    from exchange_console.organization.models import TransportServer
    from transport import dispatch

    # The other side's servers (an organization's Edges, an Edge's Hubs) run elsewhere, on another broker.
    local = set(TransportServer.objects.local().values_list("pk", flat=True))
    for server in (server for server in servers if server.pk in local):
        try:
            dispatch.reload_configuration(server.name)
        except Exception:  # the change is saved; a worker also reloads when it starts
            log.exception("Could not notify transport server %s of a configuration change", server.name)


def new_object(schema, values):
    return audited("New", schema, None, values, lambda: _new_object(schema, values))


def set_object(schema, obj, values, expected_version=None):
    """Apply changes to a fresh, locked copy; the caller's instance is untouched if the change is refused."""
    return audited("Set", schema, obj, values, lambda: _set_object(schema, obj, values, expected_version))


def remove_object(schema, obj, expected_version=None):
    return audited("Remove", schema, obj, {}, lambda: _remove_object(schema, obj, expected_version))


def audited(verb, schema, obj, values, change):
    """Run a change as the current caller: authorized inside it, recorded whether it succeeds or not."""
    caller = current_caller()
    if caller is None:
        return change()
    from exchange_console.accounts import audit
    from exchange_console.accounts.rbac import AccessDenied

    before = audit.properties(schema, schema.model.objects.get(pk=obj.pk)) if obj is not None else {}
    try:
        with transaction.atomic():
            result = change()
            after = audit.properties(schema, result) if verb != "Remove" else {}
            audit.record(caller, verb, schema, result if verb != "Remove" else obj, values, before, after)
        return result
    except (ConfigurationError, AccessDenied) as error:
        audit.record(caller, verb, schema, obj, values, before, {}, error=error)
        raise


def authorize(verb, schema, obj):
    caller = current_caller()
    if caller is not None:
        from exchange_console.accounts.rbac import check_change, server_of

        check_change(caller.user, verb, schema.noun, server_of(schema, obj), identity=_identity_or_blank(schema, obj))


def _identity_or_blank(schema, obj):
    try:
        return schema.identity(obj)
    except ObjectDoesNotExist:  # a receive connector not yet given a server has no identity to name
        return ""


def propose(schema, values):
    """An unsaved object with these values and the usage presets applied (the wizards check their pages
    against one); the parsers' refusals raise ConfigurationError."""
    parsed = parse_values(schema, values, creating=True)
    obj = schema.model()
    assign(obj, parsed)
    if schema.presets:
        schema.presets(obj, {param.name for param in parsed})
    return obj


# What EdgeSync replicates to a subscribed Edge, where only EdgeSync may change it.
EDGESYNC_NOUNS = {"AcceptedDomain", "RemoteDomain", "SendConnector", "TransportConfig"}


def managed_on_the_edge(server):
    """Why the organization doesn't change a subscribed Edge's settings (the shell and the console say it)."""
    return (f"{server.name} is an Edge Transport server subscribed to the site {server.site.name}. It is managed on "
            "the Edge Transport server itself, in the console or shell run there; the organization only routes mail "
            "to it and synchronizes its configuration with EdgeSync.")


def check_not_synchronized(schema, obj):
    """On a subscribed Edge Transport server, the objects EdgeSync manages are read-only (Exchange locks them);
    in the organization, a subscribed Edge is managed on the Edge itself."""
    from exchange_console.edge.models import EdgeSyncState
    from exchange_console.organization.models import Installation

    if schema.noun == "TransportServer" and obj.pk and obj.is_edge and not obj.runs_here:
        raise ConfigurationError([ParameterError("Identity", managed_on_the_edge(obj))])
    replicated = schema.noun in EDGESYNC_NOUNS or (schema.noun == "TransportServer" and obj.pk and not obj.runs_here)
    if not replicated or not Installation.is_edge():
        return
    state = EdgeSyncState.objects.first()
    if state is None or not (state.site or state.bootstrap_expires):
        return
    identity = _identity_or_blank(schema, obj) if obj.pk else str(getattr(obj, "name", ""))
    raise ConfigurationError([ParameterError("Identity", (
        f"The {schema.noun} '{identity}' is managed by EdgeSync: this Edge Transport server is subscribed to an "
        "Exchange organization, which replicates it here. Change it in the organization (EdgeSync brings the change "
        "here), or remove the Edge subscription to manage it on this server."))])


class MailFlowChecks:
    """The checks before a change is saved (exchange_console.insight.checks), for administrators' changes: what the
    organization would be after the change, less what it already was. Errors refuse the change unless forced."""

    def __init__(self, schema, obj):
        self.servers = []
        if current_caller() is None:   # setup and the transport's own bookkeeping aren't checked
            return
        from exchange_console.insight import checks

        self.checks = checks
        self.servers = checks.servers_concerned(schema, obj)
        self.before = checks.evaluate(self.servers) if self.servers else []

    def after(self, schema, obj, removed=False):
        """Attach the change's findings to obj; raise ConfigurationError for its errors unless forced."""
        obj.findings = []
        if current_caller() is None:
            return
        now = [] if removed else self.checks.servers_concerned(schema, obj)
        servers = list(dict.fromkeys(self.servers + now))
        if not servers:
            return
        obj.findings = [finding for finding in self.checks.evaluate(servers) if finding not in self.before]
        errors = [finding for finding in obj.findings if finding.severity == self.checks.ERROR]
        if errors and not _forced.get():
            raise ConfigurationError([ParameterError(finding.parameter, f"{finding.message} To save the change "
                                                     "anyway, run it again with -Force.") for finding in errors])


@transaction.atomic
def _new_object(schema, values):
    obj = propose(schema, values)
    authorize("New", schema, obj)
    check_not_synchronized(schema, obj)
    check_rules(schema, obj)
    flow = MailFlowChecks(schema, obj)
    save(schema, obj)
    flow.after(schema, obj)
    return obj


@transaction.atomic
def _set_object(schema, obj, values, expected_version):
    current = schema.model.objects.select_for_update().get(pk=obj.pk)
    authorize("Set", schema, current)
    check_not_synchronized(schema, current)
    if expected_version is not None and current.version != expected_version:
        raise ConcurrentChangeError(schema, current, expected_version)
    before = list(schema.affected_servers(current)) if schema.affected_servers else []
    parsed = parse_values(schema, values, creating=False)
    for param in schema.params:  # keep m2m values current for rules that read them
        if param.m2m and param not in parsed:
            parsed[param] = pending_refs(current, param.field)
    flow = MailFlowChecks(schema, current)
    assign(current, parsed)
    check_rules(schema, current)
    current.version += 1
    save(schema, current)
    flow.after(schema, current)
    _notify_previous(before, schema, current)
    return current


def _notify_previous(before, schema, obj):
    """Servers that stopped being affected (a source server removed) must hear of it too."""
    after = {server.pk for server in schema.affected_servers(obj)} if schema.affected_servers else set()
    dropped = [server for server in before if server.pk not in after]
    if dropped:
        transaction.on_commit(lambda: _send_reload(dropped))


@transaction.atomic
def _remove_object(schema, obj, expected_version):
    current = schema.model.objects.select_for_update().get(pk=obj.pk)
    authorize("Remove", schema, current)
    check_not_synchronized(schema, current)
    if expected_version is not None and current.version != expected_version:
        raise ConcurrentChangeError(schema, current, expected_version)
    servers = list(schema.affected_servers(current)) if schema.affected_servers else []
    for check in schema.remove_rules:
        errors = list(check(current) or ())
        if errors:
            raise ConfigurationError(errors)
    flow = MailFlowChecks(schema, current)
    try:
        current.delete()
    except ProtectedError as error:
        users = ", ".join(sorted(str(user) for user in error.protected_objects))
        raise ConfigurationError([ParameterError(
            "Identity", f"'{current.identity}' can't be removed because it is still used by: {users}.")]) from None
    flow.after(schema, current, removed=True)
    transaction.on_commit(lambda: _send_reload(servers))
    return current

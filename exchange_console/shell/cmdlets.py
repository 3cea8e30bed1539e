"""Exchange 2010's configuration cmdlets (Get-/New-/Set-/Remove-SendConnector and the rest).

Each noun is a schema plus what the shell needs on top: the name Exchange gives the object in messages, the
New- switches that stand for -Usage, and the fields an identity may name. The cmdlets stay thin: parameters
come from the schema, changes go through services.new_object / set_object / remove_object.
"""
import fnmatch
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Callable

from django.db import transaction
from django.db.models import Q

from exchange_console import params as p
from exchange_console import services
from exchange_console.connectors.models import ForeignConnector, ReceiveConnector, SendConnector
from exchange_console.connectors.schemas import FOREIGN_CONNECTOR, RECEIVE_CONNECTOR, SEND_CONNECTOR
from exchange_console.organization.models import TransportServer
from exchange_console.organization.schemas import (
    ACCEPTED_DOMAIN, MAILBOX, RECIPIENT, REMOTE_DOMAIN, TRANSPORT_CONFIG, TRANSPORT_SERVER, USER, Password,
)
from exchange_console.params import parse_param
from exchange_console.schema import ObjectSchema
from exchange_console.shell.errors import AmbiguousIdentityError, ObjectNotFoundError, ShellError
from exchange_console.shell.host import Confirmation
from exchange_console.shell.registry import CMDLETS, Cmdlet, Parameter
from exchange_console.shell.values import (
    ConfigRecord, Hashtable, PSCredential, SecureString, ShellObject, service_value, to_string,
)

ORGANIZATION = "this organization"
PARAMETER_SET_ERROR = "Parameter set cannot be resolved using the specified named parameters."
CHANGE_SWITCHES = (Parameter("WhatIf", switch=True), Parameter("Confirm", switch=True))
# Every configuration cmdlet of Exchange 2010 takes -DomainController (the AD server to read and write); scripts
# copied from guides pass it. There is no Active Directory here: it is accepted and has no effect.
DOMAIN_CONTROLLER = Parameter("DomainController")


def in_organization(identity_text):
    return ORGANIZATION


@dataclass
class ConfigNoun:
    schema: ObjectSchema
    label: str                           # as Exchange names the object in messages: 'Send connector'
    noun: str = ""                       # the cmdlet noun when it isn't the schema's (ExchangeServer)
    verbs: tuple = ("Get", "New", "Set", "Remove")
    usages: tuple = ()                   # New- switches that stand for -Usage: -Internet, -Internal...
    identity_fields: tuple = ()          # fields besides Name and Guid that an identity may give
    queryset: Callable | None = None
    columns: tuple | None = None         # Get- table columns when they aren't the schema's
    get_filters: tuple = ()              # (Parameter, filter(queryset, value), model) extra Get- parameters;
                                         # a piped object of that model filters too (Get-ExchangeServer | ...)
    location: Callable = in_organization  # where a missing object was looked for, for the not-found error

    def __post_init__(self):
        self.noun = self.noun or self.schema.noun

    def objects(self):
        return self.queryset() if self.queryset else self.schema.model.objects.all()

    def piped_filter(self, piped):
        """The Get- filter a piped object of another kind stands for, or None."""
        return next((apply_filter for _, apply_filter, model in self.get_filters
                     if isinstance(piped, ConfigRecord) and piped.schema.model is model), None)

    def record(self, obj):
        return ConfigRecord(self.schema, obj, self.columns)

    def lookup(self, text):
        """The objects an identity text names: Name, GUID or one of identity_fields."""
        query = Q(name__iexact=text)
        for field_name in self.identity_fields:
            query |= Q(**{f"{field_name}__iexact": text})
        try:
            query |= Q(guid=uuid.UUID(text))
        except ValueError:
            pass
        return self.objects().filter(query)


def find(noun, identity, objects=None, wildcards=False):
    """The objects an identity names: a piped object, its Identity property, or a text (Get- allows *)."""
    if isinstance(identity, ConfigRecord) and identity.schema.model is noun.schema.model:
        return [identity.obj]
    text = to_string(identity.get("Identity") if isinstance(identity, ShellObject) else identity).strip()
    if wildcards and "*" in text:
        candidates = objects if objects is not None else noun.objects()
        return [obj for obj in candidates if fnmatch.fnmatchcase(obj.name.lower(), text.lower())
                or fnmatch.fnmatchcase(noun.schema.identity(obj).lower(), text.lower())]
    found = noun.lookup(text)
    if objects is not None:
        found = found.filter(pk__in=objects.values("pk"))
    found = list(found)
    if not found:
        raise ObjectNotFoundError(text, noun.location(text))
    return found


def targets(noun, invocation):
    """The one object each identity given to Set-/Remove- names."""
    if noun.schema.singleton:  # Set-TransportConfig: the organization's one object, whatever the identity
        singleton = noun.objects().first()
        if singleton is None:
            raise ObjectNotFoundError(noun.schema.noun, ORGANIZATION)
        return [singleton]
    chosen = []
    for identity in invocation.each("Identity"):
        found = find(noun, identity)
        if len(found) > 1:
            raise AmbiguousIdentityError(to_string(identity))
        chosen.append(found[0])
    return chosen


# --- running the verbs ----------------------------------------------------------------------------------------

def apply(invocation, planned, confirm_by_default=False):
    """Run the planned (action, change) pairs of one command. -WhatIf checks each change in full, rolls it back
    and says `What if:`. Otherwise every confirmation is asked first, so no prompt waits inside a transaction;
    then the changes run, all in one transaction when there are several: the command changes every object or,
    if one is refused, none. Returns what the changes returned."""
    if invocation.get("WhatIf"):
        for action, change in planned:
            result = services.preview(change)   # the checks' errors are reported, not raised
            invocation.session.host.write(f"What if: {action}")
            report_findings(invocation, [result])
        return []
    if invocation.get("Confirm", confirm_by_default):
        confirmation = Confirmation(invocation.session.host, "Add -Confirm:$false to run it without confirmation.")
        planned = [(action, change) for action, change in planned if confirmation.ask(action)]
    with services.forcing(invocation.get("Force")):
        if len(planned) == 1:  # the service's own transaction suffices (and keeps a refusal's audit entry)
            results = [planned[0][1]()]
        else:
            with transaction.atomic():
                results = [change() for _, change in planned]
    report_findings(invocation, results)
    return results


def report_findings(invocation, results):
    """The checks' findings on what a change saved (or would save), as warnings."""
    for result in results:
        for finding in getattr(result, "findings", ()):
            forced = ""
            if finding.severity == "Error":
                forced = " The change needs -Force." if invocation.get("WhatIf") else " (Saved with -Force.)"
            invocation.session.host.warn(finding.message + forced)


def get_cmdlet(noun, invocation):
    objects = noun.objects()
    for parameter, apply_filter, _ in noun.get_filters:
        if parameter.name in invocation:
            objects = apply_filter(objects, invocation.get(parameter.name))
    identities = invocation.each("Identity")
    if noun.schema.singleton or not identities:
        return [noun.record(obj) for obj in objects]
    found = []
    for identity in identities:
        piped_filter = noun.piped_filter(identity)
        found.extend(piped_filter(objects, identity) if piped_filter
                     else find(noun, identity, objects, wildcards=True))
    return [noun.record(obj) for obj in found]


def new_cmdlet(noun, invocation):
    values = change_values(noun, invocation, current=None)
    usage = usage_switch(noun, invocation)
    if usage:
        values["Usage"] = usage
    action = f'Creating {noun.label} "{to_string(values.get("Name", ""))}".'
    created = apply(invocation, [(action, partial(services.new_object, noun.schema, values))])
    warn_not_applied(invocation, noun.schema, created, values)
    return [noun.record(obj) for obj in created]


def set_cmdlet(noun, invocation):
    planned, given = [], {}
    for target in targets(noun, invocation):
        identity = noun.schema.identity(target)
        values = change_values(noun, invocation, current=target)
        given.update(values)
        if values:
            planned.append((f'Setting {noun.label} "{identity}".',
                            partial(services.set_object, noun.schema, target, values)))
        else:
            invocation.session.host.warn(
                f"The command completed successfully but no settings of '{identity}' have been modified.")
    warn_not_applied(invocation, noun.schema, apply(invocation, planned), given)
    return []


def warn_not_applied(invocation, schema, changed, given):
    """A parameter given that is stored but takes no effect here says so (Get- shows it in NotAppliedHere)."""
    for obj in changed if schema.notes else ():
        for parameter, why in schema.notes(obj):
            if parameter in given:
                invocation.session.host.warn(f"{parameter} of '{schema.identity(obj)}' is saved but takes no effect "
                                             f"here: {why}.")


def remove_cmdlet(noun, invocation):
    apply(invocation, [(f'Removing {noun.label} "{noun.schema.identity(target)}".',
                        partial(services.remove_object, noun.schema, target)) for target in targets(noun, invocation)],
          confirm_by_default=True)
    return []


def change_values(noun, invocation, current):
    """The schema parameters given, as the service layer takes them; @{Add=...; Remove=...} edits lists."""
    values = {}
    for name, value in invocation.arguments.items():
        if name in ("Identity", "WhatIf", "Confirm", "Force", "DomainController") or name in noun.usages:
            continue
        param = noun.schema.param(name)
        values[param.name] = (edit_multivalued(noun.schema, param, current, value) if isinstance(value, Hashtable)
                              else service_value(value))
    return values


def edit_multivalued(schema, param, current, table):
    """Exchange's @{Add="a","b"; Remove="c"}: the current list with items added and removed."""
    if not param.type.multivalued:
        raise ShellError(f"Cannot bind parameter '{param.name}'. @{{Add=...; Remove=...}} can only change a "
                         f"multi-valued property.")
    unknown = [key for key in table if key.lower() not in ("add", "remove")]
    if unknown:
        raise ShellError(f"Cannot bind parameter '{param.name}'. The key '{unknown[0]}' isn't valid; use Add and "
                         f"Remove.")
    items = list(schema.value(current, param)) if current is not None else []
    added = parse_param(param.name, param.type, service_value(table.lookup("Add")))
    removed = parse_param(param.name, param.type, service_value(table.lookup("Remove")))
    items = [item for item in items if item not in removed]
    return items + [item for item in added if item not in items]


def usage_switch(noun, invocation):
    """-Internet, -Internal... each mean -Usage; only one of them, and not with -Usage."""
    given = [usage for usage in noun.usages if invocation.get(usage)]
    if len(given) > 1 or (given and "Usage" in invocation):
        raise ShellError(PARAMETER_SET_ERROR)
    return given[0] if given else None


# --- parameters -------------------------------------------------------------------------------------------------

TYPE_NAMES = [(p.Bool, "System.Boolean"), (p.Int, "System.Int32"),
              (p.Size, "Microsoft.Exchange.Data.ByteQuantifiedSize"),
              (p.TimeSpan, "Microsoft.Exchange.Data.EnhancedTimeSpan"),
              (p.Credential, "System.Management.Automation.PSCredential"),
              (Password, "System.Security.SecureString"),
              (p.MultiValued, "Microsoft.Exchange.Data.MultiValuedProperty")]
SHELL_TYPES = {p.Credential: PSCredential, Password: SecureString}


def schema_parameter(param, position=None, mandatory=False):
    type_name = next((name for kind, name in TYPE_NAMES if isinstance(param.type, kind)), "System.String")
    accepts = next((shell_type for kind, shell_type in SHELL_TYPES.items() if isinstance(param.type, kind)), None)
    return Parameter(param.name, position=position, mandatory=mandatory, type_name=type_name, accepts=accepts)


def identity_parameter(mandatory):
    return Parameter("Identity", position=0, mandatory=mandatory, pipeline=True)


def get_parameters(noun):
    extra = (*(parameter for parameter, _, _ in noun.get_filters), DOMAIN_CONTROLLER)
    return extra if noun.schema.singleton else (identity_parameter(False), *extra)


# -Force: save a change despite the errors the checks before a save find (a loop, an open relay...).
FORCE = Parameter("Force", switch=True)


def new_parameters(noun):
    settable = [param for param in noun.schema.params if param.settable]
    return (*(schema_parameter(param, 0 if param.name == "Name" else None, param.mandatory) for param in settable),
            *(Parameter(usage, switch=True) for usage in noun.usages), *CHANGE_SWITCHES, FORCE, DOMAIN_CONTROLLER)


def set_parameters(noun):
    settable = [param for param in noun.schema.params if param.settable and not param.create_only]
    return (identity_parameter(not noun.schema.singleton), *(schema_parameter(param) for param in settable),
            *CHANGE_SWITCHES, FORCE, DOMAIN_CONTROLLER)


def remove_parameters(noun):
    return (identity_parameter(True), *CHANGE_SWITCHES, FORCE, DOMAIN_CONTROLLER)


VERBS = {"Get": (get_cmdlet, get_parameters), "New": (new_cmdlet, new_parameters),
         "Set": (set_cmdlet, set_parameters), "Remove": (remove_cmdlet, remove_parameters)}


def register_configuration_cmdlets(noun):
    """Add the noun's Get-/New-/Set-/Remove- cmdlets to the shell."""
    for verb in noun.verbs:
        run, parameters = VERBS[verb]
        CMDLETS.add(Cmdlet(f"{verb}-{noun.noun}", partial(run, noun), parameters(noun)))
    return noun


# --- Exchange 2010's nouns ------------------------------------------------------------------------------------

def server_location(text):
    """A receive connector is looked for on its server, named in its SERVER\\Name identity."""
    server_name, separator, _ = text.partition("\\")
    server = TransportServer.objects.filter(name__iexact=server_name).first() if separator else None
    return server.fqdn if server else ORGANIZATION


class ReceiveConnectorNoun(ConfigNoun):
    def lookup(self, text):
        server_name, separator, name = text.partition("\\")
        if separator:
            return self.objects().filter(server__name__iexact=server_name, name__iexact=name)
        return super().lookup(text)


TRANSPORT_SERVERS = register_configuration_cmdlets(ConfigNoun(
    TRANSPORT_SERVER, "transport server", verbs=("Get", "Set"), identity_fields=("fqdn",)))
register_configuration_cmdlets(ConfigNoun(
    TRANSPORT_SERVER, "Exchange server", noun="ExchangeServer", verbs=("Get",), identity_fields=("fqdn",),
    columns=("Name", "Site", "ServerRole")))
register_configuration_cmdlets(ConfigNoun(
    SEND_CONNECTOR, "Send connector", usages=("Custom", "Internal", "Internet", "Partner"),
    queryset=lambda: SendConnector.objects.prefetch_related("source_transport_servers")))
register_configuration_cmdlets(ReceiveConnectorNoun(
    RECEIVE_CONNECTOR, "Receive connector", usages=("Custom", "Internet", "Internal", "Client", "Partner"),
    queryset=lambda: ReceiveConnector.objects.select_related("server"), location=server_location,
    get_filters=((Parameter("Server"), lambda objects, server: objects.filter(
        server__in=find(TRANSPORT_SERVERS, server)), TransportServer),)))
register_configuration_cmdlets(ConfigNoun(
    FOREIGN_CONNECTOR, "Foreign connector",
    queryset=lambda: ForeignConnector.objects.prefetch_related("source_transport_servers")))
register_configuration_cmdlets(ConfigNoun(ACCEPTED_DOMAIN, "accepted domain"))
register_configuration_cmdlets(ConfigNoun(REMOTE_DOMAIN, "remote domain"))
register_configuration_cmdlets(ConfigNoun(TRANSPORT_CONFIG, "transport configuration", verbs=("Get", "Set")))
register_configuration_cmdlets(ConfigNoun(MAILBOX, "mailbox", identity_fields=("primary_smtp_address",)))
register_configuration_cmdlets(ConfigNoun(USER, "user", verbs=("Get",), identity_fields=("primary_smtp_address",)))
register_configuration_cmdlets(ConfigNoun(RECIPIENT, "recipient", verbs=("Get",),
                                          identity_fields=("primary_smtp_address",)))

"""The EdgeSync cmdlets, as Microsoft documents them:

    New-EdgeSubscription -FileName "C:\\EdgeSubscriptionInfo.xml"                       (on the Edge)
    New-EdgeSubscription -FileData ([byte[]]$(Get-Content -Path "C:\\EdgeSubscriptionInfo.xml" -Encoding Byte `
        -ReadCount 0)) -Site "Default-First-Site-Name"                                  (in the organization)
    Get-EdgeSubscription, Remove-EdgeSubscription (both sides), Start-EdgeSynchronization,
    Test-EdgeSynchronization, Get-/Set-EdgeSyncServiceConfig (in the organization)

Paths are the shell's (exchange_console.shell.files): C:\\EdgeSubscriptionInfo.xml is <EMS_FILE_ROOT>/C/... on
the machine whose shell runs the command; carry the file from the Edge's to the organization's as Exchange's is."""
from functools import partial

from django.db.models import Q

from exchange_console.accounts.rbac import check_change
from exchange_console.edge import services
from exchange_console.edge.models import EdgeSubscription, EdgeSyncServiceConfig
from exchange_console.edge.schemas import EDGE_SUBSCRIPTION, EDGESYNC_SERVICE_CONFIG, LOCAL_EDGE_SUBSCRIPTION
from exchange_console.organization.models import TransportServer
from exchange_console.organization.schemas import TRANSPORT_SERVER
from exchange_console.services import current_caller
from exchange_console.shell import files
from exchange_console.shell.cmdlets import CHANGE_SWITCHES, ConfigNoun, apply, find, register_configuration_cmdlets
from exchange_console.shell.errors import ObjectNotFoundError, ParameterBindingError, ShellError
from exchange_console.shell.registry import Parameter, cmdlet
from exchange_console.shell.values import ConfigRecord, PSObject, to_string, truthy
from transport import dispatch

class EdgeSubscriptionNoun(ConfigNoun):
    """Identified by the Edge's name or FQDN."""

    def lookup(self, text):
        return self.objects().filter(Q(server__name__iexact=text) | Q(server__fqdn__iexact=text))


SUBSCRIPTIONS = EdgeSubscriptionNoun(EDGE_SUBSCRIPTION, "Edge subscription", verbs=(),
                                     queryset=lambda: EdgeSubscription.objects.select_related("server", "site"))
class EdgeSyncServiceNoun(ConfigNoun):
    """Identified by its site: `Default-First-Site-Name` or `Default-First-Site-Name\\EdgeSyncService`."""

    def lookup(self, text):
        site = text.removesuffix("\\EdgeSyncService").removesuffix("\\edgesyncservice")
        return self.objects().filter(site__name__iexact=site)


register_configuration_cmdlets(EdgeSyncServiceNoun(
    EDGESYNC_SERVICE_CONFIG, "EdgeSync service configuration", verbs=("Get", "Set"),
    queryset=lambda: EdgeSyncServiceConfig.objects.select_related("site")))
CONFIRM_SUBSCRIPTION = (
    "Creating an Edge subscription makes this Edge Transport server managed by EdgeSync: the accepted domains, "
    "remote domains and Send connectors created on it are deleted now, and from then on they come from the "
    "organization. The subscription file it writes must be imported in the organization within 1440 minutes.")


@cmdlet("New-EdgeSubscription", Parameter("FileName"), Parameter("FileData", type_name="System.Byte[]"),
        Parameter("Site"), Parameter("CreateInternetSendConnector", type_name="System.Boolean"),
        Parameter("CreateInboundSendConnector", type_name="System.Boolean"), Parameter("Force", switch=True),
        *CHANGE_SWITCHES)
def new_edge_subscription(invocation):
    if "FileName" in invocation and "FileData" in invocation:
        raise ParameterBindingError("Parameter set cannot be resolved: give -FileName (on the Edge Transport "
                                    "server) or -FileData (in the organization), not both.")
    if "FileName" in invocation:
        return _export(invocation)
    if "FileData" not in invocation:
        raise ParameterBindingError("Specify -FileName on the Edge Transport server, or -FileData and -Site in the "
                                    "organization.")
    if "Site" not in invocation:
        raise ParameterBindingError("Cannot process command because of one or more missing mandatory parameters: "
                                    "Site.")
    data, site = _file_data(invocation.get("FileData")), to_string(invocation.get("Site"))
    create = {name: truthy(invocation.get(name)) if name in invocation else True
              for name in ("CreateInternetSendConnector", "CreateInboundSendConnector")}
    return [ConfigRecord(EDGE_SUBSCRIPTION, subscription) for subscription in apply(invocation, [(
        f'Creating an Edge subscription in the site "{site}".',
        lambda: services.import_subscription(data, site, create["CreateInternetSendConnector"],
                                             create["CreateInboundSendConnector"]))])]


def _export(invocation):
    name = to_string(invocation.get("FileName"))
    if files.exists(name) and not invocation.get("Force"):
        raise ShellError(f"The file '{name}' already exists. Use -Force to overwrite it.")

    def export():
        subscription_file = services.export_subscription()
        files.write(name, subscription_file.to_xml())
        return subscription_file

    apply(invocation, [(CONFIRM_SUBSCRIPTION, export)], confirm_by_default=not invocation.get("Force"))
    return []


def _file_data(value):
    if isinstance(value, list) and all(isinstance(item, int) and 0 <= item <= 255 for item in value):
        return bytes(value)
    return to_string(value).encode()


@cmdlet("Get-EdgeSubscription", Parameter("Identity", position=0, pipeline=True))
def get_edge_subscription(invocation):
    state = services.local_edge_state()
    if state is not None:   # the Edge's own view of its subscription
        return [ConfigRecord(LOCAL_EDGE_SUBSCRIPTION, state)] if state.is_subscribed or state.bootstrap_expires else []
    identities = invocation.each("Identity")
    found = [obj for identity in identities for obj in find(SUBSCRIPTIONS, identity, wildcards=True)] \
        if identities else SUBSCRIPTIONS.objects()
    return [SUBSCRIPTIONS.record(subscription) for subscription in found]


@cmdlet("Remove-EdgeSubscription", Parameter("Identity", position=0, pipeline=True, mandatory=True),
        Parameter("Force", switch=True), Parameter("DomainController"), *CHANGE_SWITCHES)
def remove_edge_subscription(invocation):
    state = services.local_edge_state()
    planned = []
    for identity in invocation.each("Identity"):
        if state is not None:
            if to_string(identity.get("Identity") if isinstance(identity, ConfigRecord) else identity).lower() \
                    != state.server.name.lower():
                raise ObjectNotFoundError(to_string(identity), state.server.fqdn)
            planned.append((f'Removing the Edge subscription of "{state.server.name}".',
                            partial(services.remove_local_subscription, state)))
            continue
        for subscription in find(SUBSCRIPTIONS, identity):
            planned.append((f'Removing the Edge subscription "{subscription.server.name}".',
                            partial(services.remove_subscription, subscription)))
    apply(invocation, planned, confirm_by_default=True)
    return []


def _hubs(invocation):
    """The Hubs -Server names, or every Hub of a site with a subscription."""
    if "Server" in invocation:
        hubs = [server for server in find(_HUB_NOUN, invocation.get("Server"))]
    else:
        hubs = list(TransportServer.objects.local().filter(site__edge_subscriptions__isnull=False).distinct())
    if not hubs:
        raise ShellError("No Edge Transport server is subscribed to the organization.")
    return hubs


_HUB_NOUN = ConfigNoun(TRANSPORT_SERVER, "Hub Transport server", verbs=(), identity_fields=("fqdn",),
                       queryset=lambda: TransportServer.objects.local())


@cmdlet("Start-EdgeSynchronization", Parameter("Server"), Parameter("TargetServer"),
        Parameter("ForceFullSync", switch=True), Parameter("ForceUpdateCookie", switch=True))
def start_edge_synchronization(invocation):
    """The first Hub that answers pushes every kind to every Edge of its site now, and says how each went."""
    _refuse_on_edge("Start-EdgeSynchronization")
    caller = current_caller()
    if caller is not None:   # Organization Management's, as Exchange's EdgeSync role
        check_change(caller.user, "Start", "EdgeSynchronization")
    hubs = _hubs(invocation)
    rows = _ask_hubs(hubs, lambda hub: dispatch.synchronize_edges(hub.name, wait=True))
    target = to_string(invocation.get("TargetServer")).lower() if "TargetServer" in invocation else ""
    return [PSObject({name: row[name] for name in ("Result", "Type", "Name", "FailureDetails", "Updated", "Hub",
                                                   "StartUTC", "EndUTC")})
            for row in rows if not target or row["Name"].lower() == target]


@cmdlet("Test-EdgeSynchronization", Parameter("Server"), Parameter("ExcludeRecipientTest", switch=True),
        Parameter("VerifyRecipient"), Parameter("MonitoringContext", type_name="System.Boolean"))
def test_edge_synchronization(invocation):
    _refuse_on_edge("Test-EdgeSynchronization")
    exclude = bool(invocation.get("ExcludeRecipientTest"))
    rows = _ask_hubs(_hubs(invocation), lambda hub: dispatch.test_edge_synchronization(hub.name, exclude))
    return [PSObject(row) for row in rows]


def _ask_hubs(hubs, ask):
    """The answer of the first Hub that gives one; none answering is an error naming why each didn't."""
    reasons = []
    for hub in hubs:
        try:
            return ask(hub)
        except dispatch.ServerUnavailable as error:
            reasons.append(str(error))
    raise ShellError("No Hub Transport server of the subscribed sites answered: " + " ".join(reasons))


def _refuse_on_edge(name):
    if services.local_edge_state() is not None:
        raise ShellError(f"{name} runs in the organization, on its Hub Transport servers; this is an Edge Transport "
                         "server.")


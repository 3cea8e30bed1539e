"""Edge subscriptions and the EdgeSync service settings under Exchange's names."""
from datetime import timedelta

from exchange_console import params as p
from exchange_console.edge.models import EdgeSubscription, EdgeSyncServiceConfig, EdgeSyncState
from exchange_console.organization.schemas import common_params
from exchange_console.schema import ObjectSchema, Param, read_only


def _status(kind, key):
    return lambda subscription: subscription.status.get(kind, {}).get(key, "")


EDGE_SUBSCRIPTION = ObjectSchema(
    noun="EdgeSubscription",
    model=EdgeSubscription,
    params=common_params() + [
        read_only("Name", "name"),
        read_only("Site", "site", getter=lambda subscription: subscription.site.name),
        read_only("Domain", "fqdn", getter=lambda subscription: subscription.server.fqdn.partition(".")[2]),
        read_only("Fqdn", "fqdn", getter=lambda subscription: subscription.server.fqdn),
        read_only("SmtpPort", "smtp_port", p.Int(1, 65535)),
        read_only("EdgeSyncPort", "edgesync_port", p.Int(1, 65535)),
        read_only("BootstrapExpires", "bootstrap_expires", p.DateTime()),
        read_only("LastConfigurationSync", "status", getter=_status("Configuration", "LastSync")),
        read_only("LastRecipientSync", "status", getter=_status("Recipients", "LastSync")),
        read_only("LastSyncResult", "status", getter=_status("Configuration", "Result")),
        read_only("FailureDetails", "status", getter=_status("Configuration", "FailureDetails")),
    ],
    default_columns=("Name", "Site", "Domain"),
)

# The subscription as the Edge itself knows it.
LOCAL_EDGE_SUBSCRIPTION = ObjectSchema(
    noun="EdgeSubscription",
    model=EdgeSyncState,
    params=[
        read_only("Identity", "server", getter=lambda state: state.server.name),
        read_only("Name", "server", getter=lambda state: state.server.name),
        read_only("Site", "site", getter=lambda state: state.site or "(not subscribed)"),
        read_only("Domain", "server", getter=lambda state: state.server.fqdn.partition(".")[2]),
        read_only("EdgeSyncPort", "edgesync_port", p.Int(1, 65535)),
        read_only("BootstrapExpires", "bootstrap_expires", p.DateTime()),
        read_only("Subscribed", "subscribed", p.DateTime()),
        read_only("HubServers", "hub_servers", getter=lambda state: [hub["name"] for hub in state.hub_servers]),
        read_only("LastSynchronized", "synchronized",
                  getter=lambda state: max(state.synchronized.values(), default="")),
    ],
    default_columns=("Name", "Site", "Domain"),
    identity=staticmethod(lambda state: state.server.name),
)

SYNC_INTERVAL = p.TimeSpan(timedelta(seconds=1), timedelta(days=1))

EDGESYNC_SERVICE_CONFIG = ObjectSchema(
    noun="EdgeSyncServiceConfig",
    model=EdgeSyncServiceConfig,
    params=common_params() + [
        read_only("Name", "name"),
        read_only("Site", "site", getter=lambda config: config.site.name),
        Param("ConfigurationSyncInterval", "configuration_sync_interval", SYNC_INTERVAL),
        Param("RecipientSyncInterval", "recipient_sync_interval", SYNC_INTERVAL),
    ],
    default_columns=("Name", "Site", "ConfigurationSyncInterval", "RecipientSyncInterval"),
)

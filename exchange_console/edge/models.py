"""EdgeSync's objects (docs/edge.md).

In the organization's database: an EdgeSubscription for each subscribed Edge Transport server, and the EdgeSync
settings of each site. In an Edge's own database: EdgeSyncState (the bootstrap credential its subscription file
carried, the site it is subscribed to, the Hubs allowed to push, what was synchronized and when) and the
organization's recipients, hashed, for recipient filtering."""
from datetime import timedelta

from django.db import models


from exchange_console.organization.models import ConfigObject, Site, TransportServer

BOOTSTRAP_LIFETIME = timedelta(minutes=1440)   # Exchange: the subscription file must be imported within a day
EDGESYNC_PORT = 50636                          # Exchange's AD LDS secure port on the Edge
CONFIGURATION, RECIPIENTS = "Configuration", "Recipients"


class EdgeSyncServiceConfig(ConfigObject):
    """Get-/Set-EdgeSyncServiceConfig: how often the Hubs of a site push to the Edges subscribed to it."""
    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="edgesync_config")
    configuration_sync_interval = models.DurationField(default=timedelta(minutes=3))
    recipient_sync_interval = models.DurationField(default=timedelta(minutes=5))

    name = "EdgeSyncService"

    @property
    def identity(self):
        return f"{self.site.name}\\EdgeSyncService"


class EdgeSubscription(ConfigObject):
    """An Edge Transport server subscribed to a site (organization side). Its TransportServer row (role Edge)
    is the source of the EdgeSync connectors and carries the Edge's certificate (no private key)."""
    server = models.OneToOneField(TransportServer, on_delete=models.CASCADE, related_name="edge_subscription")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="edge_subscriptions")
    smtp_port = models.PositiveIntegerField(default=25)
    edgesync_port = models.PositiveIntegerField(default=EDGESYNC_PORT)
    bootstrap_account = models.CharField(max_length=64)
    bootstrap_password_encrypted = models.TextField()
    bootstrap_expires = models.DateTimeField()
    # Written by the Hubs after each push: {kind: {"Hub": name, "LastSync": ISO time, "Result": "Success" or why
    # not, "Digest": what the Edge holds}}.
    status = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["server__name"]

    @property
    def name(self):
        return self.server.name

    @property
    def identity(self):
        return self.server.name


class EdgeSyncState(models.Model):
    """The Edge side of a subscription (one row, in an Edge's own database)."""
    server = models.OneToOneField(TransportServer, on_delete=models.CASCADE, related_name="edgesync_state")
    edgesync_port = models.PositiveIntegerField(default=EDGESYNC_PORT)
    bootstrap_account = models.CharField(max_length=64, blank=True, default="")
    bootstrap_password_hash = models.CharField(max_length=128, blank=True, default="")
    bootstrap_expires = models.DateTimeField(null=True, blank=True)
    site = models.CharField(max_length=64, blank=True, default="")   # "" until the first push is applied
    subscribed = models.DateTimeField(null=True, blank=True)
    hub_fingerprints = models.JSONField(default=list, blank=True)    # SHA-256 of the certificates that may push
    hub_servers = models.JSONField(default=list, blank=True)         # [{name, fqdn, smtp_port}]: where `--` leads
    digests = models.JSONField(default=dict, blank=True)             # kind -> digest of what was applied
    synchronized = models.JSONField(default=dict, blank=True)        # kind -> ISO time of the last push applied

    @property
    def is_subscribed(self):
        return bool(self.site)


class EdgeRecipient(models.Model):
    """One of the organization's recipients, hashed (Edge side)."""
    address_hash = models.CharField(max_length=64, unique=True)

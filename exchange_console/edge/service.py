"""The Microsoft Exchange EdgeSync service, run by each transport server's worker (a Celery bootstep).

On a Hub: every few seconds, for each Edge subscribed to the Hub's site, push the configuration when
ConfigurationSyncInterval has passed since the last push (by any Hub of the site: a Hub that is down leaves it to
the others) and the recipients when RecipientSyncInterval has; Start-EdgeSynchronization pushes at once. On an
Edge: the synchronization listener, which applies what the Hubs push."""
import logging
import threading
from datetime import datetime

from celery import bootsteps
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from exchange_console import secrets
from exchange_console.edge import sync
from exchange_console.edge.channel import (
    APPLY, STATUS, ChannelError, EdgeClient, SyncListener, basic_credentials, fingerprint,
)
from exchange_console.edge.models import (
    CONFIGURATION, RECIPIENTS, EdgeSubscription, EdgeSyncServiceConfig, EdgeSyncState,
)
from exchange_console.edge.services import bootstrap_accepted
from exchange_console.organization.models import TransportServer

log = logging.getLogger("edgesync")

TICK = 5   # seconds between the Hub's looks at what is due
SUCCESS = "Success"


class HubEdgeSync:
    """The Hub side for one Hub server."""

    def __init__(self, server_name):
        self.server_name = server_name
        self._lock = threading.Lock()   # one push at a time from this Hub (the timer's or a forced one)

    def subscriptions(self):
        hub = TransportServer.objects.get(name=self.server_name)
        return hub, list(EdgeSubscription.objects.filter(site=hub.site).select_related("server", "site"))

    def synchronize(self, force=False, kinds=(CONFIGURATION, RECIPIENTS)):
        """Push what is due (or, forced, every kind) to every Edge of the site; one Edge failing doesn't stop the
        others. Returns one result per Edge and kind, as Start-EdgeSynchronization shows them."""
        results = []
        with self._lock:
            hub, subscriptions = self.subscriptions()
            for subscription in subscriptions:
                for kind in kinds:
                    if force or self._due(subscription, kind):
                        results.append(self.push(hub, subscription, kind))
        return results

    def _due(self, subscription, kind):
        config = EdgeSyncServiceConfig.objects.filter(site=subscription.site).first() or EdgeSyncServiceConfig()
        interval = (config.configuration_sync_interval if kind == CONFIGURATION
                    else config.recipient_sync_interval)
        last = subscription.status.get(kind, {}).get("LastSync")
        return last is None or timezone.now() - datetime.fromisoformat(last) >= interval

    def push(self, hub, subscription, kind):
        """One kind to one Edge: ask what it holds, send what differs, record the outcome on the subscription."""
        start = timezone.now()
        built = sync.build(subscription, sync.KINDS[kind])
        digests = {name: sync.digest(value) for name, value in built.items()}
        try:
            client = self.client(hub, subscription)
            held = client.call(STATUS)["Digests"]
            changed = {name: value for name, value in built.items() if held.get(name) != digests[name]}
            if changed:
                client.call(APPLY, {"Organization": built.get(sync.TRANSPORT_SERVER, {}).get("Organization", ""),
                                    "Site": subscription.site.name, "Kinds": changed,
                                    "Digests": {name: digests[name] for name in changed}})
            result = {"Result": SUCCESS, "Updated": sorted(changed), "FailureDetails": ""}
        except ChannelError as error:
            log.warning("EdgeSync from %s to %s failed: %s", hub.name, subscription.server.name, error)
            result = {"Result": "Failure", "Updated": [], "FailureDetails": str(error)}
        record = {**result, "Hub": hub.name, "StartUTC": start.isoformat(), "EndUTC": timezone.now().isoformat()}
        if result["Result"] == SUCCESS:
            record["LastSync"] = record["EndUTC"]
        self._record(subscription, kind, record)
        return {"Name": subscription.server.name, "Type": kind, **record}

    @staticmethod
    @transaction.atomic
    def _record(subscription, kind, record):
        current = EdgeSubscription.objects.select_for_update().filter(pk=subscription.pk).first()
        if current is None:   # removed meanwhile
            return
        previous = current.status.get(kind, {})
        current.status = {**current.status, kind: {**previous, **record}}
        EdgeSubscription.objects.filter(pk=current.pk).update(status=current.status)
        subscription.status = current.status

    def client(self, hub, subscription):
        from transport.snapshot import SmtpCertificate

        edge_certificate = subscription.server.certificates.filter(services="SMTP").last()
        if edge_certificate is None:
            raise ChannelError(f"The organization holds no certificate of {subscription.server.name}")
        bootstrap = None
        if subscription.bootstrap_expires > timezone.now():
            bootstrap = (subscription.bootstrap_account, secrets.decrypt(subscription.bootstrap_password_encrypted))
        return EdgeClient(hub, SmtpCertificate.of(hub), subscription, edge_certificate.thumbprint_sha256, bootstrap)

    def test(self, exclude_recipients=False):
        """Test-EdgeSynchronization: per Edge of the site, each kind's state on the Edge against the organization."""
        hub, subscriptions = self.subscriptions()
        kinds = sync.KINDS[CONFIGURATION] + (() if exclude_recipients else sync.KINDS[RECIPIENTS])
        return [self._compare(hub, subscription, kinds) for subscription in subscriptions]

    def _compare(self, hub, subscription, kinds):
        built = sync.build(subscription, kinds)
        row = {"Name": subscription.server.name, "Site": subscription.site.name, "Hub": hub.name}
        try:
            answer = self.client(hub, subscription).call(STATUS)
            row["FailureDetail"] = ""
        except ChannelError as error:
            answer, row["FailureDetail"] = {"Digests": {}, "Synchronized": {}}, str(error)
        for kind, value in built.items():
            synchronized = answer["Digests"].get(kind) == sync.digest(value)
            row[f"{kind}Status"] = "Synchronized" if synchronized else "NotSynchronized"
        times = [answer["Synchronized"].get(kind) for kind in kinds]
        row["LastSynchronizedUtc"] = max(filter(None, times), default="")
        row["Lag"] = ((timezone.now() - datetime.fromisoformat(row["LastSynchronizedUtc"])).total_seconds()
                      if row["LastSynchronizedUtc"] else None)
        return row


class EdgeListener:
    """The Edge side: the synchronization listener and what it does with a push."""

    def __init__(self, server_name):
        self.server_name = server_name
        state = self.state()
        self.listener = SyncListener(settings.EDGESYNC_LISTEN_ADDRESS, state.edgesync_port, self.certificate,
                                     self.authorize, self.handle)

    def state(self):
        return EdgeSyncState.objects.select_related("server").get(server__name=self.server_name)

    def certificate(self):
        close_old_connections()
        state = self.state()
        own = state.server.certificates.filter(services="SMTP").last()
        hubs = [certificate.certificate_pem for server in TransportServer.objects.hubs()
                for certificate in server.certificates.filter(thumbprint_sha256__in=state.hub_fingerprints)]
        return own.certificate_pem.encode(), own.private_key_pem(), hubs

    def authorize(self, peer_fingerprint, authorization):
        state = self.state()
        if peer_fingerprint and peer_fingerprint in state.hub_fingerprints:
            return True
        credentials = basic_credentials(authorization)
        return bool(credentials) and bootstrap_accepted(state, *credentials)

    def handle(self, path, body, hub_name):
        state = self.state()
        if path == APPLY:
            changed = sync.apply(state, body["Organization"], body["Site"], body["Kinds"], body["Digests"])
            log.info("EdgeSync from %s applied: %s", hub_name or "a Hub", ", ".join(
                f"{kind} ({count})" for kind, count in changed.items()))
            state = self.state()
        elif path != STATUS:
            raise KeyError(path)
        return {"Digests": state.digests, "Synchronized": state.synchronized, "Site": state.site}

    def stop(self):
        self.listener.stop()


class EdgeSyncStep(bootsteps.StartStopStep):
    """Starts the EdgeSync service of the worker's transport server, after the transport's own step."""

    def __init__(self, worker, transport_server=None, **options):
        super().__init__(worker, **options)
        self.server_name = transport_server
        self.hub = self.edge = None
        self._stopped = threading.Event()

    def start(self, worker):
        if not self.server_name:
            return
        server = TransportServer.objects.get(name=self.server_name)
        if server.is_edge:
            try:
                self.edge = EdgeListener(server.name)
            except OSError as error:
                log.error("The EdgeSync listener can't start: %s", error)
            return
        self.hub = HubEdgeSync(server.name)
        worker.app.edgesync_services = {server.name.lower(): self.hub}
        threading.Thread(target=self._run, name="edgesync", daemon=True).start()

    def _run(self):
        while not self._stopped.wait(TICK):
            try:
                self.hub.synchronize()
            except Exception:   # the database away for a moment: the next tick tries again
                log.exception("EdgeSync from %s failed", self.server_name)
            finally:
                close_old_connections()

    def stop(self, worker):
        self._stopped.set()
        if self.edge is not None:
            self.edge.stop()

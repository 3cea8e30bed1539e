"""The receive side of one transport server: one listening socket per distinct binding of its enabled
receive connectors, reconciled with each new snapshot, plus the per-connector connection and rate counters
that the sessions consult. Lives on the worker's event loop."""
import collections
import errno
import logging
import time

from transport.receive.acceptance import GroupAcceptance
from transport.receive.session import TOO_MANY_CONNECTIONS, TOO_MANY_FROM_SOURCE, BannerClock, ReceiveSession

log = logging.getLogger(__name__)

# Connections the kernel may hold before a session takes them (it caps this at net.core.somaxconn). asyncio's
# default of 100 drops the rest of a burst of clients; with SYN cookies neither side notices, and an SMTP client,
# waiting for the banner, hangs until its own timeout, below every limit the connector sets.
LISTEN_BACKLOG = 4096

LISTENING = "Listening"
RATE_WINDOW = 60.0   # MessageRateLimit is per minute


class ReceiveService:
    def __init__(self, loop):
        self.loop = loop
        self.runtime = None
        self.acceptance = GroupAcceptance(loop)
        self.listeners = {}                          # Binding -> asyncio.Server
        self.status = {}                             # 'IP:port' -> 'Listening' or why it isn't
        self._connections = collections.Counter()    # connector identity -> open sessions
        self._per_source = collections.Counter()     # (connector identity, client IP) -> open sessions
        self._submissions = collections.defaultdict(collections.deque)   # rate key -> submission times
        self.received = collections.Counter()        # connector name -> messages accepted (metrics)
        self.refused = collections.Counter()         # (connector name, reason) -> sessions refused (metrics)
        self.banner_clock = BannerClock()

    async def apply(self, runtime):
        """Switch to a new configuration: new sessions get it at once; open ones keep theirs."""
        self.runtime = runtime
        wanted = {binding for connector in runtime.snapshot.enabled_connectors() for binding in connector.bindings}
        for binding in set(self.listeners) - wanted:
            self.listeners.pop(binding).close()
            log.info("Stopped listening on %s", binding, extra=self._log_fields())
        self.status = {str(binding): LISTENING for binding in self.listeners}
        for binding in sorted(wanted - set(self.listeners), key=str):
            await self._open(binding)
        return dict(self.status)

    async def _open(self, binding):
        try:
            self.listeners[binding] = await self.loop.create_server(
                lambda: ReceiveSession(self), host=str(binding.address), port=binding.port, reuse_address=True,
                backlog=LISTEN_BACKLOG)
        except OSError as error:
            self.status[str(binding)] = _binding_error(binding, error)
            log.error("Receive binding %s can't open: %s", binding, self.status[str(binding)], extra=self._log_fields())
            return
        self.status[str(binding)] = LISTENING
        log.info("Listening on %s", binding, extra=self._log_fields())

    def _log_fields(self):
        return {"server": self.runtime.snapshot.name}

    async def close(self):
        for server in self.listeners.values():
            server.close()
        self.listeners.clear()

    async def counts(self):
        """The counters the worker's metrics show (on the event loop, where the sessions change them). Every
        enabled connector is listed, so that a counter exists from zero before its first message."""
        connectors = self.runtime.snapshot.enabled_connectors() if self.runtime else ()
        return {"received": {c.name: self.received[c.name] for c in connectors} | dict(self.received),
                "active": {c.name: self._connections[c.identity] for c in connectors},
                "refused": dict(self.refused)}

    # --- limits that span sessions ---------------------------------------------------------------------

    def connection_opened(self, connector, client_ip):
        """None to admit the connection, else the 421 reply (MaxInboundConnection[PerSource|Percentage])."""
        total, from_source = self._connections[connector.identity], self._per_source[connector.identity, client_ip]
        if connector.max_inbound_connection is not None and total >= connector.max_inbound_connection:
            return TOO_MANY_CONNECTIONS
        if from_source >= _per_source_limit(connector):
            return TOO_MANY_FROM_SOURCE
        self._connections[connector.identity] += 1
        self._per_source[connector.identity, client_ip] += 1
        return None

    def connection_closed(self, connector, client_ip):
        self._connections[connector.identity] -= 1
        self._per_source[connector.identity, client_ip] -= 1
        if self._per_source[connector.identity, client_ip] <= 0:
            del self._per_source[connector.identity, client_ip]

    def record_message(self, connector, client_ip, auth_user):
        """Count one submission against MessageRateLimit; False when the client is over its rate."""
        if connector.message_rate_limit is None or connector.message_rate_source == "None":
            return True
        keys = []
        if connector.message_rate_source in ("IPAddress", "All"):
            keys.append((connector.identity, "ip", client_ip))
        if connector.message_rate_source in ("User", "All") and auth_user:
            keys.append((connector.identity, "user", auth_user))
        now = time.monotonic()
        for key in keys:
            times = self._submissions[key]
            while times and now - times[0] > RATE_WINDOW:
                times.popleft()
            if len(times) >= connector.message_rate_limit:
                return False
        for key in keys:
            self._submissions[key].append(now)
        return True


def _per_source_limit(connector):
    limits = []
    if connector.max_inbound_connection_per_source is not None:
        limits.append(connector.max_inbound_connection_per_source)
    if connector.max_inbound_connection is not None:
        share = connector.max_inbound_connection * connector.max_inbound_connection_percentage_per_source // 100
        limits.append(max(share, 1))
    return min(limits, default=float("inf"))


def _binding_error(binding, error):
    if error.errno == errno.EADDRINUSE:
        return f"The address {binding} is already in use."
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"Permission to listen on {binding} was denied."
    if error.errno == errno.EADDRNOTAVAIL:
        return f"The address {binding.address} isn't an address of this server."
    return f"Can't listen on {binding}: {error.strerror or error}"

"""Prometheus metrics of a transport server, served by its worker on TRANSPORT_METRICS_PORT (docs/metrics.md).

Two processes count. The worker counts delivery itself (its Celery pool threads, prometheus-client's own
locks). The receive process counts sessions with plain counters on its ReceiveService (an increment on the
event loop, no lock) and hands them over the pipe the worker already talks to it on, when a scrape asks.
Nothing is shared through files, and a receive process that dies takes its counts with it: the counters
start again from zero, which Prometheus' rate() and increase() read as a counter reset.
"""
import logging
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

log = logging.getLogger("transport")

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 48 * 3600)


class DeliveryMetrics:
    """What delivery counts, in a registry of the worker's own (its runtime holds it)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.sent = Counter("exchange_transport_messages_sent", "Messages a send or foreign connector delivered",
                            ["server", "connector"], registry=self.registry)
        self.failed = Counter("exchange_transport_messages_failed", "Messages that failed (NDR) on a connector",
                              ["server", "connector"], registry=self.registry)
        self.latency = Histogram(
            "exchange_transport_delivery_latency_seconds", "From the 250 that accepted a message to its delivery",
            ["server", "connector"], registry=self.registry, buckets=LATENCY_BUCKETS)

    def message_sent(self, server_name, connector_name, arrival_time):
        """A message left through a connector (its first recipients to be delivered count it)."""
        self.sent.labels(server_name, connector_name).inc()
        latency = (datetime.now(timezone.utc) - arrival_time).total_seconds()
        self.latency.labels(server_name, connector_name).observe(max(latency, 0.0))

    def message_failed(self, server_name, connector_name):
        self.failed.labels(server_name, connector_name).inc()


class ServerCollector:
    """What a scrape reads at that moment: the receive process's counts, the listeners' state, the running
    configuration and the server's queues."""

    def __init__(self, listeners):
        self.listeners = listeners   # transport.worker.ReceiveListeners

    def collect(self):
        from django.db import connection

        server = self.listeners.server_name
        yield from _receive_metrics(server, self.listeners.process.counts())
        yield from _listener_metrics(server, self.listeners.running())
        try:
            yield _queue_metric(server)
        finally:
            connection.close()   # each scrape is a thread of its own: its connection goes with it


def _receive_metrics(server, counts):
    """counts: what ReceiveService.counts() answered, or None when the receive process isn't running."""
    received = CounterMetricFamily("exchange_receive_messages_received", "Messages a receive connector accepted",
                                   labels=["server", "connector"])
    active = GaugeMetricFamily("exchange_receive_sessions_active", "Open SMTP sessions on a receive connector",
                               labels=["server", "connector"])
    refused = CounterMetricFamily("exchange_receive_sessions_refused",
                                  "SMTP sessions refused or ended by a limit, by reason",
                                  labels=["server", "connector", "reason"])
    for connector, count in (counts or {}).get("received", {}).items():
        received.add_metric([server, connector], count)
    for connector, count in (counts or {}).get("active", {}).items():
        active.add_metric([server, connector], count)
    for (connector, reason), count in (counts or {}).get("refused", {}).items():
        refused.add_metric([server, connector, reason], count)
    return received, active, refused


def _listener_metrics(server, running):
    """running: (snapshot, {binding: status}) the receive process last reported, or None."""
    listening = GaugeMetricFamily("exchange_receive_listener_up", "1 when the binding listens, else 0",
                                  labels=["server", "binding"])
    applied = GaugeMetricFamily("exchange_transport_configuration_timestamp_seconds",
                                "When the running configuration was last changed (its version)", labels=["server"])
    if running is not None:
        snapshot, status = running
        for binding, state in sorted(status.items()):
            listening.add_metric([server, binding], 1 if state == "Listening" else 0)
        applied.add_metric([server], snapshot.configuration_stamp.timestamp())
    return listening, applied


def _queue_metric(server):
    from django.db.models import Count

    from transport.queue.models import MessageStatus, QueuedMessage

    queued = GaugeMetricFamily("exchange_transport_queue_messages", "Messages in the server's queues, by status",
                               labels=["server", "status"])
    counts = dict.fromkeys(MessageStatus.values, 0)
    rows = QueuedMessage.objects.filter(queue__server__name=server).values_list("status").annotate(Count("id"))
    counts.update(rows)
    for status, count in counts.items():
        queued.add_metric([server, status], count)
    return queued


class MetricsEndpoint:
    """The worker's HTTP endpoint (any path answers, /metrics included)."""

    def __init__(self, listeners, registry, address, port):
        self.registry = registry
        self.server, _ = start_http_server(port, address, registry=registry)
        self.collector = ServerCollector(listeners)
        registry.register(self.collector)
        log.info("Metrics of transport server %s on http://%s:%d/metrics", listeners.server_name, address, port,
                 extra={"server": listeners.server_name})

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.registry.unregister(self.collector)

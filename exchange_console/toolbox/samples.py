"""Per-minute samples of a server's queues and traffic, and the last 24 hours of them for the Queue Viewer's charts."""
from collections import defaultdict
from datetime import timedelta

from django.utils import timezone

from exchange_console.organization.models import TransportServer
from exchange_console.toolbox.models import QueueSample
from transport.logs import reading
from transport.logs.tracking import tracking_settings_for
from transport.queue.models import QueuedMessage

RECEIVED_EVENTS = {"RECEIVE"}
SENT_EVENTS = {"SEND", "DELIVER", "TRANSFER"}
WINDOW = timedelta(hours=24)
METRICS = {"queued": "Queued messages", "received": "Received per minute", "sent": "Sent per minute"}


def record_sample(server_name, now=None):
    """The sample of the minute that just ended, counted from the server's own tracking log: it runs on the
    server's worker (record_queue_sample, sent to its queue), the one place that may open the server's folders."""
    server = TransportServer.objects.get(name__iexact=server_name)
    minute = (now or timezone.now()).replace(second=0, microsecond=0)
    start = minute - timedelta(minutes=1)
    received = sent = 0
    for path in reading.log_files(tracking_settings_for(server).directory, "MSGTRK"):
        if path.stat().st_mtime < start.timestamp():
            continue
        for row in reading.read_log(path)[0]:
            if start <= reading.parse_time(row["date-time"]) < minute:
                received += row["event-id"] in RECEIVED_EVENTS
                sent += row["event-id"] in SENT_EVENTS
    queued = QueuedMessage.objects.filter(queue__server=server).values("store_id").distinct().count()
    QueueSample.objects.update_or_create(server=server, when=minute,
                                         defaults={"queued": queued, "received": received, "sent": sent})
    QueueSample.objects.filter(server=server, when__lt=minute - WINDOW).delete()


def statistics(servers, now=None):
    """The last 24 hours of some servers as the Queue Viewer shows them: the chart's data, ready for json_script
    (the sampled minutes in Unix seconds and, per metric, one series per server aligned on them), and the
    latest sample of each server."""
    now = now or timezone.now()
    rows = QueueSample.objects.filter(server__in=servers, when__gte=now - WINDOW).values_list(
        "server_id", "when", *METRICS)
    counts = defaultdict(dict)  # server id -> {minute in Unix seconds: counts}; an aware datetime hashes slowly
    for server_id, when, *values in rows:
        counts[server_id][int(when.timestamp())] = values
    minutes = sorted(set().union(*counts.values()))
    chart = {"start": int((now - WINDOW).timestamp()), "end": int(now.timestamp()),
             "timeZone": timezone.get_current_timezone_name(), "times": minutes,
             "servers": [server.name for server in servers],
             "metrics": [{"label": label, "series": [_series(counts[server.pk], minutes, index) for server in servers]}
                         for index, label in enumerate(METRICS.values())]}
    return {"chart": chart, "latest": [_latest(server, counts[server.pk]) for server in servers]}


def _series(counts, minutes, index):
    """None for a minute the server has no sample of (its worker or beat was down): a gap, not a made-up line."""
    return [counts[minute][index] if minute in counts else None for minute in minutes]


def _latest(server, counts):
    """The server's most recent sample, as the figures under the charts state it."""
    return {"server": server.name, **(dict(zip(METRICS, counts[max(counts)])) if counts else {})}

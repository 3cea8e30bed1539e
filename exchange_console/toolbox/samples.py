"""Per-minute samples of a server's queues and traffic, and the chart of the last 24 hours drawn from them."""
from datetime import timedelta

from django.utils import timezone

from exchange_console.organization.models import TransportServer
from exchange_console.queues.models import QueuedMessage
from exchange_console.toolbox import logs
from exchange_console.toolbox.models import QueueSample

RECEIVED_EVENTS = {"RECEIVE"}
SENT_EVENTS = {"SEND", "DELIVER", "TRANSFER"}
WINDOW = timedelta(hours=24)


def record_sample(server_name, now=None):
    """The sample of the minute that just ended, counted from the server's own tracking log (so it runs on the
    server that has the log)."""
    server = TransportServer.objects.get(name__iexact=server_name)
    minute = (now or timezone.now()).replace(second=0, microsecond=0)
    start = minute - timedelta(minutes=1)
    received = sent = 0
    for path in logs.log_files(logs.tracking_directory(server), "MSGTRK"):
        if path.stat().st_mtime < start.timestamp():
            continue
        for row in logs.read_log(path)[0]:
            if start <= logs.parse_time(row["date-time"]) < minute:
                received += row["event-id"] in RECEIVED_EVENTS
                sent += row["event-id"] in SENT_EVENTS
    queued = QueuedMessage.objects.filter(queue__server=server).values("store_id").distinct().count()
    QueueSample.objects.update_or_create(server=server, when=minute,
                                         defaults={"queued": queued, "received": received, "sent": sent})
    QueueSample.objects.filter(server=server, when__lt=minute - WINDOW).delete()


def chart(server, now=None, width=720, height=160):
    """SVG polylines for queued, received and sent per minute over the last 24 hours."""
    now = now or timezone.now()
    samples = list(QueueSample.objects.filter(server=server, when__gte=now - WINDOW).order_by("when"))
    top = max([1] + [max(s.queued, s.received, s.sent) for s in samples])

    def x(sample):
        return round((1 - (now - sample.when) / WINDOW) * width, 1)

    def y(value):
        return round(height - value / top * (height - 10), 1)

    series = {name: " ".join(f"{x(s)},{y(getattr(s, name))}" for s in samples)
              for name in ("queued", "received", "sent")}
    return {"server": server, "samples": samples, "series": series, "top": top, "width": width, "height": height,
            "latest": samples[-1] if samples else None}

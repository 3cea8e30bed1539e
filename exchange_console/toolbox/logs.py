"""The transport servers' logs as the console shows them: message tracking (a search, one message's path) and SMTP
protocol logs (sessions, one session's dialogue, the tail of a connector's log). Each server's worker reads its
own logs and answers (transport.dispatch.read_logs); the console never opens a server's folders. A search over
several servers merges their answers, and a server that can't answer costs only its own rows: the answer says
which servers couldn't be read, and why."""
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from exchange_console.organization.models import TransportServer
from transport import dispatch

RECEIVE, SEND = "SmtpReceive", "SmtpSend"
SESSIONS_SHOWN = 500


@dataclass
class LogAnswer:
    """Rows read from the servers' logs, how many malformed rows they skipped, why each server that couldn't be
    read wasn't (sentences naming the server), and for a tail where the next read starts."""
    rows: list = field(default_factory=list)
    skipped: int = 0
    unavailable: list = field(default_factory=list)
    position: str = ""
    more: bool = False   # more rows matched than the answer carries


def _ask(servers, request, server_field=False):
    """Ask each server for `request` and merge the answers; `server_field` adds each row's 'server' name."""
    merged = LogAnswer()
    for server in servers:
        try:
            answer = dispatch.read_logs(server.name, request)
        except dispatch.LogsUnavailable as error:
            merged.unavailable.append(str(error))
            continue
        merged.rows.extend({**row, "server": server.name} if server_field else row for row in answer["rows"])
        merged.skipped += answer["skipped"]
        merged.position = answer.get("position", "")
        merged.more = merged.more or answer.get("more", False)
    return merged


# --- message tracking ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrackingSearch:
    """Get-MessageTrackingLog's filters; empty ones match everything."""
    sender: str = ""
    recipients: tuple = ()
    message_id: str = ""
    internal_message_id: str = ""
    subject: str = ""
    event_id: str = ""
    start: datetime | None = None
    end: datetime | None = None

    def as_request(self):
        """The filters as a server's worker takes them: JSON, moments in ISO 8601 (UTC unless they say)."""
        return {**asdict(self), "recipients": [address for address in self.recipients if address],
                "start": _iso(self.start), "end": _iso(self.end)}


def _iso(moment):
    if moment is None:
        return ""
    return (moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment).isoformat()


def search_tracking(search, servers=None, limit=1000, newest=True):
    """Matching tracking events of the servers (None: every server), oldest first, each with its 'server' name
    added: the newest `limit` of them, or with newest=False the oldest (None: as many as a server answers)."""
    # The servers whose workers this console reaches (the other side of an Edge subscription has its own).
    servers = TransportServer.objects.local().order_by("name") if servers is None else servers
    found = _ask(servers, {"read": "tracking", "search": search.as_request(), "limit": limit, "newest": newest},
                 server_field=True)
    found.rows.sort(key=lambda row: row["date-time"])
    if limit:
        found.more = found.more or len(found.rows) > limit
        found.rows = found.rows[-limit:] if newest else found.rows[:limit]
    return found


def message_path(message_id, servers=None):
    """One message's history across servers: every event for its Message-ID, in time order."""
    return search_tracking(TrackingSearch(message_id=message_id), servers, limit=None, newest=False)


# --- protocol logs ------------------------------------------------------------------------------------

def protocol_sessions(server, direction=RECEIVE, connector_id=""):
    """The sessions in a server's receive or send protocol log, newest first (the SESSIONS_SHOWN newest): dicts
    with session_id, connector_id, local_endpoint, remote_endpoint, started, ended and lines."""
    return _ask([server], {"read": "sessions", "direction": direction, "connector": connector_id,
                           "limit": SESSIONS_SHOWN})


def session_dialogue(server, session_id, direction=RECEIVE):
    """Every line of one session in sequence order."""
    return _ask([server], {"read": "dialogue", "direction": direction, "session": session_id})


def tail(server, connector_id, position=None, direction=RECEIVE, lines=50):
    """New lines of a connector since `position` ("file:offset"); without one, its last `lines` lines. The
    answer's position is where the next read starts, so that a polling page asks only for what was written
    since."""
    found = _ask([server], {"read": "tail", "direction": direction, "connector": connector_id,
                            "position": position or "", "lines": lines})
    if found.unavailable:   # the next poll reads from where this one would have
        found.position = position or ""
    return found

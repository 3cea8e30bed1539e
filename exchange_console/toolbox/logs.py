"""Reading the transport servers' logs: message tracking (search, one message's path) and SMTP protocol logs
(sessions, one session's dialogue, the tail of a connector's log). The files are the source of truth; each
server's folders come from its configured paths."""
import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from exchange_console.organization.models import TransportServer

RECEIVE, SEND = "SmtpReceive", "SmtpSend"


def read_log(path, offset=0):
    """Rows of one Exchange CSV log as dicts keyed by its #Fields header, from byte offset on.

    Returns (rows, end offset); a line still being written (no line end yet) is left for the next read.
    """
    path = Path(path)
    fields = _fields(path)
    rows = []
    with open(path, "rb") as file:
        file.seek(offset)
        data = file.read()
    complete = data[: data.rfind(b"\n") + 1]
    for line in complete.decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#"):
            values = next(csv.reader([line]))
            rows.append(dict(zip(fields, values)))
    return rows, offset + len(complete)


def _fields(path):
    with open(path, encoding="utf-8", errors="replace") as file:
        for line in file:
            if line.startswith("#Fields: "):
                return line[len("#Fields: "):].strip().split(",")
            if not line.startswith("#"):
                break
    return []


def log_files(directory, prefix):
    """A folder's files of one log, oldest first (by name: prefix + yyyymmdd-n)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"{prefix}*.log"), key=_file_order)


def _file_order(path):
    day, _, number = path.stem[4:].rpartition("-")
    return day, int(number) if number.isdigit() else 0


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


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

    def matches(self, row):
        recipients = {address.lower() for address in row["recipient-address"].split(";") if address}
        moment = parse_time(row["date-time"])
        return all((
            not self.sender or row["sender-address"].lower() == self.sender.lower(),
            not self.recipients or bool(recipients & {address.lower() for address in self.recipients}),
            not self.message_id or row["message-id"] == self.message_id,
            not self.internal_message_id or row["internal-message-id"] == self.internal_message_id,
            not self.subject or self.subject.lower() in row["message-subject"].lower(),
            not self.event_id or row["event-id"].upper() == self.event_id.upper(),
            self.start is None or moment >= self.start,
            self.end is None or moment <= self.end,
        ))


def tracking_directory(server):
    return server.resolve_path(server.message_tracking_log_path)


def search_tracking(search, servers=None, limit=1000):
    """Matching tracking events across servers, oldest first, each with its 'server' name added."""
    found = []
    for server in servers if servers is not None else TransportServer.objects.all():
        for path in log_files(tracking_directory(server), "MSGTRK"):
            rows, _ = read_log(path)
            found.extend({**row, "server": server.name} for row in rows if search.matches(row))
    found.sort(key=lambda row: row["date-time"])
    return found[-limit:] if limit else found


def message_path(message_id, servers=None):
    """One message's history across servers: every event for its Message-ID, in time order."""
    return search_tracking(TrackingSearch(message_id=message_id), servers, limit=None)


# --- protocol logs ------------------------------------------------------------------------------------

def protocol_directory(server, direction):
    path = server.receive_protocol_log_path if direction == RECEIVE else server.send_protocol_log_path
    return server.resolve_path(path)


def _protocol_rows(server, direction):
    prefix = "RECV" if direction == RECEIVE else "SEND"
    for path in log_files(protocol_directory(server, direction), prefix):
        yield from read_log(path)[0]


@dataclass
class ProtocolSession:
    session_id: str
    connector_id: str
    local_endpoint: str
    remote_endpoint: str
    started: str
    ended: str
    lines: int


def protocol_sessions(server, direction=RECEIVE, connector_id=""):
    """The sessions in a server's receive or send protocol log, newest first."""
    sessions = {}
    for row in _protocol_rows(server, direction):
        if connector_id and row["connector-id"].lower() != connector_id.lower():
            continue
        session = sessions.get(row["session-id"])
        if session is None:
            session = sessions[row["session-id"]] = ProtocolSession(
                row["session-id"], row["connector-id"], row["local-endpoint"], row["remote-endpoint"],
                row["date-time"], row["date-time"], 0)
        session.ended, session.lines = row["date-time"], session.lines + 1
    return sorted(sessions.values(), key=lambda session: session.started, reverse=True)


def session_dialogue(server, session_id, direction=RECEIVE):
    """Every line of one session in sequence order."""
    rows = [row for row in _protocol_rows(server, direction) if row["session-id"] == session_id]
    return sorted(rows, key=lambda row: int(row["sequence-number"] or 0))


def tail(server, connector_id, position=None, direction=RECEIVE, lines=50):
    """New lines of a connector since `position` ("file:offset"); without one, its last `lines` lines.

    Returns (rows, new position) so that a polling page asks only for what was written since.
    """
    prefix = "RECV" if direction == RECEIVE else "SEND"
    files = log_files(protocol_directory(server, direction), prefix)
    if not files:
        return [], ""
    name, _, offset = (position or "").partition(":")
    start = next((index for index, path in enumerate(files) if path.name == name), None)
    if start is None:
        rows, end = read_log(files[-1])
        return _for_connector(rows, connector_id)[-lines:], f"{files[-1].name}:{end}"
    rows, end, last = [], int(offset or 0), files[start]
    for index, path in enumerate(files[start:]):
        new_rows, end = read_log(path, int(offset or 0) if index == 0 else 0)
        rows.extend(new_rows)
        last = path
    return _for_connector(rows, connector_id), f"{last.name}:{end}"


def _for_connector(rows, connector_id):
    return [row for row in rows if row["connector-id"].lower() == connector_id.lower()]

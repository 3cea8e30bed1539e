"""Reading the transport servers' logs: message tracking (search, one message's path) and SMTP protocol logs
(sessions, one session's dialogue, the tail of a connector's log). The files are the source of truth; each
server's folders come from its configured paths."""
import csv
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from exchange_console.organization.models import TransportServer
from transport.logs.csvlog import LINE_BREAKING

RECEIVE, SEND = "SmtpReceive", "SmtpSend"
# Fields that hold a whole number when they hold anything (the protocol log's and the tracking log's).
NUMBER_FIELDS = ("sequence-number", "total-bytes", "recipient-count")
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)


def read_log(path, offset=0):
    """Rows of one Exchange CSV log as dicts keyed by its #Fields header, from byte offset on.

    Returns (rows, end offset, malformed rows skipped); a line still being written (no line end yet) is left for
    the next read.
    """
    path = Path(path)
    fields = _fields(path)
    with open(path, "rb") as file:
        file.seek(offset)
        data = file.read()
    complete = data[: data.rfind(b"\n") + 1]
    lines = [line.rstrip(b"\r") for line in complete.split(b"\n")]
    records = [line for line in lines if line and not line.startswith(b"#")]
    rows = [row for row in (_row(line, fields) for line in records) if row is not None]
    return rows, offset + len(complete), len(records) - len(rows)


def _row(line, fields):
    """One line as a dict, or None unless it is a row as the log writer writes them: UTF-8 without unescaped
    control characters or line separators (so not a piece of a row that an older writer let a client split), one
    CSV record with the header's number of fields, a valid date-time, whole numbers where numbers go."""
    try:
        text = line.decode("utf-8")
        values = next(csv.reader([text], strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    if LINE_BREAKING.search(text) or len(values) != len(fields):
        return None
    row = dict(zip(fields, values))
    try:
        parse_time(row.get("date-time", ""))
    except ValueError:
        return None
    return row if all(row[name].isdecimal() for name in NUMBER_FIELDS if row.get(name)) else None


class LogReading:
    """Rows read from log files one after another, and how many malformed rows were skipped on the way."""

    def __init__(self):
        self.skipped = 0

    def rows(self, paths):
        for path in paths:
            rows, _, skipped = read_log(path)
            self.skipped += skipped
            yield from rows


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
    """A date-time field exactly as the log writer formats it (ValueError for anything else)."""
    if not _DATE_TIME.fullmatch(text):
        raise ValueError(f"Not a log date-time: {text!r}")
    return datetime.fromisoformat(text)


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
    """Matching tracking events across servers, oldest first, each with its 'server' name added; and how many
    malformed rows were skipped."""
    found, reading = [], LogReading()
    for server in servers if servers is not None else TransportServer.objects.all():
        rows = reading.rows(log_files(tracking_directory(server), "MSGTRK"))
        found.extend({**row, "server": server.name} for row in rows if search.matches(row))
    found.sort(key=lambda row: row["date-time"])
    return (found[-limit:] if limit else found), reading.skipped


def message_path(message_id, servers=None):
    """One message's history across servers: every event for its Message-ID, in time order (and the number of
    malformed rows skipped)."""
    return search_tracking(TrackingSearch(message_id=message_id), servers, limit=None)


# --- protocol logs ------------------------------------------------------------------------------------

def protocol_directory(server, direction):
    path = server.receive_protocol_log_path if direction == RECEIVE else server.send_protocol_log_path
    return server.resolve_path(path)


def _protocol_files(server, direction):
    return log_files(protocol_directory(server, direction), "RECV" if direction == RECEIVE else "SEND")


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
    """The sessions in a server's receive or send protocol log, newest first; and how many malformed rows were
    skipped."""
    sessions, reading = {}, LogReading()
    for row in reading.rows(_protocol_files(server, direction)):
        if connector_id and row["connector-id"].lower() != connector_id.lower():
            continue
        session = sessions.get(row["session-id"])
        if session is None:
            session = sessions[row["session-id"]] = ProtocolSession(
                row["session-id"], row["connector-id"], row["local-endpoint"], row["remote-endpoint"],
                row["date-time"], row["date-time"], 0)
        session.ended, session.lines = row["date-time"], session.lines + 1
    return sorted(sessions.values(), key=lambda session: session.started, reverse=True), reading.skipped


def session_dialogue(server, session_id, direction=RECEIVE):
    """Every line of one session in sequence order, and how many malformed rows were skipped."""
    reading = LogReading()
    rows = [row for row in reading.rows(_protocol_files(server, direction)) if row["session-id"] == session_id]
    return sorted(rows, key=lambda row: int(row["sequence-number"] or 0)), reading.skipped


def tail(server, connector_id, position=None, direction=RECEIVE, lines=50):
    """New lines of a connector since `position` ("file:offset"); without one, its last `lines` lines.

    Returns (rows, new position, malformed rows skipped) so that a polling page asks only for what was written
    since.
    """
    files = _protocol_files(server, direction)
    if not files:
        return [], "", 0
    name, _, offset = (position or "").partition(":")
    start = next((index for index, path in enumerate(files) if path.name == name), None)
    if start is None:
        rows, end, skipped = read_log(files[-1])
        return _for_connector(rows, connector_id)[-lines:], f"{files[-1].name}:{end}", skipped
    rows, skipped = [], 0
    for index, path in enumerate(files[start:]):
        new_rows, end, malformed = read_log(path, int(offset) if index == 0 and offset.isdigit() else 0)
        rows.extend(new_rows)
        skipped += malformed
    return _for_connector(rows, connector_id), f"{path.name}:{end}", skipped


def _for_connector(rows, connector_id):
    return [row for row in rows if row["connector-id"].lower() == connector_id.lower()]

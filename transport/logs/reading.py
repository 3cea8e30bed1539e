"""Reading one transport server's own logs, on its worker: message tracking (a search, one message's path) and
SMTP protocol logs (sessions, one session's dialogue, the tail of a connector's log). The console asks for these
through transport.dispatch.read_logs and never opens a server's folders; what it asks is a JSON request and what
it gets back is JSON (rows as dicts of the log's fields), bounded so that an answer stays small in the result
backend. The files are the source of truth; nothing here needs the database."""
import csv
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from transport.logs.csvlog import LINE_BREAKING

RECEIVE, SEND = "SmtpReceive", "SmtpSend"
MAX_ROWS = 10_000   # the most rows (or sessions) one answer carries, whatever the request asks
# Fields that hold a whole number when they hold anything (the protocol log's and the tracking log's).
NUMBER_FIELDS = ("sequence-number", "total-bytes", "recipient-count")
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)


@dataclass(frozen=True)
class LogFolders:
    """Where a server writes its logs, as the configuration its worker runs says."""
    tracking: Path
    receive_protocol: Path
    send_protocol: Path

    @classmethod
    def of(cls, configuration):
        """The folders of a transport.snapshot.ServerConfiguration."""
        server = configuration.send.server
        return cls(server.tracking.directory, configuration.receive.protocol_log.directory,
                   server.send_protocol_log.directory)

    def protocol_files(self, direction):
        if direction == RECEIVE:
            return log_files(self.receive_protocol, "RECV")
        if direction == SEND:
            return log_files(self.send_protocol, "SEND")
        raise ValueError(f"There's no protocol log {direction!r}")


def answer(request, folders):
    """The answer to one request of the console (a dict; `read` says what it asks for), as a dict with the rows
    and how many malformed rows were skipped. ValueError for a request that isn't one."""
    kind = request.get("read")
    if kind == "tracking":
        return search_tracking(folders.tracking, request.get("search", {}), _bounded(request.get("limit")),
                               request.get("newest", True))
    if kind == "sessions":
        return protocol_sessions(folders.protocol_files(request["direction"]), request.get("connector", ""),
                                 _bounded(request.get("limit")))
    if kind == "dialogue":
        return session_dialogue(folders.protocol_files(request["direction"]), request["session"])
    if kind == "tail":
        return tail(folders.protocol_files(request["direction"]), request["connector"], request.get("position"),
                    _bounded(request.get("lines", 50)))
    raise ValueError(f"Not a request for a server's logs: {kind!r}")


def _bounded(limit):
    """A number of rows asked for (None: as many as an answer carries), within what an answer carries."""
    return MAX_ROWS if limit is None else max(0, min(int(limit), MAX_ROWS))


# --- the files ----------------------------------------------------------------------------------------

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


def _fields(path):
    with open(path, encoding="utf-8", errors="replace") as file:
        for line in file:
            if line.startswith("#Fields: "):
                return line[len("#Fields: "):].strip().split(",")
            if not line.startswith("#"):
                break
    return []


class LogReading:
    """Rows read from log files one after another, and how many malformed rows were skipped on the way."""

    def __init__(self):
        self.skipped = 0

    def rows(self, paths):
        for path in paths:
            rows, _, skipped = read_log(path)
            self.skipped += skipped
            yield from rows


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

def search_tracking(directory, search, limit, newest=True):
    """The tracking events that match `search` (Get-MessageTrackingLog's filters by their field names, moments in
    ISO 8601; empty ones match everything), in time order: the newest `limit` or the oldest."""
    reading, matches = LogReading(), _tracking_filter(search)
    found = sorted((row for row in reading.rows(log_files(directory, "MSGTRK")) if matches(row)),
                   key=lambda row: row["date-time"])
    return {"rows": (found[-limit:] if newest else found[:limit]) if limit else [],
            "skipped": reading.skipped, "more": len(found) > limit}


def _tracking_filter(search):
    sender, subject = search.get("sender", "").lower(), search.get("subject", "").lower()
    recipients = {address.lower() for address in search.get("recipients", ())}
    exact = {field: search[key] for key, field in (("message_id", "message-id"),
                                                   ("internal_message_id", "internal-message-id"))
             if search.get(key)}
    event_id = search.get("event_id", "").upper()
    start, end = (datetime.fromisoformat(search[key]) if search.get(key) else None for key in ("start", "end"))

    def matches(row):
        moment = parse_time(row["date-time"])
        return all((
            not sender or row["sender-address"].lower() == sender,
            not recipients or bool(recipients & {address.lower() for address in row["recipient-address"].split(";")}),
            all(row[field] == value for field, value in exact.items()),
            not subject or subject in row["message-subject"].lower(),
            not event_id or row["event-id"].upper() == event_id,
            start is None or moment >= start,
            end is None or moment <= end,
        ))
    return matches


# --- protocol logs ------------------------------------------------------------------------------------

def protocol_sessions(files, connector_id, limit):
    """The sessions in a protocol log (of one connector, or all), newest first: for each, its connector, endpoints,
    first and last moment and number of lines."""
    sessions, reading = {}, LogReading()
    for row in reading.rows(files):
        if connector_id and row["connector-id"].lower() != connector_id.lower():
            continue
        session = sessions.setdefault(row["session-id"], {
            "session_id": row["session-id"], "connector_id": row["connector-id"],
            "local_endpoint": row["local-endpoint"], "remote_endpoint": row["remote-endpoint"],
            "started": row["date-time"], "lines": 0})
        session["ended"], session["lines"] = row["date-time"], session["lines"] + 1
    newest = sorted(sessions.values(), key=lambda session: session["started"], reverse=True)
    return {"rows": newest[:limit], "skipped": reading.skipped}


def session_dialogue(files, session_id):
    """Every line of one session in sequence order."""
    reading = LogReading()
    rows = [row for row in reading.rows(files) if row["session-id"] == session_id]
    rows.sort(key=lambda row: int(row["sequence-number"] or 0))
    return {"rows": rows[:MAX_ROWS], "skipped": reading.skipped}


def tail(files, connector_id, position, lines):
    """New lines of a connector since `position` ("file:offset", as the previous answer gave it); without one
    (or with one naming a file that is gone), its last `lines` lines. The answer's position is where the next
    read starts, so that a polling page asks only for what was written since."""
    if not files:
        return {"rows": [], "position": "", "skipped": 0}
    name, _, offset = (position or "").partition(":")
    start = next((index for index, path in enumerate(files) if path.name == name), None)
    if start is None:
        rows, end, skipped = read_log(files[-1])
        return {"rows": _for_connector(rows, connector_id)[-lines:] if lines else [],
                "position": f"{files[-1].name}:{end}", "skipped": skipped}
    rows, skipped = [], 0
    for index, path in enumerate(files[start:]):
        new_rows, end, malformed = read_log(path, int(offset) if index == 0 and offset.isdigit() else 0)
        rows.extend(new_rows)
        skipped += malformed
    return {"rows": _for_connector(rows, connector_id)[-MAX_ROWS:], "position": f"{path.name}:{end}",
            "skipped": skipped}


def _for_connector(rows, connector_id):
    return [row for row in rows if row["connector-id"].lower() == connector_id.lower()]

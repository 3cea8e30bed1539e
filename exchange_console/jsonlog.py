"""LOG_FORMAT=json: one JSON object per log event and line, for a log shipper.

Every line has time (UTC, ISO 8601), level, logger and message; the ids an event names (passed with
`extra=`: server, connector, session, message_id) are fields of their own, and a traceback is one field
(its line breaks escaped like every other character JSON escapes).
"""
import json
import logging
from datetime import datetime, timezone

FIELDS = ("server", "connector", "session", "message_id")


class JsonFormatter(logging.Formatter):
    def format(self, record):
        event = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        event.update((field, getattr(record, field)) for field in FIELDS if getattr(record, field, ""))
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str)

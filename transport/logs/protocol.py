"""SMTP protocol logs (folders SmtpReceive / SmtpSend) in Exchange's format: one CSV line per event of a
session, for connectors whose ProtocolLoggingLevel is Verbose."""
import itertools
import time

from transport.logs.csvlog import RollingLog

FIELDS = ("date-time", "connector-id", "session-id", "sequence-number", "local-endpoint", "remote-endpoint",
          "event", "data", "context")
CONNECT, DISCONNECT, SENT, RECEIVED, INFORMATION = "+", "-", ">", "<", "*"

class ProtocolLog:
    def __init__(self, log_settings, receive=True):
        prefix, log_type = ("RECV", "SMTP Receive Protocol Log") if receive else ("SEND", "SMTP Send Protocol Log")
        self._log = RollingLog(log_settings.directory, prefix, log_type, FIELDS, log_settings.max_file_size,
                               log_settings.max_age, log_settings.max_directory_size)
        # Session ids are 64-bit hex numbers that grow over time, like Exchange's (seeded from the clock).
        self._session_ids = itertools.count(time.time_ns() // 100)

    def session(self, connector_id, local_endpoint, remote_endpoint):
        return SessionLog(self._log, connector_id, f"{next(self._session_ids):016X}", local_endpoint,
                          remote_endpoint)

    def close(self):
        self._log.close()


class SessionLog:
    def __init__(self, log, connector_id, session_id, local_endpoint, remote_endpoint):
        self._log, self.connector_id, self.session_id = log, connector_id, session_id
        self.local_endpoint, self.remote_endpoint = local_endpoint, remote_endpoint
        self._sequence = itertools.count()

    def write(self, event, data="", context=""):
        self._log.write([self.connector_id, self.session_id, next(self._sequence), self.local_endpoint,
                         self.remote_endpoint, event, data, context])


class NoSessionLog:
    """Protocol logging off (ProtocolLoggingLevel None)."""

    def write(self, event, data="", context=""):
        pass


def endpoint(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

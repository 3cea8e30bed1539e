"""The message tracking log (MSGTRKyyyymmdd-n.log) of one transport server, in Exchange's fields.

Receive writes RECEIVE; the send side uses the same API for SEND, DELIVER, FAIL, DSN, DEFER, TRANSFER...
"""
from dataclasses import dataclass
from pathlib import Path

from transport.logs.csvlog import RollingLog, format_time

FIELDS = (
    "date-time", "client-ip", "client-hostname", "server-ip", "server-hostname", "source-context",
    "connector-id", "source", "event-id", "internal-message-id", "message-id", "recipient-address",
    "recipient-status", "total-bytes", "recipient-count", "related-recipient-address", "reference",
    "message-subject", "sender-address", "return-path", "message-info", "directionality", "tenant-id",
    "original-client-ip", "original-server-ip", "custom-data",
)


@dataclass(frozen=True)
class TrackingSettings:
    """TransportServer MessageTracking* parameters, resolved to an absolute folder."""
    enabled: bool
    directory: Path
    max_file_size: int = None
    max_age: object = None
    max_directory_size: int = None
    subject_logging_enabled: bool = True    # MessageTrackingLogSubjectLoggingEnabled


class MessageTrackingLog:
    def __init__(self, tracking_settings, server_hostname):
        self.settings, self.server_hostname = tracking_settings, server_hostname
        self._log = RollingLog(
            tracking_settings.directory, "MSGTRK", "Message Tracking Log", FIELDS,
            tracking_settings.max_file_size, tracking_settings.max_age, tracking_settings.max_directory_size)

    def close(self):
        self._log.close()

    def event(self, event_id, envelope, *, source="SMTP", recipients=None, recipient_status=(),
              connector_id=None, client_ip="", client_hostname="", server_ip="", server_hostname=None,
              source_context="", related_recipient_address="", reference="", message_info="",
              directionality="Incoming", original_client_ip="", original_server_ip="", custom_data="",
              moment=None):
        """One line for `envelope` (a transport.queue.store.Envelope). `recipients` defaults to the envelope's."""
        if not self.settings.enabled:
            return
        recipients = envelope.rcpt_tos if recipients is None else tuple(recipients)
        self._log.write([
            client_ip, client_hostname, server_ip, server_hostname or self.server_hostname, source_context,
            connector_id if connector_id is not None else envelope.received_connector, source, event_id,
            envelope.message_id, envelope.header_message_id, ";".join(recipients), ";".join(recipient_status),
            envelope.size, len(recipients), related_recipient_address, reference,
            envelope.subject if self.settings.subject_logging_enabled else "",
            envelope.mail_from, envelope.mail_from, message_info, directionality, "",
            original_client_ip, original_server_ip, custom_data,
        ], moment=moment)

    def receive(self, envelope, *, server_ip, source_context=""):
        """RECEIVE by SMTP: the client's address and HELO name, our endpoint, the receive connector."""
        self.event("RECEIVE", envelope, client_ip=envelope.client_ip, client_hostname=envelope.client_hostname,
                   server_ip=server_ip, source_context=source_context,
                   message_info=format_time(envelope.arrival_time))


def tracking_settings_for(server):
    """TrackingSettings of a TransportServer model instance (relative paths are under its data folder)."""
    return TrackingSettings(
        enabled=server.message_tracking_log_enabled,
        directory=server.resolve_path(server.message_tracking_log_path),
        max_file_size=server.message_tracking_log_max_file_size, max_age=server.message_tracking_log_max_age,
        max_directory_size=server.message_tracking_log_max_directory_size,
        subject_logging_enabled=server.message_tracking_log_subject_logging_enabled,
    )

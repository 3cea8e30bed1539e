"""Sending NDRs and delay DSNs: the report becomes a new message in the server's store, from the null sender
to the original sender, and goes through the categorizer like any other message."""
from django.db import transaction
from django.utils import timezone

from exchange_console.lib.domains import match_domain_pattern, most_specific
from transport import dispatch
from transport.dsn import FAILED, build_report


def reports_allowed(configuration, action, sender):
    """Never to the null sender; NDRs to a remote domain only while its RemoteDomain has NDREnabled."""
    if not sender:
        return False
    domain = sender.rpartition("@")[2].lower()
    if action != FAILED or any(match_domain_pattern(pattern, domain) is not None
                               for pattern, _ in configuration.accepted_domains):
        return True
    remote_domain = most_specific(configuration.remote_domains, domain)
    return remote_domain[1] if remote_domain else True


def send_report(runtime, action, envelope, content, recipients, retry_until=None):
    """Queue a report about `recipients` (RecipientReports); returns the new message's envelope or None."""
    configuration = runtime.send
    if not recipients or not reports_allowed(configuration, action, envelope.mail_from):
        return None
    report = build_report(action, reporting_mta=configuration.server.fqdn,
                          postmaster=configuration.postmaster_address, envelope=envelope, content=content,
                          recipients=recipients, now=timezone.now(), retry_until=retry_until)
    data = bytes(report)
    stored = runtime.store.accept(
        data, mail_from="", rcpt_tos=(envelope.mail_from,), received_connector="", client_ip="",
        client_hostname=configuration.server.fqdn, auth_user="", size=len(data),
        header_message_id=report["Message-ID"], subject=report["Subject"])
    runtime.tracking_log().event(
        "DSN", stored, source="DSN", connector_id="", reference=envelope.header_message_id,
        related_recipient_address=";".join(recipient.address for recipient in recipients),
        directionality="Originating")
    transaction.on_commit(lambda: dispatch.categorize_messages(runtime.server_name, [stored.message_id]))
    return stored

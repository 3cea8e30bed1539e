"""Sending NDRs and delay DSNs: the report becomes a new message in the server's store, from the null sender
to the original sender, and goes through the categorizer like any other message."""
from django.db import transaction
from django.utils import timezone

from transport import dispatch
from transport.dsn import FAILED, DELAYED, DsnOptions, build_report
from transport.remote_domains import leaves_organization, remote_domain_for


def reports_allowed(configuration, action, sender):
    """Never to the null sender; delay DSNs only while DelayDsnEnabled (External or Internal, by the sender);
    NDRs to a remote domain only while its RemoteDomain has NDREnabled."""
    if not sender:
        return False
    if action == DELAYED and not dsn_scope(configuration, sender).delay_dsn_enabled:
        return False
    if action != FAILED or not leaves_organization(configuration.accepted_domains, sender):
        return True
    remote_domain = remote_domain_for(configuration.remote_domains, sender)
    return remote_domain.ndr_enabled if remote_domain else True


def dsn_scope(configuration, address):
    """TransportConfig's Internal Dsn settings for an address in the organization, else the External ones."""
    inside = not leaves_organization(configuration.accepted_domains, address)
    return configuration.dsn.internal if inside else configuration.dsn.external


def dsn_options(configuration, address):
    """How a report to `address` is written: its scope's settings and its remote domain's
    NDRDiagnosticInfoEnabled."""
    scope = dsn_scope(configuration, address)
    remote_domain = (remote_domain_for(configuration.remote_domains, address)
                     if leaves_organization(configuration.accepted_domains, address) else None)
    return DsnOptions(send_html=scope.send_html, max_message_attach_size=scope.max_message_attach_size,
                      reporting_authority=scope.reporting_authority,
                      diagnostic_info=remote_domain.ndr_diagnostic_info_enabled if remote_domain else True)


def copy_address(configuration, action, envelope, recipients):
    """GenerateCopyOfDSNFor: the postmaster mailbox gets a copy of an NDR with one of those codes, when the
    postmaster address is a mailbox here (Exchange: when a mailbox is assigned) and isn't the sender already."""
    postmaster = configuration.postmaster_address.lower()
    if (action != FAILED or postmaster not in configuration.mailboxes or postmaster == envelope.mail_from.lower()
            or not any(recipient.status in configuration.dsn.copy_codes for recipient in recipients)):
        return ""
    return postmaster


def send_report(runtime, action, envelope, content, recipients, retry_until=None):
    """Queue a report about `recipients` (RecipientReports) to the sender, and its copy to the postmaster when
    GenerateCopyOfDSNFor asks for one; returns the sender's report's envelope or None."""
    configuration = runtime.send
    if not recipients:
        return None
    sent = None
    if reports_allowed(configuration, action, envelope.mail_from):
        sent = _store_report(runtime, action, envelope, content, recipients, retry_until, envelope.mail_from)
    if copy := copy_address(configuration, action, envelope, recipients):
        _store_report(runtime, action, envelope, content, recipients, retry_until, copy)
    return sent


def _store_report(runtime, action, envelope, content, recipients, retry_until, to):
    configuration = runtime.send
    report = build_report(action, reporting_mta=configuration.server.fqdn,
                          postmaster=configuration.postmaster_address, envelope=envelope, content=content,
                          recipients=recipients, now=timezone.now(), retry_until=retry_until,
                          options=dsn_options(configuration, to))
    data = bytes(report)
    stored = runtime.store.accept(
        data, mail_from="", rcpt_tos=(to,), received_connector="", client_ip="",
        client_hostname=configuration.server.fqdn, auth_user="", size=len(data),
        header_message_id=report["Message-ID"], subject=report["Subject"])
    runtime.tracking_log().event(
        "DSN", stored, source="DSN", connector_id="", reference=envelope.header_message_id,
        related_recipient_address=";".join(recipient.address for recipient in recipients),
        directionality="Originating")
    transaction.on_commit(lambda: dispatch.categorize_messages(runtime.server_name, [stored.message_id]))
    return stored

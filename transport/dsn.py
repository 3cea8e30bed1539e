"""Non-delivery reports and delay notifications: RFC 3464 multipart/report messages from the organization's
ExternalPostmasterAddress to the original sender, in the words of Exchange 2010's reports."""
from types import MappingProxyType
import html
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.charset import Charset
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formatdate, make_msgid

from transport.headers import strip_header_fields

FAILED, DELAYED = "failed", "delayed"
RELAYED = "relayed"   # handed to a system that sends no delivery notification (a foreign connector's drop directory)
SUBJECTS = MappingProxyType({FAILED: "Undeliverable", DELAYED: "Delivery delayed", RELAYED: "Relayed"})
# Header fields of the servers a message passed, which NDRDiagnosticInfoEnabled $false keeps from the remote domain.
SERVER_FIELDS = ("received", "x-ms-exchange-", "x-originating-ip")


@dataclass(frozen=True)
class DsnScope:
    """Set-TransportConfig's Dsn settings of one scope: External (reports to senders outside the organization)
    or Internal (to its own senders)."""
    send_html: bool = True
    max_message_attach_size: int = 10 * 1024 * 1024
    reporting_authority: str = ""
    delay_dsn_enabled: bool = True


@dataclass(frozen=True)
class DsnSettings:
    external: DsnScope = DsnScope()
    internal: DsnScope = DsnScope()
    copy_codes: frozenset = frozenset()   # GenerateCopyOfDSNFor: NDRs with these codes also go to the postmaster


@dataclass(frozen=True)
class DsnOptions:
    """How one report is written (Set-TransportConfig's External/Internal Dsn* settings for its recipient, and
    the remote domain's NDRDiagnosticInfoEnabled). The defaults write the plainest report: text only, the
    original message's header alone."""
    send_html: bool = False
    max_message_attach_size: int = 0    # the original message is attached whole up to this size, else its header
    reporting_authority: str = ""       # Reporting-MTA's domain; '' = this server's FQDN
    diagnostic_info: bool = True


@dataclass(frozen=True)
class RecipientReport:
    address: str
    status: str            # enhanced status code, e.g. '5.1.1'
    diagnostic: str        # the reply or reason, e.g. '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'
    remote_mta: str = ""   # the host that answered, when one did


def build_report(action, *, reporting_mta, postmaster, envelope, content, recipients, now, retry_until=None,
                 options=DsnOptions()):
    """The report for `recipients` of the message `envelope`/`content` (action FAILED, DELAYED or RELAYED), as an
    email message; `bytes(report)` is what goes on the wire."""
    subject = envelope.subject or ""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = postmaster
    report["To"] = envelope.mail_from
    report["Date"] = formatdate(now.timestamp(), localtime=False)
    report["Subject"] = f"{SUBJECTS[action]}: {subject}".rstrip(": ")
    report["Message-ID"] = make_msgid(domain=reporting_mta)
    report["Auto-Submitted"] = "auto-replied"
    if envelope.header_message_id:
        report["In-Reply-To"] = envelope.header_message_id
        report["References"] = envelope.header_message_id
    report.attach(_human_part(_human_text(action, reporting_mta, recipients, options.diagnostic_info),
                              options.send_html))
    report.attach(_delivery_status(action, options.reporting_authority or reporting_mta, envelope, recipients,
                                   retry_until))
    report.attach(_original(content, options))
    report.policy = policy.SMTP
    return report


def _human_part(text, send_html):
    """The text for people: plain, or (ExternalDsnSendHtml/InternalDsnSendHtml) HTML with the plain text beside."""
    plain = MIMEText(text, "plain", "utf-8")
    if not send_html:
        return plain
    lines = "".join(f"<p>{html.escape(line)}</p>" if line else "" for line in text.split("\r\n"))
    alternative = MIMEMultipart("alternative")
    alternative.attach(plain)
    alternative.attach(MIMEText(f"<html><body>{lines}</body></html>", "html", "utf-8"))
    return alternative


def _original(content, options):
    """The original message whole (message/rfc822) when not larger than the attach size, else its header
    (text/rfc822-headers); without the servers' fields when the remote domain gets no diagnostic information."""
    if not options.diagnostic_info:
        content = strip_header_fields(content, tuple(name.encode() for name in SERVER_FIELDS))
    if content and len(content) <= options.max_message_attach_size:
        return MIMEMessage(message_from_bytes(content, policy=policy.compat32))
    return MIMEText(_original_headers(content), "rfc822-headers", _eight_bit_utf8())


FIRST_LINES = MappingProxyType({
    FAILED: "Delivery has failed to these recipients or groups:",
    DELAYED: "Delivery is delayed to these recipients or groups:",
    RELAYED: "Delivery to these recipients or groups is complete, but no delivery notification was sent by the "
             "destination:",
})


def _human_text(action, reporting_mta, recipients, diagnostic_info=True):
    lines = [FIRST_LINES[action], ""]
    for recipient in recipients:
        lines += [recipient.address, f"  {recipient.diagnostic}", ""]
    if action == DELAYED:
        lines += ["This message hasn't been delivered yet. Delivery will continue to be attempted.", ""]
    if not diagnostic_info:
        return "\r\n".join(lines)
    lines += ["Diagnostic information for administrators:", "", f"Generating server: {reporting_mta}", ""]
    for recipient in recipients:
        remote = f"{recipient.remote_mta} " if recipient.remote_mta else ""
        lines += [recipient.address, f"{remote}#{recipient.diagnostic} ##", ""]
    return "\r\n".join(lines)


def _delivery_status(action, reporting_mta, envelope, recipients, retry_until):
    per_message = Message()
    per_message["Reporting-MTA"] = f"dns;{reporting_mta}"
    per_message["X-Exchange-Internal-Message-Id"] = envelope.message_id
    per_message["Arrival-Date"] = format_datetime(envelope.arrival_time)
    blocks = [per_message]
    for recipient in recipients:
        block = Message()
        block["Original-Recipient"] = f"rfc822;{recipient.address}"
        block["Final-Recipient"] = f"rfc822;{recipient.address}"
        block["Action"] = action
        block["Status"] = recipient.status
        if recipient.remote_mta:
            block["Remote-MTA"] = f"dns;{recipient.remote_mta}"
        block["Diagnostic-Code"] = f"smtp;{recipient.diagnostic}"
        if retry_until is not None:
            block["Will-Retry-Until"] = format_datetime(retry_until)
        blocks.append(block)
    status = Message()
    status.set_type("message/delivery-status")
    status.set_payload(blocks)
    return status


def _original_headers(content):
    end = content.find(b"\r\n\r\n")
    end = content.find(b"\n\n") if end == -1 else end
    head = content if end == -1 else content[:end]
    return head.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n") + "\n"


def enhanced_status(text, default):
    """The enhanced status code in a reply text ('5.1.1 User unknown' -> '5.1.1'), else `default`."""
    first = text.split(" ", 1)[0] if text else ""
    parts = first.split(".")
    return first if len(parts) == 3 and all(part.isdigit() for part in parts) else default


def _eight_bit_utf8():
    """UTF-8 whose text stays readable (8bit), not base64."""
    charset = Charset("utf-8")
    charset.body_encoding = None
    return charset

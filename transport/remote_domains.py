"""Remote domain settings (Set-RemoteDomain) on mail that leaves the organization: which automatic messages may
go to a domain, and the form the rest takes there. The most specific RemoteDomain whose DomainName matches the
recipient's domain applies (`*` is the built-in Default).

What a message is, from its header (docs/exchange-behaviour.md, "Remote domains"):
- automatic reply: `Auto-Submitted: auto-replied` (RFC 3834), AutoReplyEnabled;
- out-of-office reply (OOF): an automatic reply that also carries `X-MS-Exchange-OOF-Type`: `External` or
  `Internal` for one the sender designated so, any other value (`Legacy`) for an undesignated (legacy) one;
  AllowedOOFType decides, and AutoReplyEnabled doesn't apply to it;
- automatic forward: `Auto-Submitted: auto-forwarded`, or Exchange's `X-MS-Exchange-Organization-AutoForwarded:
  true` (only the organization's servers can set it: receive strips it from anyone else), AutoForwardEnabled;
- delivery report: a `multipart/report` (read receipt or delivery report) from a sender who isn't the null
  sender, DeliveryReportEnabled. The transport's own reports (null sender) are decided where they are made
  (transport/reports.py: NDREnabled, DeliveryReportEnabled).
A recipient such a message may not reach is dropped, without an NDR (the FAIL line of the tracking log says why).

Pure functions of plain values: the queue manager calls `outbound()` with the message it is about to hand to a
delivery agent.
"""
import re
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.utils import formataddr, getaddresses

from exchange_console.lib.domains import most_specific
from transport.headers import split_headers

OOF_TYPE_HEADER = "X-MS-Exchange-OOF-Type"
AUTO_FORWARDED_HEADER = "X-MS-Exchange-Organization-AutoForwarded"
# A header block with none of these fields is an ordinary message's: it needn't be parsed to know what it is. A
# field starts a line, after LF or a lone CR, as the email parser has it. The pattern looks at every line start, so it
# runs only on blocks that hold one of _KIND_WORDS somewhere (not the usual case).
_KIND_FIELDS = re.compile(rb"(?:^|\r)(?:auto-submitted|" + re.escape(OOF_TYPE_HEADER.lower().encode()) + rb"|"
                          + re.escape(AUTO_FORWARDED_HEADER.lower().encode()) + rb")[ \t]*:"
                          rb"|(?:^|\r)content-type[ \t]*:\s*multipart/report", re.IGNORECASE | re.MULTILINE)
_KIND_WORDS = (b"auto-submitted", OOF_TYPE_HEADER.lower().encode(), AUTO_FORWARDED_HEADER.lower().encode(),
               b"multipart/report")
INSIDE_TYPES = ("Authoritative", "InternalRelay")   # recipients of these accepted domains stay inside
AUTO_REPLY, OOF, AUTO_FORWARD, DELIVERY_REPORT = "automatic reply", "out-of-office reply", "automatic forward", \
    "delivery report"


def allowed_oof(allowed_oof_type):
    """The OOF designations AllowedOOFType lets leave to the domain."""
    return {"External": ("External",), "ExternalLegacy": ("External", "Legacy"),
            "InternalLegacy": ("Internal", "Legacy"), "None": ()}[allowed_oof_type]


@dataclass(frozen=True)
class RemoteDomainConfig:
    name: str
    domain_name: str
    auto_reply_enabled: bool = False
    auto_forward_enabled: bool = False
    allowed_oof_type: str = "External"
    delivery_report_enabled: bool = True
    ndr_enabled: bool = True
    ndr_diagnostic_info_enabled: bool = True
    content_type: str = "MimeHtmlText"
    character_set: str = ""
    non_mime_character_set: str = ""
    line_wrap_size: int = None           # None = unlimited
    display_sender_name: bool = True
    use_simple_display_name: bool = False

    @property
    def conversion(self):
        """What changes the content: recipients with equal conversions get one copy."""
        return (self.content_type, self.character_set, self.non_mime_character_set, self.line_wrap_size,
                self.display_sender_name, self.use_simple_display_name)


@dataclass
class Outbound:
    """What leaves: (recipients, content) groups, and the recipients dropped with why."""
    groups: list = field(default_factory=list)
    dropped: dict = field(default_factory=dict)


def remote_domain_for(remote_domains, address):
    """The RemoteDomainConfig that applies to an address (remote_domains: (pattern, config) pairs), or None."""
    entry = most_specific(remote_domains, address.rpartition("@")[2].lower())
    return entry[1] if entry else None


def leaves_organization(accepted_domains, address):
    domain = address.rpartition("@")[2].lower()
    entry = most_specific(accepted_domains, domain)
    return entry is None or entry[1] not in INSIDE_TYPES


def outbound(configuration, connector, envelope, recipients, content):
    """The copies of a message to hand to the delivery agent for `recipients` (one per distinct content). Mail
    relayed to the organization's own Edge leaves the organization there, and the Edge applies these settings;
    mail through a linked connector comes back from its appliance and leaves afterwards."""
    if getattr(connector, "edge_relay", False) or connector.linked_receive_connector:
        return Outbound(groups=[(list(recipients), content)])
    leaving = {recipient: remote_domain_for(configuration.remote_domains, recipient) for recipient in recipients
               if leaves_organization(configuration.accepted_domains, recipient)}
    if not any(leaving.values()):   # mail inside the organization: its header isn't read on the way
        return Outbound(groups=[(list(recipients), content)])
    block = split_headers(content)[0]
    headers = BytesHeaderParser().parsebytes(block) if _names_a_kind(block) else None
    kind = message_kind(headers, envelope.mail_from) if headers is not None else None
    result, converted, by_content = Outbound(), {}, {}
    for recipient in recipients:
        settings = leaving.get(recipient)
        if settings is not None and (refusal := refused(settings, kind, headers)):
            result.dropped[recipient] = refusal
            continue
        key = settings.conversion if settings else None
        if key not in converted:
            converted[key] = convert(content, settings) if settings else content
        by_content.setdefault(converted[key], []).append(recipient)
    result.groups = [(group, data) for data, group in by_content.items()]
    return result


def _names_a_kind(block):
    lowered = block.lower()
    return any(word in lowered for word in _KIND_WORDS) and _KIND_FIELDS.search(block) is not None


def message_kind(headers, mail_from):
    """AUTO_REPLY, OOF, AUTO_FORWARD, DELIVERY_REPORT or None (an ordinary message, or a report from the null
    sender: the transport's own, allowed or not where it was made)."""
    if not mail_from:
        return None
    auto_submitted = (headers.get("Auto-Submitted") or "").split(";")[0].strip().lower()
    if auto_submitted == "auto-replied":
        return OOF if headers.get(OOF_TYPE_HEADER) is not None else AUTO_REPLY
    if auto_submitted == "auto-forwarded" or (headers.get(AUTO_FORWARDED_HEADER) or "").strip().lower() == "true":
        return AUTO_FORWARD
    if mail_from and headers.get_content_type() == "multipart/report":
        return DELIVERY_REPORT
    return None


def oof_designation(headers):
    value = (headers.get(OOF_TYPE_HEADER) or "").strip().capitalize()
    return value if value in ("External", "Internal") else "Legacy"


def refused(settings, kind, headers):
    """Why a message of `kind` may not go to the remote domain `settings`, or ''."""
    where = f"remote domain '{settings.name}' ({settings.domain_name})"
    if kind == AUTO_REPLY and not settings.auto_reply_enabled:
        return f"automatic replies aren't allowed to the {where}: AutoReplyEnabled is $false"
    if kind == OOF and oof_designation(headers) not in allowed_oof(settings.allowed_oof_type):
        return (f"{oof_designation(headers).lower()} out-of-office replies aren't allowed to the {where}: "
                f"AllowedOOFType is {settings.allowed_oof_type}")
    if kind == AUTO_FORWARD and not settings.auto_forward_enabled:
        return f"automatic forwards aren't allowed to the {where}: AutoForwardEnabled is $false"
    if kind == DELIVERY_REPORT and not settings.delivery_report_enabled:
        return f"delivery reports aren't allowed to the {where}: DeliveryReportEnabled is $false"
    return ""


# --- The form of the message at the remote domain ---------------------------------------------------------------

def convert(content, settings):
    """The content as the remote domain gets it: the sender's display name, the character set of a text without
    one, alternatives reduced to ContentType, plain text wrapped at LineWrapSize. Unchanged bytes otherwise."""
    head, body = split_headers(content)
    head = _sender_name(head, settings)
    head = _label_charset(head, body, settings)
    head, body = _content_type(head, body, settings.content_type)
    body = _wrap(head, body, settings.line_wrap_size)
    return head + body


def _header_lines(head):
    """[(name lower case, the field's lines as bytes)] of a header block (its blank line excluded)."""
    fields = []
    for line in head.splitlines(keepends=True):
        if line.strip() == b"":
            continue
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1].append(line)
        else:
            fields.append((line.split(b":", 1)[0].strip().lower(), [line]))
    return fields


def _newline(head):
    return b"\r\n" if b"\r\n" in head else b"\n"


def _rebuild(fields, newline):
    return b"".join(b"".join(lines) for _, lines in fields) + newline


def _replace_field(head, name, value):
    """The header block with field `name` set to `value` (replaced where it was, else added at the end)."""
    newline = _newline(head)
    fields = _header_lines(head)
    line = [name.encode() + b": " + value.encode() + newline]
    for index, (field_name, _) in enumerate(fields):
        if field_name == name.lower().encode():
            fields[index] = (field_name, line)
            return _rebuild(fields, newline)
    fields.append((name.lower().encode(), line))
    return _rebuild(fields, newline)


def _sender_name(head, settings):
    """DisplaySenderName $false: the sender's address alone; UseSimpleDisplayName: the simple display name, which
    no sender has here, so 'address <address>' as Exchange writes it without one."""
    if settings.display_sender_name and not settings.use_simple_display_name:
        return head
    headers = BytesHeaderParser().parsebytes(head)
    if headers.get("From") is None:
        return head
    addresses = [address for _, address in getaddresses([str(headers["From"])]) if address]
    if not addresses:
        return head
    if not settings.display_sender_name:
        return _replace_field(head, "From", ", ".join(addresses))
    return _replace_field(head, "From", ", ".join(formataddr((address, address)) for address in addresses))


def _label_charset(head, body, settings):
    """A text whose character set isn't declared is labelled: NonMimeCharacterSet for a message without MIME,
    CharacterSet for a MIME text part without charset. Only 8-bit text needs a label (US-ASCII reads the same in
    every character set); one that declares its character set keeps it."""
    if body.isascii():
        return head
    headers = BytesHeaderParser().parsebytes(head)
    if headers.get("MIME-Version") is None and headers.get("Content-Type") is None:
        if not settings.non_mime_character_set:
            return head
        head = _replace_field(head, "MIME-Version", "1.0")
        head = _replace_field(head, "Content-Type", f'text/plain; charset="{settings.non_mime_character_set}"')
        return _replace_field(head, "Content-Transfer-Encoding", "8bit")
    if (settings.character_set and headers.get_content_maintype() == "text"
            and headers.get_param("charset") is None):
        return _replace_field(head, "Content-Type",
                              f'{headers.get_content_type()}; charset="{settings.character_set}"')
    return head


def _content_type(head, body, content_type):
    """ContentType MimeText or MimeHtml: of a multipart/alternative's text and HTML, only that one stays."""
    wanted = {"MimeText": "text/plain", "MimeHtml": "text/html"}.get(content_type)
    if wanted is None:   # MimeHtmlText, the default: nothing to parse
        return head, body
    headers = BytesHeaderParser().parsebytes(head)
    if headers.get_content_type() != "multipart/alternative":
        return head, body
    boundary = headers.get_boundary()
    if not boundary:
        return head, body
    for part in _parts(body, boundary.encode()):
        part_head, part_body = split_headers(part)
        if BytesHeaderParser().parsebytes(part_head).get_content_type() == wanted:
            kept = _header_lines(part_head)
            fields = [(name, lines) for name, lines in _header_lines(head)
                      if not name.startswith(b"content-")] + [(n, l) for n, l in kept if n.startswith(b"content-")]
            return _rebuild(fields, _newline(head)), part_body
    return head, body


def _parts(body, boundary):
    """The body parts of a multipart body (each with its header), without the preamble and epilogue."""
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|$)")
    pieces, start = [], None
    for match in delimiter.finditer(body):
        if start is not None:
            pieces.append(body[start:match.start()])
        if match.group(1):
            break
        start = match.end()
    return pieces


def _wrap(head, body, width):
    """LineWrapSize: the lines of a plain-text message (7bit or 8bit, not encoded) broken at the last space
    before `width` characters; a word longer than that stays whole."""
    if not width:   # unlimited, the default: nothing to parse
        return body
    headers = BytesHeaderParser().parsebytes(head)
    encoding = (headers.get("Content-Transfer-Encoding") or "7bit").strip().lower()
    if headers.get_content_type() != "text/plain" or encoding not in ("7bit", "8bit"):
        return body
    newline = b"\r\n" if b"\r\n" in body else b"\n"
    lines = []
    for line in body.split(newline):
        while len(line) > width and (cut := line.rfind(b" ", 0, width + 1)) > 0:
            lines.append(line[:cut])
            line = line[cut + 1:]
        lines.append(line)
    return newline.join(lines)

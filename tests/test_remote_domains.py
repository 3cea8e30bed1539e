"""The form a message takes at a remote domain (transport.remote_domains.convert), case by case; the worker
tests (test_remote_domains_worker.py) show the same through SMTP."""
import email
from email import policy

from transport.remote_domains import RemoteDomainConfig, convert

HTML_AND_TEXT = (b'From: "Kim Akers" <kim@contoso.com>\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n'
                 b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
                 b"--b\r\nContent-Type: text/plain\r\n\r\nHi there\r\n"
                 b"--b\r\nContent-Type: text/html\r\n\r\n<p>Hi there</p>\r\n--b--\r\n")


def settings(**values):
    return RemoteDomainConfig(name="Contoso", domain_name="contoso.com", **values)


def parsed(content):
    return email.message_from_bytes(content, policy=policy.default)


def test_the_defaults_leave_the_message_byte_for_byte():
    assert convert(HTML_AND_TEXT, settings()) == HTML_AND_TEXT


def test_use_simple_display_name_writes_the_address_twice_without_a_simple_display_name():
    assert parsed(convert(HTML_AND_TEXT, settings(use_simple_display_name=True)))["From"] == \
        '"kim@contoso.com" <kim@contoso.com>'   # quoted: an @ in a display name must be


def test_mime_html_keeps_only_the_html():
    message = parsed(convert(HTML_AND_TEXT, settings(content_type="MimeHtml")))
    assert message.get_content_type() == "text/html" and message.get_content().strip() == "<p>Hi there</p>"
    assert message["Subject"] == "Hi"


def test_a_mime_text_without_charset_gets_the_domains_character_set_only_when_it_is_8_bit():
    eight_bit = b"From: kim@contoso.com\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\ncaf\xc3\xa9\r\n"
    assert parsed(convert(eight_bit, settings(character_set="utf-8"))).get_content_charset() == "utf-8"
    ascii_only = eight_bit.replace(b"caf\xc3\xa9", b"cafe")
    assert convert(ascii_only, settings(character_set="utf-8")) == ascii_only
    declared = eight_bit.replace(b"text/plain", b"text/plain; charset=iso-8859-1")
    assert convert(declared, settings(character_set="utf-8")) == declared


def leaving(headers, **remote_domain):
    """What outbound() makes of a message with `headers` from a user to a recipient at the remote domain."""
    from types import SimpleNamespace

    from transport.remote_domains import outbound

    fabrikam = RemoteDomainConfig(name="Fabrikam", domain_name="fabrikam.com", **remote_domain)
    configuration = SimpleNamespace(remote_domains=[("fabrikam.com", fabrikam)],
                                    accepted_domains=[("contoso.com", "Authoritative")])
    connector = SimpleNamespace(edge_relay=False, linked_receive_connector="")
    envelope = SimpleNamespace(mail_from="kim@contoso.com")
    return outbound(configuration, connector, envelope, ["ann@fabrikam.com"], headers + b"\r\nbody\r\n")


def test_automatic_messages_are_known_by_their_fields_however_written():
    """A field folded onto its next line, or in another case, names the message's kind all the same."""
    report = b'Subject: Read\r\nContent-Type:\r\n multipart/report; report-type=disposition-notification\r\n'
    assert list(leaving(report, delivery_report_enabled=False).dropped) == ["ann@fabrikam.com"]
    assert list(leaving(b"AUTO-SUBMITTED:   Auto-Replied\r\n").dropped) == ["ann@fabrikam.com"]
    assert list(leaving(b"auto-submitted: auto-forwarded\r\n").dropped) == ["ann@fabrikam.com"]
    assert list(leaving(b"Subject: hi\rAuto-Submitted: auto-replied\r\n").dropped) == ["ann@fabrikam.com"]
    ordinary = b"Subject: Auto-Submitted: auto-replied\r\nContent-Type: text/plain\r\n"
    assert leaving(ordinary).dropped == {} and leaving(ordinary).groups[0][0] == ["ann@fabrikam.com"]

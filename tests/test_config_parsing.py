"""Exchange value syntax: sizes, timespans, address spaces, IP ranges, bindings, smart hosts, DNS servers."""
from datetime import timedelta

import pytest

from exchange_console.lib import domains, ipranges, sizes, timespans

MB = 1024 * 1024


@pytest.mark.parametrize("text, expected", [
    ("10MB", 10 * MB), ("10240KB", 10 * MB), ("10485760", 10 * MB), ("10 MB", 10 * MB),
    ("10 MB (10,485,760 bytes)", 10 * MB), ("1.5KB", 1536), ("512B", 512), ("2GB", 2 * 1024 * MB),
    ("unlimited", None), ("Unlimited", None), (4096, 4096),
])
def test_it_parses_exchange_sizes(text, expected):
    assert sizes.parse_size(text) == expected


@pytest.mark.parametrize("text", ["ten MB", "10XB", "-5", "1.1B", "", "10 M B"])
def test_it_refuses_bad_sizes(text):
    with pytest.raises(ValueError):
        sizes.parse_size(text)


@pytest.mark.parametrize("size, shown, literal", [
    (10 * MB, "10 MB (10,485,760 bytes)", "10MB"), (10240 * 1024, "10 MB (10,485,760 bytes)", "10MB"),
    (65536, "64 KB (65,536 bytes)", "64KB"), (1000, "1000 B (1,000 bytes)", "1000B"),
    (10 * MB + 1, "10 MB (10,485,761 bytes)", "10485761B"), (None, "Unlimited", "unlimited"),
])
def test_it_shows_sizes_like_exchange(size, shown, literal):
    assert sizes.format_size(size) == shown
    assert sizes.shell_size(size) == literal
    assert sizes.parse_size(literal) == size


@pytest.mark.parametrize("text, expected, shown", [
    ("00:10:00", timedelta(minutes=10), "00:10:00"), ("2.00:00:00", timedelta(days=2), "2.00:00:00"),
    ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4), "1.02:03:04"),
    ("00:00:05", timedelta(seconds=5), "00:00:05"), ("04:00", timedelta(hours=4), "04:00:00"),
])
def test_it_parses_and_shows_timespans(text, expected, shown):
    assert timespans.parse_timespan(text) == expected
    assert timespans.format_timespan(expected) == shown


@pytest.mark.parametrize("text", ["10 minutes", "25:00:00", "00:60:00", "00:00:61", "1.2.3", ""])
def test_it_refuses_bad_timespans(text):
    with pytest.raises(ValueError):
        timespans.parse_timespan(text)


@pytest.mark.parametrize("text", ["SMTP:contoso.com;1", "contoso.com;1", "SMTP:contoso.com", "contoso.com",
                                  "smtp:Contoso.com;1"])
def test_it_reads_the_four_spellings_of_one_address_space_alike(text):
    assert str(domains.parse_address_space(text)) == "SMTP:contoso.com;1"


@pytest.mark.parametrize("text, canonical", [
    ("*", "SMTP:*;1"), ("*.com;5", "SMTP:*.com;5"), ("SMTP:*.contoso.com;100", "SMTP:*.contoso.com;100"),
    ("X400:c=US;a= ;p=Contoso;o=Exchange;;10", "X400:c=US;a= ;p=Contoso;o=Exchange;;10"),
    ("--", "SMTP:--;1"),
])
def test_it_accepts_valid_address_spaces(text, canonical):
    assert str(domains.parse_address_space(text)) == canonical


@pytest.mark.parametrize("text, message", [
    ("*contoso.com", "not a valid SMTP address space"), ("contoso.com;0", "cost must be between 1 and 100"),
    ("contoso.com;101", "cost must be between 1 and 100"), ("conto so.com", "not a valid SMTP address space"),
    ("-contoso.com", "not a valid SMTP address space"), ("contoso..com", "not a valid SMTP address space"),
    (":contoso.com", "no valid address space type"), ("", "can't be empty"),
])
def test_it_refuses_invalid_address_spaces(text, message):
    with pytest.raises(ValueError, match=message):
        domains.parse_address_space(text)


@pytest.mark.parametrize("pattern, domain, matches", [
    ("*", "anything.org", True), ("*.contoso.com", "marketing.contoso.com", True),
    ("*.contoso.com", "contoso.com", True), ("contoso.com", "marketing.contoso.com", False),
    ("contoso.com", "CONTOSO.com", True), ("*.contoso.com", "notcontoso.com", False),
])
def test_it_matches_recipient_domains(pattern, domain, matches):
    assert (domains.match_domain_pattern(pattern, domain) is not None) == matches


def test_it_ranks_a_named_domain_above_its_wildcard_above_star():
    ranks = [domains.match_domain_pattern(p, "marketing.contoso.com")
             for p in ("marketing.contoso.com", "*.contoso.com", "*")]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == 3


@pytest.mark.parametrize("text, canonical, size", [
    ("192.168.1.75", "192.168.1.75", 1), ("192.168.1.0-192.168.1.255", "192.168.1.0-192.168.1.255", 256),
    ("192.168.1.0/24", "192.168.1.0/24", 256), ("10.0.0.5/8", "10.0.0.0/8", 2**24),
    ("192.168.1.10(255.255.255.0)", "192.168.1.0/24", 256), ("2001:db8::1", "2001:db8::1", 1),
    ("2001:db8::/64", "2001:db8::/64", 2**64), ("0.0.0.0-255.255.255.255", "0.0.0.0-255.255.255.255", 2**32),
])
def test_it_parses_remote_ip_ranges(text, canonical, size):
    parsed = ipranges.parse_ip_range(text)
    assert (parsed.text, parsed.size) == (canonical, size)


@pytest.mark.parametrize("text, message", [
    ("192.168.1.256", "is not an IP address"), ("10.0.0.9-10.0.0.1", "must not be higher"),
    ("10.0.0.1-2001:db8::1", "mixes IPv4 and IPv6"), ("10.0.0.0/33", "is not an IP address"),
    ("printer", "is not an IP address"),
])
def test_it_refuses_bad_ip_ranges(text, message):
    with pytest.raises(ValueError, match=message):
        ipranges.parse_ip_range(text)


@pytest.mark.parametrize("text, canonical", [
    ("0.0.0.0:25", "0.0.0.0:25"), ("10.2.17.1:587", "10.2.17.1:587"), ("[::]:25", "[::]:25"),
    ("[2001:db8::1]:2525", "[2001:db8::1]:2525"),
])
def test_it_parses_bindings(text, canonical):
    assert str(ipranges.parse_binding(text)) == canonical


@pytest.mark.parametrize("text", ["0.0.0.0", "0.0.0.0:0", "0.0.0.0:65536", "mail:25", "[::]25", "::1:25"])
def test_it_refuses_bad_bindings(text):
    with pytest.raises(ValueError):
        ipranges.parse_binding(text)


@pytest.mark.parametrize("a, b, overlap", [
    ("0.0.0.0:25", "10.0.0.1:25", True), ("10.0.0.1:25", "10.0.0.1:25", True), ("10.0.0.1:25", "10.0.0.2:25", False),
    ("0.0.0.0:25", "0.0.0.0:587", False), ("[::]:25", "0.0.0.0:25", False),
])
def test_it_knows_which_bindings_share_a_listener(a, b, overlap):
    assert ipranges.parse_binding(a).overlaps(ipranges.parse_binding(b)) == overlap


@pytest.mark.parametrize("text, canonical", [
    ("192.168.1.100", "[192.168.1.100]"), ("[192.168.1.100]", "[192.168.1.100]"),
    ("Smtp.ISP.example", "smtp.isp.example"), ("2001:db8::25", "[2001:db8::25]"),
])
def test_it_shows_smart_host_ip_literals_in_brackets(text, canonical):
    assert domains.parse_smart_host(text) == canonical


@pytest.mark.parametrize("text, canonical", [
    ("10.0.0.53", "10.0.0.53"), ("127.0.0.1:5353", "127.0.0.1:5353"), ("[::1]:5353", "[::1]:5353"),
    ("::1", "::1"),
])
def test_it_reads_dns_servers_as_ip_or_ip_port(text, canonical):
    assert ipranges.parse_ip_endpoint(text) == canonical


@pytest.mark.parametrize("text", ["dns.contoso.com", "10.0.0.53:99999", "10.0.0.300"])
def test_it_refuses_bad_dns_servers(text):
    with pytest.raises(ValueError):
        ipranges.parse_ip_endpoint(text)

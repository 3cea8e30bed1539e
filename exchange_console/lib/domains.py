"""SMTP domain names and send/foreign connector address spaces ('Type:Space;Cost')."""
import hashlib
import ipaddress
import re
from dataclasses import dataclass

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.I)
ALL_ACCEPTED_DOMAINS = "--"
SITE_HUB_SERVERS = "--"   # as an Edge's smart host: the Hub servers of the site it is subscribed to


def is_domain(text):
    """A plain DNS domain of two or more labels isn't required: single-label internal names are valid."""
    if not text or len(text) > 255 or text.endswith("."):
        return False
    return all(_LABEL.match(label) for label in text.split("."))


def is_domain_pattern(text):
    """A domain, optionally led by '*.' ; '*' alone too. '*contoso.com' is not one."""
    if text == "*":
        return True
    if text.startswith("*."):
        return is_domain(text[2:])
    return is_domain(text)


def match_domain_pattern(pattern, domain):
    """How specifically pattern matches domain: None for no match, else a rank (higher is more specific).

    '*' matches everything; '*.contoso.com' matches contoso.com and its subdomains; 'contoso.com' only itself.
    """
    pattern, domain = pattern.lower(), domain.lower()
    if pattern == "*":
        return 0
    if pattern.startswith("*."):
        parent = pattern[2:]
        if domain == parent or domain.endswith("." + parent):
            return 2 * (parent.count(".") + 1)
        return None
    if pattern == domain:
        return 2 * (pattern.count(".") + 1) + 1
    return None


def most_specific(entries, domain):
    """The (pattern, value) entry whose pattern matches `domain` most specifically, None when none does (how
    Exchange picks an accepted domain, a remote domain, an address space)."""
    ranked = [(rank, entry) for entry in entries if (rank := match_domain_pattern(entry[0], domain)) is not None]
    return max(ranked, key=lambda item: item[0])[1] if ranked else None


@dataclass(frozen=True)
class AddressSpace:
    type: str
    address: str
    cost: int = 1

    def __str__(self):
        return f"{self.type}:{self.address};{self.cost}"

    @property
    def is_smtp(self):
        return self.type == "SMTP"

    def specificity(self, domain):
        """Match rank for a recipient domain (None: no match). Only SMTP spaces route SMTP recipients."""
        if not self.is_smtp or self.address == ALL_ACCEPTED_DOMAINS:
            return None
        return match_domain_pattern(self.address, domain)


def parse_address_space(text, allow_non_smtp=True):
    """'SMTP:contoso.com;1', 'contoso.com;1', 'SMTP:contoso.com' and 'contoso.com' are the same space."""
    raw = str(text).strip()
    if not raw:
        raise ValueError("an address space can't be empty")
    space_type, body = "SMTP", raw
    if ":" in raw:
        space_type, body = raw.split(":", 1)
        space_type = space_type.strip()
        if not space_type or not re.match(r"^[A-Za-z0-9-]+$", space_type):
            raise ValueError(f"'{raw}' has no valid address space type")
        if space_type.upper() == "SMTP":
            space_type = "SMTP"
    cost = 1
    head, sep, tail = body.rpartition(";")
    if sep and tail.strip().lstrip("-").isdigit():
        body, cost = head, int(tail)
    body = body.strip()
    if not 1 <= cost <= 100:
        raise ValueError(f"'{raw}': the cost must be between 1 and 100")
    if space_type != "SMTP":
        if not allow_non_smtp:
            raise ValueError(f"'{raw}': only SMTP address spaces are allowed here")
        if not body:
            raise ValueError(f"'{raw}' has an empty address")
        return AddressSpace(space_type, body, cost)
    if body != ALL_ACCEPTED_DOMAINS and not is_domain_pattern(body):
        raise ValueError(
            f"'{raw}' is not a valid SMTP address space; use a domain such as contoso.com, *.contoso.com or *"
        )
    return AddressSpace("SMTP", body.lower(), cost)


def parse_smart_host(text):
    """A smart host is an FQDN or an IP literal; IPs are kept as '[192.168.1.100]' like the EMC shows them. `--`
    (an Edge's inbound connector) stands for the Hub servers of the Edge's site."""
    raw = str(text).strip()
    if raw == SITE_HUB_SERVERS:
        return raw
    try:
        return f"[{ipaddress.ip_address(raw.strip('[]'))}]"
    except ValueError:
        pass
    if not is_domain(raw):
        raise ValueError(f"'{raw}' is not a host name (FQDN) or an IP address")
    return raw.lower()


def parse_smtp_address(text):
    """'local@domain' with a valid domain; the local part is kept as typed."""
    raw = str(text).strip()
    local, sep, domain = raw.rpartition("@")
    if not sep or not local or not is_domain(domain) or any(c in local for c in ' <>()[],;:"\\'):
        raise ValueError(f"'{raw}' is not a valid SMTP address (local@domain)")
    return f"{local}@{domain.lower()}"


def recipient_hash(address):
    """How a recipient travels to an Edge and is kept there: SHA-256 of the address in lower case, as Exchange
    hashes recipients for recipient filtering (the perimeter never holds the organization's address list)."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()

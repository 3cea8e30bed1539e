"""Header block helpers that the receive side (fields a sender isn't trusted to set) and the send side (fields
that stay inside the organization) share."""

# The organization's own header fields (lower case, as strip_header_fields compares them).
ORGANIZATION_HEADERS = b"x-ms-exchange-organization-"
FOREST_HEADERS = b"x-ms-exchange-forest-"


def split_headers(content):
    """(header block including its blank line, body); a message without a body is all headers."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = content.find(separator)
        if index != -1:
            return content[:index + len(separator)], content[index + len(separator):]
    return content, b""


def starts_a_line(headers, words):
    """Whether a line of the header block starts with one of `words` (lower-case bytes), whatever its case. A line
    starts at the block's start, after LF or after a lone CR, as splitlines() and the email parser have it. Found
    with bytes.find rather than a pattern anchored at every line: this runs for every message, in both directions."""
    lowered = headers.lower()
    for word in words:
        at = lowered.find(word)
        while at != -1:
            if at == 0 or lowered[at - 1] in b"\r\n":
                return True
            at = lowered.find(word, at + 1)
    return False


def strip_header_fields(content, prefixes):
    """The content without the header fields (and their continuation lines) whose names start with one of
    `prefixes` (lower-case bytes); the body is left as it is."""
    headers, body = split_headers(content)
    if not starts_a_line(headers, prefixes):
        return content   # nothing to strip (as a rule): the header block isn't rebuilt
    kept, dropping = [], False
    for line in headers.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(prefixes)
        if not dropping:
            kept.append(line)
    return b"".join(kept) + body

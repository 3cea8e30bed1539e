"""Header block helpers that the receive side (fields a sender isn't trusted to set) and the send side (fields
that stay inside the organization) share."""
import re

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


def strip_header_fields(content, prefixes):
    """The content without the header fields (and their continuation lines) whose names start with one of
    `prefixes` (lower-case bytes); the body is left as it is."""
    headers, body = split_headers(content)
    # A line starts after LF or a lone CR, as splitlines() has it below.
    if not re.search(b"(?:^|\r)(?:" + b"|".join(map(re.escape, prefixes)) + b")", headers,
                     re.IGNORECASE | re.MULTILINE):
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

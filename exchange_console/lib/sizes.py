"""Exchange's ByteQuantifiedSize: '10MB', '10240KB', '10485760', 'unlimited'; shown as '10 MB (10,485,760 bytes)'.

Unlimited is None throughout the project.
"""
import re

UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)?\s*(?:\(\s*([\d,]+)\s*bytes\s*\))?\s*$", re.I)


def parse_size(text):
    """Bytes as int, or None for unlimited. Raises ValueError on anything else."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise ValueError(f"'{text}' is not a size")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"'{text}' is not a size")
        return text
    value = str(text).strip()
    if value.lower() == "unlimited":
        return None
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a size; use a number with B, KB, MB, GB or TB, or 'unlimited'")
    if match.group(3):
        return int(match.group(3).replace(",", ""))
    number, unit = match.group(1), (match.group(2) or "B").upper()
    result = float(number) * UNITS[unit]
    if result != int(result):
        raise ValueError(f"'{value}' is not a whole number of bytes")
    return int(result)


def format_size(size):
    """Exchange's display form; None -> 'Unlimited'."""
    if size is None:
        return "Unlimited"
    unit = "B"
    for name, factor in UNITS.items():
        if size >= factor:
            unit = name
    amount = size / UNITS[unit]
    amount_text = f"{amount:.3f}".rstrip("0").rstrip(".")
    return f"{amount_text} {unit} ({size:,} bytes)"


def shell_size(size):
    """The shortest exact literal for a command line: 10MB, 10240KB, 1000B, unlimited."""
    if size is None:
        return "unlimited"
    for name in ("TB", "GB", "MB", "KB"):
        if size % UNITS[name] == 0 and size:
            return f"{size // UNITS[name]}{name}"
    return f"{size}B"

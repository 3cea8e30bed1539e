"""Exchange (.NET) timespans: 'hh:mm:ss', 'd.hh:mm:ss', optional fraction; shown the same way."""
import re
from datetime import timedelta

_SPAN = re.compile(r"^\s*(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?\s*$")


def parse_timespan(text):
    if isinstance(text, timedelta):
        return text
    match = _SPAN.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a time span; use hh:mm:ss or d.hh:mm:ss")
    days, hours, minutes, seconds, fraction = match.groups()
    hours, minutes, seconds = int(hours), int(minutes), int(seconds or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"'{text}' is not a time span; hours go to 23, minutes and seconds to 59")
    micro = int((fraction or "0").ljust(7, "0")[:6])
    return timedelta(days=int(days or 0), hours=hours, minutes=minutes, seconds=seconds, microseconds=micro)


def format_timespan(span):
    total = int(span.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02}:{minutes:02}:{seconds:02}"
    if span.microseconds:
        text += f".{span.microseconds:06}0".rstrip("0")
    return f"{days}.{text}" if days else text

r"""Exchange's W3C-style CSV logs (protocol and message tracking): header lines, daily files
<PREFIX>yyyymmdd-n.log rolled at a size limit, old files pruned by age and by total folder size.

One event is one physical line, whatever a client sent. Every C0 control character (CR and LF included), DEL and
the other characters that str.splitlines() ends a line at (U+0085, U+2028, U+2029) are written as \xHH or \uHHHH:
a vertical tab as \x0b, a line separator as \u2028. A backslash that would otherwise read as the start of such an
escape is doubled (the text \x0b that a client typed is written \\x0b); any other backslash is written as it is,
so that connector ids read EX1\Internet Mail as in Exchange's own logs. Readers split lines at LF only, and a line
that holds one of these characters unescaped was not written here.
"""
import csv
import io
import os
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

SOFTWARE = "Microsoft Exchange Server"
VERSION = "14.0.0.0"


def format_time(moment):
    """Exchange's date-time field: UTC with milliseconds, e.g. 2019-01-30T10:00:01.123Z."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")[:23] + "Z"


# What a reader could take for a line end, and what a terminal would act on.
LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_ESCAPED = re.compile(rf"{LINE_BREAKING.pattern}|\\(?={LINE_BREAKING.pattern}|[\\xu])")


def csv_line(values):
    """One CSV record on one line, escaped as the module says, ending with CRLF."""
    texts = ["" if value is None else str(value) for value in values]
    line = ",".join(texts)
    # Most lines need neither quotes nor escapes: the csv module is for those that do.
    if '"' not in line and line.count(",") == len(texts) - 1 and not _ESCAPED.search(line):
        return line + "\r\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(texts)
    return _ESCAPED.sub(_escape, buffer.getvalue()) + "\r\n"


def _escape(match):
    character = match.group()
    if character == "\\":
        return "\\\\"
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class RollingLog:
    """One log folder. Safe to call from several threads of one process; each server has its own folder."""

    def __init__(self, directory, prefix, log_type, fields, max_file_size=None, max_age=None,
                 max_directory_size=None):
        self.directory, self.prefix, self.log_type, self.fields = Path(directory), prefix, log_type, fields
        self.max_file_size, self.max_age, self.max_directory_size = max_file_size, max_age, max_directory_size
        self._lock = threading.Lock()
        self._path = self._file = self._day = None

    def write(self, values, moment=None):
        moment = moment or datetime.now(timezone.utc)
        line = csv_line([format_time(moment), *values]).encode("utf-8")
        with self._lock:
            file, size = self._current_file(moment, len(line))
            # Unbuffered: every line (with the header, in a new file) reaches the file at once, in one append.
            file.write(line if size else self._header(moment) + line)

    def close(self):
        with self._lock:
            if self._file is not None:
                self._file.close()
            self._path = self._file = None

    def _header(self, moment):
        return (f"#Software: {SOFTWARE}\r\n#Version: {VERSION}\r\n#Log-Type: {self.log_type}\r\n"
                f"#Date: {format_time(moment)}\r\n#Fields: {','.join(self.fields)}\r\n").encode()

    def _current_file(self, moment, incoming):
        """The file to append to, and its size now (other processes may append to it too)."""
        if self._path is None or moment.date() != self._day:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._open(self._last_file_of(moment.strftime("%Y%m%d")), moment)
            self._day = moment.date()
        size = os.fstat(self._file.fileno()).st_size
        if self.max_file_size is not None and size > 0 and size + incoming > self.max_file_size:
            number = int(self._path.stem.rsplit("-", 1)[1]) + 1
            self._open(self.directory / f"{self.prefix}{moment.strftime('%Y%m%d')}-{number}.log", moment)
            size = os.fstat(self._file.fileno()).st_size
        return self._file, size

    def _open(self, path, moment):
        if self._file is not None:
            self._file.close()
        self._path = path
        self.prune(moment)
        self._file = open(path, "ab", buffering=0)

    def _last_file_of(self, day):
        numbers = [int(path.stem.rsplit("-", 1)[1]) for path in self.directory.glob(f"{self.prefix}{day}-*.log")
                   if path.stem.rsplit("-", 1)[1].isdigit()]
        return self.directory / f"{self.prefix}{day}-{max(numbers, default=1)}.log"

    def prune(self, moment):
        """Delete files older than max_age, then the oldest until the folder fits max_directory_size."""
        files = sorted(self.directory.glob(f"{self.prefix}*.log"), key=lambda path: path.stat().st_mtime)
        if self.max_age is not None:
            cutoff = moment.timestamp() - self.max_age.total_seconds()
            for path in [path for path in files if path.stat().st_mtime < cutoff and path != self._path]:
                path.unlink(missing_ok=True)
                files.remove(path)
        if self.max_directory_size is not None:
            # Room for the file being started, so the folder stays within its limit while that file grows.
            total = sum(path.stat().st_size for path in files if path != self._path) + (self.max_file_size or 0)
            for path in files:
                if total <= self.max_directory_size or path == self._path:
                    break
                total -= path.stat().st_size
                path.unlink(missing_ok=True)

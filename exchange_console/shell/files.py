"""Where the files a script names live. Scripts written for Windows say `C:\\Reports\\connectors.csv`,
`\\\\fileserver\\share\\list.txt` or a relative `.\\list.txt`; the shell keeps them all under one folder,
settings.EMS_FILE_ROOT:

    C:\\Reports\\x.csv          -> <root>/C/Reports/x.csv     (any drive letter: D:\\x -> <root>/D/x)
    \\\\fileserver\\share\\x.txt  -> <root>/UNC/fileserver/share/x.txt
    x.txt, .\\x.txt, \\x.txt    -> <root>/C/x.txt             (the shell's location is C:\\, as its prompt says)

`/` separates like `\\`, and names match without regard to case, as on Windows. A path that climbs above its
drive or share with `..`, or that leads out of the root through a symbolic link, is refused: a script reads
and writes nothing outside the root.
"""
import ntpath
import os
from pathlib import Path

from django.conf import settings

from exchange_console.shell.errors import ShellError


def local_path(written):
    """The local file a script's path means, or ShellError when it would leave the root."""
    text = written.replace("/", "\\").strip()
    if "\0" in text:
        raise ShellError("Illegal characters in path.")
    drive, rest = ntpath.splitdrive(text)
    if drive.startswith("\\\\"):
        base = ["UNC", *[part for part in drive.split("\\") if part]]
    elif drive:
        base = [drive[0].upper()]
    else:
        base = ["C"]
    parts = []
    for part in rest.split("\\"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise ShellError(f"The path '{written}' leads outside the shell's file root.")
            parts.pop()
        else:
            parts.append(part)
    root = Path(settings.EMS_FILE_ROOT).resolve()
    path = root
    for name in (*base, *parts):
        path = path / _spelled(path, name)
    if not path.resolve().is_relative_to(root):  # a symbolic link under the root pointing out of it
        raise ShellError(f"The path '{written}' leads outside the shell's file root.")
    return path


def _spelled(folder, name):
    """The entry of folder that name means: itself, or one spelled in other case (C:\\REPORTS is C:\\Reports)."""
    if (folder / name).exists() or not folder.is_dir():
        return name
    return next((entry.name for entry in folder.iterdir() if entry.name.lower() == name.lower()), name)


def existing(written):
    """The local file for a path that must exist, with PowerShell's error when it doesn't."""
    path = local_path(written)
    if not path.exists():
        raise ShellError(f"Cannot find path '{written}' because it does not exist.")
    if path.is_dir():
        raise ShellError(f"Access to the path '{written}' is denied.")
    return path


def read_bytes(written):
    return _reading(written, lambda path: path.read_bytes())


def read_text(written, encoding="utf-8-sig"):
    return _reading(written, lambda path: path.read_text(encoding=encoding, errors="replace"))


def exists(written):
    try:
        return local_path(written).is_file()
    except ShellError:
        return False


def _reading(written, read):
    path = existing(written)
    try:
        return read(path)
    except OSError as error:
        raise ShellError(f"The file '{written}' can't be read: {error.strerror}.") from None


def write(written, data, append=False):
    """Write (or append) bytes, creating the folders on the way, as a script expects `C:\\Reports` to be there."""
    path = local_path(written)
    if path.is_dir():
        raise ShellError(f"Access to the path '{written}' is denied.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab" if append else "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as error:
        raise ShellError(f"The file '{written}' can't be written: {error.strerror}.") from None

"""Foreign connector delivery: each message becomes a file in the connector's drop directory, the envelope
leading the content as X-Sender / X-Receiver header lines, like Exchange's drop files."""
import os
from pathlib import Path


class DropDirectoryQuotaExceeded(Exception):
    """The drop directory holds DropDirectoryQuota already: the message waits in its queue."""


class DropDirectoryOutsideRoot(Exception):
    """The connector's drop directory isn't under RootDropDirectoryPath (a row saved before the schema refused
    such a DropDirectory or Name): nothing is written and the messages stay in their queue."""


def drop_directory(drop_root, connector):
    """The connector's folder, checked again here: whatever the database holds, files land under the root."""
    root = Path(os.path.normpath(drop_root))
    folder = Path(os.path.normpath(root / connector.drop_directory))
    if not folder.is_relative_to(root):
        raise DropDirectoryOutsideRoot(f"The drop directory '{connector.drop_directory}' of foreign connector "
                                       f"'{connector.name}' is outside RootDropDirectoryPath {root}; "
                                       f"correct the connector's DropDirectory (or Name).")
    return folder


def write_drop_file(folder, quota, message_id, mail_from, recipients, content):
    folder.mkdir(parents=True, exist_ok=True)
    envelope = f"X-Sender: <{mail_from}>\r\n" + "".join(f"X-Receiver: <{rcpt}>\r\n" for rcpt in recipients)
    data = envelope.encode() + content
    if quota is not None and _folder_size(folder) + len(data) > quota:
        raise DropDirectoryQuotaExceeded(
            f"4.3.1 The drop directory {folder} has reached its quota of {quota} bytes")
    temporary, final = folder / f"{message_id}.tmp", folder / f"{message_id}.eml"
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, final)   # the gateway picks up *.eml only once complete
    return final


def _folder_size(folder):
    return sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())

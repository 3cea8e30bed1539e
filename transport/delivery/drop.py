"""Foreign connector delivery: each message becomes a file in the connector's drop directory, the envelope
leading the content as X-Sender / X-Receiver header lines, like Exchange's drop files."""
import os
from pathlib import Path


class DropDirectoryQuotaExceeded(Exception):
    """The drop directory holds DropDirectoryQuota already: the message waits in its queue."""


def drop_directory(drop_root, connector):
    return Path(drop_root) / connector.drop_directory


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

"""Local delivery to a mailbox: a Maildir under EXCHANGE_DATA_DIR/Mailboxes/<address>/Maildir.

Written to tmp/, fsynced, then renamed into new/ (the Maildir protocol), so a reader never sees half a message
and a delivered message survives a crash. The file is named after the message's id in the queue store, so
that categorizing it again after a crash doesn't deliver it twice.
"""
import os
import socket
from pathlib import Path


def mailbox_folder(data_dir, address):
    return Path(data_dir) / "Mailboxes" / address.lower() / "Maildir"


def deliver_to_mailbox(data_dir, address, mail_from, content, message_id):
    """Store one message in the mailbox of `address`, with the Return-Path the delivery adds. Returns the
    file, or None when the mailbox already has this message (in new/, or read: in cur/)."""
    folder = mailbox_folder(data_dir, address)
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    name = f"{message_id}.{socket.gethostname()}"
    if (folder / "new" / name).exists() or any((folder / "cur").glob(f"{name}:*")):
        return None
    temporary = folder / "tmp" / name
    with open(temporary, "wb") as file:
        file.write(f"Return-Path: <{mail_from}>\r\nDelivered-To: {address}\r\n".encode())
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, folder / "new" / name)
    descriptor = os.open(folder / "new", os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return folder / "new" / name

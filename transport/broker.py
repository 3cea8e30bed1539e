"""The embedded broker: kombu's filesystem transport, with each message file written whole before it shows.

Kombu writes a message file in place under its final name; a worker polling at that moment can move and read
it before the write is done, and the empty or partial JSON it gets stops the Celery worker. Here a message is
written under a temporary name and renamed into place, so consumers only ever see complete messages.
"""
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

TEMPORARY_SUFFIX = ".part"   # consumers only take '<stamp>_<uuid>.<queue>.msg' names


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue` atomically (same file name scheme as kombu's)."""
        final = os.path.join(self.data_folder_out, f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg")
        temporary = final + TEMPORARY_SUFFIX
        try:
            with open(temporary, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(temporary, final)
        except OSError as error:
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel

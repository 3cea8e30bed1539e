"""The embedded broker: kombu's filesystem transport, and Celery's filesystem result backend, with each file
written whole before it shows.

Both write a file in place under its final name; a reader polling at that moment can read it before the write is
done (the empty or partial JSON stops a Celery worker, or gives the console half an answer). Here each file is
written under a temporary name and renamed into place, so readers only ever see complete ones.
"""
import os
import uuid
from time import monotonic

from celery.backends.filesystem import FilesystemBackend
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


class FilesystemResults(FilesystemBackend):
    """The result backend beside the embedded broker (settings: CELERY_RESULT_BACKEND, file://)."""

    def set(self, key, value):
        final = self._filename(key)
        temporary = final + TEMPORARY_SUFFIX.encode()
        with self.open(temporary, "wb") as file:
            file.write(value if isinstance(value, bytes) else str(value).encode())
        os.replace(temporary, final)

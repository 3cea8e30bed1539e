"""The queue store on disk: what a group of accepted messages leaves in the Queue folder, with either way of making
it durable, and what becomes of a removed message's file."""
import os

import pytest

from transport.queue import store as store_module
from transport.queue.store import FREE_FOLDER, SYNC_METHODS, MessageStore


def fields(recipient="user@contoso.com"):
    return {"mail_from": "sender@fabrikam.com", "rcpt_tos": [recipient], "received_connector": "HUB01\\Default",
            "client_ip": "192.0.2.1", "client_hostname": "mail.fabrikam.com", "auth_user": "", "size": 40,
            "header_message_id": "<1@fabrikam.com>", "subject": "Hello"}


def content(text):
    return f"Subject: Hello\r\n\r\n{text}\r\n".encode()


def queue_files(root):
    return sorted(name for name in os.listdir(root) if name != FREE_FOLDER)


def free_files(root):
    return sorted((root / FREE_FOLDER).iterdir())


@pytest.mark.parametrize("sync", SYNC_METHODS)
def test_a_group_is_stored_whole_with_either_sync_method(tmp_path, sync):
    store = MessageStore(tmp_path, sync)
    envelopes = store.accept_group([(content(f"message {n}"), fields(f"user{n}@contoso.com")) for n in range(3)])
    assert store.ids() == [envelope.message_id for envelope in envelopes]
    assert queue_files(tmp_path) == sorted(f"{envelope.message_id}.msg" for envelope in envelopes)   # no .tmp left
    loaded, data = store.load(envelopes[1].message_id)
    assert (loaded, data) == (envelopes[1], content("message 1"))


def test_an_unknown_sync_method_is_refused(tmp_path):
    with pytest.raises(ValueError, match="queue sync method 'fdatasync' is not one of fsync"):
        MessageStore(tmp_path, "fdatasync")


def test_a_group_that_cannot_be_written_leaves_nothing_behind(tmp_path):
    store = MessageStore(tmp_path)
    with pytest.raises(TypeError):
        store.accept_group([(content("fine"), fields()), (None, fields())])   # the second can't be written
    assert queue_files(tmp_path) == [] and store.ids() == []


def test_a_removed_messages_file_serves_the_next_message_written_over_it(tmp_path):
    store = MessageStore(tmp_path)
    first = store.accept(content("a first message, longer than the one after it"), **fields())
    inode = os.stat(tmp_path / f"{first.message_id}.msg").st_ino
    store.remove(first.message_id)
    assert store.ids() == []
    [kept] = free_files(tmp_path)
    assert kept.stat().st_ino == inode   # the file is kept, out of the store
    with pytest.raises(FileNotFoundError):
        store.load(first.message_id)
    second = store.accept(content("second"), **fields())
    assert free_files(tmp_path) == []
    assert os.stat(tmp_path / f"{second.message_id}.msg").st_ino == inode
    assert store.load(second.message_id) == (second, content("second"))   # nothing of the first's longer end


def test_a_large_removed_messages_file_is_emptied(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "KEEP_BLOCKS_UP_TO", 1000)
    store = MessageStore(tmp_path)
    small, large = (store.accept(content(text), **fields()) for text in ("small", "x" * 2000))
    small_size = os.stat(tmp_path / f"{small.message_id}.msg").st_size
    store.remove(small.message_id, large.message_id)
    assert sorted(kept.stat().st_size for kept in free_files(tmp_path)) == [0, small_size]


def test_another_store_on_the_folder_takes_the_kept_files_too(tmp_path):
    """The worker removes, the receive process accepts: two stores on one folder, one in each process."""
    worker, receive = MessageStore(tmp_path), MessageStore(tmp_path)
    delivered = worker.accept(content("delivered"), **fields())
    worker.remove(delivered.message_id)
    receive.accept(content("new"), **fields())
    assert free_files(tmp_path) == []


def test_only_so_many_files_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "FREE_FILES_KEPT", 2)
    monkeypatch.setattr(store_module, "RECOUNT_EVERY", 1)
    store = MessageStore(tmp_path)
    envelopes = store.accept_group([(content(f"message {n}"), fields()) for n in range(5)])
    store.remove(*(envelope.message_id for envelope in envelopes))
    assert store.ids() == [] and queue_files(tmp_path) == []
    assert len(free_files(tmp_path)) == 2


def test_a_message_removed_while_it_is_read_reads_as_gone_never_as_the_message_reusing_its_file(tmp_path,
                                                                                                monkeypatch):
    store = MessageStore(tmp_path)
    first = store.accept(content("first, delivered while read"), **fields())
    reused = []

    def open_then_remove_and_reuse(path, mode="r", *args, **kwargs):
        file = open(path, mode, *args, **kwargs)   # the reader has the file open...
        store.remove(first.message_id)             # ...when the message is delivered and removed,
        reused.append(store.accept(content("second"), **fields("ann@contoso.com")))   # and its file reused
        return file

    monkeypatch.setattr(store_module, "open", open_then_remove_and_reuse, raising=False)
    with pytest.raises(FileNotFoundError, match=f"message {first.message_id} is no longer in the store"):
        store.load(first.message_id)
    monkeypatch.undo()
    assert os.stat(tmp_path / f"{reused[0].message_id}.msg").st_size > 0   # the reader read the second's content
    assert store.load(reused[0].message_id)[1] == content("second")

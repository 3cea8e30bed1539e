"""Queue cmdlets of Exchange 2010: Get-Queue, Retry-/Suspend-/Resume-Queue, Get-Message, Suspend-/Resume-/
Remove-Message and Export-Message, with -Server, -Queue and OPath -Filter."""
from functools import partial

from exchange_console.lib.errors import ParameterError
from exchange_console.queues import actions
from exchange_console.queues.filters import OPathFilter
from transport.queue import state
from transport.queue.models import DeliveryQueue, QueuedMessage
from exchange_console.queues.schemas import MESSAGE, MESSAGE_COLUMNS, MESSAGE_COUNT, QUEUE, QUEUE_COLUMNS
from exchange_console.shell.cmdlets import CHANGE_SWITCHES, apply
from exchange_console.shell.errors import ObjectNotFoundError, ParameterBindingError, ShellError
from exchange_console.shell.registry import Parameter, cmdlet
from exchange_console.shell.results import MORE_RESULTS, result_size
from exchange_console.shell.values import ConfigRecord, to_string, truthy

IDENTITY = Parameter("Identity", position=0, pipeline=True)
FILTER = Parameter("Filter", type_name="System.String")
SERVER = Parameter("Server")
RESULT_SIZE = Parameter("ResultSize")


def _matching(objects, invocation, columns):
    """The objects that pass -Filter (still a query: the filter runs in the database)."""
    if "Filter" not in invocation:
        return objects
    try:
        return OPathFilter(invocation.get("Filter")).apply(objects, columns)
    except ParameterError as error:
        raise ParameterBindingError(f"Cannot bind parameter 'Filter'. {error.message}") from None


def _filtered(objects, invocation, schema, columns):
    """Records of the objects that pass -Filter (one database query), all of them: what a change acts on."""
    return [ConfigRecord(schema, obj) for obj in _matching(objects, invocation, columns)]


def _listed(objects, invocation, columns):
    """What Get-Queue and Get-Message list: the objects that pass -Filter, at most -ResultSize of them (the
    database reads one more, to tell whether there are more), with Exchange's warning when there are."""
    limit = result_size(invocation)
    objects = _matching(objects, invocation, columns)
    listed = list(objects if limit is None else objects[:limit + 1])
    if limit is not None and len(listed) > limit:
        invocation.session.host.warn(MORE_RESULTS)
        del listed[limit:]
    return listed


def _split_identity(text, parts):
    """'HUB01\\5' -> ('HUB01', 5); 'HUB01\\5\\12' -> ('HUB01', 5, 12)."""
    pieces = str(text).split("\\")
    if len(pieces) != parts or not all(piece.isdigit() for piece in pieces[1:]):
        return None
    return (pieces[0], *(int(piece) for piece in pieces[1:]))


def queues(invocation):
    found = DeliveryQueue.objects.select_related("server").annotate(count=MESSAGE_COUNT).order_by(
        "server__name", "id")
    if "Server" in invocation:
        found = found.filter(server__name__iexact=to_string(invocation.get("Server")))
    return found


def _queue(identity):
    if isinstance(identity, ConfigRecord) and isinstance(identity.obj, DeliveryQueue):
        return identity.obj
    parts = _split_identity(to_string(identity), 2)
    queue = parts and DeliveryQueue.objects.select_related("server").filter(
        server__name__iexact=parts[0], pk=parts[1]).first()
    if not queue:
        raise ObjectNotFoundError(to_string(identity), "the queues of this organization")
    return queue


def _message(identity):
    if isinstance(identity, ConfigRecord) and isinstance(identity.obj, QueuedMessage):
        return identity.obj
    parts = _split_identity(to_string(identity), 3)
    message = parts and QueuedMessage.objects.select_related("queue__server").filter(
        queue__server__name__iexact=parts[0], queue_id=parts[1], pk=parts[2]).first()
    if not message:
        raise ObjectNotFoundError(to_string(identity), "the queues of this organization")
    return message


@cmdlet("Get-Queue", IDENTITY, SERVER, FILTER, RESULT_SIZE)
def get_queue(invocation):
    if "Identity" in invocation or invocation.input is not None:
        records = [ConfigRecord(QUEUE, _queue(identity)) for identity in invocation.each("Identity")]
    else:
        return [ConfigRecord(QUEUE, queue) for queue in _listed(queues(invocation), invocation, QUEUE_COLUMNS)]
    return records


def _each_queue(invocation, verb, action):
    """Apply an action to the queues named or filtered, with -WhatIf and -Confirm as every change has."""
    targets = [_queue(identity) for identity in invocation.each("Identity")] or [
        record.obj for record in _filtered(queues(invocation), invocation, QUEUE, QUEUE_COLUMNS)]
    apply(invocation, [(f'{verb} queue "{queue.identity}".', partial(action, queue)) for queue in targets])
    return []


@cmdlet("Retry-Queue", IDENTITY, SERVER, FILTER, Parameter("Resubmit", type_name="System.Boolean"),
        *CHANGE_SWITCHES)
def retry_queue(invocation):
    """`Retry-Queue HUB01\\3`; `-Resubmit $true` routes the queue's messages again first."""
    return _each_queue(invocation, "Retrying", partial(actions.retry_queue,
                                                       resubmit=truthy(invocation.get("Resubmit", False))))


@cmdlet("Suspend-Queue", IDENTITY, SERVER, FILTER, *CHANGE_SWITCHES)
def suspend_queue(invocation):
    return _each_queue(invocation, "Suspending", actions.suspend_queue)


@cmdlet("Resume-Queue", IDENTITY, SERVER, FILTER, *CHANGE_SWITCHES)
def resume_queue(invocation):
    return _each_queue(invocation, "Resuming", actions.resume_queue)


def messages(invocation):
    # A listing's messages share a few queues: each queue and server is read once (prefetched) rather than joined
    # to every row and built again per message, a third of the time of Get-Message -ResultSize 1000.
    found = QueuedMessage.objects.prefetch_related("queue__server")
    if "Server" in invocation:
        found = found.filter(queue__server__name__iexact=to_string(invocation.get("Server")))
    if "Queue" in invocation:
        queue = _queue(invocation.get("Queue"))
        found = found.filter(queue=queue)
    return found


@cmdlet("Get-Message", IDENTITY, SERVER, FILTER, Parameter("Queue"), RESULT_SIZE)
def get_message(invocation):
    if "Identity" in invocation:
        records = [ConfigRecord(MESSAGE, _message(identity)) for identity in invocation.each("Identity")]
    elif invocation.input is not None:
        records = [ConfigRecord(MESSAGE, message) for item in invocation.input for message in
                   (messages_of(item) if _is_queue(item) else [_message(item)])]
    else:
        listed = state.with_addresses(_listed(messages(invocation), invocation, MESSAGE_COLUMNS))
        return [ConfigRecord(MESSAGE, message) for message in listed]
    return records


def _is_queue(item):
    return isinstance(item, ConfigRecord) and isinstance(item.obj, DeliveryQueue)


def messages_of(record):
    return state.with_addresses(list(record.obj.messages.prefetch_related("queue__server")))


def _each_message(invocation, verb, action, confirm_by_default=False):
    targets = [_message(identity) for identity in invocation.each("Identity")] or [
        record.obj for record in _filtered(messages(invocation), invocation, MESSAGE, MESSAGE_COLUMNS)]
    apply(invocation, [(f'{verb} message "{message.identity}".', partial(action, message)) for message in targets],
          confirm_by_default=confirm_by_default)
    return []


MESSAGE_SELECTION = (IDENTITY, SERVER, FILTER, Parameter("Queue"), *CHANGE_SWITCHES)


@cmdlet("Suspend-Message", *MESSAGE_SELECTION)
def suspend_message(invocation):
    return _each_message(invocation, "Suspending", actions.suspend_message)


@cmdlet("Resume-Message", *MESSAGE_SELECTION)
def resume_message(invocation):
    return _each_message(invocation, "Resuming", actions.resume_message)


@cmdlet("Remove-Message", *MESSAGE_SELECTION, Parameter("WithNDR", type_name="System.Boolean"))
def remove_message(invocation):
    with_ndr = truthy(invocation.get("WithNDR", True))   # Exchange's default: the sender gets an NDR
    return _each_message(invocation, "Removing", partial(actions.remove_message, with_ndr=with_ndr),
                         confirm_by_default=True)


@cmdlet("Export-Message", IDENTITY)
def export_message(invocation):
    """The message as it sits in its server's queue store (headers and body, as bytes), read by that server."""
    return [actions.export_message(_message(identity)) for identity in invocation.each("Identity")]

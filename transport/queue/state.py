"""Every change of queue state, in one place: putting recipients in the queue of their next hop, claiming
messages for a delivery attempt, finishing, deferring or moving them, and what an administrator does to queues
and messages (Suspend, Resume, Retry, Remove).

Changes are conditional updates, so that the transport and an administrator never overwrite each other: an
attempt's outcome lands only on messages it still holds (Active), a message suspended meanwhile
(PendingSuspend) becomes Suspended when the attempt ends, a suspended queue stays Suspended whatever its
attempt met, and a message being removed (PendingRemove) is left to the removal."""
import threading
import uuid

from django.db import connection, transaction
from django.db.models import Case, Min, Value, When
from django.utils import timezone

from exchange_console.organization.models import TransportServer
from transport.queue.models import (
    DeliveryQueue, DeliveryType, MessageStatus, QueuedMessage, QueuedRecipient, QueueStatus,
)

WAITING = (MessageStatus.READY, MessageStatus.RETRY)
ENQUEUE_CHUNK = 500   # rows per INSERT (on SQLite twelve parameters each: well within its limit)
READ_CHUNK = 500      # queue entries read at a time when going through a whole queue


def _any(column, values):
    """`column` is one of `values`, as SQL and its parameters: one array on PostgreSQL (the same statement whatever
    their number, so that the server plans it once), one parameter each on SQLite."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def next_hop_of(connector, domain):
    """(delivery type, next hop) of a connector for a recipient domain, named as Exchange's queues are."""
    if connector.is_foreign:
        return DeliveryType.NON_SMTP_GATEWAY, connector.name
    if connector.smart_hosts:
        return DeliveryType.SMART_HOST_CONNECTOR, ",".join(connector.smart_hosts)
    return DeliveryType.DNS_CONNECTOR, domain.lower()


def queue_for(server_name, delivery_type, next_hop, connector_name=""):
    server_id = TransportServer.objects.filter(name__iexact=server_name).values_list("id", flat=True).get()
    queue, _ = DeliveryQueue.objects.get_or_create(
        server_id=server_id, delivery_type=delivery_type, next_hop_domain=next_hop,
        next_hop_connector=connector_name)
    return queue


def enqueue_new(entries):
    """Queue freshly categorized messages: (queue, envelope, recipients) for each entry. An entry that another
    categorization of the same message committed meanwhile stays as it is (after a restart the store is handed
    on again while the tasks of before it still come). Plain SQL, as for claim: this runs for every message
    accepted, and the ORM's bulk inserts cost more to build than to run."""
    entries = list(entries)
    if not entries:
        return
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.cursor() as cursor:
        created = {}
        for start in range(0, len(entries), ENQUEUE_CHUNK):
            _insert_rows(cursor, QueuedMessage._meta.db_table, NEW_ENTRY_COLUMNS, [
                (queue.id, envelope.message_id, envelope.mail_from, envelope.subject[:1024],
                 envelope.header_message_id[:998], envelope.size, adapt(envelope.arrival_time), MessageStatus.READY,
                 0, "", False, "") for queue, envelope, _ in entries[start:start + ENQUEUE_CHUNK]],
                "ON CONFLICT (queue_id, store_id) DO NOTHING RETURNING id, queue_id, store_id")
            created.update({(queue_id, store_id): entry_id for entry_id, queue_id, store_id in cursor.fetchall()})
        recipients = [(created[queue.id, envelope.message_id], address, "")
                      for queue, envelope, addresses in entries if (queue.id, envelope.message_id) in created
                      for address in addresses]
        for start in range(0, len(recipients), ENQUEUE_CHUNK):
            _insert_rows(cursor, QueuedRecipient._meta.db_table, NEW_RECIPIENT_COLUMNS,
                         recipients[start:start + ENQUEUE_CHUNK])


# (column, PostgreSQL type) of what enqueue_new inserts
NEW_ENTRY_COLUMNS = (("queue_id", "bigint"), ("store_id", "text"), ("from_address", "text"), ("subject", "text"),
                     ("internet_message_id", "text"), ("size", "bigint"), ("date_received", "timestamptz"),
                     ("status", "text"), ("retry_count", "integer"), ("last_error", "text"),
                     ("delay_notified", "boolean"), ("claim", "text"))
NEW_RECIPIENT_COLUMNS = (("message_id", "bigint"), ("address", "text"), ("last_error", "text"))


def _insert_rows(cursor, table, columns, rows, suffix=""):
    """One INSERT of many rows. On PostgreSQL each column goes as one array: the statement is the same whatever the
    number of rows, so the server plans it once per connection and psycopg needn't rewrite thousands of
    placeholders each time. On SQLite, a VALUES list."""
    names = ", ".join(name for name, _ in columns)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {suffix}",
                       [list(values) for values in zip(*rows)])
    else:
        row = f"({', '.join(['%s'] * len(columns))})"
        cursor.execute(f"INSERT INTO {table} ({names}) VALUES {', '.join([row] * len(rows))} {suffix}",
                       [value for values in rows for value in values])


class QueueStatistics:
    """PostgreSQL plans the queue's queries from statistics that autovacuum refreshes a minute or more after a
    table changed: a queue that filled since is planned as if it were nearly empty, and every claim then reads the
    whole queue (a bitmap scan and a sort, thousands of entries for each batch of twenty) instead of its first
    entries along the delivery-order index. So the worker refreshes them itself, once as many entries were queued
    since the last refresh as the queue tables held then (at least AFTER_QUEUED): a few times while a queue fills,
    rarely once it is steady."""

    AFTER_QUEUED = 500
    TABLES = (QueuedMessage._meta.db_table, QueuedRecipient._meta.db_table)

    def __init__(self):
        self._lock = threading.Lock()
        self._queued, self._threshold = 0, self.AFTER_QUEUED

    def queued(self, count):
        """`count` entries were queued (and committed)."""
        if connection.vendor != "postgresql":   # SQLite's planner takes the index for a queue's first entries
            return
        with self._lock:
            self._queued += count
            if self._queued < self._threshold:
                return
            self._queued = 0
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(self.TABLES)}")
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [self.TABLES[0]])
            self._threshold = max(self.AFTER_QUEUED, int(cursor.fetchone()[0]))


def _join(queue, store_id, recipients, defaults):
    """Add recipients to the message's entry in the queue, creating the entry when it has none."""
    message, _ = QueuedMessage.objects.get_or_create(queue=queue, store_id=store_id, defaults=defaults)
    known = set(message.recipients.values_list("address", flat=True))
    QueuedRecipient.objects.bulk_create(
        QueuedRecipient(message=message, address=address) for address in recipients if address not in known)
    return message


class FailingConnectors:
    """Connectors none of whose hosts accepted a connection lately (read once, asked per recipient domain)."""

    def __init__(self, server_name):
        self.queues = list(DeliveryQueue.objects.for_server(server_name).failing_to_connect().values_list(
            "delivery_type", "next_hop_domain", "next_hop_connector"))

    def for_domain(self, domain):
        return frozenset(connector for delivery_type, next_hop, connector in self.queues
                         if delivery_type != DeliveryType.DNS_CONNECTOR or next_hop == domain.lower())


def failing_connectors(server_name, domain):
    return FailingConnectors(server_name).for_domain(domain)


def queued_store_ids(store_ids):
    """Which of the messages have an entry in a queue (store ids are unique across stores: time-ordered with
    a random part). Plain SQL: asked for every batch categorized."""
    store_ids = list(store_ids)
    if not store_ids:
        return set()
    condition, params = _any("store_id", store_ids)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT store_id FROM {QueuedMessage._meta.db_table} WHERE {condition}", params)
        return {row[0] for row in cursor.fetchall()}


def release_abandoned(server_name, store_ids, instance):
    """Messages a dead worker left Active go back to Ready (PendingSuspend: Suspended); returns the queues
    they are in. `instance`: this worker's, whose own attempts are alive."""
    if not store_ids:
        return []
    messages = QueuedMessage.objects.filter(store_id__in=list(store_ids), queue__server__name=server_name)
    abandoned = messages.exclude(claim="").exclude(claim__startswith=instance + ":")
    _end_attempt(abandoned, MessageStatus.READY)
    return DeliveryQueue.objects.filter(messages__in=messages).distinct()


def claim(queue, limit, instance):
    """Claim up to `limit` waiting messages of the queue whose retry time has come, oldest first, unless the queue
    is suspended; each carries `addresses`, its recipients to attempt. `instance`: the claiming worker's. One
    conditional update chooses and marks them (two workers never hold the same message), one more statement reads
    their recipients. Plain SQL: this runs for every few messages delivered, and building the ORM's queries cost
    more than running them."""
    messages = QueuedMessage._meta.db_table
    token = f"{instance}:{uuid.uuid4().hex[:16]}"
    # The queue's own condition is a subquery of its own, not tied to each row: read once, not for every row the
    # index walk passes. The outer statement asks again whether each message is still waiting: on PostgreSQL,
    # when another attempt claimed one meanwhile, it is left to that attempt.
    due = (f"status IN (%s, %s) AND (next_retry_time IS NULL OR next_retry_time <= %s) AND EXISTS "
           f"(SELECT 1 FROM {DeliveryQueue._meta.db_table} WHERE id = %s AND status <> %s)")
    due_params = [*WAITING, connection.ops.adapt_datetimefield_value(timezone.now()), queue.id,
                  QueueStatus.SUSPENDED]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {messages} SET status = %s, claim = %s WHERE id IN (SELECT id FROM {messages} WHERE queue_id = %s "
            f"AND {due} ORDER BY date_received, id LIMIT %s) AND {due} RETURNING {', '.join(_entry_columns())}",
            [MessageStatus.ACTIVE, token, queue.id, *due_params, limit, *due_params])
        claimed = sorted(_entries(cursor.fetchall()), key=lambda message: (message.date_received, message.id))
    shared = _shared_store_ids([message.store_id for message in claimed])
    for message in claimed:   # whether it is its message's only entry (see manager.FinishedEntries)
        message.sole_entry = message.store_id not in shared
    return with_addresses(claimed)


def _shared_store_ids(store_ids):
    """Which of the messages have entries in more than one queue. A statement of its own: asked in the claim's
    RETURNING, SQLite would scan the whole store_id index for every entry claimed."""
    if not store_ids:
        return set()
    condition, params = _any("store_id", store_ids)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT store_id FROM {QueuedMessage._meta.db_table} WHERE {condition} GROUP BY store_id "
                       "HAVING COUNT(*) > 1", params)
        return {row[0] for row in cursor.fetchall()}


def _entry_columns():
    return [field.column for field in QueuedMessage._meta.concrete_fields]


def _entries(rows):
    """Queue entries from plain rows of _entry_columns(), their values converted as the ORM's own reads convert them
    (SQLite gives dates as text)."""
    fields = QueuedMessage._meta.concrete_fields
    columns = [field.get_col(QueuedMessage._meta.db_table) for field in fields]
    converters = [[(converter, column) for converter in (*connection.ops.get_db_converters(column),
                                                         *column.get_db_converters(connection))]
                  for column in columns]
    names = [field.attname for field in fields]
    entries = []
    for row in rows:
        values = list(row)
        for position, column_converters in enumerate(converters):
            for converter, column in column_converters:
                values[position] = converter(values[position], column, connection)
        entries.append(QueuedMessage.from_db(connection.alias, names, values))
    return entries


def pending(message):
    """The message's recipients still to deliver, read afresh (not from a prefetched list)."""
    return list(QueuedRecipient.objects.filter(message_id=message.id).values_list("address", flat=True))


def remove_entry(message):
    """Delete a queue entry and its recipients (plain SQL: this runs for every message delivered, and the ORM's
    cascade would read them first); True when another queue still holds the message."""
    messages = QueuedMessage._meta.db_table
    if connection.vendor == "postgresql":
        # One statement, atomic by itself: one round trip to the server instead of five (its SELECT sees the rows
        # as they were before the statement, hence "another entry").
        with connection.cursor() as cursor:
            cursor.execute(f"WITH recipients AS (DELETE FROM {QueuedRecipient._meta.db_table} WHERE message_id = %s), "
                           f"entry AS (DELETE FROM {messages} WHERE id = %s) "
                           f"SELECT EXISTS (SELECT 1 FROM {messages} WHERE store_id = %s AND id <> %s)",
                           [message.id, message.id, message.store_id, message.id])
            return cursor.fetchone()[0]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {QueuedRecipient._meta.db_table} WHERE message_id = %s", [message.id])
        cursor.execute(f"DELETE FROM {messages} WHERE id = %s", [message.id])
        cursor.execute(f"SELECT 1 FROM {messages} WHERE store_id = %s LIMIT 1", [message.store_id])
        return cursor.fetchone() is not None


def remove_entries(entry_ids):
    """Delete queue entries and their recipients, in one transaction (see manager.FinishedEntries)."""
    if not entry_ids:
        return
    messages, recipients = QueuedMessage._meta.db_table, QueuedRecipient._meta.db_table
    if connection.vendor == "postgresql":   # one statement, atomic by itself: one round trip
        with connection.cursor() as cursor:
            cursor.execute(f"WITH recipients AS (DELETE FROM {recipients} WHERE message_id = ANY(%s)) "
                           f"DELETE FROM {messages} WHERE id = ANY(%s)", [list(entry_ids), list(entry_ids)])
        return
    with transaction.atomic(), connection.cursor() as cursor:
        for table, column in ((recipients, "message_id"), (messages, "id")):
            condition, params = _any(column, entry_ids)
            cursor.execute(f"DELETE FROM {table} WHERE {condition}", params)


def abandoned_entries(server_name, instance):
    """(id, store id) of the server's entries that a worker which is gone left Active: claimed, not by
    `instance` (this worker)."""
    return list(QueuedMessage.objects.filter(queue__server__name__iexact=server_name).exclude(claim="")
                .exclude(claim__startswith=instance + ":").values_list("id", "store_id"))


def finish_recipients(message, addresses):
    QueuedRecipient.objects.filter(message=message, address__in=list(addresses)).delete()


def settle(message, retry_interval, error):
    """After an attempt: drop the message when no recipient is left, else wait for its next retry. Returns
    True when the message left the queue."""
    if not pending(message):
        message.delete()
        return True
    _end_attempt(QueuedMessage.objects.filter(id=message.id), MessageStatus.RETRY,
                 retry_count=message.retry_count + 1, last_error=error[:2000],
                 next_retry_time=timezone.now() + retry_interval)
    return False


def _end_attempt(messages, status, **changes):
    """An attempt's outcome for the messages it held: `status` where they are still Active, Suspended where an
    administrator suspended them meanwhile; a message pending removal keeps that state for the removal."""
    messages.filter(status=MessageStatus.ACTIVE).update(status=status, claim="", **changes)
    messages.filter(status=MessageStatus.PENDING_SUSPEND).update(status=MessageStatus.SUSPENDED, claim="", **changes)
    messages.filter(status=MessageStatus.PENDING_REMOVE).update(claim="")


def _unless_suspended(status):
    """A queue's new status, unless an administrator suspended it (the Suspended state is theirs to end)."""
    return Case(When(status=QueueStatus.SUSPENDED, then=Value(QueueStatus.SUSPENDED)), default=Value(status))


def by_id(queue_ids):
    return list(DeliveryQueue.objects.filter(id__in=list(queue_ids))) if queue_ids else []


def interrupted(queue, messages, error, retry_interval):
    """A session broke off: its unsent messages wait `retry_interval`, and the queue shows why (Retry)."""
    now = timezone.now()
    _end_attempt(QueuedMessage.objects.filter(id__in=[message.id for message in messages]), MessageStatus.RETRY,
                 last_error=error[:2000], next_retry_time=now + retry_interval)
    DeliveryQueue.objects.filter(id=queue.id).update(
        status=_unless_suspended(QueueStatus.RETRY), last_error=error[:2000], last_retry_time=now,
        next_retry_time=now + retry_interval)


def release(messages, error=""):
    """Claimed messages go back unattempted (or after a defect): they wait for their retry."""
    _end_attempt(QueuedMessage.objects.filter(id__in=[message.id for message in messages]), MessageStatus.RETRY,
                 last_error=error[:2000])


def move(message, target_queue, addresses):
    """Move some pending recipients of a message to another queue (failover, a route that changed)."""
    with transaction.atomic():
        _join(target_queue, message.store_id, addresses, {
            "from_address": message.from_address, "subject": message.subject,
            "internet_message_id": message.internet_message_id, "size": message.size,
            "date_received": message.date_received, "delay_notified": message.delay_notified,
        })
        QueuedRecipient.objects.filter(message_id=message.id, address__in=addresses).delete()
        if not pending(message):
            message.delete()


def connection_failed(queue, server, error):
    """No host took a session: the queue waits TransientFailureRetryInterval for TransientFailureRetryCount
    attempts, then OutboundConnectionFailureRetryInterval."""
    failures = queue.connection_failures + 1
    interval = (server.transient_failure_retry_interval if failures <= server.transient_failure_retry_count
                else server.outbound_connection_failure_retry_interval)
    now = timezone.now()
    DeliveryQueue.objects.filter(id=queue.id).update(
        status=_unless_suspended(QueueStatus.RETRY), connection_failing=True, connection_failures=failures,
        last_error=error[:2000], last_retry_time=now, next_retry_time=now + interval)
    queue.refresh_from_db()
    return queue


def connected(queue):
    if queue.connection_failing or queue.status != QueueStatus.ACTIVE:
        DeliveryQueue.objects.filter(id=queue.id).update(
            status=_unless_suspended(QueueStatus.ACTIVE), connection_failing=False, connection_failures=0,
            last_error="", next_retry_time=None, last_retry_time=timezone.now())
        queue.refresh_from_db()


def idle(queue):
    DeliveryQueue.objects.filter(id=queue.id, status=QueueStatus.ACTIVE).update(status=QueueStatus.READY)


def next_due(queue):
    """When the queue next has work: its own retry time if it is failing to connect, else the earliest
    message retry; None when nothing waits."""
    if queue.connection_failing:
        return queue.next_retry_time
    waiting = queue.messages.filter(status__in=WAITING)
    if waiting.filter(next_retry_time__isnull=True).exists():   # new mail: the usual answer, in one query
        return timezone.now()
    return waiting.aggregate(earliest=Min("next_retry_time"))["earliest"]   # None when nothing waits


def each_entry(messages):
    """The queue entries of `messages` (a QuerySet), each carrying `addresses` (its recipients, as claimed entries
    do), read READ_CHUNK at a time in id order: going through a queue of 100,000 holds a few hundred of them in
    memory, not the whole queue. The caller may move or delete each entry as it goes."""
    last_id = 0
    while chunk := with_addresses(list(messages.filter(id__gt=last_id).order_by("id")[:READ_CHUNK])):
        last_id = chunk[-1].id   # before the caller may delete it (a deleted instance's id is None)
        yield from chunk


def with_addresses(messages):
    """The messages (a list), each carrying `addresses`: its recipients still to deliver, read for READ_CHUNK
    messages at a time as plain values. Not prefetched rows: those and the messages refer to one another, and
    such cycles of thousands of objects wait for the garbage collector, whose full passes then cost a listing of
    1,000 messages 100 ms more. Plain SQL: every claim reads them."""
    found = {}
    ids = [message.id for message in messages]
    with connection.cursor() as cursor:
        for start in range(0, len(ids), READ_CHUNK):
            condition, params = _any("message_id", ids[start:start + READ_CHUNK])
            cursor.execute(f"SELECT message_id, address FROM {QueuedRecipient._meta.db_table} WHERE {condition} "
                           "ORDER BY id", params)
            for message_id, address in cursor.fetchall():
                found.setdefault(message_id, []).append(address)
    for message in messages:
        message.addresses = found.get(message.id, [])
    return messages


def waiting(queue):
    """The queue's entries waiting for an attempt (Ready or Retry), as each_entry reads them."""
    return each_entry(queue.messages.filter(status__in=WAITING))


def expired(queue, expiration_timeout):
    return each_entry(queue.messages.filter(date_received__lte=timezone.now() - expiration_timeout,
                                            status__in=WAITING + (MessageStatus.ACTIVE,)))


def due_for_delay_notice(message, delay_timeout):
    return not message.delay_notified and message.date_received <= timezone.now() - delay_timeout


def mark_delay_notified(message):
    QueuedMessage.objects.filter(id=message.id).update(delay_notified=True)


# --- What an administrator does (the console's write path calls these, then asks the owning server to act) ---

def retry_queue_now(queue):
    """Retry-Queue: the queue and its messages waiting for a retry are due now."""
    DeliveryQueue.objects.filter(pk=queue.pk).update(next_retry_time=timezone.now())
    queue.messages.filter(status=MessageStatus.RETRY).update(next_retry_time=None)


def suspend_queue(queue):
    """No new attempt starts; one under way ends with the message in flight (claim refuses a suspended queue)."""
    DeliveryQueue.objects.filter(pk=queue.pk).update(status=QueueStatus.SUSPENDED)


def resume_queue(queue):
    DeliveryQueue.objects.filter(pk=queue.pk, status=QueueStatus.SUSPENDED).update(status=QueueStatus.READY)


def suspend_message(message):
    """Waiting messages stop at once; one being delivered right now is marked PendingSuspend, which its attempt
    turns into Suspended when it ends (see _end_attempt)."""
    QueuedMessage.objects.filter(pk=message.pk, status__in=WAITING).update(status=MessageStatus.SUSPENDED)
    QueuedMessage.objects.filter(pk=message.pk, status=MessageStatus.ACTIVE).update(
        status=MessageStatus.PENDING_SUSPEND)


def resume_message(message):
    """A suspended message waits again, due now; one whose suspension hadn't taken effect (its attempt still
    runs) is simply Active again, so no second attempt claims it meanwhile."""
    QueuedMessage.objects.filter(pk=message.pk, status=MessageStatus.SUSPENDED).update(
        status=MessageStatus.READY, next_retry_time=None)
    QueuedMessage.objects.filter(pk=message.pk, status=MessageStatus.PENDING_SUSPEND).update(
        status=MessageStatus.ACTIVE)


def mark_pending_remove(message):
    """Remove-Message: PendingRemove until the owning server has removed it (take_for_removal)."""
    QueuedMessage.objects.filter(pk=message.pk).update(status=MessageStatus.PENDING_REMOVE)


def take_for_removal(message_id):
    """The owning server removes the message: locked (inside a transaction) until it is deleted; None when
    it has gone already (delivered meanwhile)."""
    return (QueuedMessage.objects.select_for_update().filter(pk=message_id, status=MessageStatus.PENDING_REMOVE)
            .select_related("queue").first())

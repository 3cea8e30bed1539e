"""Delivery of one next-hop queue on a source server of its connector: expire what is too old, then SMTP to
the smart hosts or MX hosts (reusing each connection for up to SmtpMaxMessagesPerConnection messages) or drop
files for a foreign connector. 2xx: done; 5xx: NDR at once; 4xx and connection failures: retry, delay DSN,
and for a connector whose every host fails to connect, failover to the next connector by cost."""
import logging
from datetime import timedelta

from django.utils import timezone

from exchange_console.queues.models import DeliveryType, QueueStatus
from transport import metrics
from transport.delivery import queues, runtime
from transport.delivery.dns import (
    PermanentRoutingError, TransientRoutingError, mx_hosts, resolver_for, smart_host_hosts,
)
from transport.delivery.drop import (
    DropDirectoryOutsideRoot, DropDirectoryQuotaExceeded, drop_directory, write_drop_file,
)
from transport.delivery.reports import send_report
from transport.delivery.smtp import ConnectFailure, SessionFailure, SmtpSession, tls_policy
from transport.dsn import DELAYED, FAILED, RecipientReport
from transport.logs.protocol import endpoint

log = logging.getLogger(__name__)

EXPIRED = "550 4.4.7 QUEUE.Expired; message expired"


def deliver_queue(server_name, queue_id, retry_at=None):
    from exchange_console.queues.models import DeliveryQueue

    if retry_at:
        runtime.scheduled_retries.started(queue_id, retry_at)
    else:
        runtime.delivery_pending.started(queue_id)
    queue = DeliveryQueue.objects.filter(id=queue_id).select_related("server").first()
    if queue is None or queue.status == QueueStatus.SUSPENDED:
        return
    snapshot = runtime.send_snapshot(server_name)
    expire(server_name, snapshot, queue)
    connector = snapshot.connector(queue.next_hop_connector)
    if queue.delivery_type == DeliveryType.UNREACHABLE or not _can_send(connector, snapshot):
        # No connector (yet): look again every MessageRetryInterval until a route appears or mail expires.
        reroute(server_name, snapshot, queue)
        if queue.messages.exists():
            kick_if_waiting(server_name, queue, timezone.now() + snapshot.server.message_retry_interval)
        return
    if queue.connection_failing and queue.next_retry_time and queue.next_retry_time > timezone.now():
        kick_if_waiting(server_name, queue)   # too early (a new message, a clock ahead): come back at the retry
        return
    if connector.is_foreign:
        deliver_drop_files(server_name, snapshot, queue, connector)
    else:
        deliver_smtp(server_name, snapshot, queue, connector)


def _can_send(connector, snapshot):
    return (connector is not None and connector.enabled
            and snapshot.server.name in connector.source_transport_servers)


# --- SMTP ------------------------------------------------------------------------------------------------------

def deliver_smtp(server_name, snapshot, queue, connector):
    server = snapshot.server
    if not runtime.slots.acquire(queue.next_hop_domain, server.max_outbound_connections,
                                 server.max_per_domain_outbound_connections, queue.id):
        return
    try:
        session, batch = start_session(server_name, snapshot, queue, connector)
        if session is not None:
            run_session(server_name, snapshot, queue, connector, session, batch)
    finally:
        for waiting in queues.by_id(runtime.slots.release(queue.next_hop_domain)):
            kick_if_waiting(server_name, waiting)


def start_session(server_name, snapshot, queue, connector):
    """Claim the first batch and connect: (session, batch), or (None, None) when there is nothing to send or
    no session could be had (the failure is dealt with here)."""
    batch = queues.claim(queue, connector.smtp_max_messages_per_connection)
    if not batch and not queue.connection_failing:
        return None, None
    try:
        session = open_session(server_name, snapshot, queue, connector)
    except PermanentRoutingError as error:
        fail_all(server_name, snapshot, queue, batch, error.code, f"{error.status} {error.text}")
    except (ConnectFailure, TransientRoutingError) as error:
        connection_failed(server_name, snapshot, queue, batch, str(error))
    except Exception as error:   # a defect: the claimed mail waits for its retry instead of staying Active
        queues.release(batch, error=f"451 4.4.0 {error}")
        raise
    else:
        queues.connected(queue)
        return session, batch
    return None, None


def run_session(server_name, snapshot, queue, connector, session, batch):
    """Send the claimed messages and whatever else becomes due, a new connection every
    SmtpMaxMessagesPerConnection messages. While batches come full, another connection joins in (as far as
    the outbound connection limits allow)."""
    limit = connector.smtp_max_messages_per_connection
    interrupted = None
    try:
        while batch:
            if len(batch) >= limit:
                kick_now(server_name, queue)
            for message in batch:
                if session.messages_sent >= limit:
                    session.close()
                    session = open_session(server_name, snapshot, queue, connector)
                if send_one(server_name, snapshot, queue, connector, session, message):
                    # Done before the next message goes: a crash sends again only the message in flight.
                    remove_entry(server_name, message)
            batch = queues.claim(queue, limit)
    except (ConnectFailure, TransientRoutingError, PermanentRoutingError, OSError) as error:
        # The connection broke mid-batch (or timed out): what was not sent waits TransientFailureRetryInterval.
        interrupted = f"451 4.4.0 {error}" if not str(error)[:3].isdigit() else str(error)
        queues.interrupted(queue, batch, interrupted, snapshot.server.transient_failure_retry_interval)
        log.warning("%s: delivery to %s interrupted: %s", server_name, queue.next_hop_domain, error,
                    extra={"server": server_name, "connector": queue.next_hop_connector})
    except Exception as error:
        queues.release(batch, error=f"451 4.4.0 {error}")
        raise
    finally:
        session.close()
        if interrupted is None:
            queues.idle(queue)
    kick_if_waiting(server_name, queue)


def open_session(server_name, snapshot, queue, connector):
    """A session with the first host of the next hop that takes one (all of them failing: ConnectFailure)."""
    domain = queue.next_hop_domain if queue.delivery_type == DeliveryType.DNS_CONNECTOR else ""
    resolver = resolver_for(snapshot.server, connector)
    hosts = smart_host_hosts(connector.smart_hosts, resolver) if connector.smart_hosts else mx_hosts(domain, resolver)
    policy = tls_policy(connector, domain, snapshot)
    log_factory = _session_log_factory(snapshot, connector)
    errors = []
    for host in hosts:
        for address in host.addresses:
            session = SmtpSession(connector, policy, snapshot, log_factory)
            try:
                return session.open(host.name, address, connector.port)
            except (OSError, SessionFailure) as error:
                session.close()
                errors.append(f"{host.name} [{endpoint(address, connector.port)}]: {error}")
    raise ConnectFailure("451 4.4.0 Primary target IP address responded with: "
                         + ("; ".join(errors) or f"no host found for {domain or connector.name}"))


def _session_log_factory(snapshot, connector):
    if connector.protocol_logging_level != "Verbose":
        return None
    protocol_log = runtime.send_protocol_log(snapshot)
    return lambda local, remote: protocol_log.session(connector.name, local, remote)


def send_one(server_name, snapshot, queue, connector, session, message):
    """Send one queue entry; True when none of its recipients is left to deliver (see remove_entry)."""
    store = runtime.store(server_name)
    try:
        envelope, content = store.load(message.store_id)
    except FileNotFoundError:
        return True
    recipients = message.addresses
    try:
        results = session.send(envelope.mail_from, recipients, content)
    except SessionFailure as error:
        results = {recipient: (error.code, error.text) for recipient in recipients}
    return record_results(server_name, snapshot, queue, connector, message, envelope, content, results,
                          remote=session.client.sock.getpeername()[0] if session.client and session.client.sock
                          else "")


def record_results(server_name, snapshot, queue, connector, message, envelope, content, results, remote=""):
    """Log and report an attempt's results; True when every recipient of the entry is done (delivered or
    failed), else the deferred ones wait for their retry."""
    tracking = runtime.tracking_log(server_name)
    sent = [r for r, (code, _) in results.items() if 200 <= code < 300]
    failed = [RecipientReport(r, _status(text, "5.0.0"), f"{code} {text}", queue.next_hop_domain)
              for r, (code, text) in results.items() if code >= 500]
    deferred = {r: f"{code} {text}" for r, (code, text) in results.items() if 300 <= code < 500}
    if sent:
        tracking.event("SEND", envelope, recipients=sent, connector_id=connector.name, server_ip=remote,
                       recipient_status=[f"{results[r][0]} {results[r][1]}" for r in sent],
                       directionality="Originating")
        metrics.message_sent(server_name, connector.name, envelope.arrival_time)
    if failed:
        tracking.event("FAIL", envelope, recipients=[r.address for r in failed], connector_id=connector.name,
                       server_ip=remote, recipient_status=[r.diagnostic for r in failed])
        metrics.message_failed(server_name, connector.name)
        log.info("%s: message %s failed for %s: %s", server_name, envelope.header_message_id,
                 ", ".join(r.address for r in failed), failed[0].diagnostic,
                 extra={"server": server_name, "connector": connector.name, "message_id": envelope.message_id})
        send_report(server_name, snapshot, FAILED, envelope, content, failed)
    if deferred:
        tracking.event("DEFER", envelope, recipients=list(deferred), connector_id=connector.name,
                       server_ip=remote, recipient_status=list(deferred.values()))
    if not deferred:
        return True
    queues.finish_recipients(message, sent + [r.address for r in failed])
    finish(server_name, snapshot, message, envelope, content, "; ".join(deferred.values()),
           snapshot.server.message_retry_interval)
    return False


def finish(server_name, snapshot, message, envelope, content, error, retry_interval):
    """After an attempt: leave the queue (and the store when no queue holds the message), or wait for the
    retry, sending the delay DSN once the message has waited DelayNotificationTimeout."""
    if queues.settle(message, retry_interval, error):
        remove_if_done(server_name, message.store_id)
        return
    notify_delay(server_name, snapshot, message, envelope, content, error)


def remove_entry(server_name, message):
    """A queue entry that is done leaves its queue, and the store when no other queue holds the message. The
    rows go first: a crash between the two leaves a stored message that is categorized and sent again, never
    queue rows whose message is gone."""
    if not queues.remove_entry(message):
        runtime.store(server_name).remove(message.store_id)


def remove_if_done(server_name, *store_ids):
    queued = queues.queued_store_ids(store_ids)
    runtime.store(server_name).remove(*(store_id for store_id in store_ids if store_id not in queued))


def notify_delay(server_name, snapshot, message, envelope, content, error):
    server = snapshot.server
    if not queues.due_for_delay_notice(message, server.delay_notification_timeout):
        return
    reports = [RecipientReport(address, _status(error, "4.0.0"), error or "400 4.0.0 delivery delayed")
               for address in queues.pending(message)]
    send_report(server_name, snapshot, DELAYED, envelope, content, reports,
                retry_until=message.date_received + server.message_expiration_timeout)
    queues.mark_delay_notified(message)


def _status(text, default):
    """The enhanced status code in a reply text ('5.1.1 User unknown' -> '5.1.1')."""
    first = text.split(" ", 1)[0] if text else ""
    parts = first.split(".")
    return first if len(parts) == 3 and all(part.isdigit() for part in parts) else default


# --- Failures, failover, expiry ---------------------------------------------------------------------------------

def connection_failed(server_name, snapshot, queue, batch, error):
    """No host took a session: the queue goes to Retry; its messages move to the next connector by cost
    when there is one (failover), else they wait for the queue's retry."""
    queue = queues.connection_failed(queue, snapshot.server, error)
    queues.release(batch, error=error)
    reroute(server_name, snapshot, queue)
    for message in queue.messages.prefetch_related("recipients"):
        envelope, content = _load(server_name, message)
        if envelope is not None:
            runtime.tracking_log(server_name).event(
                "DEFER", envelope, recipients=[r.address for r in message.recipients.all()],
                connector_id=queue.next_hop_connector, recipient_status=[error] * message.recipients.count())
            notify_delay(server_name, snapshot, message, envelope, content, error)
    kick_if_waiting(server_name, queue)


def resubmit(server_name, queue_id):
    """Retry-Queue -Resubmit: the waiting recipients go to the next hop the running configuration routes them
    to now; the queue then delivers what stays in it."""
    from exchange_console.queues.models import DeliveryQueue

    queue = DeliveryQueue.objects.filter(id=queue_id).select_related("server").first()
    if queue is None or queue.status == QueueStatus.SUSPENDED:
        return
    reroute(server_name, runtime.send_snapshot(server_name, fresh=True), queue)
    kick_now(server_name, queue)


def reroute(server_name, snapshot, queue):
    """Route the queue's waiting recipients again; those whose route now differs (failover, recovery, a
    changed configuration) move to the queue of their new next hop."""
    from transport.categorizer import ROUTE, decide, kick

    for message in list(queue.messages.filter(status__in=queues.WAITING).prefetch_related("recipients")):
        targets = {}
        for recipient in message.recipients.all():
            domain = recipient.address.rpartition("@")[2].lower()
            decision = decide(snapshot, recipient.address, message.size,
                              queues.failing_connectors(server_name, domain))
            if decision.kind != ROUTE or server_name not in decision.connector.source_transport_servers:
                continue
            target = queues.queue_for(server_name, *queues.next_hop_of(decision.connector, domain),
                                      decision.connector.name)
            if target.id != queue.id:
                targets.setdefault(target, []).append(recipient.address)
        for target, addresses in targets.items():
            queues.move(message, target, addresses)
            kick(server_name, target)


def expire(server_name, snapshot, queue):
    """Messages older than MessageExpirationTimeout fail with 4.4.7 (an NDR to the sender)."""
    for message in queues.expired(queue, snapshot.server.message_expiration_timeout):
        envelope, content = _load(server_name, message)
        if envelope is None:
            continue
        reports = [RecipientReport(r.address, "4.4.7", f"{EXPIRED}. {message.last_error}".rstrip(". "),
                                   queue.next_hop_domain) for r in message.recipients.all()]
        runtime.tracking_log(server_name).event(
            "FAIL", envelope, recipients=[r.address for r in reports], connector_id=queue.next_hop_connector,
            recipient_status=[EXPIRED] * len(reports))
        send_report(server_name, snapshot, FAILED, envelope, content, reports)
        metrics.message_failed(server_name, queue.next_hop_connector)
        message.delete()
        remove_if_done(server_name, message.store_id)


def fail_all(server_name, snapshot, queue, batch, code, text):
    """The next hop can never be reached (no such domain, null MX): every recipient in the queue fails."""
    connector = snapshot.connector(queue.next_hop_connector)
    waiting = list(queue.messages.filter(status__in=queues.WAITING).prefetch_related("recipients"))
    for message in waiting:   # as claimed entries carry them
        message.addresses = [recipient.address for recipient in message.recipients.all()]
    for message in batch + waiting:
        envelope, content = _load(server_name, message)
        if envelope is not None:
            results = {address: (code, text) for address in message.addresses}
            if record_results(server_name, snapshot, queue, connector, message, envelope, content, results):
                remove_entry(server_name, message)


def _load(server_name, message):
    try:
        return runtime.store(server_name).load(message.store_id)
    except FileNotFoundError:
        message.delete()
        return None, None


def kick_if_waiting(server_name, queue, due=None):
    from transport.categorizer import kick

    queue.refresh_from_db()
    kick(server_name, queue, due)


def kick_now(server_name, queue):
    from transport.categorizer import kick_now as kick

    kick(server_name, queue)


# --- Foreign connectors -----------------------------------------------------------------------------------------

def deliver_drop_files(server_name, snapshot, queue, connector):
    try:
        folder = drop_directory(snapshot.server.drop_root, connector)
    except DropDirectoryOutsideRoot as error:   # a folder set around the write path: the queue waits, and says why
        queues.connection_failed(queue, snapshot.server, f"451 {error}")
        kick_if_waiting(server_name, queue)
        return
    tracking = runtime.tracking_log(server_name)
    while batch := queues.claim(queue, 100):
        for message in batch:
            envelope, content = _load(server_name, message)
            if envelope is None:
                continue
            recipients = message.addresses
            try:
                write_drop_file(folder, connector.drop_directory_quota, message.store_id, envelope.mail_from,
                                recipients, content)
            except DropDirectoryQuotaExceeded as error:
                queues.release(batch[batch.index(message):], error=f"452 {error}")
                queues.connection_failed(queue, snapshot.server, f"452 {error}")
                kick_if_waiting(server_name, queue)
                return
            tracking.event("TRANSFER", envelope, recipients=recipients, connector_id=connector.name,
                           source="GATEWAY", related_recipient_address=str(folder), directionality="Originating")
            metrics.message_sent(server_name, connector.name, envelope.arrival_time)
            queues.finish_recipients(message, recipients)
            finish(server_name, snapshot, message, envelope, content, "", timedelta(0))
    queues.connected(queue)
    queues.idle(queue)

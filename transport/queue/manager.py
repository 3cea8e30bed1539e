"""The queue manager of a transport server: it owns what happens to queued mail over time (as Postfix's qmgr
does), and leaves speaking to the next hop to a delivery agent (transport.delivery.agent).

For one next-hop queue: expire what is too old (NDR 4.4.7), claim what is due, hand it to the agent, and act
on its per-recipient results: 2xx done, 5xx NDR at once, 4xx retry after MessageRetryInterval with a delay DSN
once DelayNotificationTimeout has passed. A next hop that takes no connection puts the queue in Retry, and
its mail moves to the next connector by cost when there is one (failover). It also schedules the attempts
(through transport.dispatch), re-routes a queue on Retry-Queue -Resubmit and removes messages
(Remove-Message). Queue state changes go through transport.queue.state.
"""
import itertools
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from transport import dispatch
from transport.delivery.agent import DropAgent, SmtpAgent
from transport.delivery.dns import PermanentRoutingError, TransientRoutingError
from transport.delivery.drop import DropDirectoryOutsideRoot, DropDirectoryQuotaExceeded
from transport.delivery.smtp import ConnectFailure
from transport.dsn import DELAYED, FAILED, RELAYED, RecipientReport, enhanced_status
from transport.queue import state
from transport.queue.models import DeliveryQueue, DeliveryType, QueueStatus
from transport.remote_domains import outbound
from transport.reports import send_report
from transport.routing import ROUTE, decide

log = logging.getLogger("transport.delivery")

EXPIRED = "550 4.4.7 QUEUE.Expired; message expired"
REMOVED = "550 5.3.0 QUEUE.Admin; message deleted by administrator"
DROP_BATCH = 100


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of a queue: the configuration it started with, the queue and its connector."""
    configuration: object    # SendSnapshot
    queue: object            # DeliveryQueue
    connector: object

    @property
    def server(self):
        return self.configuration.server


class QueueManager:
    def __init__(self, runtime):
        self.runtime = runtime

    @property
    def server_name(self):
        return self.runtime.server_name

    # --- Scheduling ---------------------------------------------------------------------------------------------

    def schedule(self, queue, due=None):
        """A delivery attempt of the queue when its next work is due (or at `due`); none when nothing waits."""
        due = due or state.next_due(queue)
        if due is None and not queue.connection_failing:
            return
        if due and due > timezone.now():
            if self.runtime.retries.schedule(queue.id, due.isoformat()):
                dispatch.deliver_queue(self.server_name, queue.id, due)
        elif self.runtime.pending.add(queue.id):   # one task not yet started is enough to pick the work up
            dispatch.deliver_queue(self.server_name, queue.id)

    def deliver_soon(self, queue):
        """New mail in a queue: deliver it now, unless the queue waits for its retry after failing to connect."""
        if queue.connection_failing:
            self.schedule(queue)
        elif self.runtime.pending.add(queue.id):
            dispatch.deliver_queue(self.server_name, queue.id)

    def _schedule_fresh(self, queue, due=None):
        queue.refresh_from_db()
        self.schedule(queue, due)

    # --- One queue's attempt ------------------------------------------------------------------------------------

    def deliver(self, queue_id, retry_at=None):
        """The deliver_queue task: what is due in one of this server's queues."""
        if retry_at:
            self.runtime.retries.started(queue_id, retry_at)
        else:
            self.runtime.pending.started(queue_id)
        queue = DeliveryQueue.objects.filter(id=queue_id).first()
        if queue is None or queue.status == QueueStatus.SUSPENDED:
            return
        configuration = self.runtime.send
        self.expire(configuration, queue)
        connector = configuration.connector(queue.next_hop_connector)
        if queue.delivery_type == DeliveryType.UNREACHABLE or not _can_send(connector, configuration):
            # No connector (yet): look again every MessageRetryInterval until a route appears or mail expires.
            self.reroute(configuration, queue)
            if queue.messages.exists():
                self._schedule_fresh(queue, timezone.now() + configuration.server.message_retry_interval)
            return
        if queue.connection_failing and queue.next_retry_time and queue.next_retry_time > timezone.now():
            self._schedule_fresh(queue)   # too early (a new message, a clock ahead): come back at the retry
            return
        attempt = Attempt(configuration, queue, connector)
        if connector.is_foreign:
            self.deliver_drop_files(attempt)
        else:
            self.deliver_smtp(attempt)

    def deliver_smtp(self, attempt):
        server, queue = attempt.server, attempt.queue
        if not self.runtime.slots.acquire(queue.next_hop_domain, server.max_outbound_connections,
                                          server.max_per_domain_outbound_connections, queue.id):
            return
        try:
            domain = queue.next_hop_domain if queue.delivery_type == DeliveryType.DNS_CONNECTOR else ""
            agent = SmtpAgent(self.runtime, attempt.configuration, attempt.connector, domain)
            batch = self._claim(queue, attempt.connector.smtp_max_messages_per_connection)
            if (batch or queue.connection_failing) and self._connect(attempt, agent, batch):
                self._send_batches(attempt, agent, batch)
        finally:
            for waiting in state.by_id(self.runtime.slots.release(queue.next_hop_domain)):
                self._schedule_fresh(waiting)

    def _claim(self, queue, limit):
        return state.claim(queue, limit, self.runtime.instance)

    def _connect(self, attempt, agent, batch):
        """True when the agent has a session; a failure is dealt with here (NDR, retry, failover)."""
        try:
            agent.connect()
        except PermanentRoutingError as error:
            self.fail_all(attempt, agent, batch, error.code, f"{error.status} {error.text}")
        except (ConnectFailure, TransientRoutingError) as error:
            self.connection_failed(attempt, batch, str(error))
        except Exception as error:   # a defect: the claimed mail waits for its retry instead of staying Active
            state.release(batch, error=f"451 4.4.0 {error}")
            raise
        else:
            state.connected(attempt.queue)
            return True
        return False

    def _send_batches(self, attempt, agent, batch):
        """Send the claimed messages and whatever else becomes due. While batches come full, another connection
        joins in (as far as the outbound connection limits allow)."""
        queue, limit = attempt.queue, attempt.connector.smtp_max_messages_per_connection
        interrupted = None
        finished = FinishedEntries(self)
        try:
            while batch:
                if len(batch) >= limit:
                    self.deliver_soon(queue)
                for message in batch:
                    if self.attempt_message(attempt, agent, message):
                        # Done before the next message goes: a crash sends again only the message in flight.
                        finished.add(message)
                finished.remove()
                batch = self._claim(queue, limit)
        except (ConnectFailure, TransientRoutingError, PermanentRoutingError, OSError) as error:
            # The connection broke mid-batch (or timed out): what was not sent waits TransientFailureRetryInterval.
            interrupted = f"451 4.4.0 {error}" if not str(error)[:3].isdigit() else str(error)
            state.interrupted(queue, batch, interrupted, attempt.server.transient_failure_retry_interval)
            log.warning("%s: delivery to %s interrupted: %s", self.server_name, queue.next_hop_domain, error,
                        extra={"server": self.server_name, "connector": queue.next_hop_connector})
        except Exception as error:
            state.release(batch, error=f"451 4.4.0 {error}")
            raise
        finally:
            agent.close()
            finished.remove()   # what the session sent, however it ended
            if interrupted is None:
                state.idle(queue)
        self._schedule_fresh(queue)

    def deliver_drop_files(self, attempt):
        queue = attempt.queue
        try:
            agent = DropAgent(attempt.configuration, attempt.connector)
        except DropDirectoryOutsideRoot as error:   # a folder set around the write path: the queue waits, says why
            self._queue_waits(attempt, f"451 {error}")
            return
        while batch := self._claim(queue, DROP_BATCH):
            for position, message in enumerate(batch):
                try:
                    done = self.attempt_message(attempt, agent, message)
                except DropDirectoryQuotaExceeded as error:
                    state.release(batch[position:], error=f"452 {error}")
                    self._queue_waits(attempt, f"452 {error}")
                    return
                if done:
                    self.remove_entry(message)
        state.connected(queue)
        state.idle(queue)

    def _queue_waits(self, attempt, error):
        state.connection_failed(attempt.queue, attempt.server, error)
        self._schedule_fresh(attempt.queue)

    def attempt_message(self, attempt, agent, message):
        """One queue entry to the agent; True when none of its recipients is left to deliver."""
        envelope, content = self._load(message)
        if envelope is None:
            return True
        leaving = outbound(attempt.configuration, attempt.connector, envelope, message.addresses, content)
        self.drop(attempt, message, envelope, leaving.dropped)
        results = {}
        for recipients, converted in leaving.groups:   # one copy per form the remote domains want
            results.update(agent.deliver(envelope, recipients, converted))
        return self.record_results(attempt, message, envelope, content, results, agent)

    def drop(self, attempt, message, envelope, dropped):
        """Recipients whose remote domain refuses this kind of message leave the queue without an NDR."""
        if not dropped:
            return
        self.runtime.tracking_log().event(
            "FAIL", envelope, recipients=list(dropped), connector_id=attempt.connector.name,
            recipient_status=[f"550 5.7.1 Dropped without an NDR: {why}" for why in dropped.values()])
        state.finish_recipients(message, list(dropped))

    # --- Results ------------------------------------------------------------------------------------------------

    def record_results(self, attempt, message, envelope, content, results, agent):
        """Log and report an attempt's results; True when every recipient of the entry is done (delivered or
        failed), else the deferred ones wait for their retry."""
        connector, remote = attempt.connector, agent.remote_address
        sent = [r for r, (code, _) in results.items() if 200 <= code < 300]
        failed = [RecipientReport(r, enhanced_status(text, "5.0.0"), f"{code} {text}", attempt.queue.next_hop_domain)
                  for r, (code, text) in results.items() if code >= 500]
        deferred = {r: f"{code} {text}" for r, (code, text) in results.items() if 300 <= code < 500}
        tracking = self.runtime.tracking_log()
        if sent:
            agent.track_sent(tracking, envelope, sent, results)
            self.runtime.metrics.message_sent(self.server_name, connector.name, envelope.arrival_time)
            if connector.is_foreign and connector.relay_dsn_required:
                self.report(RELAYED, envelope, content, relayed_reports(envelope, sent, connector))
        if failed:
            tracking.event("FAIL", envelope, recipients=[r.address for r in failed], connector_id=connector.name,
                           server_ip=remote, recipient_status=[r.diagnostic for r in failed])
            self.runtime.metrics.message_failed(self.server_name, connector.name)
            log.info("%s: message %s failed for %s: %s", self.server_name, envelope.header_message_id,
                     ", ".join(r.address for r in failed), failed[0].diagnostic,
                     extra={"server": self.server_name, "connector": connector.name,
                            "message_id": envelope.message_id})
            self.report(FAILED, envelope, content, failed)
        if deferred:
            tracking.event("DEFER", envelope, recipients=list(deferred), connector_id=connector.name,
                           server_ip=remote, recipient_status=list(deferred.values()))
            state.finish_recipients(message, sent + [r.address for r in failed])
            self._wait_for_retry(attempt, message, envelope, content, "; ".join(deferred.values()))
        return not deferred

    def _wait_for_retry(self, attempt, message, envelope, content, error):
        """Deferred recipients wait MessageRetryInterval; the delay DSN goes once DelayNotificationTimeout passed."""
        if state.settle(message, attempt.server.message_retry_interval, error):
            self.remove_if_done(message.store_id)
            return
        self.notify_delay(attempt.configuration, message, envelope, content, error)

    def report(self, action, envelope, content, recipients, retry_until=None):
        """An NDR or delay DSN, stored and handed to the categorizer like any message."""
        send_report(self.runtime, action, envelope, content, recipients, retry_until)

    def notify_delay(self, configuration, message, envelope, content, error):
        server = configuration.server
        if not state.due_for_delay_notice(message, server.delay_notification_timeout):
            return
        reports = [RecipientReport(address, enhanced_status(error, "4.0.0"), error or "400 4.0.0 delivery delayed")
                   for address in state.pending(message)]
        self.report(DELAYED, envelope, content, reports,
                    retry_until=message.date_received + server.message_expiration_timeout)
        state.mark_delay_notified(message)

    def remove_entry(self, message):
        """A queue entry that is done leaves its queue, and the store when no other queue holds the message. The
        rows go first: a crash between the two leaves a stored message that is categorized and sent again, never
        queue rows whose message is gone."""
        if not state.remove_entry(message):
            self.runtime.store.remove(message.store_id)

    def forget_sent(self):
        """When the worker starts: the entries that a worker which died left Active and whose message has left the
        store were sent (FinishedEntries), and go. The others it held are released when the categorizer gets their
        messages again (the store hands them on)."""
        state.remove_entries([entry_id for entry_id, store_id in state.abandoned_entries(
            self.server_name, self.runtime.instance) if not self.runtime.store.holds(store_id)])

    def remove_if_done(self, *store_ids):
        queued = state.queued_store_ids(store_ids)
        self.runtime.store.remove(*(store_id for store_id in store_ids if store_id not in queued))

    def _envelope(self, message):
        """A queue entry's envelope alone; None, and the entry goes, when the store lost the message."""
        try:
            return self.runtime.store.envelope(message.store_id)
        except FileNotFoundError:
            message.delete()
            return None

    def _load(self, message):
        """(envelope, content) of a queue entry; (None, None), and the entry goes, when the store lost it."""
        try:
            return self.runtime.store.load(message.store_id)
        except FileNotFoundError:
            message.delete()
            return None, None

    # --- Failures, failover, expiry -----------------------------------------------------------------------------

    def connection_failed(self, attempt, batch, error):
        """No host took a session: the queue goes to Retry; its messages move to the next connector by cost
        when there is one (failover), else they wait for the queue's retry."""
        queue = state.connection_failed(attempt.queue, attempt.server, error)
        state.release(batch, error=error)
        self.reroute(attempt.configuration, queue)
        for message in state.each_entry(queue.messages.all()):
            self._defer(attempt.configuration, queue, message, error)
        self._schedule_fresh(queue)

    def _defer(self, configuration, queue, message, error):
        """DEFER in the tracking log for a message that waits for its queue's retry, and its delay DSN when due.
        Only the DSN needs the content: otherwise a retry reads the envelope line of each message, not the whole
        file (100,000 messages of 4 KB in a failing queue are 400 MB read every retry interval)."""
        envelope = self._envelope(message)
        if envelope is None:
            return
        self.runtime.tracking_log().event(
            "DEFER", envelope, recipients=message.addresses, connector_id=queue.next_hop_connector,
            recipient_status=[error] * len(message.addresses))
        if state.due_for_delay_notice(message, configuration.server.delay_notification_timeout):
            envelope, content = self._load(message)
            if envelope is not None:
                self.notify_delay(configuration, message, envelope, content, error)

    def fail_all(self, attempt, agent, batch, code, text):
        """The next hop can never be reached (no such domain, null MX): every recipient in the queue fails."""
        for message in itertools.chain(batch, state.waiting(attempt.queue)):
            envelope, content = self._load(message)
            if envelope is not None:
                results = {address: (code, text) for address in message.addresses}
                if self.record_results(attempt, message, envelope, content, results, agent):
                    self.remove_entry(message)

    def expire(self, configuration, queue):
        """Messages older than MessageExpirationTimeout fail with 4.4.7 (an NDR to the sender)."""
        for message in state.expired(queue, configuration.server.message_expiration_timeout):
            envelope, content = self._load(message)
            if envelope is None:
                continue
            reports = [RecipientReport(address, "4.4.7", f"{EXPIRED}. {message.last_error}".rstrip(". "),
                                       queue.next_hop_domain) for address in message.addresses]
            self.runtime.tracking_log().event(
                "FAIL", envelope, recipients=[r.address for r in reports], connector_id=queue.next_hop_connector,
                recipient_status=[EXPIRED] * len(reports))
            self.report(FAILED, envelope, content, reports)
            self.runtime.metrics.message_failed(self.server_name, queue.next_hop_connector)
            message.delete()
            self.remove_if_done(message.store_id)

    def reroute(self, configuration, queue):
        """Route the queue's waiting recipients again; those whose route now differs (failover, recovery, a
        changed configuration) move to the queue of their new next hop. A linked connector's mail never moves:
        it must pass through the system behind it, however long that is down."""
        connector = configuration.connector(queue.next_hop_connector)
        if connector is not None and connector.linked_receive_connector:
            return
        failing = state.FailingConnectors(self.server_name)
        queues = {}   # next hop -> its queue: looked up once per reroute, not once per recipient
        for message in state.waiting(queue):
            targets = {}
            for address in message.addresses:
                domain = address.rpartition("@")[2].lower()
                decision = decide(configuration, address, message.size, failing.for_domain(domain))
                if decision.kind != ROUTE or self.server_name not in decision.connector.source_transport_servers:
                    continue
                hop = (*state.next_hop_of(decision.connector, domain), decision.connector.name)
                if hop not in queues:
                    queues[hop] = state.queue_for(self.server_name, *hop)
                target = queues[hop]
                if target.id != queue.id:
                    targets.setdefault(target, []).append(address)
            for target, addresses in targets.items():
                state.move(message, target, addresses)
                self.schedule(target)

    def resubmit(self, queue_id):
        """Retry-Queue -Resubmit: the waiting recipients go to the next hop the configuration routes them to
        now; the queue then delivers what stays in it."""
        queue = DeliveryQueue.objects.filter(id=queue_id).first()
        if queue is None or queue.status == QueueStatus.SUSPENDED:
            return
        self.reroute(self.runtime.send, queue)
        self.deliver_soon(queue)

    def remove(self, message_id, with_ndr):
        """Remove-Message on this server: an NDR to the sender when asked (WithNDR), a FAIL tracking event, then
        the message leaves the queue (and the store when no other queue holds it)."""
        with transaction.atomic():
            message = state.take_for_removal(message_id)
            if message is None:
                return
            recipients = list(message.recipients.values_list("address", flat=True))
            envelope, content = self._load(message)
            if envelope is not None:
                if with_ndr:
                    self.report(FAILED, envelope, content,
                                [RecipientReport(address, "5.3.0", REMOVED) for address in recipients])
                self.runtime.tracking_log().event(
                    "FAIL", envelope, recipients=recipients, recipient_status=[REMOVED] * len(recipients),
                    source="QUEUE", connector_id=message.queue.next_hop_connector, directionality="Originating")
                message.delete()
        self.remove_if_done(message.store_id)


class FinishedEntries:
    """The entries an SMTP session has delivered, removed together once per batch instead of a database statement
    for each. When an entry was its message's only one at the claim, the message leaves the store at once (a
    rename: done for the kernel even if the worker is killed the next moment), and that is what marks it sent: a
    worker killed before the rows go sends it no more (it is gone from the store) and its successor deletes the
    rows (QueueManager.forget_sent). A message that other queues hold too goes as before, rows first."""

    def __init__(self, manager):
        self.manager, self.entry_ids = manager, []

    def add(self, message):
        if message.id is None:   # deleted already: its message had left the store
            return
        if getattr(message, "sole_entry", False):
            self.manager.runtime.store.remove(message.store_id)
            self.entry_ids.append(message.id)
        else:
            self.manager.remove_entry(message)

    def remove(self):
        entry_ids, self.entry_ids = self.entry_ids, []
        state.remove_entries(entry_ids)


def relayed_reports(envelope, sent, connector):
    """RelayDsnRequired: the recipients written to the drop directory that asked for a success notification
    (NOTIFY=SUCCESS): the gateway behind it sends none, so this server says the message was relayed."""
    asked = {recipient.lower() for recipient, options in zip(envelope.rcpt_tos, envelope.rcpt_options)
             if any(option.upper().startswith("NOTIFY=") and "SUCCESS" in option.upper() for option in options)}
    return [RecipientReport(recipient, "2.0.0", f"250 2.0.0 Relayed to the drop directory of '{connector.name}'")
            for recipient in sent if recipient.lower() in asked]


def _can_send(connector, configuration):
    return (connector is not None and connector.enabled
            and configuration.server.name in connector.source_transport_servers)

"""The categorizer: what becomes of each recipient of a message that arrived in a server's store.

Authoritative domain: the mailbox gets it (Maildir), an unknown address an NDR (5.1.1). InternalRelay: the
mailbox if there is one, else routed. ExternalRelay and every other domain: routed to the connector
transport.routing chooses, in the queue of its next hop on a source server of that connector (this one, or
another that the message is transferred to). The message leaves the store when no recipient is left queued.
"""
import base64
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from exchange_console.lib.domains import match_domain_pattern
from exchange_console.organization.models import DomainType
from exchange_console.queues.models import DeliveryType
from transport.delivery import queues, runtime
from transport.delivery.mailbox import deliver_to_mailbox
from transport.delivery.reports import send_report
from transport.dsn import FAILED, RecipientReport
from transport.routing import TOO_BIG, choose_connector

LOCAL, FAIL, ROUTE, UNREACHABLE = "local", "fail", "route", "unreachable"
NOT_FOUND = RecipientReport("", "5.1.1", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found")
RECIPIENT_LIMIT = RecipientReport("", "5.5.3", "550 5.5.3 RESOLVER.ADR.RecipLimit; too many recipients")
TOO_BIG_FOR_ROUTE = RecipientReport(
    "", "5.3.4", "550 5.3.4 ROUTING.SizeLimit; message size exceeds fixed maximum size for route")


@dataclass(frozen=True)
class Decision:
    kind: str
    connector: object = None
    report: RecipientReport = None


def accepted_domain_type(snapshot, domain):
    """The DomainType of the most specific accepted domain matching `domain`, None when none does."""
    ranked = [(rank, domain_type) for pattern, domain_type in snapshot.accepted_domains
              if (rank := match_domain_pattern(pattern, domain)) is not None]
    return max(ranked, key=lambda item: item[0])[1] if ranked else None


def decide(snapshot, address, size, unavailable=frozenset(), via_connector=None):
    """The decision for one recipient."""
    domain = address.rpartition("@")[2].lower()
    domain_type = accepted_domain_type(snapshot, domain)
    if domain_type == DomainType.AUTHORITATIVE:
        return Decision(LOCAL) if address.lower() in snapshot.mailboxes else Decision(FAIL, report=NOT_FOUND)
    if domain_type == DomainType.INTERNAL_RELAY and address.lower() in snapshot.mailboxes:
        return Decision(LOCAL)
    if via_connector is not None:
        return Decision(ROUTE, connector=via_connector)
    route = choose_connector(snapshot.connectors, domain, size, snapshot.server.name, snapshot.server_sites,
                             unavailable, domain_secure=domain in snapshot.tls_send_domain_secure_list)
    if route.connector is not None:
        return Decision(ROUTE, connector=route.connector)
    if route.failure == TOO_BIG:
        return Decision(FAIL, report=TOO_BIG_FOR_ROUTE)
    return Decision(UNREACHABLE)


def categorize(server_name, message_ids, via_connector_name=None):
    """Categorize stored messages together: one read of the failing connectors, one transaction for every
    queue entry (idempotent: a message already queued only has its queues resumed)."""
    queued = queues.queued_store_ids(message_ids)
    for queue in queues.release_abandoned(server_name, queued):
        kick(server_name, queue)
    store = runtime.store(server_name)
    snapshot = runtime.send_snapshot(server_name)
    failing = queues.FailingConnectors(server_name)
    categorized = []
    for message_id in message_ids:
        if message_id in queued:
            continue
        try:
            envelope = store.envelope(message_id)
        except FileNotFoundError:
            continue
        decisions = decide_all(snapshot, envelope, failing, via_connector_name)
        content = store.load(message_id)[1] if needs_content(server_name, decisions) else None
        deliver_local(server_name, snapshot, envelope, content,
                      [r for r, d in decisions.items() if d.kind == LOCAL])
        fail(server_name, snapshot, envelope, content,
             [(r, d.report) for r, d in decisions.items() if d.kind == FAIL])
        categorized.append((envelope, content, decisions))
    kept = route(server_name, snapshot, categorized)
    store.remove(*(envelope.message_id for envelope, _, _ in categorized if envelope.message_id not in kept))


def needs_content(server_name, decisions):
    """Local delivery, an NDR and a transfer to another server need the content; queueing here doesn't."""
    return any(decision.kind in (LOCAL, FAIL)
               or (decision.kind == ROUTE and server_name not in decision.connector.source_transport_servers)
               for decision in decisions.values())


def decide_all(snapshot, envelope, failing, via_connector_name):
    limit = snapshot.max_recipient_envelope_limit
    if limit is not None and len(envelope.rcpt_tos) > limit:
        return {recipient: Decision(FAIL, report=RECIPIENT_LIMIT) for recipient in envelope.rcpt_tos}
    via = snapshot.connector(via_connector_name) if via_connector_name else None
    return {recipient: decide(snapshot, recipient, envelope.size, failing.for_domain(recipient.rpartition("@")[2]),
                              via)
            for recipient in envelope.rcpt_tos}


def deliver_local(server_name, snapshot, envelope, content, recipients):
    """Into the mailboxes; those that already have the message (categorized again after a crash) are skipped."""
    delivered = [recipient for recipient in recipients
                 if deliver_to_mailbox(settings.EXCHANGE_DATA_DIR, recipient, envelope.mail_from, content,
                                       envelope.message_id)]
    if delivered:
        runtime.tracking_log(server_name).event(
            "DELIVER", envelope, source="STOREDRIVER", recipients=delivered, connector_id="",
            recipient_status=["250 2.0.0 Delivered to mailbox"] * len(delivered), directionality="Incoming")


def fail(server_name, snapshot, envelope, content, failures):
    """Recipients that can never be delivered: FAIL in the tracking log and one NDR for all of them."""
    if not failures:
        return
    reports = [RecipientReport(recipient, report.status, report.diagnostic, report.remote_mta)
               for recipient, report in failures]
    runtime.tracking_log(server_name).event(
        "FAIL", envelope, recipients=[r.address for r in reports], connector_id="",
        recipient_status=[r.diagnostic for r in reports])
    send_report(server_name, snapshot, FAILED, envelope, content, reports)


def route(server_name, snapshot, categorized):
    """Queue routed and unreachable recipients here, or transfer them to a source server of their connector.
    Returns the ids of the messages that stay queued on this server."""
    entries = {}   # next hop -> [(envelope, recipients)]
    for envelope, content, decisions in categorized:
        local_hops, transfers = next_hops(server_name, decisions)
        for hop, recipients in local_hops.items():
            entries.setdefault(hop, []).append((envelope, recipients))
        for connector, recipients in transfers.items():
            transfer(server_name, snapshot, envelope, content, connector, recipients)
    with transaction.atomic():
        touched = {hop: queues.queue_for(server_name, *hop) for hop in entries}
        queues.enqueue_new((touched[hop], envelope, recipients)
                           for hop, hop_entries in entries.items() for envelope, recipients in hop_entries)
    for queue in touched.values():
        transaction.on_commit(lambda queue=queue: kick_now(server_name, queue))
    return {envelope.message_id for hop_entries in entries.values() for envelope, _ in hop_entries}


def next_hops(server_name, decisions):
    """({(delivery type, next hop, connector name): recipients} queued here, {connector: recipients} that a
    source server elsewhere delivers)."""
    local_hops, transfers = {}, {}
    for recipient, decision in decisions.items():
        if decision.kind == UNREACHABLE:
            local_hops.setdefault((DeliveryType.UNREACHABLE, recipient.rpartition("@")[2].lower(), ""), []).append(
                recipient)
        elif decision.kind == ROUTE and server_name in decision.connector.source_transport_servers:
            delivery_type, next_hop = queues.next_hop_of(decision.connector, recipient.rpartition("@")[2])
            local_hops.setdefault((delivery_type, next_hop, decision.connector.name), []).append(recipient)
        elif decision.kind == ROUTE:
            transfers.setdefault(decision.connector, []).append(recipient)
    return local_hops, transfers


def transfer(server_name, snapshot, envelope, content, connector, recipients):
    """Hand recipients to a source server of their connector (the nearest: same site first, then by name)."""
    from transport.tasks import transfer_message

    target = min(connector.source_transport_servers,
                 key=lambda name: (snapshot.server_sites.get(name) != snapshot.server.site, name))
    transfer_message.apply_async(
        (target, envelope.to_json(), base64.b64encode(content).decode(), connector.name, list(recipients)),
        queue=f"transport.{target.lower()}")
    runtime.tracking_log(server_name).event(
        "TRANSFER", envelope, recipients=recipients, connector_id=connector.name,
        related_recipient_address=target, directionality="Originating")


def accept_transfer(server_name, envelope_json, content_b64, connector_name, recipients):
    """A transferred message arrives: store it durably here, then queue it for its connector."""
    from transport.queue.store import Envelope

    original = Envelope.from_json(envelope_json)
    content = base64.b64decode(content_b64)
    stored = runtime.store(server_name).accept(
        content, mail_from=original.mail_from, rcpt_tos=recipients, received_connector=original.received_connector,
        client_ip=original.client_ip, client_hostname=original.client_hostname, auth_user=original.auth_user,
        size=original.size, header_message_id=original.header_message_id, subject=original.subject,
        arrival_time=original.arrival_time, mail_options=original.mail_options)
    categorize(server_name, [stored.message_id], via_connector_name=connector_name)


def kick(server_name, queue, due=None):
    """Schedule a delivery attempt of the queue on this server when its next work is due (or at `due`)."""
    from django.utils import timezone

    due = due or queues.next_due(queue)
    if due is None and not queue.connection_failing:
        return
    if due and due > timezone.now():
        if runtime.scheduled_retries.schedule(queue.id, due.isoformat()):
            _send_deliver_queue(server_name, queue.id, due)
    elif runtime.delivery_pending.add(queue.id):   # one task not yet started is enough to pick the work up
        _send_deliver_queue(server_name, queue.id)


def kick_now(server_name, queue):
    """New mail in a queue: deliver it now, unless the queue waits for its retry after failing to connect."""
    if queue.connection_failing:
        kick(server_name, queue)
    elif runtime.delivery_pending.add(queue.id):
        _send_deliver_queue(server_name, queue.id)


def _send_deliver_queue(server_name, queue_id, due=None):
    from django.utils import timezone

    from transport.tasks import deliver_queue

    countdown = (due - timezone.now()).total_seconds() if due else None
    deliver_queue.apply_async((server_name, queue_id, due.isoformat() if due else None),
                              queue=f"transport.{server_name.lower()}", countdown=countdown)

"""The categorizer: what becomes of each recipient of a message that arrived in a server's store.

Authoritative domain: the mailbox gets it (Maildir), an unknown address an NDR (5.1.1). InternalRelay: the
mailbox if there is one, else routed. ExternalRelay and every other domain: routed to the connector
transport.routing chooses, in the queue of its next hop on a source server of that connector (this one, or
another that the message is transferred to). The message leaves the store when no recipient is left queued.
"""
import base64

from django.conf import settings
from django.db import transaction

from transport import dispatch
from transport.delivery.mailbox import deliver_to_mailbox
from transport.dsn import FAILED, RecipientReport
from transport.queue import state
from transport.queue.models import DeliveryType
from transport.queue.store import Envelope
from transport.reports import send_report
from transport.routing import FAIL, LOCAL, ROUTE, UNREACHABLE, Decision, decide, transfer_target

RECIPIENT_LIMIT = RecipientReport("", "5.5.3", "550 5.5.3 RESOLVER.ADR.RecipLimit; too many recipients")
SEND_SIZE_LIMIT = RecipientReport("", "5.2.3", "550 5.2.3 RESOLVER.RST.SendSizeLimit.Org; message too large for "
                                               "this organization")


class Categorizer:
    def __init__(self, runtime):
        self.runtime = runtime

    @property
    def server_name(self):
        return self.runtime.server_name

    def categorize(self, message_ids, via_connector_name=None):
        """Categorize stored messages together: one read of the failing connectors, one transaction for every
        queue entry (idempotent: a message already queued only has its queues resumed)."""
        queued = state.queued_store_ids(message_ids)
        for queue in state.release_abandoned(self.server_name, queued, self.runtime.instance):
            self.runtime.queue_manager.schedule(queue)
        store, configuration = self.runtime.store, self.runtime.send
        failing = state.FailingConnectors(self.server_name)
        categorized = []
        for message_id in message_ids:
            if message_id in queued:
                continue
            try:
                envelope = store.envelope(message_id)
            except FileNotFoundError:
                continue
            decisions = decide_all(configuration, envelope, failing, via_connector_name)
            content = store.load(message_id)[1] if self._needs_content(decisions) else None
            self.deliver_local(envelope, content, [r for r, d in decisions.items() if d.kind == LOCAL])
            self.fail(envelope, content, [(r, d.report) for r, d in decisions.items() if d.kind == FAIL])
            categorized.append((envelope, content, decisions))
        kept = self.route(configuration, categorized)
        store.remove(*(envelope.message_id for envelope, _, _ in categorized if envelope.message_id not in kept))

    def _needs_content(self, decisions):
        """Local delivery, an NDR and a transfer to another server need the content; queueing here doesn't."""
        return any(decision.kind in (LOCAL, FAIL)
                   or (decision.kind == ROUTE and self.server_name not in decision.connector.source_transport_servers)
                   for decision in decisions.values())

    def deliver_local(self, envelope, content, recipients):
        """Into the mailboxes; those that already have the message (categorized again after a crash) are skipped."""
        delivered = [recipient for recipient in recipients
                     if deliver_to_mailbox(settings.EXCHANGE_DATA_DIR, recipient, envelope.mail_from, content,
                                           envelope.message_id)]
        if delivered:
            self.runtime.tracking_log().event(
                "DELIVER", envelope, source="STOREDRIVER", recipients=delivered, connector_id="",
                recipient_status=["250 2.0.0 Delivered to mailbox"] * len(delivered), directionality="Incoming")

    def fail(self, envelope, content, failures):
        """Recipients that can never be delivered: FAIL in the tracking log and one NDR for all of them."""
        if not failures:
            return
        reports = [RecipientReport(recipient, report.status, report.diagnostic, report.remote_mta)
                   for recipient, report in failures]
        self.runtime.tracking_log().event(
            "FAIL", envelope, recipients=[r.address for r in reports], connector_id="",
            recipient_status=[r.diagnostic for r in reports])
        send_report(self.runtime, FAILED, envelope, content, reports)

    def route(self, configuration, categorized):
        """Queue routed and unreachable recipients here, or transfer them to a source server of their connector.
        Returns the ids of the messages that stay queued on this server."""
        entries = {}   # next hop -> [(envelope, recipients)]
        for envelope, content, decisions in categorized:
            local_hops, transfers = next_hops(self.server_name, decisions)
            for hop, recipients in local_hops.items():
                entries.setdefault(hop, []).append((envelope, recipients))
            for connector, recipients in transfers.items():
                self.transfer(configuration, envelope, content, connector, recipients)
        with transaction.atomic():
            touched = {hop: state.queue_for(self.server_name, *hop) for hop in entries}
            state.enqueue_new((touched[hop], envelope, recipients)
                              for hop, hop_entries in entries.items() for envelope, recipients in hop_entries)
        for queue in touched.values():
            transaction.on_commit(lambda queue=queue: self.runtime.queue_manager.deliver_soon(queue))
        queued = sum(len(hop_entries) for hop_entries in entries.values())
        transaction.on_commit(lambda: self.runtime.queue_statistics.queued(queued))
        return {envelope.message_id for hop_entries in entries.values() for envelope, _ in hop_entries}

    def transfer(self, configuration, envelope, content, connector, recipients):
        """Hand recipients to a source server of their connector: the one in the least-cost site, or a server of
        a hub site on the way there."""
        target = transfer_target(connector, configuration.server_sites, configuration.site_routes)
        dispatch.transfer_message(target, envelope.to_json(), base64.b64encode(content).decode(), connector.name,
                                  recipients)
        self.runtime.tracking_log().event(
            "TRANSFER", envelope, recipients=recipients, connector_id=connector.name,
            related_recipient_address=target, directionality="Originating")

    def accept_transfer(self, envelope_json, content_b64, connector_name, recipients):
        """A transferred message arrives: store it durably here, then queue it for its connector."""
        original = Envelope.from_json(envelope_json)
        kept = {name: value for name, value in vars(original).items()
                if name not in ("message_id", "rcpt_tos", "rcpt_options")}   # a new id; its recipients here
        stored = self.runtime.store.accept(base64.b64decode(content_b64), rcpt_tos=recipients, **kept)
        self.categorize([stored.message_id], via_connector_name=connector_name)


def decide_all(configuration, envelope, failing, via_connector_name):
    """The decision for every recipient of a message (all fail when there are more than
    MaxRecipientEnvelopeLimit). A message that arrived on a receive connector linked to a send connector leaves
    through that one, whatever its recipients (the external system it passes through sends it back on another
    receive connector, where it is routed as usual)."""
    limit = configuration.max_recipient_envelope_limit
    if limit is not None and len(envelope.rcpt_tos) > limit:
        return {recipient: Decision(FAIL, report=RECIPIENT_LIMIT) for recipient in envelope.rcpt_tos}
    if too_large_to_send(configuration, envelope):
        return {recipient: Decision(FAIL, report=SEND_SIZE_LIMIT) for recipient in envelope.rcpt_tos}
    via = (configuration.connector(via_connector_name) if via_connector_name
           else configuration.linked_connector(envelope.received_connector))
    return {recipient: decide(configuration, recipient, envelope.size,
                              failing.for_domain(recipient.rpartition("@")[2]), via)
            for recipient in envelope.rcpt_tos}


def too_large_to_send(configuration, envelope):
    """MaxSendSize (Set-TransportConfig) limits what the organization's users send: a message submitted by an
    authenticated user that is larger gets an NDR for every recipient."""
    limit = configuration.max_send_size
    return bool(envelope.auth_user) and limit is not None and envelope.size > limit


def next_hops(server_name, decisions):
    """({(delivery type, next hop, connector name): recipients} queued here, {connector: recipients} that a
    source server elsewhere delivers)."""
    local_hops, transfers = {}, {}
    for recipient, decision in decisions.items():
        if decision.kind == UNREACHABLE:
            local_hops.setdefault((DeliveryType.UNREACHABLE, recipient.rpartition("@")[2].lower(), ""), []).append(
                recipient)
        elif decision.kind == ROUTE and server_name in decision.connector.source_transport_servers:
            delivery_type, next_hop = state.next_hop_of(decision.connector, recipient.rpartition("@")[2])
            local_hops.setdefault((delivery_type, next_hop, decision.connector.name), []).append(recipient)
        elif decision.kind == ROUTE:
            transfers.setdefault(decision.connector, []).append(recipient)
    return local_hops, transfers

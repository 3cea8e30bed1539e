"""Many configuration objects at once, for list and query-count tests and the console benchmark.

Rows are bulk-inserted with the values the schemas would store (canonical strings), because creating a
thousand connectors one by one through the service layer would only measure the service layer.
"""
from datetime import timedelta

import trustme
from django.utils import timezone

from exchange_console.connectors.models import SendConnector
from exchange_console.edge.subscription_file import SubscriptionFile
from exchange_console.organization.models import Site, TransportServer


def add_hub_servers(count, site_name="Default-First-Site-Name"):
    site = Site.objects.get(name=site_name)
    TransportServer.objects.bulk_create(
        TransportServer(name=f"HUB{index:03}X", fqdn=f"hub{index:03}x.contoso.com", site=site) for index in range(count))
    return list(TransportServer.objects.filter(name__endswith="X"))


def add_send_connectors(count, servers, first=0):
    connectors = SendConnector.objects.bulk_create(
        SendConnector(name=f"Route {index:04}", address_spaces=[f"SMTP:domain{index:04}.com;{index % 100 + 1}"],
                      enabled=index % 3 != 0)
        for index in range(first, first + count))
    through = SendConnector.source_transport_servers.through
    through.objects.bulk_create(
        through(sendconnector_id=connector.pk, transportserver_id=servers[index % len(servers)].pk)
        for index, connector in enumerate(connectors))
    return connectors


def edge_subscription_file(effective=None):
    """What New-EdgeSubscription -FileName writes on EDGE01 (edge01.contoso.com), with a certificate for its FQDN."""
    certificate = trustme.CA().issue_cert("edge01.contoso.com").cert_chain_pems[0].bytes().decode()
    return SubscriptionFile(
        edge_name="EDGE01", edge_fqdn="edge01.contoso.com", certificate_pem=certificate, account="ESRA.EDGE01.1a2b",
        password="bootstrap-secret", effective=effective or timezone.now(), duration=timedelta(minutes=1440),
        edgesync_port=50636, smtp_port=25).to_xml()

"""Routing between sites with real transport workers: a Hub in the main site hands mail for a connector of two
other sites to the one behind the cheaper site link, and to the other once Set-AdSiteLink -ExchangeCost makes
that link dearer. Three workers (one per site), real sockets; the peers are sinks standing in for smart hosts."""
import pytest

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.models import TransportServer
from exchange_console.organization.schemas import ACCEPTED_DOMAIN, TRANSPORT_SERVER
from exchange_console.services import new_object
from tests.send_peers import Sink
from tests.shell_helpers import ems, shell
from tests.transport_helpers import (
    SITE, Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    reconfigure, remove_server_data, server_store, unique_server_name, wait_for,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(72)
INBOUND, NORTH_SMART_HOST, SOUTH_SMART_HOST = 31225, 31226, 31227
NORTH_RECEIVE, SOUTH_RECEIVE = 31228, 31229   # each Hub receives too; its worker reports that binding


@pytest.fixture(scope="module")
def servers(committed_db):
    """MAIN (site Default-First-Site-Name) receives; NORTH and SOUTH, each in a site of its own, are the source
    servers of one connector each for fabrikam.example, at the same address space cost. Site links: main-North
    (AD cost 10) and main-South (20)."""
    main, north, south = (unique_server_name(prefix) for prefix in ("SM", "SN", "SS"))
    main_server = install_receive_server(main, "main.contoso.com")
    new_object(ACCEPTED_DOMAIN, {"Name": "Fabrikam relay", "DomainName": "fabrikam.example",
                                 "DomainType": "ExternalRelay"})
    new_receive_connector(main_server, "Inbound", f"{HOST}:{INBOUND}", PermissionGroups="AnonymousUsers")
    for name, port, receive_port in ((north, NORTH_SMART_HOST, NORTH_RECEIVE), (south, SOUTH_SMART_HOST, SOUTH_RECEIVE)):
        ems(f"New-AdSite {name}-Site -SiteLinks $null")
        server = new_object(TRANSPORT_SERVER, {"Name": name, "Fqdn": f"{name.lower()}.contoso.com",
                                               "Site": f"{name}-Site"})
        new_receive_connector(server, "Default", f"{HOST}:{receive_port}", PermissionGroups="ExchangeServers")
        new_object(SEND_CONNECTOR, {"Name": f"Via {name}", "AddressSpaces": "fabrikam.example;1",
                                    "SmartHosts": f"[{HOST}]", "DNSRoutingEnabled": False, "Port": port,
                                    "SourceTransportServers": [name]})
    ems(f"New-AdSiteLink Main-North -Sites {SITE},{north}-Site -ADCost 10\n"
        f"New-AdSiteLink Main-South -Sites {SITE},{south}-Site -ADCost 20")
    yield main, north, south
    for name in (main, north, south):
        remove_server_data(name)


@pytest.fixture(scope="module")
def workers(servers):
    main, north, south = servers
    started = [TransportWorker(main).start(wait_for=[f"{HOST}:{INBOUND}"]),
               TransportWorker(north).start(wait_for=[f"{HOST}:{NORTH_RECEIVE}"]),
               TransportWorker(south).start(wait_for=[f"{HOST}:{SOUTH_RECEIVE}"])]
    yield started
    for worker in started:
        worker.stop()


def send(recipient, subject):
    with Client(HOST, INBOUND) as client:
        client.ehlo("client.example.com")
        client.sendmail("sender@example.com", [recipient], f"From: sender@example.com\r\nSubject: {subject}\r\n\r\nbody\r\n")


def route(recipient, server):
    """(server, action, connector, next hop) of each hop Get-MailRoute explains: what the worker just did."""
    return [(hop.get("Server"), hop.get("Action"), hop.get("Connector"), hop.get("NextHop"))
            for hop in shell(f"Get-MailRoute -Recipient {recipient} -Server {server}")]


def apply_on(worker):
    """Wait until the worker runs the configuration saved so far. Its reported stamp covers its receive side
    only, so the server itself is saved once more (the same value) and that save is waited for."""
    server = TransportServer.objects.get(name=worker.server_name)
    reconfigure(worker, TRANSPORT_SERVER, server, {"MessageRetryInterval": server.message_retry_interval})


def test_mail_crosses_the_cheaper_site_link_and_follows_a_changed_exchange_cost(workers, servers):
    main, north, south = servers
    with Sink(HOST, NORTH_SMART_HOST) as north_host, Sink(HOST, SOUTH_SMART_HOST) as south_host:
        send("ann@fabrikam.example", "First")
        assert wait_for(lambda: north_host.received)           # 1 + 10 < 1 + 20: the North site's connector
        assert route("ann@fabrikam.example", main) == [(main, "Transfer", f"Via {north}", north),
                                                       (north, "Route", f"Via {north}", f"[{HOST}]:{NORTH_SMART_HOST}")]
        assert wait_for(lambda: all(server_store(name).ids() == [] for name in servers))
        assert south_host.received == []

        ems("Set-AdSiteLink Main-North -ExchangeCost 50")     # now 1 + 50 > 1 + 20
        apply_on(workers[0])
        send("bob@fabrikam.example", "Second")
        assert wait_for(lambda: south_host.received)
        assert route("bob@fabrikam.example", main)[0] == (main, "Transfer", f"Via {south}", south)
        assert wait_for(lambda: all(server_store(name).ids() == [] for name in servers))
        assert [m.rcpt_tos for m in north_host.received] == [["ann@fabrikam.example"]]
        assert [m.rcpt_tos for m in south_host.received] == [["bob@fabrikam.example"]]


def test_a_scoped_connector_serves_its_own_site_only_as_get_mailroute_says(workers, servers):
    main, north, south = servers
    new_object(ACCEPTED_DOMAIN, {"Name": "Tailspin relay", "DomainName": "tailspin.example",
                                 "DomainType": "ExternalRelay"})
    new_object(SEND_CONNECTOR, {"Name": f"Scoped {north}", "AddressSpaces": "tailspin.example;1",
                                "IsScopedConnector": True, "SmartHosts": f"[{HOST}]", "DNSRoutingEnabled": False,
                                "Port": NORTH_SMART_HOST, "SourceTransportServers": [north]})
    new_object(SEND_CONNECTOR, {"Name": f"Tailspin {south}", "AddressSpaces": "tailspin.example;5",
                                "SmartHosts": f"[{HOST}]", "DNSRoutingEnabled": False, "Port": SOUTH_SMART_HOST,
                                "SourceTransportServers": [south]})
    for worker in workers:
        apply_on(worker)
    with Sink(HOST, NORTH_SMART_HOST) as north_host, Sink(HOST, SOUTH_SMART_HOST) as south_host:
        send("carol@tailspin.example", "Scoped")
        assert wait_for(lambda: south_host.received)
        assert wait_for(lambda: all(server_store(name).ids() == [] for name in servers))
        assert north_host.received == []
    [first, _] = shell(f"Get-MailRoute -Recipient carol@tailspin.example -Server {main}")
    assert (first.get("Action"), first.get("Connector"), first.get("NextHop")) == (
        "Transfer", f"Tailspin {south}", south)
    assert f"Scoped {north}: not a candidate: scoped (IsScopedConnector) to the site of its source servers, not this " \
           "one" in first.get("Candidates")

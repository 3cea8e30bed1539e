"""Checks before a change is saved: an administrator's change that would make a routing loop, an open relay or a
smart host that can't authenticate is refused unless -Force (and -WhatIf reports it); what only weakens mail flow
(a domain-secured domain with a non-secure fallback, ExchangeServer authentication outside the organization) is
saved with a warning. Findings that were there before the change aren't the change's."""
import pytest
from django.contrib.auth import get_user_model

from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.organization import setup
from exchange_console.shell.errors import ShellError
from exchange_console.shell.host import BufferHost
from exchange_console.shell.engine import Session
from exchange_console.services import acting_as

SITE = "Default-First-Site-Name"
WIDE_RELAY = ("New-ReceiveConnector Relay -Server HUB01 -Usage Custom -Bindings 0.0.0.0:2526 "
              "-RemoteIPRanges 0.0.0.0-255.255.255.255 -PermissionGroups ExchangeServers "
              "-AuthMechanism Tls,ExternalAuthoritative")
LOOP = ("New-SendConnector Loop -AddressSpaces * -SmartHosts hub01.contoso.com -DNSRoutingEnabled $false "
        "-SourceTransportServers HUB01")


@pytest.fixture
def admin(db):
    setup.install_organization("Contoso", SITE)
    setup.ensure_accepted_domain("contoso.com")
    setup.install_transport_server("HUB01", "hub01.contoso.com", SITE)
    return get_user_model().objects.create_superuser("admin", "admin@contoso.com", "Corr3ct-Horse!")


def run(admin, command):
    """(output, [warnings]) of the command run as the administrator."""
    host = BufferHost()
    with acting_as(admin, "EMS"):
        Session(host).run(command)
    return host.output, [line.removeprefix("WARNING: ") for line in host.warnings.splitlines()]


def refused(admin, command):
    with pytest.raises(ShellError) as caught, acting_as(admin, "EMS"):
        Session(BufferHost()).run(command)
    return str(caught.value)


def test_a_receive_connector_that_makes_the_server_an_open_relay_needs_force(admin):
    error = refused(admin, WIDE_RELAY)
    assert "Receive connector 'HUB01\\Relay' lets clients that don't authenticate relay" in error
    assert "HUB01 would be an open relay" in error and "run it again with -Force" in error
    assert not ReceiveConnector.objects.filter(name="Relay").exists()

    _, warnings = run(admin, WIDE_RELAY + " -Force")
    assert ReceiveConnector.objects.filter(name="Relay").exists()
    assert any("would be an open relay" in warning and "(Saved with -Force.)" in warning for warning in warnings)


def test_a_relay_for_a_few_hosts_is_no_finding(admin):
    _, warnings = run(admin, WIDE_RELAY.replace("0.0.0.0-255.255.255.255", "192.0.2.10,10.0.0.0/8"))
    assert ReceiveConnector.objects.filter(name="Relay").exists() and warnings == []


def test_granting_anonymous_relay_on_a_connector_open_to_the_internet_needs_force(admin):
    run(admin, "New-ReceiveConnector Internet -Server HUB01 -Usage Custom -Bindings 0.0.0.0:2527 "
               "-RemoteIPRanges 0.0.0.0-255.255.255.255 -PermissionGroups AnonymousUsers")
    grant = ("Get-ReceiveConnector Internet | Add-ADPermission -User 'NT AUTHORITY\\ANONYMOUS LOGON' "
             "-ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient")
    assert "HUB01 would be an open relay" in refused(admin, grant)
    assert not ReceiveConnector.objects.get(name="Internet").permissions.exists()


def test_a_send_connector_whose_smart_host_is_the_server_itself_is_a_routing_loop(admin):
    error = refused(admin, LOOP)
    assert "Routing loop: mail for example.invalid goes HUB01 'Loop' -> HUB01\\Default HUB01 -> 'Loop'" in error
    assert not SendConnector.objects.filter(name="Loop").exists()


def test_whatif_reports_the_findings_and_saves_nothing(admin):
    output, warnings = run(admin, LOOP + " -WhatIf")
    assert 'What if: Creating Send connector "Loop".' in output
    assert any(warning.startswith("Routing loop") and warning.endswith("The change needs -Force.")
               for warning in warnings)
    assert not SendConnector.objects.filter(name="Loop").exists()


def test_a_domain_secured_domain_without_a_domain_secured_connector_is_a_warning(admin):
    run(admin, "New-SendConnector Internet -AddressSpaces * -SourceTransportServers HUB01")
    _, warnings = run(admin, "Set-TransportConfig -TLSSendDomainSecureList partner.test")
    assert warnings == ["Mail to partner.test (TLSSendDomainSecureList) has no send connector with DomainSecureEnabled "
                        "from HUB01: it would stay in the Unreachable queue."]


def test_a_domain_secured_domain_with_a_cheaper_non_secure_connector_is_a_warning(admin):
    run(admin, "New-SendConnector Internet -AddressSpaces * -SourceTransportServers HUB01")
    run(admin, "New-SendConnector Partners -AddressSpaces 'partner.test;5' -DomainSecureEnabled $true "
               "-SourceTransportServers HUB01")
    _, warnings = run(admin, "New-SendConnector 'Partner cheap' -AddressSpaces 'partner.test;1' "
                             "-SourceTransportServers HUB01; Set-TransportConfig -TLSSendDomainSecureList partner.test")
    assert warnings == ["Mail to partner.test (TLSSendDomainSecureList) would be routed from HUB01 to 'Partner cheap', "
                        "which has no DomainSecureEnabled; it goes only through 'Partners', and waits for it when it "
                        "fails."]


def test_exchange_server_authentication_to_a_host_outside_the_organization_is_a_warning(admin):
    _, warnings = run(admin, "New-SendConnector ISP -AddressSpaces * -SmartHosts relay.isp.example "
                             "-DNSRoutingEnabled $false -SmartHostAuthMechanism ExchangeServer "
                             "-SourceTransportServers HUB01")
    assert SendConnector.objects.filter(name="ISP").exists()
    assert warnings == ["Send connector 'ISP' authenticates as an Exchange server to relay.isp.example, which isn't "
                        "one of the organization's servers: only those accept that authentication."]


def test_findings_that_were_there_before_are_not_the_next_changes_doing(admin):
    run(admin, WIDE_RELAY + " -Force")
    _, warnings = run(admin, "Set-ReceiveConnector Relay -MaxMessageSize 20MB")
    assert warnings == []


def test_a_connector_whose_sources_another_site_cant_reach_is_a_warning(admin):
    from exchange_console.organization.schemas import TRANSPORT_SERVER
    from exchange_console.services import new_object

    run(admin, "New-AdSite Branch -SiteLinks $null")
    new_object(TRANSPORT_SERVER, {"Name": "HUB02", "Fqdn": "hub02.contoso.com", "Site": "Branch"})
    _, warnings = run(admin, "New-SendConnector Internet -AddressSpaces * -SourceTransportServers HUB01")
    assert warnings == [f"The servers of site Branch can't reach the source servers of 'Internet': no site link "
                        f"leads to {SITE}. Its address spaces are out of their reach."]


def test_an_address_and_port_another_server_binds_is_a_warning(admin):
    from exchange_console.organization.schemas import TRANSPORT_SERVER
    from exchange_console.services import new_object

    new_object(TRANSPORT_SERVER, {"Name": "HUB02", "Fqdn": "hub02.contoso.com", "Site": SITE})
    run(admin, "New-ReceiveConnector Printers -Server HUB02 -Usage Custom -Bindings 10.0.0.5:2525 "
               "-RemoteIPRanges 10.0.0.9")
    _, warnings = run(admin, "New-ReceiveConnector Printers -Server HUB01 -Usage Custom -Bindings 10.0.0.5:2525 "
                             "-RemoteIPRanges 10.0.0.9")
    assert warnings == ["Receive connector 'HUB01\\Printers' binds 10.0.0.5:2525, as 'HUB02\\Printers' of HUB02 does: "
                        "two servers can't listen on one address and port."]

"""Issue 15, point 5 (connectors): every Exchange 2010 parameter of New-/Set-/Get-SendConnector, -ReceiveConnector
and -ForeignConnector through the shell: accepted, stored, shown by Get-; refusals name the parameter and save
nothing; what is stored without effect here says so (a warning when set, NotAppliedHere in Get-)."""
import pytest

from exchange_console.connectors.models import ForeignConnector, ReceiveConnector, SendConnector
from exchange_console.shell.engine import Session
from exchange_console.shell.errors import ShellError
from exchange_console.shell.host import BufferHost
from tests.shell_helpers import ems, shell_lines

CREDENTIAL = ("$c = New-Object System.Management.Automation.PSCredential('contoso\\mailrelay', "
              "(ConvertTo-SecureString 'S3cret!' -AsPlainText -Force))\n")


def run(text):
    """The shell's warnings for `text`."""
    host = BufferHost()
    Session(host).run(text)
    return host.warnings


def property_of(command, name):
    """The value Format-List shows for property `name`."""
    found = [line.partition(":")[2].strip() for line in shell_lines(f"{command} | Format-List {name}")
             if line.partition(":")[0].strip() == name]
    assert len(found) == 1, found
    return found[0]


def test_it_accepts_microsofts_basic_auth_example_without_smart_hosts(hub):
    warnings = run(CREDENTIAL + 'New-SendConnector -Name "Secure Email to Contoso.com" -AddressSpaces contoso.com '
                                "-AuthenticationCredential $c -SmartHostAuthMechanism BasicAuth")
    connector = SendConnector.objects.get(name="Secure Email to Contoso.com")
    assert (connector.smart_host_auth_mechanism, connector.authentication_credential) == (
        "BasicAuth", ("contoso\\mailrelay", "S3cret!"))
    assert "SmartHostAuthMechanism of 'Secure Email to Contoso.com' is saved but takes no effect here" in warnings
    assert property_of('Get-SendConnector "Secure Email to Contoso.com"', "NotAppliedHere").startswith(
        "SmartHostAuthMechanism: used only with smart hosts")
    ems('Set-SendConnector "Secure Email to Contoso.com" -SmartHosts relay.contoso.com -DNSRoutingEnabled $false')
    assert property_of('Get-SendConnector "Secure Email to Contoso.com"', "NotAppliedHere") == ""


def test_it_still_requires_the_credential_of_basic_auth(hub):
    with pytest.raises(ShellError, match="AuthenticationCredential: required when SmartHostAuthMechanism is "
                                         "'BasicAuth'"):
        ems("New-SendConnector -Name Out -AddressSpaces contoso.com -SmartHostAuthMechanism BasicAuth")
    assert not SendConnector.objects.exists()


def test_it_stores_and_shows_the_send_connectors_2010_parameters(hub):
    ems("New-SendConnector Out -AddressSpaces * -ErrorPolicies DowngradeDnsFailures,UpgradeCustomFailures "
        "-SourceIPAddress 127.0.0.2")
    assert property_of("Get-SendConnector Out", "ErrorPolicies") == "DowngradeDnsFailures, UpgradeCustomFailures"
    assert property_of("Get-SendConnector Out", "SourceIPAddress") == "127.0.0.2"
    ems("Set-SendConnector Out -ErrorPolicies @{Remove='UpgradeCustomFailures'}")
    assert SendConnector.objects.get().error_policies == ["DowngradeDnsFailures"]
    ems("Set-SendConnector Out -ErrorPolicies Default")
    assert property_of("Get-SendConnector Out", "ErrorPolicies") == "Default"
    warnings = run("Set-SendConnector Out -IsCoexistenceConnector $true -RequireOorg $true")
    assert "IsCoexistenceConnector of 'Out' is saved but takes no effect here: hybrid mail flow" in warnings
    assert property_of("Get-SendConnector Out", "NotAppliedHere").startswith("IsCoexistenceConnector: hybrid")


@pytest.mark.parametrize("arguments, message", [
    ("-ErrorPolicies DowngradeCustomFailures,UpgradeCustomFailures",
     "ErrorPolicies: DowngradeCustomFailures and UpgradeCustomFailures can't be combined."),
    ("-ErrorPolicies Sometimes", "ErrorPolicies: 'Sometimes' is not valid; accepted values: Default, "),
    ("-SourceIPAddress mail.contoso.com", "SourceIPAddress: 'mail.contoso.com' is not a valid IP address"),
])
def test_it_refuses_bad_send_connector_values_naming_the_parameter(hub, arguments, message):
    ems("New-SendConnector Out -AddressSpaces *")
    with pytest.raises(ShellError, match=message.replace("(", r"\(").replace("$", r"\$")):
        ems(f"Set-SendConnector Out {arguments}")
    connector = SendConnector.objects.get()
    assert (connector.error_policies, connector.source_ip_address, connector.version) == ([], "0.0.0.0", 1)


def test_it_stores_and_shows_the_receive_connectors_2010_parameters(hub):
    identity = "'HUB01\\Default HUB01'"
    warnings = run(f"Set-ReceiveConnector {identity} -BareLinefeedRejectionEnabled $true -LongAddressesEnabled $true "
                   "-OrarEnabled $true -SuppressXAnonymousTls $true -AdvertiseClientSettings $true "
                   "-EnableAuthGSSAPI $true -ExtendedProtectionPolicy Require -MaxAcknowledgementDelay 00:00:10 "
                   "-DefaultDomain contoso.com -TlsDomainCapabilities mail.contoso.com:AcceptOorgProtocol")
    connector = ReceiveConnector.objects.get(name="Default HUB01")
    assert (connector.bare_linefeed_rejection_enabled, connector.long_addresses_enabled, connector.orar_enabled,
            connector.default_domain.domain_name, connector.tls_domain_capabilities) == (
        True, True, True, "contoso.com", ["mail.contoso.com:AcceptOorgProtocol"])
    for parameter in ("SuppressXAnonymousTls", "AdvertiseClientSettings", "EnableAuthGSSAPI",
                      "ExtendedProtectionPolicy", "MaxAcknowledgementDelay", "DefaultDomain", "TlsDomainCapabilities",
                      "OrarEnabled"):
        assert f"{parameter} of 'HUB01\\Default HUB01' is saved but takes no effect here" in warnings
    assert "BareLinefeedRejectionEnabled" not in warnings and "LongAddressesEnabled" not in warnings
    get = f"Get-ReceiveConnector {identity}"
    assert property_of(get, "BareLinefeedRejectionEnabled") == "True"
    assert property_of(get, "MaxAcknowledgementDelay") == "00:00:10"
    assert property_of(get, "DefaultDomain") == "contoso.com"
    assert property_of(get, "TlsDomainCapabilities") == "{mail.contoso.com:AcceptOorgProtocol}"
    assert property_of(get, "NotAppliedHere").startswith(
        "AuthMechanism: Integrated: Integrated Windows authentication (NTLM, Kerberos) isn't offered here")


@pytest.mark.parametrize("arguments, message", [
    ("-ExtendedProtectionPolicy Sometimes", "ExtendedProtectionPolicy: 'Sometimes' is not valid"),
    ("-TlsDomainCapabilities contoso.com", "TlsDomainCapabilities: 'contoso.com' must be domain:capability"),
    ("-TlsDomainCapabilities contoso.com:AcceptCloudServicesMail",
     "TlsDomainCapabilities: 'AcceptCloudServicesMail' is not valid; accepted values: AcceptOorgProtocol"),
    ("-DefaultDomain nowhere.example", "DefaultDomain: Accepted domain 'nowhere.example' couldn't be found"),
    ("-MaxAcknowledgementDelay 1.00:00:00", "MaxAcknowledgementDelay: 1.00:00:00 is outside the range"),
    ("-LongAddressesEnabled maybe", "LongAddressesEnabled: 'maybe' is not a Boolean"),
])
def test_it_refuses_bad_receive_connector_values_naming_the_parameter(hub, arguments, message):
    with pytest.raises(ShellError, match=message):
        ems(f"Set-ReceiveConnector 'HUB01\\Default HUB01' {arguments}")
    assert ReceiveConnector.objects.get(name="Default HUB01").version == 1


def test_it_refuses_long_addresses_on_an_edge(organization):
    from exchange_console.organization import setup

    setup.install_transport_server("EDGE01", "edge01.contoso.com", "Default-First-Site-Name", role="Edge")
    with pytest.raises(ShellError, match=r"LongAddressesEnabled: can't be \$true on an Edge Transport server"):
        ems("New-ReceiveConnector -Name Internet -Internet -Bindings 0.0.0.0:25 -LongAddressesEnabled $true")
    assert not ReceiveConnector.objects.filter(name="Internet").exists()


@pytest.mark.parametrize("noun, new", [
    ("SendConnector", "New-SendConnector X -AddressSpaces *"),
    ("ReceiveConnector", "New-ReceiveConnector X -Internet -Bindings 0.0.0.0:2600"),
    ("ForeignConnector", "New-ForeignConnector X -AddressSpaces FAX:*"),
])
def test_it_accepts_and_ignores_domain_controller_on_every_verb(hub, noun, new):
    dc = " -DomainController dc01.contoso.com"
    ems(new + dc)
    ems(f"Set-{noun} X -Comment changed{dc}")
    assert shell_lines(f"Get-{noun} X{dc} | Format-List Comment") == ["Comment : changed"]
    ems(f"Remove-{noun} X -Confirm:$false{dc}")
    model = {"SendConnector": SendConnector, "ReceiveConnector": ReceiveConnector,
             "ForeignConnector": ForeignConnector}[noun]
    assert not model.objects.filter(name="X").exists()

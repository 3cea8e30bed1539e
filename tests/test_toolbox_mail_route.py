"""Toolbox > Mail Route: Get-MailRoute's explanation as a page, the form's refusals naming their field."""
import pytest
from django.contrib.auth import get_user_model

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization import setup
from exchange_console.services import new_object

SITE = "Default-First-Site-Name"


@pytest.fixture
def console(db, client):
    setup.install_organization("Contoso", SITE)
    setup.ensure_accepted_domain("contoso.com")
    setup.install_transport_server("HUB01", "hub01.contoso.com", SITE)
    setup.ensure_mailbox("Ann", "ann@contoso.com", "Passw0rd!")
    new_object(SEND_CONNECTOR, {"Name": "ISP", "AddressSpaces": "*;5", "SmartHosts": "smtp.isp.example",
                                "DNSRoutingEnabled": False, "SourceTransportServers": ["HUB01"]})
    new_object(SEND_CONNECTOR, {"Name": "Backup", "AddressSpaces": "*;10", "SmartHosts": "backup.isp.example",
                                "DNSRoutingEnabled": False, "SourceTransportServers": ["HUB01"]})
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@contoso.com", "Corr3ct-Horse!"))
    return client


def test_it_explains_each_hop_with_every_connector_considered(console):
    page = console.get("/toolbox/mail-route/", {"recipient": "bob@fabrikam.example", "size": "1MB"}).content.decode()
    assert "Sent by HUB01 through &#x27;ISP&#x27; to smart host smtp.isp.example:25." in page
    assert "ISP: candidate: address space specificity" in page and "cost 5" in page
    assert "Backup: candidate: address space specificity" in page and "cost 10" in page


def test_it_takes_the_next_connector_by_cost_when_one_is_assumed_down(console):
    page = console.get("/toolbox/mail-route/", {"recipient": "bob@fabrikam.example", "assume": "ISP"}).content.decode()
    assert "Sent by HUB01 through &#x27;Backup&#x27;" in page and "assumed down" in page


def test_a_mailbox_and_an_unknown_recipient(console):
    assert "Delivered to the mailbox ann@contoso.com" in console.get(
        "/toolbox/mail-route/", {"recipient": "ann@contoso.com"}).content.decode()
    assert "550 5.1.1 RESOLVER.ADR.RecipNotFound" in console.get(
        "/toolbox/mail-route/", {"recipient": "nobody@contoso.com"}).content.decode()


def test_bad_input_is_refused_next_to_its_field(console):
    page = console.get("/toolbox/mail-route/", {"recipient": "not an address", "size": "huge"}).content.decode()
    assert page.count('role="alert"') == 2 and "Mail route" not in page.split("</form>")[1]


def test_get_mailroute_in_the_shell_takes_assumptions_as_exchange_admins_write_them(console):
    from tests.shell_helpers import shell

    [hop] = shell('Get-MailRoute -Sender ann@contoso.com -Recipient bob@fabrikam.example -Size 2MB '
                  '-Assume "Connector ISP down"')
    assert (hop.get("Server"), hop.get("Action"), hop.get("Connector")) == ("HUB01", "Route", "Backup")
    assert hop.get("NextHop") == "backup.isp.example:25" and hop.get("Tls") == "Opportunistic (STARTTLS when offered)"


def test_get_mailroute_names_a_bad_parameter(console):
    from exchange_console.shell.errors import ShellError
    from tests.shell_helpers import ems

    with pytest.raises(ShellError, match="Cannot bind parameter 'Recipient'"):
        ems("Get-MailRoute -Recipient nobody")
    with pytest.raises(ShellError, match="Cannot bind parameter 'Size'"):
        ems("Get-MailRoute -Recipient bob@fabrikam.example -Size lots")

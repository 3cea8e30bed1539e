"""Secrets (smart host passwords, mailbox passwords, certificate private keys) are never stored in clear,
never sent back to the browser, and never written to the audit log, the shell's output or the logs."""
import io
import logging

import pytest
import trustme
from django.core.management import call_command

from exchange_console.certificates.services import import_certificate
from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.schemas import MAILBOX
from exchange_console.services import acting_as, new_object, set_object

SMART_HOST_PASSWORD = "Smart-H0st-S3cret"
NEW_SMART_HOST_PASSWORD = "Changed-H0st-S3cret"
MAILBOX_PASSWORD = "Mailb0x-S3cret!"


@pytest.fixture
def private_key(hub):
    certificate = trustme.CA().issue_cert("hub01.contoso.com")
    pem = certificate.private_key_and_cert_chain_pem.bytes().decode()
    import_certificate(hub, pem)
    return certificate.private_key_pem.bytes().decode()


@pytest.fixture
def secrets_in_use(olga, hub, private_key, caplog):
    caplog.set_level(logging.DEBUG)
    with acting_as(olga, "192.0.2.10"):
        connector = new_object(SEND_CONNECTOR, {
            "Name": "ISP", "AddressSpaces": "*", "SmartHosts": "smtp.isp.example", "DNSRoutingEnabled": False,
            "SmartHostAuthMechanism": "BasicAuthRequireTLS", "AuthenticationCredential": ("relay", SMART_HOST_PASSWORD)})
        set_object(SEND_CONNECTOR, connector, {"AuthenticationCredential": ("relay", NEW_SMART_HOST_PASSWORD)})
        mailbox = new_object(MAILBOX, {"Name": "Kim", "PrimarySmtpAddress": "kim@contoso.com",
                                       "Password": MAILBOX_PASSWORD})
    return {"connector": connector, "mailbox": mailbox, "key": private_key, "hub": hub,
            "secrets": [SMART_HOST_PASSWORD, NEW_SMART_HOST_PASSWORD, MAILBOX_PASSWORD, key_body(private_key)]}


def key_body(pem):
    """A distinctive line of the private key's base64 body."""
    return pem.strip().splitlines()[1]


def assert_no_secret(text, secrets, where):
    for secret in secrets:
        assert secret not in text, f"a secret appears in {where}"


def test_the_database_holds_no_secret_in_clear(secrets_in_use):
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert_no_secret(dump.getvalue(), secrets_in_use["secrets"], "the database")
    assert SendConnector.objects.get().authentication_credential == ("relay", NEW_SMART_HOST_PASSWORD)


def test_no_page_sends_a_secret_to_the_browser(secrets_in_use, client, olga):
    client.force_login(olga)
    connector, mailbox = secrets_in_use["connector"], secrets_in_use["mailbox"]
    urls = ["/console/organization/hub-transport/send-connectors/", f"/console/properties/send-connector/{connector.pk}/",
            f"/console/properties/mailbox/{mailbox.pk}/", "/console/recipients/mailbox/", "/audit-log/",
            "/administrators/", f"/console/properties/transport-server/{secrets_in_use['hub'].pk}/"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_no_secret(response.content.decode(), secrets_in_use["secrets"], url)
    dialog = client.get(f"/console/properties/send-connector/{connector.pk}/").content.decode()
    assert "relay" in dialog            # the user name is shown, the password box stays empty


def test_the_shell_never_prints_a_secret(secrets_in_use):
    from exchange_console.shell.engine import Session
    from exchange_console.shell.host import BufferHost

    host = BufferHost()
    Session(host).run("Get-SendConnector | Format-List *; Get-Mailbox | Format-List *; "
                          "Get-ExchangeCertificate | Format-List *")
    assert "AuthenticationCredential" in host.output and "kim@contoso.com" in host.output
    assert_no_secret(host.output, secrets_in_use["secrets"], "the shell's output")


def test_the_audit_log_and_the_application_log_hold_no_secret(secrets_in_use, caplog):
    from exchange_console.accounts.models import AdminAuditEntry

    assert_no_secret(repr(list(AdminAuditEntry.objects.values())), secrets_in_use["secrets"], "the audit log")
    assert_no_secret(caplog.text, secrets_in_use["secrets"], "the application log")

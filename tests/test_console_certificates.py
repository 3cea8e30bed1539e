"""Server Configuration > server > Exchange Certificates: the self-signed certificate a server gets at
creation is replaced by an imported PEM, enabled for SMTP; bad input and the wrong role are refused."""
import pytest
import trustme

from exchange_console.accounts.models import AdminAuditEntry, RoleGroup, RoleGroupMember
from exchange_console.certificates.models import ExchangeCertificate

PAGE = "/servers/HUB01/certificates/"


@pytest.fixture
def pem():
    return trustme.CA().issue_cert("hub01.contoso.com", "mail.contoso.com").private_key_and_cert_chain_pem.bytes().decode()


def signed_in(client, django_user_model, role_group):
    user = django_user_model.objects.create_user("someone", password="Corr3ct-Horse!")
    RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(role_group))
    client.force_login(user)
    return client


def test_a_server_starts_with_its_self_signed_certificate_enabled(admin_client, hub):
    page = admin_client.get(PAGE).content.decode()
    (certificate,) = ExchangeCertificate.objects.filter(server=hub)
    assert certificate.is_self_signed and certificate.services == "SMTP"
    assert certificate.thumbprint in page and "Import Exchange Certificate" in page


def test_an_imported_certificate_replaces_it_for_smtp(client, django_user_model, hub, pem):
    client = signed_in(client, django_user_model, RoleGroup.SERVER_MANAGEMENT)
    response = client.post(PAGE, {"pem": pem, "enable_smtp": "on"})
    assert response.status_code == 302
    imported = ExchangeCertificate.objects.get(server=hub, is_self_signed=False)
    assert imported.services == "SMTP" and imported.certificate_domains == ["hub01.contoso.com", "mail.contoso.com"]
    assert ExchangeCertificate.objects.get(server=hub, is_self_signed=True).services == "None"
    assert AdminAuditEntry.objects.filter(cmdlet="Import-ExchangeCertificate", succeeded=True).exists()
    self_signed = ExchangeCertificate.objects.get(server=hub, is_self_signed=True)
    client.post(f"/servers/HUB01/certificates/{self_signed.pk}/enable/")
    assert ExchangeCertificate.objects.get(pk=self_signed.pk).services == "SMTP"


@pytest.mark.parametrize("text, message", [
    ("not a certificate", "The data doesn&#x27;t contain a PEM certificate."),
])
def test_bad_input_is_refused_beside_the_field(admin_client, hub, text, message):
    page = admin_client.post(PAGE, {"pem": text})
    assert page.status_code == 200 and message in page.content.decode()
    assert ExchangeCertificate.objects.filter(server=hub).count() == 1


def test_a_certificate_without_its_key_is_refused(admin_client, hub, pem):
    certificate_only = pem[pem.index("-----BEGIN CERTIFICATE-----"):]
    page = admin_client.post(PAGE, {"pem": certificate_only}).content.decode()
    assert "The data doesn&#x27;t contain an unencrypted private key." in page


def test_view_only_administrators_see_the_list_but_cannot_import(client, django_user_model, hub, pem):
    client = signed_in(client, django_user_model, RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT)
    page = client.get(PAGE).content.decode()
    assert "Import Exchange Certificate" not in page and "Enable for SMTP" not in page
    assert client.post(PAGE, {"pem": pem, "enable_smtp": "on"}).status_code == 403
    assert ExchangeCertificate.objects.filter(server=hub).count() == 1

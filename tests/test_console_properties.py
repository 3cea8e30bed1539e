"""Properties dialogs: every settable parameter reachable, only changes sent, concurrent edits refused."""
import pytest

from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.connectors.schemas import FOREIGN_CONNECTOR, SEND_CONNECTOR
from exchange_console.console.dialogs import TABS
from exchange_console.console.kinds import KINDS
from exchange_console.console.views import NEW_DIALOGS
from exchange_console.console.wizards import NewReceiveConnectorWizard, NewSendConnectorWizard
from exchange_console.organization.models import AcceptedDomain, RemoteDomain, TransportConfig, TransportServer
from exchange_console.organization.schemas import MAILBOX, TRANSPORT_CONFIG
from exchange_console.services import new_object, set_object
from tests.console_helpers import dialog_data, errors, rows, text


def dialog_url(kind, obj):
    return f"/console/properties/{kind}/{obj.pk}/"


@pytest.fixture
def connector(hub):
    return new_object(SEND_CONNECTOR, {"Name": "To Internet", "AddressSpaces": "*", "DNSRoutingEnabled": True})


def test_every_settable_parameter_is_reachable_from_a_dialog_or_a_wizard():
    wizard_fields = {name for wizard in (NewSendConnectorWizard, NewReceiveConnectorWizard)
                     for _, page in wizard.form_list for name in page.base_fields}
    new_dialog_fields = {spec.name for _, specs in NEW_DIALOGS.values() for spec in specs}
    for kind in KINDS.values():
        in_dialog = {spec.name for _, specs in TABS[kind.schema.noun] for spec in specs}
        settable = {param.name for param in kind.schema.params if param.settable}
        missing = settable - in_dialog - wizard_fields - new_dialog_fields - {"Server", "ServerRole"}
        assert not missing, (kind.schema.noun, missing)


def test_it_opens_with_the_stored_values_in_the_emc_words(admin_client, hub):
    connector = ReceiveConnector.objects.get(name="Default HUB01")
    page = admin_client.get(dialog_url("receive-connector", connector))
    content = text(page)
    for words in ("General", "Network", "Authentication", "Permission Groups", "Transport Layer Security (TLS)",
                  "Enable Domain Security (Mutual Auth TLS)", "Basic Authentication",
                  "Offer Basic authentication only after starting TLS", "Exchange Server authentication",
                  "Integrated Windows authentication", "Externally Secured", "Anonymous users", "Exchange users",
                  "Exchange servers", "Legacy Exchange Servers", "Partners", "OK", "Cancel", "Apply"):
        assert words in content, words
    assert 'value="0.0.0.0:2025"' in page.content.decode()
    assert 'value="10 MB (10,485,760 bytes)"' in page.content.decode()


def test_ok_sends_only_the_changes_and_shows_the_set_command(admin_client, connector):
    data = dialog_data("send-connector", connector, action="ok", MaxMessageSize="20MB", IsScopedConnector="on")
    response = admin_client.post(dialog_url("send-connector", connector), data)
    assert response.status_code == 302
    connector.refresh_from_db()
    assert connector.max_message_size == 20 * 1024 * 1024 and connector.is_scoped_connector
    page = text(admin_client.get(response.url))
    assert ("Exchange Management Shell command completed: Set-SendConnector 'To Internet' -IsScopedConnector $true "
            "-MaxMessageSize 20MB") in page


def test_apply_keeps_the_dialog_open_with_the_new_version(admin_client, connector):
    data = dialog_data("send-connector", connector, action="apply", Comment="primary route")
    page = admin_client.post(dialog_url("send-connector", connector), data, HTTP_HX_REQUEST="true")
    assert page.status_code == 200 and page["HX-Trigger"] == "configChanged"
    assert "Set-SendConnector 'To Internet' -Comment 'primary route'" in text(page)
    assert f'name="version" value="{connector.version + 1}"' in page.content.decode()


def test_an_error_shows_beside_the_field_and_keeps_the_input(admin_client, connector):
    data = dialog_data("send-connector", connector, action="ok", Port="70000", Comment="kept")
    page = admin_client.post(dialog_url("send-connector", connector), data)
    assert page.status_code == 200
    assert "Port: 70000 is outside the range 1 to 65535" in errors(page)
    assert 'id="id_Port_errors"' in page.content.decode()
    assert 'value="kept"' in page.content.decode() or "kept</textarea>" in page.content.decode()
    connector.refresh_from_db()
    assert connector.port == 25 and connector.comment == ""


def test_a_concurrent_change_is_refused_not_overwritten(admin_client, connector):
    data = dialog_data("send-connector", connector, action="ok", Comment="mine")
    set_object(SEND_CONNECTOR, connector, {"Comment": "theirs"})  # another administrator saves first
    page = admin_client.post(dialog_url("send-connector", connector), data)
    assert page.status_code == 200
    assert any("was changed by someone else after you opened it" in error for error in errors(page))
    connector.refresh_from_db()
    assert connector.comment == "theirs"


def test_smart_host_credentials_are_set_and_kept_when_the_password_is_left_empty(admin_client, connector):
    data = dialog_data("send-connector", connector, action="apply", DNSRoutingEnabled="False",
                       SmartHostAuthMechanism="BasicAuthRequireTLS", AuthenticationCredential="relay",
                       AuthenticationCredentialPassword="s3cret", **rows("SmartHosts", {"value": ["smtp.fabrikam.com"]}))
    page = admin_client.post(dialog_url("send-connector", connector), data)
    assert errors(page) == []
    connector.refresh_from_db()
    assert connector.authentication_credential == ("relay", "s3cret") and connector.smart_hosts == ["smtp.fabrikam.com"]
    data = dialog_data("send-connector", connector, action="ok", Comment="unchanged password")
    admin_client.post(dialog_url("send-connector", connector), data)
    connector.refresh_from_db()
    assert connector.authentication_credential == ("relay", "s3cret")


def test_the_receive_connector_authentication_and_permission_groups_tabs_save(admin_client, hub):
    connector = ReceiveConnector.objects.get(name="Client HUB01")
    data = dialog_data("receive-connector", connector, action="ok", AuthMechanism=["Tls"],
                       PermissionGroups=["AnonymousUsers", "ExchangeUsers"])
    response = admin_client.post(dialog_url("receive-connector", connector), data)
    assert response.status_code == 302, errors(response)
    connector.refresh_from_db()
    assert connector.auth_mechanism == ["Tls"]
    assert connector.permission_groups == ["AnonymousUsers", "ExchangeUsers"]


def test_a_rule_spanning_tabs_is_reported_by_parameter(admin_client, hub):
    connector = ReceiveConnector.objects.get(name="Client HUB01")
    data = dialog_data("receive-connector", connector, action="ok", AuthMechanism=["BasicAuthRequireTLS"])
    page = admin_client.post(dialog_url("receive-connector", connector), data)
    assert errors(page) == ["AuthMechanism: BasicAuthRequireTLS requires BasicAuth and Tls."]


def test_rows_are_added_and_removed_without_saving(admin_client, hub):
    connector = ReceiveConnector.objects.get(name="Default HUB01")
    data = dialog_data("receive-connector", connector, **{"rows-remove": "RemoteIPRanges:0"})
    page = admin_client.post(dialog_url("receive-connector", connector), data)
    assert 'value="0.0.0.0-255.255.255.255"' not in page.content.decode()
    connector.refresh_from_db()
    assert connector.remote_ip_ranges == ["0.0.0.0-255.255.255.255"]


@pytest.mark.parametrize("kind, get_object, change, check", [
    ("transport-config", lambda: TransportConfig.objects.get(),
     {"MaxReceiveSize": "25MB", **rows("TLSReceiveDomainSecureList", {"value": ["fabrikam.com"]})},
     lambda obj: obj.max_receive_size == 25 * 1024 * 1024 and obj.tls_receive_domain_secure_list == ["fabrikam.com"]),
    ("transport-server", lambda: TransportServer.objects.get(name="HUB01"),
     {"TransientFailureRetryCount": "10", **rows("ExternalDNSServers", {"value": ["127.0.0.1:5353"]}),
      "ReceiveProtocolLogPath": "Logs/Receive"},
     lambda obj: obj.transient_failure_retry_count == 10 and obj.external_dns_servers == ["127.0.0.1:5353"]
     and obj.receive_protocol_log_path == "Logs/Receive"),
    ("accepted-domain", lambda: AcceptedDomain.objects.get(), {"DomainType": "InternalRelay"},
     lambda obj: obj.domain_type == "InternalRelay"),
    ("remote-domain", lambda: RemoteDomain.objects.get(domain_name="*"),
     {"AutoReplyEnabled": "on", "ContentType": "MimeText", "LineWrapSize": "78"},
     lambda obj: obj.auto_reply_enabled and obj.content_type == "MimeText" and obj.line_wrap_size == 78),
    ("foreign-connector", lambda: new_object(FOREIGN_CONNECTOR, {"Name": "Fax", "AddressSpaces": "FAX:*;1"}),
     {"DropDirectory": "FaxOut", "DropDirectoryQuota": "100MB", "RelayDsnRequired": "on"},
     lambda obj: obj.drop_directory == "FaxOut" and obj.drop_directory_quota == 100 * 1024 * 1024
     and obj.relay_dsn_required),
])
def test_the_organization_and_server_dialogs_save(admin_client, hub, kind, get_object, change, check):
    obj = get_object()
    response = admin_client.post(dialog_url(kind, obj), dialog_data(kind, obj, action="ok", **change))
    assert response.status_code == 302, errors(response)
    obj.refresh_from_db()
    assert check(obj)


def test_the_transport_settings_dialog_lists_and_saves_the_internal_smtp_servers(admin_client, hub):
    config = set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {"InternalSMTPServers": "10.0.0.5"})
    page = admin_client.get(dialog_url("transport-config", config)).content.decode()
    assert "IP addresses of internal SMTP servers:" in page and 'value="10.0.0.5"' in page
    data = dialog_data("transport-config", config, action="ok",
                       **rows("InternalSMTPServers", {"value": ["10.0.0.5", "192.168.1.0/24"]}))
    response = admin_client.post(dialog_url("transport-config", config), data)
    assert response.status_code == 302, errors(response)
    config.refresh_from_db()
    assert config.internal_smtp_servers == ["10.0.0.5", "192.168.1.0/24"]


def test_the_remote_domain_and_transport_settings_dialogs_set_exchanges_other_parameters(admin_client, hub):
    domain = RemoteDomain.objects.get(domain_name="*")
    page = text(admin_client.get(dialog_url("remote-domain", domain)))
    assert "Allow external out-of-office messages only" in page and "Saved, but without effect here:" in page
    data = dialog_data("remote-domain", domain, action="ok", AllowedOOFType="ExternalLegacy",
                       TNEFEnabled="False", NonMimeCharacterSet="utf-8")
    response = admin_client.post(dialog_url("remote-domain", domain), data)
    assert response.status_code == 302, errors(response)
    domain.refresh_from_db()
    assert (domain.allowed_oof_type, domain.tnef_enabled, domain.non_mime_character_set) == (
        "ExternalLegacy", False, "utf-8")
    config = TransportConfig.objects.get()
    data = dialog_data("transport-config", config, action="ok", ExternalDsnSendHtml="",
                       **rows("GenerateCopyOfDSNFor", {"value": ["5.7.1", "5.7.2"]}))
    response = admin_client.post(dialog_url("transport-config", config), data)
    assert response.status_code == 302, errors(response)
    config.refresh_from_db()
    assert (config.generate_copy_of_dsn_for, config.external_dsn_send_html) == (["5.7.1", "5.7.2"], False)
    page = admin_client.get(dialog_url("transport-config", config)).content.decode()
    assert "Xexch50Enabled: no XEXCH50 (no Exchange 2003 servers)" in page


def test_a_mailbox_password_is_changed_only_when_typed(admin_client, hub):
    mailbox = new_object(MAILBOX, {"Name": "Kim", "PrimarySmtpAddress": "kim@contoso.com", "Password": "first one"})
    admin_client.post(dialog_url("mailbox", mailbox), dialog_data("mailbox", mailbox, action="ok"))
    mailbox.refresh_from_db()
    assert mailbox.check_password("first one") and mailbox.version == 1
    admin_client.post(dialog_url("mailbox", mailbox), dialog_data("mailbox", mailbox, action="ok",
                                                                 Password="second one"))
    mailbox.refresh_from_db()
    assert mailbox.check_password("second one")


def test_it_serves_the_dialog_alone_to_htmx(admin_client, connector):
    page = admin_client.get(dialog_url("send-connector", connector), HTTP_HX_REQUEST="true")
    assert page.content.decode().lstrip().startswith('<div class="modal-backdrop">')
    assert "<html" not in page.content.decode()


def test_it_requires_login_and_refuses_other_methods(client, admin_client, connector):
    response = client.get(dialog_url("send-connector", connector))
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert admin_client.put(dialog_url("send-connector", connector)).status_code == 405
    assert admin_client.get("/console/properties/no-such-kind/1/").status_code == 404
    assert admin_client.get(f"/console/properties/send-connector/{connector.pk + 100}/").status_code == 404


def test_it_leaves_an_unchanged_object_alone(admin_client, connector):
    response = admin_client.post(dialog_url("send-connector", connector),
                                 dialog_data("send-connector", connector, action="ok"))
    assert response.status_code == 302
    assert SendConnector.objects.get(pk=connector.pk).version == connector.version

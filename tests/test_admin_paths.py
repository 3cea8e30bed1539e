"""Folders stay where they belong: a foreign connector's drop directory under RootDropDirectoryPath however it is
set, and a server's drop and log folders under its data folder unless Organization Management moves them."""
import re

import pytest
from django.conf import settings

from exchange_console.accounts.models import AdminAuditEntry, RoleGroup, RoleGroupMember
from exchange_console.connectors.models import ForeignConnector
from exchange_console.connectors.schemas import FOREIGN_CONNECTOR
from exchange_console.organization.models import TransportServer
from transport.queue.models import DeliveryQueue, DeliveryType, QueuedMessage, QueueStatus
from exchange_console.services import new_object
from exchange_console.shell.errors import ShellError
from tests.console_helpers import dialog_data, errors
from tests.shell_helpers import ems
from tests.test_send_delivery import org, store_ids, submit, tasks  # noqa: F401 (fixtures)

OUTSIDE_ROOT = "Name: '../../x' must be a folder under the server's RootDropDirectoryPath (no '..' or drive)"


@pytest.fixture
def sam(django_user_model, hub):
    """Server Management for HUB01."""
    user = django_user_model.objects.create_user("sam", password="Corr3ct-Horse!")
    member = RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(RoleGroup.SERVER_MANAGEMENT))
    member.servers.set([hub])
    return user


# --- DropDirectory ---------------------------------------------------------------------------------------------

def test_it_refuses_a_new_foreign_connector_whose_name_would_be_a_drop_directory_outside_the_root(olga):
    with pytest.raises(ShellError) as refused:
        ems("New-ForeignConnector -Name '../../x' -AddressSpaces 'FAX:*;1'", user=olga)
    assert OUTSIDE_ROOT in str(refused.value)
    assert "the drop directory defaults to the Name, so choose another Name or set DropDirectory" in str(refused.value)
    assert not ForeignConnector.objects.exists()
    assert AdminAuditEntry.objects.get().error.startswith(OUTSIDE_ROOT)


def test_it_accepts_such_a_name_with_a_drop_directory_of_its_own(olga):
    ems("New-ForeignConnector -Name '../../x' -AddressSpaces 'FAX:*;1' -DropDirectory Fax", user=olga)
    assert ForeignConnector.objects.get().drop_directory == "Fax"


def test_it_refuses_a_rename_when_the_name_is_the_drop_directory(olga):
    ems("New-ForeignConnector Fax -AddressSpaces 'FAX:*;1'\n"
        "Set-ForeignConnector Fax -DropDirectory $null", user=olga)
    with pytest.raises(ShellError, match=OUTSIDE_ROOT.replace("(", r"\(").replace(")", r"\)")):
        ems("Set-ForeignConnector Fax -Name '../../x'", user=olga)
    assert ForeignConnector.objects.get().name == "Fax"


@pytest.mark.parametrize("drop_directory", ["../../x", "/etc", "C:\\Windows"])
def test_it_refuses_a_drop_directory_outside_the_root(olga, drop_directory):
    ems("New-ForeignConnector Fax -AddressSpaces 'FAX:*;1'", user=olga)
    with pytest.raises(ShellError, match=f"DropDirectory: '.*' must be a folder under the server's "
                                         f"RootDropDirectoryPath"):
        ems(f"Set-ForeignConnector Fax -DropDirectory '{drop_directory}'", user=olga)
    assert ForeignConnector.objects.get().drop_directory == "Fax"


@pytest.mark.parametrize("row", [{"drop_directory": "../../../outside"},
                                 {"name": "../../../outside", "drop_directory": ""}], ids=["DropDirectory", "Name"])
def test_it_writes_no_drop_file_outside_the_root_whatever_the_database_holds(org, tasks, tmp_path, row):  # noqa: F811
    new_object(FOREIGN_CONNECTOR, {"Name": "Fax", "AddressSpaces": "fax.contoso.com"})
    ForeignConnector.objects.update(**row)           # a row saved before the schema refused it
    submit(tasks, ["+15551234@fax.contoso.com"])
    queue = DeliveryQueue.objects.get(delivery_type=DeliveryType.NON_SMTP_GATEWAY)
    assert queue.status == QueueStatus.RETRY     # the queue says why it waits, as Get-Queue shows it
    assert re.match(r"451 The drop directory .* is outside RootDropDirectoryPath .*HUB01/TransportRoles/Drop",
                    queue.last_error)
    assert not (tmp_path / "outside").exists()
    assert [path for path in tmp_path.rglob("*.eml")] == []
    assert QueuedMessage.objects.count() == 1 and len(store_ids()) == 1   # the message waits in its queue

    ForeignConnector.objects.update(drop_directory="Fax")       # corrected, then Retry-Queue: the message goes out
    DeliveryQueue.objects.update(next_retry_time=None)
    runtime = tasks.runtime("HUB01")
    runtime.reload()   # what the worker does when a change is pushed to it
    runtime.queue_manager.deliver(DeliveryQueue.objects.get(delivery_type=DeliveryType.NON_SMTP_GATEWAY).id)
    root = settings.EXCHANGE_DATA_DIR / "HUB01" / "TransportRoles" / "Drop"
    assert [path.parent for path in tmp_path.rglob("*.eml")] == [root / "Fax"]


# --- Server folders ------------------------------------------------------------------------------------------

SERVER_FOLDERS = ["RootDropDirectoryPath", "ReceiveProtocolLogPath", "SendProtocolLogPath", "MessageTrackingLogPath"]


@pytest.mark.parametrize("parameter", SERVER_FOLDERS)
def test_server_management_cant_point_a_server_folder_outside_its_data_folder(sam, parameter):
    with pytest.raises(ShellError) as refused:
        ems(f"Set-TransportServer HUB01 -{parameter} /etc", user=sam)
    data_folder = settings.EXCHANGE_DATA_DIR / "HUB01"
    assert (f"{parameter}: '/etc' is outside the server's data folder {data_folder}; only Organization Management "
            f"can put a server's folders elsewhere.") in str(refused.value)
    assert TransportServer.objects.get(name="HUB01").version == 1
    assert not AdminAuditEntry.objects.get().succeeded


@pytest.mark.parametrize("parameter", SERVER_FOLDERS)
def test_server_management_moves_a_server_folder_within_its_data_folder(sam, parameter):
    inside = settings.EXCHANGE_DATA_DIR / "HUB01" / "Moved"
    ems(f"Set-TransportServer HUB01 -{parameter} Elsewhere\n"
        f"Set-TransportServer HUB01 -{parameter} '{inside}'", user=sam)
    assert TransportServer.objects.get(name="HUB01").version == 3


@pytest.mark.parametrize("parameter", SERVER_FOLDERS)
def test_organization_management_may_put_a_server_folder_anywhere(olga, sam, parameter):
    ems(f"Set-TransportServer HUB01 -{parameter} /srv/exchange", user=olga)
    ems("Set-TransportServer HUB01 -MessageRetryInterval 00:02:00", user=sam)     # keeps what olga set
    server = TransportServer.objects.get(name="HUB01")
    assert server.version == 3 and "/srv/exchange" in [getattr(server, field) for field in (
        "root_drop_directory_path", "receive_protocol_log_path", "send_protocol_log_path",
        "message_tracking_log_path")]


def test_the_server_dialog_shows_the_refusal_beside_the_field(client, sam, hub):
    client.force_login(sam)
    url = f"/console/properties/transport-server/{hub.pk}/"
    page = client.post(url, dialog_data("transport-server", hub, action="ok", RootDropDirectoryPath="/etc"))
    assert page.status_code == 200
    assert (f"RootDropDirectoryPath: '/etc' is outside the server's data folder {hub.data_directory}; only "
            f"Organization Management can put a server's folders elsewhere.") in errors(page)
    assert 'id="id_RootDropDirectoryPath_errors"' in page.content.decode()
    response = client.post(url, dialog_data("transport-server", hub, action="ok", RootDropDirectoryPath="Drop"))
    assert response.status_code == 302
    assert TransportServer.objects.get(pk=hub.pk).root_drop_directory_path == "Drop"

"""-WhatIf on New-/Set-/Remove- (checks the change, prints `What if:`, changes nothing) and Exchange's
confirmation prompt for Remove- (and -Confirm) and the prompt for missing mandatory parameters, on a terminal
and where the shell can't ask."""
import pytest

from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.organization.models import AcceptedDomain, Mailbox
from exchange_console.shell.errors import ShellError
from exchange_console.shell.host import CHOICES
from tests.shell_helpers import ems, lines


@pytest.fixture
def two_connectors(hub):
    ems("New-SendConnector 'To Internet' -AddressSpaces *; New-SendConnector 'To Fabrikam' -AddressSpaces fabrikam.com")
    return SendConnector.objects.order_by("name")


@pytest.mark.parametrize("command, message", [
    ("New-SendConnector 'To Contoso' -AddressSpaces contoso.com -WhatIf",
     'What if: Creating Send connector "To Contoso".'),
    ("Set-SendConnector 'To Internet' -MaxMessageSize 1GB -WhatIf", 'What if: Setting Send connector "To Internet".'),
    ("Remove-SendConnector 'To Internet' -WhatIf", 'What if: Removing Send connector "To Internet".'),
    ("Set-ReceiveConnector 'HUB01\\Default HUB01' -Enabled $false -WhatIf",
     'What if: Setting Receive connector "HUB01\\Default HUB01".'),
    ("Remove-ReceiveConnector 'HUB01\\Client HUB01' -WhatIf",
     'What if: Removing Receive connector "HUB01\\Client HUB01".'),
    ("New-AcceptedDomain Fabrikam -DomainName fabrikam.com -WhatIf", 'What if: Creating accepted domain "Fabrikam".'),
    ("Set-TransportConfig -MaxSendSize 1MB -WhatIf", 'What if: Setting transport configuration "Transport Settings".'),
])
def test_it_prints_what_if_and_changes_nothing(two_connectors, command, message):
    before = list(SendConnector.objects.values_list("name", "max_message_size", "version"))
    receive_before = list(ReceiveConnector.objects.values_list("name", "enabled", "version"))
    assert lines(ems(command)) == [message]
    assert list(SendConnector.objects.values_list("name", "max_message_size", "version")) == before
    assert list(ReceiveConnector.objects.values_list("name", "enabled", "version")) == receive_before
    assert AcceptedDomain.objects.count() == 1


def test_it_reports_a_refused_change_instead_of_what_if(two_connectors):
    with pytest.raises(ShellError) as raised:
        ems("Set-SendConnector 'To Internet' -DomainSecureEnabled $true -IgnoreSTARTTLS $true -WhatIf")
    assert raised.value.message.startswith("DomainSecureEnabled: requires IgnoreSTARTTLS $false")


def test_it_prints_what_if_for_each_piped_object(two_connectors):
    assert lines(ems("Get-SendConnector | Remove-SendConnector -WhatIf")) == [
        'What if: Removing Send connector "To Fabrikam".', 'What if: Removing Send connector "To Internet".']
    assert SendConnector.objects.count() == 2


def test_it_refuses_to_remove_without_confirmation_when_it_cant_prompt(two_connectors):
    with pytest.raises(ShellError) as raised:
        ems("Remove-SendConnector 'To Internet'")
    assert raised.value.message == ("Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is "
                                    "not available. Add -Confirm:$false to run it without confirmation.")
    assert SendConnector.objects.count() == 2


def test_it_asks_before_removing_on_a_terminal(two_connectors):
    output = ems("Remove-SendConnector 'To Internet'", answers=["y"])
    assert lines(output) == ["Confirm", "Are you sure you want to perform this action?",
                                  'Removing Send connector "To Internet".', CHOICES]
    assert list(SendConnector.objects.values_list("name", flat=True)) == ["To Fabrikam"]


@pytest.mark.parametrize("answers, remaining", [
    (["n", "y"], ["To Fabrikam"]),      # skip the first, remove the second
    (["a"], []),                        # yes to all: one question for both
    (["l"], ["To Fabrikam", "To Internet"]),  # no to all
    (["?", "", "n"], ["To Internet"]),  # help, then the default (Yes) for the first; no for the second
])
def test_it_takes_exchanges_confirmation_answers(two_connectors, answers, remaining):
    ems("Get-SendConnector | Remove-SendConnector", answers=answers)
    assert list(SendConnector.objects.values_list("name", flat=True)) == remaining


def test_it_asks_before_a_set_when_confirm_is_given(two_connectors):
    output = ems("Set-SendConnector 'To Internet' -Enabled $false -Confirm", answers=["n"])
    assert 'Setting Send connector "To Internet".' in output
    assert SendConnector.objects.get(name="To Internet").enabled is True


def test_it_stops_the_command_when_the_prompt_is_closed(two_connectors):
    with pytest.raises(ShellError) as raised:
        ems("Remove-SendConnector 'To Internet'", answers=[])
    assert raised.value.message == "The pipeline has been stopped."
    assert SendConnector.objects.count() == 2


def test_it_asks_for_missing_mandatory_parameters_on_a_terminal(hub):
    output = ems("New-Mailbox -PrimarySmtpAddress chris@contoso.com", answers=["Chris Ashton", "Pa$$w0rd"])
    assert lines(output)[:4] == ["cmdlet New-Mailbox at command pipeline position 1",
                                      "Supply values for the following parameters:", "Name: ", "Password: "]
    mailbox = Mailbox.objects.get()
    assert mailbox.name == "Chris Ashton" and mailbox.check_password("Pa$$w0rd")


def test_it_refuses_an_empty_answer_for_a_mandatory_parameter(hub):
    with pytest.raises(ShellError) as raised:
        ems("New-SendConnector -AddressSpaces *", answers=[""])
    assert raised.value.message == "Cannot process command because of one or more missing mandatory parameters: Name."

"""The cmdlet table: apps add cmdlets without touching the engine, names are unique, parameters resolve by
exact name or unambiguous prefix."""
import pytest

from exchange_console.shell.errors import ParameterBindingError
from exchange_console.shell.registry import CMDLETS, Cmdlet, Parameter, Registry


def test_it_finds_cmdlets_that_other_apps_register_in_their_cmdlets_module():
    assert CMDLETS.find("get-queue").name == "Get-Queue"  # exchange_console/queues/cmdlets.py
    assert CMDLETS.find("fl").name == "Format-List"
    assert CMDLETS.find("Get-SendConnector").name == "Get-SendConnector"


def test_it_refuses_a_name_registered_twice():
    registry = Registry()
    registry.add(Cmdlet("Get-Thing", lambda invocation: [], aliases=("gt",)))
    with pytest.raises(ValueError, match="The cmdlet name GT is registered twice"):
        registry.add(Cmdlet("Get-Other", lambda invocation: [], aliases=("GT",)))


def test_it_resolves_a_parameter_by_exact_name_before_a_prefix():
    command = Cmdlet("Set-Thing", lambda invocation: [],
                     (Parameter("Port"), Parameter("PortRange"), Parameter("Name")))
    assert command.parameter("port").name == "Port"
    assert command.parameter("n").name == "Name"
    with pytest.raises(ParameterBindingError, match="is ambiguous. Possible matches include: -Port -PortRange."):
        command.parameter("Po")

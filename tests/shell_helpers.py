"""Running Exchange Management Shell lines in the test's own process (its database, its transaction): what the
administrator's screen shows (`ems`), or the objects a pipeline outputs (`shell`). The `manage.py ems` process
is driven by tests/test_shell_ems_command.py."""
from contextlib import nullcontext

from exchange_console.services import acting_as
from exchange_console.shell.engine import Session
from exchange_console.shell.host import BufferHost


def ems(text, answers=None, user=None):
    """What the shell writes for `text`, formatted as on screen. `answers` reply to its prompts in turn (without
    them it can't prompt, as off a terminal); with a `user` it runs as that administrator, checked and audited."""
    host = BufferHost(answers)
    with acting_as(user, "EMS") if user else nullcontext():
        Session(host).run(text)
    return host.output


def shell(text, host=None):
    """The objects `text` outputs, unformatted; pass a BufferHost to read its warnings afterwards."""
    return Session(host or BufferHost()).execute(text)


def lines(text):
    """The non-blank lines of what the shell wrote."""
    return [line for line in text.splitlines() if line.strip()]


def shell_lines(text):
    """The non-blank lines the shell writes for `text`, stripped (list output, whatever its column widths)."""
    return [line.strip() for line in lines(ems(text))]

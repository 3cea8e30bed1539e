"""`manage.py ems`: the Exchange Management Shell.

    manage.py ems                      the `[PS] C:\\>` prompt, with history; Ctrl-D or `exit` leaves
    manage.py ems -c "<commands>"      run one command line
    manage.py ems -f script.ps1        run a script
    ... | manage.py ems                run the script read from standard input
    manage.py ems --user NAME ...      act as that console administrator: role groups decide what may be
                                       changed and the admin audit log records it (origin EMS); without
                                       --user, the administrator named like the operating-system user

Output goes to stdout; errors, warnings and -Verbose/-Debug lines to stderr. With -c, -f or piped input the
exit status is 0 when the script ran to its end and 1 at the first error that stops it: any error, unless
-ErrorAction or $ErrorActionPreference says Continue or SilentlyContinue (or a catch takes it); `exit N` ends
with status N.
"""
import getpass
import sys
import traceback
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from exchange_console.accounts.rbac import can_view
from exchange_console.services import acting_as
from exchange_console.shell.engine import Session
from exchange_console.shell.errors import ExitRequested, ParseError, ShellError
from exchange_console.shell.host import Host
from exchange_console.shell.parser import parse
from exchange_console.shell.registry import CMDLETS

PROMPT = "[PS] C:\\>"
CONTINUATION = ">> "
HISTORY_FILE = ".ems_history"
HISTORY_LENGTH = 1000


class Command(BaseCommand):
    help = "The Exchange Management Shell: an interactive prompt, or -c COMMANDS, or -f SCRIPT."
    requires_system_checks = []

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group()
        source.add_argument("-c", "--command", help="run this command line and exit")
        source.add_argument("-f", "--file", help="run this script (.ps1) and exit")
        parser.add_argument("--user", default=getpass.getuser(),
                            help="the console administrator to act as (default: the operating-system user's name)")

    def handle(self, *args, command=None, file=None, user=None, **options):
        with acting_as(administrator(user), "EMS"):
            self.run_shell(command, file)

    def run_shell(self, command, file):
        interactive = sys.stdin.isatty()
        session = Session(Host(sys.stdout, sys.stderr, interactive=interactive))
        if command is not None:
            status = run(session, command)
        elif file is not None:
            status = run(session, read_script(file), origin=file)
        elif interactive:
            status = interact(session)
        else:
            status = run(session, sys.stdin.read())
        if status:
            sys.exit(status)


def administrator(username):
    """The account the shell acts as; it must belong to a management role group, as in the console."""
    try:
        user = get_user_model().objects.get(username=username, is_active=True)
    except get_user_model().DoesNotExist:
        raise CommandError(f"There is no console administrator named '{username}'. Name one with --user.") from None
    if not can_view(user):
        raise CommandError(f"'{username}' isn't a member of any management role group.")
    return user


def read_script(path):
    try:
        return Path(path).read_text(encoding="utf-8-sig")  # scripts saved on Windows often start with a BOM
    except OSError as error:
        raise CommandError(f"The script '{path}' can't be read: {error.strerror}.") from None


def run(session, text, origin="line"):
    """Run text; the exit status: 0, 1 after an error (reported on stderr), or the code of `exit`."""
    try:
        session.run(text, origin)
        return 0
    except ExitRequested as request:
        return request.code
    except ShellError as error:
        report(error, text, origin)
        return 1


def report(error, text, origin="line"):
    sys.stdout.flush()
    sys.stderr.write(error.render(text, origin) + "\n")
    sys.stderr.flush()


def interact(session):
    """The prompt until Ctrl-D (status 0) or `exit` (its code); errors are reported and the prompt returns."""
    history = load_history()
    try:
        while True:
            try:
                text = read_command()
            except EOFError:
                sys.stdout.write("\n")
                return 0
            except KeyboardInterrupt:
                sys.stdout.write("\n")
                continue
            try:
                session.run(text)
            except ExitRequested as request:
                return request.code
            except ShellError as error:
                report(error, text)
            except KeyboardInterrupt:  # Ctrl-C stops the running command, not the shell
                sys.stdout.write("\n")
            except Exception:  # a fault in the shell itself: show it, keep the admin's session
                traceback.print_exc()
    finally:
        save_history(history)


def read_command():
    """One command, reading `>>` continuation lines while it is incomplete (an open brace, string or pipe);
    an empty line ends the continuation, as in PowerShell."""
    text = input(PROMPT)
    while True:
        try:
            parse(text)
            return text
        except ParseError as error:
            if not error.incomplete:
                return text
        more = input(CONTINUATION)
        if not more.strip():
            return text
        text += "\n" + more


def completions(line, text):
    """Tab completion: cmdlet names for a command's first word, then that cmdlet's -Parameters."""
    for separator in "|;({":
        line = line.rpartition(separator)[2]
    words = line.split()
    if text.startswith("-") and words:
        cmdlet = CMDLETS.find(words[0])
        names = [f"-{param.name}" for param in cmdlet.parameters] if cmdlet else []
    elif not words or (len(words) == 1 and not line.endswith(" ")):
        names = [cmdlet.name for cmdlet in CMDLETS]
    else:
        names = []
    return sorted(name for name in names if name.lower().startswith(text.lower()))


def load_history():
    """Readline history from ~/.ems_history, and tab completion of cmdlets and parameters."""
    try:
        import readline
    except ImportError:  # history is a convenience; the shell works without it
        return None
    readline.set_completer_delims(" \t\n;|(){}")
    readline.set_completer(lambda text, state: (completions(readline.get_line_buffer()[:readline.get_endidx()],
                                                            text) + [None])[state])
    readline.parse_and_bind("tab: complete")
    path = Path.home() / HISTORY_FILE
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(HISTORY_LENGTH)
    return path


def save_history(path):
    if path is None:
        return
    import readline

    try:
        readline.write_history_file(path)
    except OSError:
        pass

"""The shell's host: where output, warnings and prompts go. The `ems` command uses the process's terminal;
the console and tests give their own streams and answers."""
import getpass
import io
import sys
from contextlib import contextmanager

from exchange_console.shell.errors import NonInteractiveError, ShellError

CHOICES = '[Y] Yes  [A] Yes to All  [N] No  [L] No to All  [?] Help (default is "Y"): '
CHOICE_HELP = ("Y - Continue with only the next step of the operation.\n"
               "A - Continue with all the steps of the operation.\n"
               "N - Skip this operation and proceed with the next operation.\n"
               "L - Skip this operation and all subsequent operations.")


class Host:
    def __init__(self, out=None, err=None, interactive=False, read_line=input, read_secret=getpass.getpass):
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.interactive = interactive
        self._read_line, self._read_secret = read_line, read_secret
        # What the running cmdlet's -WarningAction, -Verbose, -Debug and -WarningVariable ask for.
        self.warning_action, self.show_verbose, self.show_debug, self.kept_warnings = "Continue", False, False, None
        self.before_write = None  # the session writes the output it holds before the host writes anything else

    @contextmanager
    def preferences(self, warning_action, verbose, debug, warnings):
        """The common parameters' preferences for one cmdlet run; commands it runs in turn inherit them."""
        saved = self.warning_action, self.show_verbose, self.show_debug, self.kept_warnings
        self.warning_action = warning_action or self.warning_action
        self.show_verbose, self.show_debug = verbose or self.show_verbose, debug or self.show_debug
        self.kept_warnings = warnings
        try:
            yield
        finally:
            self.warning_action, self.show_verbose, self.show_debug, self.kept_warnings = saved

    def write(self, text=""):
        self._write_pending()
        self.out.write(text + "\n")
        self.out.flush()

    def _write_pending(self):
        if self.before_write:
            self.before_write()

    def warn(self, text):
        if self.kept_warnings is not None:
            self.kept_warnings.append(text)
        if self.warning_action == "SilentlyContinue":
            return
        if self.warning_action in ("Stop", "Inquire"):
            raise ShellError(f'The running command stopped because the preference variable "WarningPreference" or '
                             f'common parameter is set to Stop: {text}')
        self._write_err(f"WARNING: {text}")

    def verbose(self, text):
        if self.show_verbose:
            self._write_err(f"VERBOSE: {text}")

    def debug(self, text):
        if self.show_debug:
            self._write_err(f"DEBUG: {text}")

    def error(self, text):
        """An error the script goes on after (-ErrorAction Continue)."""
        self._write_err(text)

    def _write_err(self, text):
        self._write_pending()
        self.out.flush()
        self.err.write(text + "\n")
        self.err.flush()

    def read_line(self, prompt, hint=""):
        if not self.interactive:
            raise NonInteractiveError(hint)
        return self._ask(self._read_line, prompt)

    def read_secret(self, prompt, hint=""):
        if not self.interactive:
            raise NonInteractiveError(hint)
        return self._ask(self._read_secret, prompt)

    def _ask(self, read, prompt):
        self._write_pending()
        self.out.flush()
        try:
            return read(prompt)
        except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C at a prompt stops the command
            raise ShellError("The pipeline has been stopped.") from None


class Confirmation:
    """Exchange's confirmation prompt for one cmdlet run; "Yes to All" / "No to All" last for that run."""

    def __init__(self, host, hint):
        self.host, self.hint, self.answer_for_all = host, hint, None

    def ask(self, action):
        if self.answer_for_all is not None:
            return self.answer_for_all
        self.host.write(f"\nConfirm\nAre you sure you want to perform this action?\n{action}")
        while True:
            answer = (self.host.read_line(CHOICES, self.hint).strip().lower() or "y")[:1]
            if answer in ("a", "l"):
                self.answer_for_all = answer == "a"
                return self.answer_for_all
            if answer in ("y", "n"):
                return answer == "y"
            self.host.write(CHOICE_HELP)


class BufferHost(Host):
    """Output kept in memory and prompts answered from a list given in advance (the console, tests).
    Without answers the host can't prompt, as when the shell isn't on a terminal."""

    def __init__(self, answers=None):
        self.answers = list(answers or [])
        super().__init__(io.StringIO(), io.StringIO(), interactive=answers is not None,
                         read_line=self._answer, read_secret=self._answer)

    def _answer(self, prompt):
        self.out.write(prompt + "\n")
        if not self.answers:
            raise EOFError(prompt)
        return self.answers.pop(0)

    @property
    def output(self):
        return self.out.getvalue()

    @property
    def warnings(self):
        return self.err.getvalue()

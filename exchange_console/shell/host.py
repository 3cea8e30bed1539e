"""The shell's host: where output, warnings and prompts go. The `ems` command uses the process's terminal;
the console and tests give their own streams and answers."""
import getpass
import sys

from exchange_console.shell.errors import NonInteractiveError

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

    def write(self, text=""):
        self.out.write(text + "\n")
        self.out.flush()

    def warn(self, text):
        self.err.write(f"WARNING: {text}\n")
        self.err.flush()

    def read_line(self, prompt, hint=""):
        if not self.interactive:
            raise NonInteractiveError(hint)
        self.out.flush()
        return self._read_line(prompt)

    def read_secret(self, prompt, hint=""):
        if not self.interactive:
            raise NonInteractiveError(hint)
        self.out.flush()
        return self._read_secret(prompt)


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

"""Errors as the Exchange Management Shell reports them: `Cmdlet : message`, then where in the line it happened.

Messages follow PowerShell 2.0 and Exchange 2010 wording, so scripts and admins that look for them find them.
"""
from exchange_console.shell.values import PSObject


class ShellError(Exception):
    """A terminating error. `end` is the offset just after the offending token (PowerShell marks it `<<<<`)."""

    # The .NET exception types a `catch [Type]` names to catch it.
    exception_types = ("System.Management.Automation.RuntimeException", "System.SystemException",
                       "System.Exception")

    def __init__(self, message, end=None, command=None):
        super().__init__(message)
        self.message, self.end, self.command = message, end, command
        self.output = []  # what the statements before it output, on its way up to a catch or the script's end

    def located(self, end, command):
        """Fill in the place and command if the code that raised didn't know them."""
        if self.end is None:
            self.end = end
        if self.command is None:
            self.command = command
        return self

    def render(self, source, origin="line"):
        """The text PowerShell prints: message, `At line:N char:M` and the line with a `<<<<` marker."""
        head = f"{self.command} : {self.message}" if self.command else self.message
        if self.end is None or source is None:
            return head
        line_start = source.rfind("\n", 0, self.end) + 1
        line_end = source.find("\n", self.end)
        line_end = len(source) if line_end == -1 else line_end
        line_number = source.count("\n", 0, self.end) + 1
        where = f"At line:{line_number}" if origin == "line" else f"At {origin}:{line_number}"
        before, after = source[line_start:self.end], source[self.end:line_end]
        return f"{head}\n{where} char:{self.end - line_start + 1}\n+ {before} <<<< {after}".rstrip()


class ParseError(ShellError):
    """The text isn't valid syntax. `incomplete` means more input could complete it (the prompt shows `>>`)."""

    def __init__(self, message, end, incomplete=False):
        super().__init__(message, end)
        self.incomplete = incomplete


class CommandNotFoundError(ShellError):
    exception_types = ("System.Management.Automation.CommandNotFoundException",
                       "System.Management.Automation.RuntimeException", "System.Exception")
    def __init__(self, name, end):
        super().__init__(
            f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
            f"program. Check the spelling of the name, or if a path was included, verify that the path is correct "
            f"and try again.", end)


class ParameterBindingError(ShellError):
    exception_types = ("System.Management.Automation.ParameterBindingException",
                       "System.Management.Automation.RuntimeException", "System.Exception")


class ObjectNotFoundError(ShellError):
    exception_types = ("Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                       "Microsoft.Exchange.Data.LocalizedException", "System.Exception")
    def __init__(self, identity, location):
        super().__init__(f"The operation couldn't be performed because object '{identity}' couldn't be found on "
                         f"'{location}'.")


class AmbiguousIdentityError(ShellError):
    exception_types = ("Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
                       "Microsoft.Exchange.Data.LocalizedException", "System.Exception")
    def __init__(self, identity):
        super().__init__(f"The operation couldn't be performed because '{identity}' matches multiple entries.")


class NonInteractiveError(ShellError):
    def __init__(self, hint=""):
        super().__init__("Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not "
                         "available." + (f" {hint}" if hint else ""))


class ErrorRecord(PSObject):
    """An error as $Error and -ErrorVariable hold it; scripts read `$Error[0].Exception.Message`."""

    def __init__(self, error):
        super().__init__({"Exception": ExceptionRecord(error.message), "TargetObject": None,
                          "FullyQualifiedErrorId": f"{type(error).__name__},{error.command or ''}".rstrip(",")})
        self.error = error

    def __str__(self):
        return self.error.message

    def caught_by(self, written):
        """Whether `catch [written]` catches this error (by full name or the last part of it, as written)."""
        written = written.strip().lower()
        return any(name.lower() == written or name.lower().endswith("." + written)
                   for name in self.error.exception_types)


class ExceptionRecord(PSObject):
    def __init__(self, message):
        super().__init__({"Message": message})

    def __str__(self):
        return self.get("Message")


class ExitRequested(Exception):
    """`exit [code]`: the script or the interactive shell ends with that status."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code

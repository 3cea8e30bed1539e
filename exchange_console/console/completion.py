"""Running a change from the console and showing what it amounted to, as the EMC's completion page does:
the summary, "Exchange Management Shell command completed:" (or "attempted:" with the error) and the
elapsed time. Results are kept in the session, so the completion page survives a reload and back/forward.
"""
import hashlib
import secrets
import time
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.urls import reverse

from exchange_console.lib.errors import ParameterError
from exchange_console.params import parse_param
from exchange_console.services import ConfigurationError, forcing, new_object, preview, remove_object, set_object
from exchange_console.shell.render import render_command

KEPT_RESULTS = 10
ERROR = "Error"   # a finding's severity that would break mail flow (exchange_console.insight.checks)
CONFIRMATION = "Save this change although it breaks mail flow"


@dataclass
class Result:
    succeeded: bool
    command: str
    error: str = ""
    obj: object = None
    url: str = ""
    refusal: ConfigurationError = None


def summary(schema, values):
    """(parameter, value as Get- shows it) for the values the change gives (as given, for a cmdlet's own
    parameters that aren't the object's)."""
    lines = []
    for name, value in values.items():
        try:
            param = schema.param(name)
            lines.append((param.name, param.type.format(parse_param(param.name, param.type, value))))
        except ParameterError:
            lines.append((name, str(value)))
    return lines


def command_line(verb, schema, values, identity=None):
    """The command; values the parsers refuse are left out (the error says which)."""
    try:
        return render_command(verb, schema, values, identity=identity)
    except ParameterError as error:
        rest = {name: value for name, value in values.items() if name.lower() != error.parameter.lower()}
        return command_line(verb, schema, rest, identity) if len(rest) < len(values) else f"{verb}-{schema.noun}"


def elapsed(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600:02}:{seconds % 3600 // 60:02}:{seconds % 60:02}"


def change_of(verb, schema, values, obj=None, expected_version=None, change=None):
    """The service call a console change amounts to."""
    if change is not None:
        return lambda: change() or obj
    if verb == "New":
        return lambda: new_object(schema, values)
    if verb == "Set":
        return lambda: set_object(schema, obj, values, expected_version=expected_version)
    return lambda: remove_object(schema, obj, expected_version=expected_version)


def apply(verb, schema, values, obj=None, expected_version=None, change=None, command="", force=False):
    """New, Set or Remove through the service layer; returns the Result and the seconds it took. `change`: the
    service call when it is more than new_object/set_object/remove_object (an Edge subscription's), and
    `command` the line it amounts to; `force` saves it despite the checks' errors (the confirmation was given)."""
    identity = obj.identity if obj is not None else None
    command = command or command_line(verb, schema, values, identity)
    started = time.monotonic()
    try:
        with forcing(force):
            obj = change_of(verb, schema, values, obj, expected_version, change)()
        result = Result(True, command, obj=obj)
    except PermissionDenied as denied:  # the caller's role groups don't grant this change
        refusal = ConfigurationError([ParameterError("Identity", str(denied))])
        result = Result(False, command, error=str(refusal), refusal=refusal)
    except ConfigurationError as refusal:
        result = Result(False, command, error=str(refusal), refusal=refusal)
    return result, time.monotonic() - started


def findings_before(verb, schema, values, obj=None, expected_version=None):
    """The checks' findings the change would bring, from a run that is rolled back; none when it would be refused
    for another reason (the save then says why, beside the parameter)."""
    try:
        return list(getattr(preview(change_of(verb, schema, values, obj, expected_version)), "findings", ()))
    except (ConfigurationError, PermissionDenied):
        return []


def breaking(findings):
    return [finding for finding in findings if finding.severity == ERROR]


class Review:
    """The findings of a change an administrator is about to save, against what the dialog posted: findings not yet
    shown stop the save once, so they are read before OK; errors also need the confirmation ticked."""
    SEEN, FORCE = "findings-seen", "findings-force"

    def __init__(self, findings, data):
        self.findings, self.errors = findings, breaking(findings)
        self.fingerprint = hashlib.sha256("\n".join(map(str, findings)).encode()).hexdigest()[:16]
        self.seen = data.get(self.SEEN) == self.fingerprint
        self.confirmed = bool(data.get(self.FORCE))

    @property
    def ready(self):
        return not self.findings or (self.seen and (self.confirmed or not self.errors))

    @property
    def refusal(self):
        """Why a seen change with errors isn't saved yet."""
        if self.seen and self.errors and not self.confirmed:
            return f"This change breaks mail flow: tick '{CONFIRMATION}' to save it anyway, or change it."
        return ""


def run(request, verb, schema, values, heading, finish_url, back_url="", change=None, command="", force=False):
    """Apply the change and keep its completion page; `result.url` shows it, with the findings of what was saved."""
    result, seconds = apply(verb, schema, values, change=change, command=command, force=force)
    token = secrets.token_urlsafe(8)
    kept = request.session.get("completions", {})
    kept = dict(list(kept.items())[-(KEPT_RESULTS - 1):])
    kept[token] = {
        "heading": heading, "succeeded": result.succeeded, "command": result.command, "error": result.error,
        "elapsed": elapsed(seconds), "summary": summary(schema, values), "finish_url": finish_url,
        "back_url": "" if result.succeeded else back_url,
        "identity": result.obj.identity if result.succeeded else "",
        "findings": [(finding.severity, finding.message) for finding in getattr(result.obj, "findings", ())
                     if result.succeeded],
    }
    request.session["completions"] = kept
    result.url = reverse("console:completion", args=[token])
    return result

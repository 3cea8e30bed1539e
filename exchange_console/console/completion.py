"""Running a change from the console and showing what it amounted to, as the EMC's completion page does:
the summary, "Exchange Management Shell command completed:" (or "attempted:" with the error) and the
elapsed time. Results are kept in the session, so the completion page survives a reload and back/forward.
"""
import secrets
import time
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.urls import reverse

from exchange_console.lib.errors import ParameterError
from exchange_console.params import parse_param
from exchange_console.services import ConfigurationError, new_object, remove_object, set_object
from exchange_console.shell.render import render_command

KEPT_RESULTS = 10


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


def apply(verb, schema, values, obj=None, expected_version=None, change=None, command=""):
    """New, Set or Remove through the service layer; returns the Result and the seconds it took. `change`: the
    service call when it is more than new_object/set_object/remove_object (an Edge subscription's), and
    `command` the line it amounts to."""
    identity = obj.identity if obj is not None else None
    command = command or command_line(verb, schema, values, identity)
    started = time.monotonic()
    try:
        if change is not None:
            obj = change() or obj
        elif verb == "New":
            obj = new_object(schema, values)
        elif verb == "Set":
            obj = set_object(schema, obj, values, expected_version=expected_version)
        else:
            remove_object(schema, obj, expected_version=expected_version)
        result = Result(True, command, obj=obj)
    except PermissionDenied as denied:  # the caller's role groups don't grant this change
        refusal = ConfigurationError([ParameterError("Identity", str(denied))])
        result = Result(False, command, error=str(refusal), refusal=refusal)
    except ConfigurationError as refusal:
        result = Result(False, command, error=str(refusal), refusal=refusal)
    return result, time.monotonic() - started


def run(request, verb, schema, values, heading, finish_url, back_url="", change=None, command=""):
    """Apply the change and keep its completion page; `result.url` shows it."""
    result, seconds = apply(verb, schema, values, change=change, command=command)
    token = secrets.token_urlsafe(8)
    kept = request.session.get("completions", {})
    kept = dict(list(kept.items())[-(KEPT_RESULTS - 1):])
    kept[token] = {
        "heading": heading, "succeeded": result.succeeded, "command": result.command, "error": result.error,
        "elapsed": elapsed(seconds), "summary": summary(schema, values), "finish_url": finish_url,
        "back_url": "" if result.succeeded else back_url,
        "identity": result.obj.identity if result.succeeded else "",
    }
    request.session["completions"] = kept
    result.url = reverse("console:completion", args=[token])
    return result

"""The table of cmdlets. Any module adds its own with the `@cmdlet` decorator (or `CMDLETS.add`); Django's
app loading imports every installed app's `cmdlets` module, so new cmdlets need no change to the engine:

    @cmdlet("Get-Queue", Parameter("Identity", position=0, pipeline=True), Parameter("Server"))
    def get_queue(invocation):
        yield from ...   # the objects the cmdlet outputs
"""
from dataclasses import dataclass, field
from typing import Callable

from exchange_console.shell.errors import ParameterBindingError


@dataclass(frozen=True)
class Parameter:
    name: str
    switch: bool = False
    position: int | None = None     # positional arguments fill parameters in this order
    mandatory: bool = False
    pipeline: bool = False          # takes each pipeline input object (ValueFromPipeline)
    type_name: str = "System.String"  # named in "Missing an argument" messages
    accepts: type | tuple | None = None  # values must be of this shell type (SecureString, PSCredential...)


@dataclass
class Cmdlet:
    name: str
    run: Callable                   # run(invocation) -> iterable of output objects
    parameters: tuple = ()
    aliases: tuple = ()
    by_name: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.by_name = {param.name.lower(): param for param in self.parameters}

    def parameter(self, typed):
        """The parameter a typed name means: exact, or an unambiguous prefix (-Addr for -AddressSpaces)."""
        exact = self.by_name.get(typed.lower())
        if exact:
            return exact
        matches = [param for key, param in self.by_name.items() if key.startswith(typed.lower())]
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = " ".join(f"-{param.name}" for param in matches)
            raise ParameterBindingError(f"Parameter cannot be processed because the parameter name '{typed}' is "
                                        f"ambiguous. Possible matches include: {names}.")
        raise ParameterBindingError(f"A parameter cannot be found that matches parameter name '{typed}'.")

    @property
    def positional(self):
        return sorted((param for param in self.parameters if param.position is not None),
                      key=lambda param: param.position)

    @property
    def pipeline_parameter(self):
        return next((param for param in self.parameters if param.pipeline), None)


class Registry:
    def __init__(self):
        self._cmdlets = {}

    def add(self, cmdlet):
        for name in (cmdlet.name, *cmdlet.aliases):
            if name.lower() in self._cmdlets:
                raise ValueError(f"The cmdlet name {name} is registered twice.")
            self._cmdlets[name.lower()] = cmdlet
        return cmdlet

    def find(self, name):
        return self._cmdlets.get(name.lower())

    def __iter__(self):
        return iter(sorted({cmdlet.name: cmdlet for cmdlet in self._cmdlets.values()}.values(),
                           key=lambda cmdlet: cmdlet.name))


CMDLETS = Registry()


def cmdlet(name, *parameters, aliases=()):
    """Register the decorated run(invocation) as a cmdlet."""
    def register(run):
        CMDLETS.add(Cmdlet(name, run, tuple(parameters), tuple(aliases)))
        return run
    return register


@dataclass
class Invocation:
    """One run of a cmdlet: its bound arguments and the objects piped into it."""
    session: object
    cmdlet: Cmdlet
    arguments: dict                 # parameter name (as declared) -> value
    input: list | None              # pipeline input; None when the cmdlet is first in its pipeline

    def __contains__(self, name):
        return name in self.arguments

    def get(self, name, default=None):
        return self.arguments.get(name, default)

    def each(self, name):
        """The values a pipeline parameter takes: every piped object, or the one value given by name."""
        if self.input is not None and name not in self.arguments:
            return list(self.input)
        return [self.arguments[name]] if name in self.arguments else []

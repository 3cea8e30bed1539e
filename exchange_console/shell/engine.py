"""Runs parsed statements: evaluates expressions, binds arguments to cmdlet parameters as PowerShell does, and
passes objects down pipelines. Unless -ErrorAction or $ErrorActionPreference says to continue, the first error
stops the pipeline and the script; a command's changes are all made or, when one is refused, none
(cmdlets.apply). Every cmdlet takes PowerShell's common parameters, handled here and nowhere else.
"""
import dataclasses
from contextlib import contextmanager
from datetime import datetime, timezone

from django.core.exceptions import PermissionDenied

from exchange_console.lib.errors import ParameterError
from exchange_console.services import ConfigurationError
from exchange_console.shell import members
from exchange_console.shell import nodes as n
from exchange_console.shell.errors import (
    CommandNotFoundError, ErrorRecord, ExitRequested, ParameterBindingError, ShellError,
)
from exchange_console.shell.formatting import format_output
from exchange_console.shell.host import Host
from exchange_console.shell.operators import compare, join, matches, operate, split_whitespace
from exchange_console.shell.parser import parse
from exchange_console.shell.registry import CMDLETS, Cmdlet, Invocation, Parameter
from exchange_console.shell.values import (
    Hashtable, PSObject, ScriptBlock, SecureString, ShellObject, collapse, display_value, to_string, truthy, unroll,
)

AUTOMATIC = {"true": True, "false": False, "null": None}
# PowerShell 2.0's common parameters: their aliases and the CommonParameters field each sets (OutBuffer has no
# effect here). ActionPreference had no Ignore before 3.0.
COMMON_PARAMETERS = {"Verbose": ("vb", "verbose"), "Debug": ("db", "debug"),
                     "ErrorAction": ("ea", "error_action"), "WarningAction": ("wa", "warning_action"),
                     "ErrorVariable": ("ev", "error_variable"), "WarningVariable": ("wv", "warning_variable"),
                     "OutVariable": ("ov", "out_variable"), "OutBuffer": ("ob", None)}
ACTIONS = {"silentlycontinue": "SilentlyContinue", "stop": "Stop", "continue": "Continue", "inquire": "Inquire"}
SCOPES = ("global:", "script:", "local:", "private:")
# What a function is piped: $input, and $_ in its process block. No name a script can type binds it.
PIPED = Parameter("$input", pipeline=True, type_name="System.Object")
DOTNET_TYPES = [(bool, "System.Boolean"), (int, "System.Int32"), (float, "System.Double"), (str, "System.String"),
                (list, "System.Object[]"), (Hashtable, "System.Collections.Hashtable"),
                (ScriptBlock, "System.Management.Automation.ScriptBlock"),
                (SecureString, "System.Security.SecureString")]


def dotnet_type(value):
    return next((name for kind, name in DOTNET_TYPES if isinstance(value, kind)), type(value).__name__)


@contextmanager
def call_depth_checked():
    """The parser refuses deep nesting, but a script can still build a value thousands of levels deep
    (`$a = $a, 1` again and again): that ends with PowerShell's error instead of a Python crash."""
    try:
        yield
    except RecursionError:
        raise ShellError("The script failed due to call depth overflow.") from None


class ControlFlow(Exception):
    """break, continue and return on their way to the loop or function they leave, carrying the output that
    the statements before them produced."""

    def __init__(self, kind, value=None):
        super().__init__(kind)
        self.kind, self.value, self.output = kind, value, []


@dataclasses.dataclass
class Function(Cmdlet):
    """A script's `function Name { param(...) ... }`: bound like a cmdlet; extra positional arguments go to
    $args."""
    definition: n.FunctionDefinition = None


@dataclasses.dataclass
class CommonParameters:
    error_action: str | None = None
    warning_action: str | None = None
    verbose: bool = False
    debug: bool = False
    error_variable: str | None = None
    warning_variable: str | None = None
    out_variable: str | None = None


class Session:
    """A shell session: its variables, functions and host. `run` writes output; `execute` returns the objects."""

    def __init__(self, host=None):
        self.host = host or Host()
        self.variables = {}
        self.scopes = [self.variables]  # the global scope, then one per function call
        self.functions = {}
        self.errors = []  # $Error, the newest first
        self.succeeded = True  # $?
        self.failures = 0
        self.source, self.origin = "", "line"  # the text running and where it came from (`At line:` or a file)
        self._current_item = None
        # The output of `run` waits here to be formatted, so that objects of one kind make one table; it is
        # written before anything else the host writes (Write-Host, a warning, a prompt), in the order it came.
        self.pending, self.streaming = [], False

    def run(self, text, origin="line"):
        self.origin = origin
        self.host.before_write = self.write_pending
        try:
            with call_depth_checked():
                for output in self._run_statements(text, streaming=True):
                    self.pending.extend(output)
                    self.write_pending()
        finally:
            self.write_pending()
            self.host.before_write = None

    def write_pending(self):
        output, self.pending = self.pending, []
        for line in format_output(output):
            self.host.write(line)

    def execute(self, text):
        with call_depth_checked():
            return [obj for output in self._run_statements(text) for obj in output]

    def _run_statements(self, text, streaming=False):
        statements = parse(text)
        self.source = text
        for statement in statements:
            self.streaming = streaming
            try:
                yield self.statement(statement)
            except ControlFlow as flow:  # break, continue or return outside a loop or function ends the script
                yield flow.output + unroll(flow.value)
                return
            except ShellError as error:
                self.record(error)
                yield error.output
                raise

    # --- statements and pipelines --------------------------------------------------------------------------

    def statement(self, node):
        failures = self.failures
        output = getattr(self, f"_statement_{type(node).__name__}", self.pipeline)(node)
        self.succeeded = self.failures == failures
        return output

    def statements(self, nodes):
        """The statements' output; when it goes straight to the host (the body of a loop the script runs),
        each statement's output is handed on as it comes."""
        output = []
        for node in nodes:
            try:
                produced = self.statement(node)
            except (ControlFlow, ShellError) as flow:
                flow.output[:0] = output
                raise
            (self.pending if self.streaming else output).extend(produced)
        return output

    @contextmanager
    def collecting(self):
        """Output that becomes a value or goes down a pipeline, not to the host."""
        saved, self.streaming = self.streaming, False
        try:
            yield
        finally:
            self.streaming = saved

    def _statement_Exit(self, node):
        code = self.evaluate(node.code) if node.code else 0
        raise ExitRequested(code if isinstance(code, int) and not isinstance(code, bool) else int(truthy(code)))

    def _statement_Return(self, node):
        raise ControlFlow("return", collapse(self.pipeline(node.value)) if node.value else None)

    def _statement_Throw(self, node):
        value = collapse(self.pipeline(node.value)) if node.value else None
        if isinstance(value, ErrorRecord):  # `throw $_` in a catch block throws the error again
            raise value.error
        raise ShellError(to_string(value) if value is not None else "ScriptHalted", node.end)

    def _statement_Try(self, node):
        try:
            output = self._try_catch(node)
        except (ControlFlow, ShellError) as flow:
            if node.final is not None:
                flow.output.extend(self.statements(node.final))
            raise
        return output + (self.statements(node.final) if node.final is not None else [])

    def _try_catch(self, node):
        """The try block; a terminating error goes to the first catch whose types (or no types) match it, with
        $_ set to the error."""
        try:
            return self.statements(node.body)
        except ShellError as error:
            self.record(error)
            record = ErrorRecord(error)
            body = next((body for types, body in node.catches
                         if not types or any(record.caught_by(written) for written in types)), None)
            if body is None:
                raise
            output, error.output = error.output, []
            try:
                return output + self.with_item(record, body)
            except (ControlFlow, ShellError) as flow:
                flow.output[:0] = output
                raise

    def _statement_Break(self, node):
        raise ControlFlow(node.kind)

    def _statement_Assignment(self, node):
        with self.collecting():
            value = self._assigned(node.value)
        if isinstance(node.value, (n.Assignment, n.Increment)):
            value = self.evaluate(node.value.target)
        if node.operator:
            value = located(node.end, operate, node.operator, self.evaluate(node.target), value)
        if node.type_name:
            value = located(node.target.end, members.cast, node.type_name, value)
        self.assign(node.target, value)
        return []

    def _assigned(self, node):
        """An expression's value as it is ($report = @() is an empty array, @(5) an array of one); the output
        of a pipeline with commands collapses to $null, its one object or an array."""
        if isinstance(node, n.Pipeline) and len(node.elements) == 1 and not isinstance(node.elements[0], n.Command):
            return self.evaluate(node.elements[0])
        return collapse(self.statement(node))

    def _statement_Increment(self, node):
        self.assign(node.target, located(node.end, operate, "+", self.evaluate(node.target), node.delta))
        return []

    def _statement_If(self, node):
        for condition, body in node.clauses:
            if truthy(collapse(self.pipeline(condition))):
                return self.statements(body)
        return self.statements(node.otherwise or [])

    def _statement_ForEach(self, node):
        collection = collapse(self.pipeline(node.collection))
        return self.loop(node.body, (self.set_variable(node.variable, item) for item in unroll(collection)))

    def _statement_Loop(self, node):
        def passes():
            if node.initial:
                self.statement(node.initial)
            first = True
            while (first and node.test_after) or node.test is None or \
                    truthy(collapse(self.statement(node.test))) != node.until:
                yield
                first = False
                if node.step:
                    self.statement(node.step)
        return self.loop(node.body, passes())

    def loop(self, body, passes):
        """Run body once per pass, as far as a break; a continue ends only its pass."""
        return self._passes(passes, lambda _: self.statements(body))

    @staticmethod
    def _passes(items, run):
        """run(item) for each item and their output, as far as a break; a return takes the output with it."""
        output = []
        for item in items:
            try:
                output.extend(run(item))
            except ControlFlow as flow:
                if flow.kind == "return":
                    flow.output[:0] = output
                    raise
                output.extend(flow.output)
                if flow.kind == "break":
                    break
        return output

    def _statement_Switch(self, node):
        value = collapse(self.pipeline(node.value))
        return self._passes(value if isinstance(value, list) else [value], lambda item: self._switch_item(node, item))

    def _switch_item(self, node, item):
        output, matched = [], False
        for pattern, body in node.clauses:
            if self._switch_matches(pattern, item, node.options):
                matched = True
                output.extend(self.with_item(item, body))
        if not matched and node.otherwise is not None:
            output.extend(self.with_item(item, node.otherwise))
        return output

    def _switch_matches(self, pattern, item, options):
        if isinstance(pattern, n.ScriptBlockLiteral):
            return truthy(collapse(self.with_item(item, pattern.statements)))
        wanted, sensitive = self.evaluate(pattern), "casesensitive" in options
        if "regex" in options:  # a clause that matches sees its groups in $matches
            groups = matches(to_string(item), wanted, sensitive)
            if groups is not None:
                self.scopes[-1]["matches"] = groups
            return groups is not None
        if "wildcard" in options:
            return compare("like", to_string(item), wanted, sensitive)
        return compare("eq", item, wanted, sensitive)

    def with_item(self, item, statements):
        saved, self._current_item = self._current_item, item
        try:
            return self.statements(statements)
        finally:
            self._current_item = saved

    def _statement_FunctionDefinition(self, node):
        parameters = tuple(Parameter(declared.name, switch=declared.switch, mandatory=declared.mandatory,
                                     type_name=members.known_type(declared.type_name or "") or "System.Object",
                                     position=None if declared.switch else position)
                           for position, declared in enumerate(node.parameters))
        self.functions[node.name.lower()] = Function(node.name, self._run_function, parameters + (PIPED,),
                                                     definition=node)
        return []

    def _run_function(self, invocation):
        definition, scope = invocation.cmdlet.definition, {}
        self.scopes.append(scope)
        try:
            for declared in definition.parameters:
                if declared.name in invocation.arguments:
                    value = converted(declared, invocation.arguments[declared.name])
                else:
                    value = self.evaluate(declared.default) if declared.default else (False if declared.switch
                                                                                      else None)
                scope[declared.name.lower()] = value
            scope["args"], scope["input"] = invocation.arguments.get("$args", []), list(invocation.input or [])
            output = self.statements(definition.begin or [])
            if definition.process is not None:
                for item in invocation.input if invocation.input is not None else [None]:
                    output.extend(self.with_item(item, definition.process))
            return output + self.statements(definition.body)
        except ControlFlow as flow:
            if flow.kind != "return":
                raise
            return flow.output + unroll(flow.value)
        finally:
            self.scopes.pop()

    # --- variables -------------------------------------------------------------------------------------------

    def variable(self, name):
        name = name.lower()
        if name.startswith(SCOPES):
            return self.variables.get(name.partition(":")[2])
        return next((scope[name] for scope in reversed(self.scopes) if name in scope), None)

    def set_variable(self, name, value):
        name = name.lower()
        if name == "null":  # `$null = New-Thing ...` discards what the command outputs
            return
        if name in AUTOMATIC or name in ("?", "error", "_", "psitem"):
            raise ShellError(f"Cannot overwrite variable {name} because it is read-only or constant.")
        if name.startswith(SCOPES):
            scope, name = (self.scopes[-1] if name.startswith(("local:", "private:")) else self.variables,
                           name.partition(":")[2])
        else:
            scope = self.scopes[-1]
        scope[name] = value

    def assign(self, target, value):
        """`$x = `, `$x.Name = `, `$x[i] = `: a variable, a property of an object or hash table, an element."""
        if isinstance(target, n.Variable):
            return self.set_variable(target.name, value)
        owner = self.evaluate(target.target)
        if isinstance(target, n.Member):
            return located(target.end, set_member, owner, target.name, value)
        index = self.evaluate(target.index)
        if isinstance(owner, Hashtable):
            set_member(owner, to_string(index), value)
        elif isinstance(owner, list) and isinstance(index, int) and -len(owner) <= index < len(owner):
            owner[index] = value
        else:
            raise ShellError("Array assignment failed because index '{}' was out of range.".format(
                display_value(index)) if isinstance(owner, list) else "Unable to index into an object of type "
                f"{dotnet_type(owner)}.", target.end)
        return None

    def pipeline(self, node):
        items = None
        with self.collecting():
            for position, element in enumerate(node.elements, start=1):
                if isinstance(element, n.Command):
                    items = self.invoke(element, items, position)
                else:
                    items = unroll(self.evaluate(element))
        return items

    def invoke(self, node, input_items, position=1):
        name_end = node.pos + len(node.name)
        cmdlet = self.functions.get(node.name.lower()) or CMDLETS.find(node.name)
        if cmdlet is None:
            raise CommandNotFoundError(node.name, name_end)
        try:
            elements = self.splatted(node.elements)
            common = self.preference_variables()
            if not isinstance(cmdlet, Function):  # simple functions take no common parameters in PowerShell
                elements = self.common_parameters(cmdlet, elements, common)
            arguments = self.bind(cmdlet, dataclasses.replace(node, elements=elements), input_items, position)
        except ShellError as error:
            raise error.located(name_end, cmdlet.name)
        output, warnings = [], []
        try:
            with self.host.preferences(common.warning_action, common.verbose, common.debug, warnings):
                self._trace(cmdlet, arguments)
                output.extend(cmdlet.run(Invocation(self, cmdlet, arguments, input_items)) or ())
                self.host.verbose(f"{timestamp()} {cmdlet.name} : Ending processing &")
        except (ShellError, ConfigurationError, ParameterError, PermissionDenied) as error:
            self.failed(shell_error(error, name_end, cmdlet.name), common)
        finally:
            self._keep(common.out_variable, output)
            self._keep(common.warning_variable, warnings)
        return output

    def _trace(self, cmdlet, arguments):
        """What -Verbose and -Debug show before a cmdlet runs, as Exchange's cmdlets write it."""
        self.host.verbose(f"{timestamp()} {cmdlet.name} : Beginning processing &")
        self.host.debug(f"{timestamp()} {cmdlet.name} : Parameters: " + " ".join(
            f"-{name} '{to_string(value)}'" for name, value in arguments.items()))

    def failed(self, error, common):
        """A cmdlet's error: recorded in $Error (and -ErrorVariable), then as -ErrorAction or
        $ErrorActionPreference say: shown and the script goes on, only recorded, or the script stops."""
        self.failures += 1
        self.record(error)
        self._keep(common.error_variable, [ErrorRecord(error)])
        action = common.error_action
        if action in (None, "Stop", "Inquire"):
            if action:
                error.message = (f'Command execution stopped because the preference variable "ErrorActionPreference" '
                                 f'or common parameter is set to Stop: {error.message}')
            raise error
        if action == "Continue":
            self.host.error(error.render(self.source, self.origin))

    def preference_variables(self):
        """$ErrorActionPreference, $WarningPreference, $VerbosePreference and $DebugPreference: what a cmdlet
        does without the common parameter. Unset, an error stops the script (EMS runs scripts that way)."""
        common = CommonParameters()
        for variable, field in (("ErrorActionPreference", "error_action"), ("WarningPreference", "warning_action")):
            value = self.variable(variable)
            if value is not None:
                setattr(common, field, self.action(value, variable))
        for variable in ("Verbose", "Debug"):
            value = self.variable(f"{variable}Preference")
            if value is not None:
                setattr(common, variable.lower(), self.action(value, f"{variable}Preference") != "SilentlyContinue")
        return common

    def record(self, error):
        if not getattr(error, "recorded", False):
            error.recorded = True
            self.errors.insert(0, ErrorRecord(error))

    def _keep(self, name, items):
        """-OutVariable / -ErrorVariable / -WarningVariable name (or +name, to add to what it holds)."""
        if not name:
            return
        adding = name.startswith("+")
        name = name.lstrip("+")
        before = self.variable(name) if adding else None
        self.set_variable(name, unroll(before) + list(items))

    @staticmethod
    def action(value, name):
        action = ACTIONS.get(to_string(value).strip().lower())
        if action is None:
            raise ParameterBindingError(
                f'Cannot bind parameter \'{name}\'. Cannot convert value "{to_string(value)}" to type '
                f'"System.Management.Automation.ActionPreference" due to invalid enumeration values. Specify one '
                f'of the following enumeration values and try again. The possible enumeration values are '
                f'"{", ".join(ACTIONS.values())}".')
        return action

    def splatted(self, elements):
        """`@params`: a hash table's entries become named arguments (a switch takes $true or $false), an
        array's items positional ones."""
        expanded = []
        for element in elements:
            if not isinstance(element, n.Splat):
                expanded.append(element)
                continue
            value = self.variable(element.variable)
            if isinstance(value, Hashtable):
                expanded.extend(n.CommandParameter(element.pos, element.end, str(key),
                                                   n.Constant(element.pos, element.end, item))
                                for key, item in value.items())
            else:
                expanded.extend(n.Constant(element.pos, element.end, item) for item in unroll(value))
        return expanded

    def common_parameters(self, cmdlet, elements, common):
        """Take the common parameters (and their arguments) out of elements into common; the cmdlet's own
        parameters win a name both could mean."""
        remaining, index = [], 0
        while index < len(elements):
            element = elements[index]
            index += 1
            name = common_parameter(cmdlet, element.name) if isinstance(element, n.CommandParameter) else None
            if name is None:
                remaining.append(element)
                continue
            argument = element.argument
            if argument is None and name not in ("Verbose", "Debug"):
                if index == len(elements) or isinstance(elements[index], n.CommandParameter):
                    kind = "System.Management.Automation.ActionPreference" if name.endswith("Action") else \
                        "System.Int32" if name == "OutBuffer" else "System.String"
                    raise ParameterBindingError(f"Missing an argument for parameter '{name}'. Specify a parameter "
                                                f"of type '{kind}' and try again.", element.end)
                argument, index = elements[index], index + 1
            value = True if argument is None else self.evaluate(argument)
            field = COMMON_PARAMETERS[name][1]
            if name.endswith("Action"):
                value = located(element.end, self.action, value, name)
            if field:
                setattr(common, field, truthy(value) if name in ("Verbose", "Debug") else
                        value if name.endswith("Action") else to_string(value))
        return remaining

    def call(self, block, item):
        """Run a script block with $_ set to item (Where-Object, calculated properties)."""
        return self.with_item(item, block.node.statements)

    # --- parameter binding -----------------------------------------------------------------------------------

    def bind(self, cmdlet, node, input_items, position=1):
        """Named arguments first, then positional ones in position order, then the pipeline; as PowerShell."""
        arguments, positional, elements = {}, [], list(node.elements)
        while elements:
            element = elements.pop(0)
            if not isinstance(element, n.CommandParameter):
                positional.append(element)
                continue
            param = self._parameter(cmdlet, element, arguments)
            if element.argument is not None:
                value = self.evaluate(element.argument)
                value = truthy(value) if param.switch else value
            elif param.switch:
                value = True
            elif elements and not isinstance(elements[0], n.CommandParameter):
                value = self.evaluate(elements.pop(0))
            else:
                raise ParameterBindingError(f"Missing an argument for parameter '{param.name}'. Specify a parameter "
                                            f"of type '{param.type_name}' and try again.", element.end)
            arguments[param.name] = self._checked(param, value, element.end)
        free = [param for param in cmdlet.positional if param.name not in arguments]
        for element in positional:
            value = self.evaluate(element)
            if not free and isinstance(cmdlet, Function):
                arguments.setdefault("$args", []).append(value)
                continue
            if not free:
                raise ParameterBindingError(f"A positional parameter cannot be found that accepts argument "
                                            f"'{to_string(value)}'.", element.end)
            param = free.pop(0)
            arguments[param.name] = self._checked(param, value, element.end)
        self._check_pipeline(cmdlet, arguments, input_items)
        missing = [param for param in cmdlet.parameters if param.mandatory and param.name not in arguments
                   and not (param.pipeline and input_items is not None)]
        if missing:
            arguments.update(self._supply(cmdlet, missing, position))
        return arguments

    @staticmethod
    def _parameter(cmdlet, element, arguments):
        try:
            param = cmdlet.parameter(element.name)
        except ParameterBindingError as error:
            raise error.located(element.end, cmdlet.name)
        if param.name in arguments:
            raise ParameterBindingError(
                f"Cannot bind parameter because parameter '{param.name}' is specified more than once. To provide "
                f"multiple values to parameters that can accept multiple values, use the array syntax. For "
                f'example, "-parameter value1,value2,value3".', element.end)
        return param

    @staticmethod
    def _checked(param, value, end):
        if param.accepts and value is not None and not isinstance(value, param.accepts):
            raise ParameterBindingError(f"Cannot bind parameter '{param.name}'. Cannot convert the value of type "
                                        f"\"{dotnet_type(value)}\" to type \"{param.type_name}\".", end)
        return value

    @staticmethod
    def _check_pipeline(cmdlet, arguments, input_items):
        pipe = cmdlet.pipeline_parameter
        if input_items and (pipe is None or pipe.name in arguments):
            raise ParameterBindingError(
                "The input object cannot be bound to any parameters for the command either because the command "
                "does not take pipeline input or the input and its properties do not match any of the parameters "
                "that take pipeline input.")

    def _supply(self, cmdlet, missing, position):
        """Missing mandatory parameters: asked for on a terminal, as PowerShell does; an error elsewhere."""
        error = ParameterBindingError(f"Cannot process command because of one or more missing mandatory "
                                      f"parameters: {' '.join(param.name for param in missing)}.")
        if not self.host.interactive:
            raise error
        self.host.write(f"\ncmdlet {cmdlet.name} at command pipeline position {position}\n"
                        f"Supply values for the following parameters:")
        supplied = {}
        for param in missing:
            if param.accepts is SecureString:
                typed = self.host.read_secret(f"{param.name}: ")
                supplied[param.name] = SecureString(typed)
            else:
                typed = supplied[param.name] = self.host.read_line(f"{param.name}: ").strip()
            if not typed:
                raise error
        return supplied

    # --- expressions -------------------------------------------------------------------------------------------

    def evaluate(self, node):
        method = getattr(self, f"_evaluate_{type(node).__name__}")
        return method(node)

    def _evaluate_Constant(self, node):
        return node.value

    def _evaluate_ExpandableString(self, node):
        return "".join(part if isinstance(part, str) else to_string(self.evaluate(part)) for part in node.parts)

    def _evaluate_Variable(self, node):
        name = node.name.lower()
        if name in AUTOMATIC:
            return AUTOMATIC[name]
        if name in ("_", "psitem"):
            return self._current_item
        if name == "?":
            return self.succeeded
        if name == "error":
            return self.errors
        return self.variable(name)

    def _evaluate_Member(self, node):
        return member(self.evaluate(node.target), node.name)

    def _evaluate_Index(self, node):
        target, index = self.evaluate(node.target), self.evaluate(node.index)
        if isinstance(target, Hashtable):
            return target.lookup(to_string(index))
        items = target if isinstance(target, (list, tuple, str)) else unroll(target)
        try:
            return items[int(index)]
        except (IndexError, TypeError, ValueError):
            return None

    def _evaluate_ArrayLiteral(self, node):
        return [self.evaluate(item) for item in node.items]

    def _evaluate_HashLiteral(self, node):
        return Hashtable((key, collapse(self.pipeline(value))) for key, value in node.entries)

    def _evaluate_SubExpression(self, node):
        output = self.statements(node.statements)
        return output if node.array else collapse(output)

    def _evaluate_ScriptBlockLiteral(self, node):
        return ScriptBlock(node, self.source)

    def _evaluate_BinaryOperation(self, node):
        # `a -eq b -and c -or ...` parses as a tree as deep as the chain is long: walk down its left side in a
        # loop, so that a long chain can't exhaust the stack.
        chain = []
        while isinstance(node, n.BinaryOperation):
            chain.append(node)
            node = node.left
        value = self.evaluate(node)
        for operation in reversed(chain):
            value = self._operate(operation, value)
        return value

    def _operate(self, node, left):
        if node.operator == "and":
            return truthy(left) and truthy(self.evaluate(node.right))
        if node.operator == "or":
            return truthy(left) or truthy(self.evaluate(node.right))
        if node.operator == "xor":
            return truthy(left) != truthy(self.evaluate(node.right))
        if node.operator == "match" and not isinstance(left, (list, tuple)):  # a single text sets $matches
            groups = located(node.end, matches, left, self.evaluate(node.right), node.case_sensitive)
            if groups is not None:
                self.scopes[-1]["matches"] = groups
            return groups is not None
        return located(node.end, operate, node.operator, left, self.evaluate(node.right), node.case_sensitive)

    def _evaluate_Not(self, node):
        return not truthy(self.evaluate(node.operand))

    def _evaluate_Unary(self, node):
        operand = self.evaluate(node.operand)
        if node.operator == "join":
            return join(operand)
        if node.operator == "split":
            return split_whitespace(operand)
        return located(node.end, operate, "-", 0, operand)

    def _evaluate_MethodCall(self, node):
        target, arguments = self.evaluate(node.target), [self.evaluate(item) for item in node.arguments]
        return located(node.end, members.call_method, target, node.name, arguments)

    def _evaluate_StaticMember(self, node):
        arguments = None if node.arguments is None else [self.evaluate(item) for item in node.arguments]
        return located(node.end, members.static_member, node.type_name, node.name, arguments)

    def _evaluate_Cast(self, node):
        return located(node.end, members.cast, node.type_name, self.evaluate(node.operand))

    def _evaluate_TypeLiteral(self, node):
        return located(node.end, members.type_literal, node.name)


def located(end, function, *arguments):
    """A .NET member's error points at the member, as PowerShell's does."""
    try:
        return function(*arguments)
    except ShellError as error:
        raise error.located(end, None)


def member(value, name):
    """$x.Name: a property of an object; of every item for an array (besides the array's own Count)."""
    if isinstance(value, (list, tuple)):
        if name.lower() in ("count", "length"):
            return len(value)
        return collapse([found for item in value for found in unroll(member(item, name))])
    if isinstance(value, ShellObject) and value.canonical(name):
        return value.get(name)
    if isinstance(value, Hashtable) and value.has(name):
        return value.lookup(name)
    if isinstance(value, str) and name.lower() == "length":
        return len(value)
    found = members.property_of(value, name)
    if found is None and name.lower() == "count":  # any single object counts as one
        return int(value is not None)
    return found


def set_member(owner, name, value):
    """`$object.Name = value` on a hash table, a custom object or a configuration object read from the shell
    (the change stays in that object until a Set- cmdlet is given it)."""
    if isinstance(owner, Hashtable):
        owner[next((own for own in owner if own.lower() == name.lower()), name)] = value
    elif isinstance(owner, PSObject) and owner.canonical(name):
        owner.properties[owner.canonical(name)] = value
    elif isinstance(owner, ShellObject) and hasattr(owner, "assign") and owner.canonical(name):
        owner.assign(name, value)
    else:
        raise ShellError(f"Property '{name}' cannot be found on this object; make sure it exists and is settable.")


def converted(declared, value):
    """A function's argument converted to its parameter's type ([int]$Days), as PowerShell binds it."""
    if declared.switch or not members.known_type(declared.type_name or ""):
        return value
    try:
        return members.cast(declared.type_name, value)
    except ShellError as error:
        raise ParameterBindingError(f"Cannot process argument transformation on parameter '{declared.name}'. "
                                    f"{error.message}") from None


def timestamp():
    return f"[{datetime.now(timezone.utc):%H:%M:%S.%f}"[:-3] + " GMT]"


def common_parameter(cmdlet, typed):
    """The common parameter a typed name means, or None when it names one of the cmdlet's own."""
    typed = typed.lower()
    for name, (alias, _) in COMMON_PARAMETERS.items():
        if typed in (name.lower(), alias):
            return name
    try:
        cmdlet.parameter(typed)
        return None
    except ParameterBindingError:
        matches = [name for name in COMMON_PARAMETERS if name.lower().startswith(typed)]
        return matches[0] if len(matches) == 1 else None


def shell_error(error, end, command):
    """Any error a cmdlet raises as the shell reports it, pointing at the cmdlet."""
    if isinstance(error, ShellError):
        return error.located(end, command)
    message = error.message if isinstance(error, ParameterError) else str(error)
    return ShellError(message, end, command)

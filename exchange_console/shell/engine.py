"""Runs parsed statements: evaluates expressions, binds arguments to cmdlet parameters as PowerShell does, and
passes objects down pipelines. The first error stops the pipeline and the script; a command's changes are all
made or, when one is refused, none (cmdlets.apply).
"""
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied

from exchange_console.lib.errors import ParameterError
from exchange_console.services import ConfigurationError
from exchange_console.shell import members
from exchange_console.shell import nodes as n
from exchange_console.shell.errors import CommandNotFoundError, ExitRequested, ParameterBindingError, ShellError
from exchange_console.shell.formatting import format_output
from exchange_console.shell.host import Host
from exchange_console.shell.operators import compare
from exchange_console.shell.parser import parse
from exchange_console.shell.registry import CMDLETS, Invocation
from exchange_console.shell.values import (
    Hashtable, ScriptBlock, SecureString, ShellObject, collapse, to_string, truthy, unroll,
)

AUTOMATIC = {"true": True, "false": False, "null": None}
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


class Session:
    """A shell session: its variables and host. `run` writes output; `execute` returns the objects."""

    def __init__(self, host=None):
        self.host = host or Host()
        self.variables = {}
        self.source = ""
        self._current_item = None

    def run(self, text):
        with call_depth_checked():
            for output in self._run_statements(text):
                for line in format_output(output):
                    self.host.write(line)

    def execute(self, text):
        with call_depth_checked():
            return [obj for output in self._run_statements(text) for obj in output]

    def _run_statements(self, text):
        statements = parse(text)
        self.source = text
        for statement in statements:
            yield self.statement(statement)

    # --- statements and pipelines --------------------------------------------------------------------------

    def statement(self, node):
        if isinstance(node, n.Exit):
            code = self.evaluate(node.code) if node.code else 0
            raise ExitRequested(code if isinstance(code, int) and not isinstance(code, bool) else int(truthy(code)))
        if isinstance(node, n.Assignment):
            self.variables[node.variable.lower()] = collapse(self.pipeline(node.value))
            return []
        return self.pipeline(node)

    def statements(self, nodes):
        return [obj for node in nodes for obj in self.statement(node)]

    def pipeline(self, node):
        items = None
        for position, element in enumerate(node.elements, start=1):
            if isinstance(element, n.Command):
                items = self.invoke(element, items, position)
            else:
                items = unroll(self.evaluate(element))
        return items

    def invoke(self, node, input_items, position=1):
        name_end = node.pos + len(node.name)
        cmdlet = CMDLETS.find(node.name)
        if cmdlet is None:
            raise CommandNotFoundError(node.name, name_end)
        try:
            arguments = self.bind(cmdlet, node, input_items, position)
            return list(cmdlet.run(Invocation(self, cmdlet, arguments, input_items)) or ())
        except ShellError as error:
            raise error.located(name_end, cmdlet.name)
        except ConfigurationError as error:
            raise ShellError(str(error), name_end, cmdlet.name) from None
        except ParameterError as error:
            raise ShellError(error.message, name_end, cmdlet.name) from None
        except PermissionDenied as error:  # the caller's role groups don't allow the change
            raise ShellError(str(error), name_end, cmdlet.name) from None

    def call(self, block, item):
        """Run a script block with $_ set to item (Where-Object, calculated properties)."""
        saved, self._current_item = self._current_item, item
        try:
            return self.statements(block.node.statements)
        finally:
            self._current_item = saved

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
        return self.variables.get(name)

    def _evaluate_Member(self, node):
        return member(self.evaluate(node.target), node.name)

    def _evaluate_Index(self, node):
        target, index = self.evaluate(node.target), self.evaluate(node.index)
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
        return compare(node.operator, left, self.evaluate(node.right), node.case_sensitive)

    def _evaluate_Not(self, node):
        return not truthy(self.evaluate(node.operand))

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
    if name.lower() == "count":  # any single object counts as one
        return int(value is not None)
    return members.property_of(value, name)

"""The syntax tree of the PowerShell subset the shell runs. `pos`/`end` are offsets in the source text, so an
error can point at the token that caused it as PowerShell does (`At line:1 char:18`)."""
from dataclasses import dataclass


@dataclass
class Node:
    pos: int
    end: int


@dataclass
class Assignment(Node):
    target: Node  # a Variable, or a Member or Index of one
    operator: str  # "" for `=`, "+" for `+=`, "-" for `-=` ...
    value: Node
    type_name: str | None = None  # `[int]$days = "30"` converts the value


@dataclass
class Increment(Node):
    target: Node
    delta: int  # `$i++` and `++$i`: 1; `$i--`: -1


@dataclass
class Exit(Node):
    code: Node | None  # `exit 3`


@dataclass
class Return(Node):
    value: Node | None


@dataclass
class Throw(Node):
    value: Node | None


@dataclass
class Try(Node):
    body: list
    catches: list  # [(type names, statements)]; no type names catches every error
    final: list | None


@dataclass
class Break(Node):
    kind: str  # "break" or "continue"


@dataclass
class If(Node):
    clauses: list  # [(condition pipeline, statements)] for if and each elseif
    otherwise: list | None


@dataclass
class ForEach(Node):
    variable: str
    collection: Node
    body: list


@dataclass
class Loop(Node):
    """for, while, do-while and do-until."""
    body: list
    test: Node | None
    initial: Node | None = None
    step: Node | None = None
    test_after: bool = False  # do { } while ( )
    until: bool = False  # do { } until ( ): runs while the test is false


@dataclass
class Switch(Node):
    value: Node
    clauses: list  # [(pattern node or ScriptBlockLiteral, statements)]
    otherwise: list | None
    options: set  # regex, wildcard, exact, casesensitive


@dataclass
class ParameterDeclaration(Node):
    name: str
    type_name: str | None  # `[int]`, `[switch]`
    mandatory: bool  # [Parameter(Mandatory=$true)]
    default: Node | None

    @property
    def switch(self):
        return (self.type_name or "").lower() in ("switch", "system.management.automation.switchparameter")


@dataclass
class FunctionDefinition(Node):
    name: str
    parameters: list  # ParameterDeclaration
    body: list  # the statements of a plain body, or of its end { } block
    begin: list | None = None
    process: list | None = None  # run once per pipeline input object, with $_ set to it


@dataclass
class Pipeline(Node):
    elements: list  # Command nodes; the first element may be an expression instead


@dataclass
class Command(Node):
    name: str
    elements: list  # CommandParameter and argument expressions, in the order typed


@dataclass
class Splat(Node):
    variable: str  # `@params`: a hashtable's entries as named arguments, an array's items as positional ones


@dataclass
class CommandParameter(Node):
    name: str
    argument: Node | None  # the value of `-Name:value`; None for `-Name value` and switches


@dataclass
class Constant(Node):
    value: object


@dataclass
class ExpandableString(Node):
    parts: list  # literal text (str) and Variable/SubExpression nodes


@dataclass
class Variable(Node):
    name: str


@dataclass
class Member(Node):
    target: Node
    name: str


@dataclass
class Index(Node):
    target: Node
    index: Node


@dataclass
class ArrayLiteral(Node):
    items: list


@dataclass
class HashLiteral(Node):
    entries: list  # [(key, value node)]


@dataclass
class SubExpression(Node):
    statements: list
    array: bool  # @( ) always gives an array; ( ) and $( ) unwrap a single item


@dataclass
class ScriptBlockLiteral(Node):
    statements: list


@dataclass
class BinaryOperation(Node):
    """`end` is the end of the operator: PowerShell points its errors there (`$total / <<<< 0`)."""
    operator: str  # eq, like, and ...; case_sensitive for the c- forms (-ceq)
    case_sensitive: bool
    left: Node
    right: Node


@dataclass
class Not(Node):
    operand: Node


@dataclass
class Unary(Node):
    operator: str  # "-" (negation), "join", "split"
    operand: Node


@dataclass
class MethodCall(Node):
    target: Node
    name: str
    arguments: list  # `$name.ToLower()`, `.Split(",")`: only the members shell/members.py allows run


@dataclass
class TypeLiteral(Node):
    name: str  # `[System.Security.Principal.NTAccount]` as an argument


@dataclass
class StaticMember(Node):
    type_name: str
    name: str
    arguments: list | None  # `[string]::Join(",", $x)`; None for a property such as `[int]::MaxValue`


@dataclass
class Cast(Node):
    type_name: str  # `[int]$text`, `[datetime]"2026-01-31"`, `[byte[]]`
    operand: Node

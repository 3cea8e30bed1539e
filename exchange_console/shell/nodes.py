"""The syntax tree of the PowerShell subset the shell runs. `pos`/`end` are offsets in the source text, so an
error can point at the token that caused it as PowerShell does (`At line:1 char:18`)."""
from dataclasses import dataclass


@dataclass
class Node:
    pos: int
    end: int


@dataclass
class Assignment(Node):
    variable: str
    value: "Pipeline"


@dataclass
class Exit(Node):
    code: Node | None  # `exit 3`


@dataclass
class Pipeline(Node):
    elements: list  # Command nodes; the first element may be an expression instead


@dataclass
class Command(Node):
    name: str
    elements: list  # CommandParameter and argument expressions, in the order typed


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
    operator: str  # eq, like, and ...; case_sensitive for the c- forms (-ceq)
    case_sensitive: bool
    left: Node
    right: Node


@dataclass
class Not(Node):
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

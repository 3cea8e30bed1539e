"""Exchange's -Filter for Get-Queue and Get-Message, an OPath expression such as
`{Status -eq "Retry" -and MessageCount -gt 10}`: properties by bare name, -eq -ne -like -notlike -gt -lt
-ge -le, -and -or -not, parentheses. Compiled once to a predicate over records (anything with get(name))."""
import fnmatch
import re

from exchange_console.lib.errors import ParameterError

_TOKEN = re.compile(r"""\s*(?:(?P<string>"[^"]*"|'[^']*')|(?P<op>-[a-zA-Z]+)|(?P<paren>[()])|(?P<word>[^\s()"']+))""")
COMPARISONS = {
    "eq": lambda a, b: _norm(a) == _norm(b), "ne": lambda a, b: _norm(a) != _norm(b),
    "like": lambda a, b: fnmatch.fnmatchcase(str(a).lower(), str(b).lower()),
    "notlike": lambda a, b: not fnmatch.fnmatchcase(str(a).lower(), str(b).lower()),
    "gt": lambda a, b: _number(a) > _number(b), "lt": lambda a, b: _number(a) < _number(b),
    "ge": lambda a, b: _number(a) >= _number(b), "le": lambda a, b: _number(a) <= _number(b),
}


def _norm(value):
    return str(value).lower() if value is not None else ""


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("-inf")


def _tokens(text):
    position, tokens = 0, []
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ParameterError("Filter", f"Filter: can't read '{text[position:]}'.")
        kind = match.lastgroup
        value = match.group(kind)
        tokens.append((kind, value[1:-1] if kind == "string" else value))
        position = match.end()
    return tokens


def compile_filter(text):
    parser = _Parser(_tokens(str(text)), str(text))
    predicate = parser.expression()
    if parser.position != len(parser.tokens):
        raise ParameterError("Filter", f"Filter: unexpected '{parser.tokens[parser.position][1]}' in '{text}'.")
    return predicate


class _Parser:
    def __init__(self, tokens, text):
        self.tokens, self.text, self.position = tokens, text, 0

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.position += 1
        return token

    def at(self, operator):
        kind, value = self.peek()
        return kind == "op" and value.lower() == operator

    def expression(self):
        left = self.conjunction()
        while self.at("-or"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda record: a(record) or b(record))(left, right)
        return left

    def conjunction(self):
        left = self.unary()
        while self.at("-and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda record: a(record) and b(record))(left, right)
        return left

    def unary(self):
        if self.at("-not"):
            self.take()
            operand = self.unary()
            return lambda record: not operand(record)
        if self.peek() == ("paren", "("):
            self.take()
            inner = self.expression()
            if self.take() != ("paren", ")"):
                raise ParameterError("Filter", f"Filter: missing ')' in '{self.text}'.")
            return inner
        return self.comparison()

    def comparison(self):
        kind, name = self.take()
        operator_kind, operator = self.take()
        value_kind, value = self.take()
        if kind != "word" or operator_kind != "op" or operator[1:].lower() not in COMPARISONS or value is None:
            raise ParameterError("Filter", f"Filter: expected 'Property -operator value' in '{self.text}'.")
        compare = COMPARISONS[operator[1:].lower()]
        literal = {"$true": "true", "$false": "false", "$null": ""}.get(value.lower(), value) \
            if value_kind == "word" else value
        return lambda record: compare(_shown(record.get(name)), literal)


def _shown(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return value

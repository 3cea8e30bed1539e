"""Exchange's -Filter for Get-Queue and Get-Message, an OPath expression such as
`{Status -eq "Retry" -and MessageCount -gt 10}`: properties by bare name, -eq -ne -like -notlike -gt -lt
-ge -le, -and -or -not, parentheses. Parsed once, then run in the database (as a Q object, when every property
named maps to a column) or over records (anything with get(name))."""
import fnmatch
import re

from django.db.models import Q

from exchange_console.lib.errors import ParameterError

_TOKEN = re.compile(r"""\s*(?:(?P<string>"[^"]*"|'[^']*')|(?P<op>-[a-zA-Z]+)|(?P<paren>[()])|(?P<word>[^\s()"']+))""")
OPERATORS = ("eq", "ne", "like", "notlike", "gt", "lt", "ge", "le")
# Parentheses and -not inside one another. Parsing and running recurse once per level, so a filter thousands of
# levels deep (pasted into the Queue Viewer's filter box) would exhaust Python's stack.
MAX_NESTING = 32
# Comparisons in one filter: the database parses a long -or chain as a tree as deep as it is long (SQLite stops
# at 1,000).
MAX_COMPARISONS = 100


class OPathFilter:
    def __init__(self, text):
        parser = _Parser(_tokens(str(text)), str(text))
        self.tree = parser.expression()
        if parser.position != len(parser.tokens):
            raise ParameterError("Filter", f"Filter: unexpected '{parser.tokens[parser.position][1]}' in '{text}'.")

    def matches(self, record):
        return _evaluate(self.tree, record)

    def as_q(self, columns):
        """The filter as a Q object over `columns` ({property name lower: field}); None if a property has none."""
        try:
            return _to_q(self.tree, columns)
        except KeyError:
            return None

    def apply(self, queryset, columns, record):
        """Filter a queryset in the database when possible, else record by record (a list)."""
        condition = self.as_q(columns)
        if condition is not None:
            return queryset.filter(condition)
        return [obj for obj in queryset if self.matches(record(obj))]


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


class _Parser:
    """Builds ("or", a, b, ...), ("and", a, b, ...), ("not", a) and ("cmp", property, operator, value) tuples;
    a chain of -and or -or is one node, so only parentheses and -not make the tree deeper."""

    def __init__(self, tokens, text):
        self.tokens, self.text, self.position, self.depth, self.comparisons = tokens, text, 0, 0, 0

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
        return self.chain("-or", self.conjunction)

    def conjunction(self):
        return self.chain("-and", self.unary)

    def chain(self, operator, operand):
        terms = [operand()]
        while self.at(operator):
            self.take()
            terms.append(operand())
        return terms[0] if len(terms) == 1 else (operator[1:], *terms)

    def unary(self):
        if self.at("-not"):
            self.take()
            return ("not", self.nested(self.unary))
        if self.peek() == ("paren", "("):
            self.take()
            inner = self.nested(self.expression)
            if self.take() != ("paren", ")"):
                raise ParameterError("Filter", f"Filter: missing ')' in '{self.text}'.")
            return inner
        return self.comparison()

    def nested(self, parse):
        if self.depth == MAX_NESTING:
            raise ParameterError("Filter", f"Filter: parentheses and -not are nested too deeply; the maximum is "
                                           f"{MAX_NESTING} levels.")
        self.depth += 1
        inner = parse()
        self.depth -= 1
        return inner

    def comparison(self):
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise ParameterError("Filter", f"Filter: too many comparisons; the maximum is {MAX_COMPARISONS}.")
        kind, name = self.take()
        operator_kind, operator = self.take()
        value_kind, value = self.take()
        if kind != "word" or operator_kind != "op" or operator[1:].lower() not in OPERATORS or value is None:
            raise ParameterError("Filter", f"Filter: expected 'Property -operator value' in '{self.text}'.")
        if value_kind == "word":
            value = {"$true": "true", "$false": "false", "$null": ""}.get(value.lower(), value)
        return ("cmp", name, operator[1:].lower(), value)


def _evaluate(node, record):
    kind = node[0]
    if kind == "or":
        return any(_evaluate(term, record) for term in node[1:])
    if kind == "and":
        return all(_evaluate(term, record) for term in node[1:])
    if kind == "not":
        return not _evaluate(node[1], record)
    _, name, operator, value = node
    actual = record.get(name)
    actual = ("true" if actual else "false") if isinstance(actual, bool) else actual
    if operator in ("eq", "ne"):
        return (str(actual if actual is not None else "").lower() == value.lower()) == (operator == "eq")
    if operator in ("like", "notlike"):
        return fnmatch.fnmatchcase(str(actual).lower(), value.lower()) == (operator == "like")
    left, right = _number(actual), _number(value)
    return {"gt": left > right, "lt": left < right, "ge": left >= right, "le": left <= right}[operator]


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("-inf")


def _to_q(node, columns):
    kind = node[0]
    if kind in ("or", "and"):
        return Q(*(_to_q(term, columns) for term in node[1:]), _connector=Q.OR if kind == "or" else Q.AND)
    if kind == "not":
        return ~_to_q(node[1], columns)
    _, name, operator, value = node
    field = columns[name.lower()]
    if operator in ("eq", "ne"):
        condition = Q(**{f"{field}__iexact": value})
        return condition if operator == "eq" else ~condition
    if operator in ("like", "notlike"):
        pattern = "^" + re.escape(value).replace(r"\*", ".*").replace(r"\?", ".") + "$"
        condition = Q(**{f"{field}__iregex": pattern})
        return condition if operator == "like" else ~condition
    lookup = {"gt": "gt", "lt": "lt", "ge": "gte", "le": "lte"}[operator]
    return Q(**{f"{field}__{lookup}": _number(value)})

"""Exchange's -Filter for Get-Queue and Get-Message, an OPath expression such as
`{Status -eq "Retry" -and MessageCount -gt 10}`: properties by bare name, -eq -ne -like -notlike -gt -lt
-ge -le, -and -or -not, parentheses. Parsed once, then run in the database as one query: each property a filter
can name is a Column (a field, or an SQL expression over the row's columns and joins) or Related (read from
other rows, such as a message's queue or recipients, as a subquery). Nothing is matched record by record, so a
filter over 100,000 queued messages costs what one query costs."""
import re

from django.db.models import CharField, F, Q
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, IExact, LessThan, LessThanOrEqual, Lookup

from exchange_console.lib import sizes
from exchange_console.lib.errors import ParameterError
from exchange_console.shell.members import to_datetime

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

    def as_q(self, columns):
        """The filter as a Q object over `columns` ({Exchange property name: Column or Related})."""
        return _to_q(self.tree, columns)

    def apply(self, queryset, columns):
        """The queryset filtered in the database; ParameterError names a property the objects don't have."""
        return queryset.filter(self.as_q(columns))


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


TEXT, NUMBER, SIZE, DATE = "text", "number", "size", "date"


class Column:
    """A property in the row itself: `target` is a field path or an SQL expression (an identity built from
    columns); `kind` says how a filter's value compares with it."""

    def __init__(self, target, kind=TEXT):
        self.target, self.kind = target, kind

    def condition(self, operator, value):
        if operator in ("like", "notlike"):
            condition = Q(_Like(self._text(), _like_pattern(value)))
        elif operator in ("eq", "ne"):
            condition = self._compare("iexact", value) if self.kind == TEXT else self._compare(
                "exact", _typed(self.kind, value))
        else:
            condition = self._compare(ORDER[operator], _typed(self.kind, value, ordered=True))
        return ~condition if operator in ("ne", "notlike") else condition

    def _text(self):
        target = F(self.target) if isinstance(self.target, str) else self.target
        return target if self.kind == TEXT else Cast(target, CharField())   # PostgreSQL has no LIKE on numbers

    def _compare(self, lookup, value):
        if value is None:   # -eq $null: a date never set
            lookup, value = "isnull", True
        if isinstance(self.target, str):   # a field: Django keeps NULL rows in a negation, as -ne expects
            return Q(**{f"{self.target}__{lookup}": value})
        return Q(_LOOKUPS[lookup](self.target, value))


class Identity(Column):
    """An identity built in SQL from a server name and keys (SERVER\\QueueId\\MessageId). -eq and -ne read the
    value's parts, so naming one object finds it by its keys; -like matches the whole text."""

    def __init__(self, target, server, *keys):
        super().__init__(target)
        self.server, self.keys = server, keys

    def condition(self, operator, value):
        if operator not in ("eq", "ne"):
            return super().condition(operator, value)
        name, *numbers = str(value).split("\\")
        if len(numbers) == len(self.keys) and all(number.isdigit() and number == str(int(number))
                                                  for number in numbers):
            condition = Q(**{f"{self.server}__iexact": name}, **dict(zip(self.keys, map(int, numbers))))
        else:
            condition = Q(pk__in=[])   # not an identity of these objects: nothing has it
        return ~condition if operator == "ne" else condition


class Related:
    """A property read from other rows (a message's queue, its recipients): the comparison runs over `rows`
    (a manager) and the objects are those whose `link` is among the `key`s found, in the same query. On a
    multi-valued property -eq and -like match when any value does; -ne and -notlike when none does."""

    def __init__(self, rows, column, link, key="pk"):
        self.rows, self.column, self.link, self.key = rows, column, link, key

    def condition(self, operator, value):
        negated = {"ne": "eq", "notlike": "like"}.get(operator)
        found = self.rows.filter(self.column.condition(negated or operator, value)).values(self.key)
        condition = Q(**{f"{self.link}__in": found})
        return ~condition if negated else condition


class _Like(Lookup):
    """-like as SQL LIKE without case, as iexact compares: SQLite's LIKE ignores (ASCII) case itself; on
    PostgreSQL both sides in upper case (a third faster than ILIKE over 200,000 recipients)."""
    lookup_name = "opath_like"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            lhs, rhs = f"UPPER({lhs})", f"UPPER({rhs})"
        return f"{lhs} LIKE {rhs} ESCAPE '\\'", (*lhs_params, *rhs_params)


ORDER = {"gt": "gt", "lt": "lt", "ge": "gte", "le": "lte"}
_LOOKUPS = {"iexact": IExact, "exact": Exact, "gt": GreaterThan, "lt": LessThan, "gte": GreaterThanOrEqual,
            "lte": LessThanOrEqual}


def _like_pattern(value):
    """OPath's * and ? as LIKE's % and _, the rest literal."""
    escaped = re.sub(r"([\\%_])", r"\\\1", value)
    return escaped.replace("*", "%").replace("?", "_")


def _typed(kind, value, ordered=False):
    """The filter's text as the column's kind: a number (as before, what isn't one sorts below every number),
    bytes for a size (4096, 4KB), a date and time (12/02/2026 20:30, 2026-12-02), None for $null."""
    if kind == DATE:
        if value == "" and not ordered:
            return None
        try:
            return to_datetime(value)
        except ValueError:
            raise ParameterError("Filter", f"Filter: '{value}' is not a date and time.") from None
    if kind == SIZE:
        try:
            return sizes.parse_size(value)
        except ValueError:
            pass
    return _number(value)


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
    column = next((column for known, column in columns.items() if known.lower() == name.lower()), None)
    if column is None:
        raise ParameterError("Filter", f"Filter: '{name}' isn't a property a filter can name here; use "
                                       f"{', '.join(columns)}.")
    return column.condition(operator, value)

"""A recursive-descent parser for the PowerShell subset that Exchange 2010 connector scripts use.

PowerShell tokenizes by context. In command mode (a cmdlet's arguments) `contoso.com`, `10.2.17.1:25`,
`10.2.17.1-10.2.17.255` and `00:15:00` are bare strings and `25MB` is a number; in expression mode (after `=`,
inside `( )`, in a script block) `-eq` and friends are operators. So the parser reads the characters itself,
in the mode its position in the grammar calls for, rather than running a tokenizer first.

    script     = statement { (";" | newline) statement }
    statement  = "$" name "=" pipeline | "exit" [expression] | pipeline
    pipeline   = (command | expression) { "|" command }
    command    = name { "-" parameter [":" argument] | argument }
    argument   = primary { "," primary }                              (command mode)
    expression = comparison { ("-and" | "-or") comparison }
    comparison = array { ("-eq" | "-ne" | "-gt" | "-like" | ...) array }
    array      = unary { "," unary }
    unary      = ("-not" | "!") unary | "-" number | postfix
    postfix    = primary { "." member [ "(" arguments ")" ] | "[" expression "]" }
    primary    = 'string' | "string" | number | $variable | ( script ) | $( script ) | @( script )
                 | @{ key = pipeline { ; key = pipeline } } | { script }
                 | "[" type "]" [ "::" member [ "(" arguments ")" ] | unary ]
"""
import re
from contextlib import contextmanager, nullcontext

from exchange_console.shell import nodes as n
from exchange_console.shell.errors import ParseError

_NUMBER = re.compile(r"(0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(kb|mb|gb|tb|pb)?", re.IGNORECASE)
MULTIPLIERS = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}
COMPARISON = frozenset({"eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch",
                        "contains", "notcontains"})
LOGICAL = frozenset({"and", "or"})
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
NEWLINE = "\r\n"
SPACE = " \t\f\v\u00a0"
WORD_END = frozenset(SPACE + NEWLINE + ";|,(){}'\"")
STATEMENT_END = frozenset(NEWLINE + ";|)}")
MISSING_CLOSER = {")": "Missing closing ')' in expression.", "}": "Missing closing '}' in statement block."}
# Levels of ( ), $( ), @( ), { }, @{ }, [ ] and -not / ! inside one another. Real scripts use a handful; the
# parser and the engine recurse once per level, so thousands would exhaust Python's stack.
MAX_NESTING = 32


def parse(text):
    """The statements of a command line or script, or ParseError."""
    return Parser(text).script()


def parse_number(text):
    """A PowerShell numeric literal (25, 0x1F, 1.5, 25MB, 10240KB) as int or float; None if text isn't one."""
    match = _NUMBER.fullmatch(text)
    if not match:
        return None
    digits, multiplier = match.groups()
    if digits.lower().startswith("0x"):
        value = int(digits, 16)
    elif any(c in digits for c in ".eE"):
        value = float(digits)
    else:
        value = int(digits)
    if multiplier:
        value *= MULTIPLIERS[multiplier.lower()]
    return int(value) if isinstance(value, float) and value.is_integer() and multiplier else value


class Parser:
    def __init__(self, text):
        self.text, self.pos, self.depth = text, 0, 0

    # --- characters ----------------------------------------------------------------------------------------

    def peek(self, offset=0):
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def at_end(self):
        return self.pos >= len(self.text)

    def next_is(self, chars, offset=0):
        """Whether the next character is one of chars (never at the end of the text)."""
        c = self.peek(offset)
        return bool(c) and c in chars

    def error(self, message, incomplete=False):
        return ParseError(message, self.pos, incomplete)

    def unexpected(self):
        word = self.text[self.pos:].split(None, 1)[0] if self.text[self.pos:].strip() else ""
        return self.error(f"Unexpected token '{word}' in expression or statement.")

    def skip_space(self, newlines=False):
        """Blanks, comments and backtick line continuations; newlines too where the grammar allows them."""
        while not self.at_end():
            c = self.peek()
            if c in SPACE or (newlines and c in NEWLINE):
                self.pos += 1
            elif c == "`" and self.next_is(NEWLINE, 1):
                self.pos += 3 if self.text.startswith("\r\n", self.pos + 1) else 2
            elif c == "`" and self.pos + 1 == len(self.text):  # the line goes on in the next one
                self.pos += 1
                raise self.error("Missing the line that the line continuation character (`) announces.",
                                 incomplete=True)
            elif c == "#":
                while not self.at_end() and self.peek() not in NEWLINE:
                    self.pos += 1
            elif c == "<" and self.peek(1) == "#":
                close = self.text.find("#>", self.pos + 2)
                if close == -1:
                    self.pos = len(self.text)
                    raise self.error("Missing closing '#>' in block comment.", incomplete=True)
                self.pos = close + 2
            else:
                break

    @contextmanager
    def nested(self):
        """One level deeper; refused past MAX_NESTING with an error that points at the opening token."""
        if self.depth == MAX_NESTING:
            raise self.error(f"The script is nested too deeply. The nesting depth reached {MAX_NESTING + 1} and "
                             f"the maximum is {MAX_NESTING}.")
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def expect(self, char):
        if self.peek() != char:
            if self.at_end():
                raise self.error(MISSING_CLOSER.get(char, f"Missing '{char}'."), incomplete=True)
            raise self.unexpected()
        self.pos += 1

    # --- statements ----------------------------------------------------------------------------------------

    def script(self):
        return self.statement_list(closer="")

    def statement_list(self, closer):
        """Statements up to closer (consumed) or, for the whole script, the end of the text."""
        with self.nested() if closer else nullcontext():
            return self._statements_until(closer)

    def _statements_until(self, closer):
        statements = []
        while True:
            self.skip_space(newlines=True)
            if self.peek() == ";":
                self.pos += 1
                continue
            if self.at_end():
                if closer:
                    raise self.error(MISSING_CLOSER[closer], incomplete=True)
                return statements
            if self.peek() == closer:
                self.pos += 1
                return statements
            if self.peek() in ")}":
                raise self.unexpected()
            statements.append(self.statement())
            self.skip_space()
            if not self.at_end() and self.peek() not in STATEMENT_END:
                raise self.unexpected()

    def statement(self):
        start = self.pos
        if self.peek() == "$":
            variable = self.variable()
            self.skip_space()
            if self.peek() == "=" and self.peek(1) != "=":
                self.pos += 1
                self.skip_space(newlines=True)
                if self.at_end():
                    raise self.error("Missing expression after '='.", incomplete=True)
                value = self.pipeline()
                return n.Assignment(start, self.pos, variable.name, value)
            self.pos = start
        if self.text[start:start + 4].lower() == "exit" and (start + 4 == len(self.text)
                                                             or self.text[start + 4] in WORD_END):
            self.pos += 4
            self.skip_space()
            code = None if self.at_end() or self.peek() in STATEMENT_END else self.expression()
            return n.Exit(start, self.pos, code)
        return self.pipeline()

    def pipeline(self):
        start = self.pos
        elements = [self.pipeline_element(first=True)]
        while True:
            mark = self.pos
            self.skip_space()
            if self.peek() != "|":
                self.pos = mark
                return n.Pipeline(start, self.pos, elements)
            self.pos += 1
            self.skip_space(newlines=True)
            if self.at_end() or self.peek() in STATEMENT_END:
                raise self.error("An empty pipe element is not allowed.", incomplete=self.at_end())
            elements.append(self.pipeline_element(first=False))

    def pipeline_element(self, first):
        if self.starts_command():
            return self.command()
        if not first:
            raise self.error("Expressions are only allowed as the first element of a pipeline.")
        return self.expression()

    def starts_command(self):
        c = self.peek()
        return not (self.next_is("$'\"(@{!-[") or c.isdigit() or (c == "." and self.peek(1).isdigit()))

    # --- commands (command mode) ---------------------------------------------------------------------------

    def command(self):
        start = self.pos
        name = self.bare_word()
        elements = []
        while True:
            self.skip_space()
            if self.at_end() or self.peek() in STATEMENT_END:
                return n.Command(start, self.pos, name, elements)
            if self.peek() == "-" and (self.peek(1).isalpha() or self.peek(1) == "_"):
                elements.append(self.command_parameter())
            else:
                elements.append(self.command_argument())

    def command_parameter(self):
        start = self.pos
        self.pos += 1
        while not self.at_end() and self.peek() not in WORD_END and self.peek() != ":":
            self.pos += 1
        name, name_end = self.text[start + 1:self.pos], self.pos
        argument = None
        if self.peek() == ":":
            self.pos += 1
            self.skip_space()
            if self.at_end() or self.peek() in STATEMENT_END:
                raise self.error(f"Missing an argument for parameter '{name}'.", incomplete=self.at_end())
            argument = self.command_argument()
        return n.CommandParameter(start, name_end, name, argument)

    def command_argument(self):
        return self.comma_list(self.command_primary)

    def command_primary(self):
        """A quoted string, variable, ( ), @( ), @{ } or { } as in expressions; anything else is a bare word,
        which is a number when it reads as one (25, 25MB) and a string otherwise (contoso.com, 00:15:00)."""
        if self.next_is("'\"$(@{"):
            return self.postfix(self.primary())
        start = self.pos
        word = self.bare_word()
        number = parse_number(word.lstrip("-")) if word.startswith("-") else parse_number(word)
        if number is not None and word.startswith("-"):
            number = -number
        return n.Constant(start, self.pos, word if number is None else number)

    def bare_word(self):
        start, chars = self.pos, []
        while not self.at_end():
            c = self.peek()
            if c == "`":
                escaped = self.peek(1)
                if not escaped or escaped in NEWLINE:
                    break
                chars.append(ESCAPES.get(escaped, escaped))
                self.pos += 2
            elif c in WORD_END:
                break
            else:
                chars.append(c)
                self.pos += 1
        if self.pos == start:
            raise self.unexpected()
        return "".join(chars)

    # --- expressions ---------------------------------------------------------------------------------------

    def expression(self):
        start = self.pos
        left = self.comparison()
        while found := self.operator(LOGICAL):
            self.skip_space(newlines=True)
            right = self.comparison()
            left = n.BinaryOperation(start, self.pos, found[0], False, left, right)
        return left

    def comparison(self):
        start = self.pos
        left = self.array()
        while found := self.operator(COMPARISON):
            self.skip_space(newlines=True)
            right = self.array()
            left = n.BinaryOperation(start, self.pos, found[0], found[1], left, right)
        return left

    def operator(self, names):
        """Consume `-name` (or its case-sensitive `-cname` / explicit `-iname` form) when one follows."""
        mark = self.pos
        self.skip_space()
        if self.peek() == "-" and self.peek(1).isalpha():
            end = self.pos + 1
            while end < len(self.text) and self.text[end].isalpha():
                end += 1
            word = self.text[self.pos + 1:end].lower()
            sensitive = False
            if word not in names and word[:1] in ("c", "i") and word[1:] in names and names is COMPARISON:
                sensitive, word = word.startswith("c"), word[1:]
            if word in names:
                self.pos = end
                return word, sensitive
        self.pos = mark
        return None

    def array(self):
        return self.comma_list(self.unary)

    def comma_list(self, item):
        """`a, b, c` (an array) or a single item, each read by `item`."""
        start = self.pos
        items = [item()]
        while True:
            mark = self.pos
            self.skip_space()
            if self.peek() != ",":
                self.pos = mark
                return items[0] if len(items) == 1 else n.ArrayLiteral(start, self.pos, items)
            self.pos += 1
            self.skip_space(newlines=True)
            if self.at_end():
                raise self.error("Missing expression after ','.", incomplete=True)
            items.append(item())

    def unary(self):
        start = self.pos
        self.skip_space()
        if self.peek() == "!" or (self.text[self.pos:self.pos + 4].lower() == "-not"
                                  and not self.peek(4).isalnum()):
            self.pos += 1 if self.peek() == "!" else 4
            self.skip_space()
            with self.nested():
                operand = self.unary()
            return n.Not(start, self.pos, operand)
        if self.peek() == "-" and (self.peek(1).isdigit() or self.peek(1) == "."):
            self.pos += 1
            number = self.number()
            return n.Constant(start, self.pos, -number.value)
        return self.postfix(self.primary())

    def primary(self):
        start, c = self.pos, self.peek()
        if c == "'":
            return n.Constant(start, self.pos, self.single_quoted())
        if c == '"':
            return self.double_quoted()
        if c == "$" and self.peek(1) == "(":
            self.pos += 2
            return n.SubExpression(start, self.pos, self.statement_list(")"), False)
        if c == "$":
            return self.variable()
        if c == "(":
            self.pos += 1
            return n.SubExpression(start, self.pos, self.statement_list(")"), False)
        if c == "@" and self.peek(1) == "(":
            self.pos += 2
            return n.SubExpression(start, self.pos, self.statement_list(")"), True)
        if c == "@" and self.peek(1) == "{":
            return self.hash_literal()
        if c == "{":
            self.pos += 1
            statements = self.statement_list("}")  # parsed first: the literal ends after its closing brace
            return n.ScriptBlockLiteral(start, self.pos, statements)
        if c.isdigit() or c == ".":
            return self.number()
        if c == "[":
            return self.type_literal()
        if self.at_end():
            raise self.error("An expression was expected after this point.", incomplete=True)
        raise self.unexpected()

    def number(self):
        start = self.pos
        while not self.at_end() and (self.peek().isalnum() or self.peek() == "."):
            self.pos += 1
        value = parse_number(self.text[start:self.pos])
        if value is None:
            self.pos = start
            raise self.unexpected()
        return n.Constant(start, self.pos, value)

    def postfix(self, node):
        while True:
            if self.peek() == "." and (self.peek(1).isalpha() or self.peek(1) == "_"):
                self.pos += 1
                name_start = self.pos
                while self.peek().isalnum() or self.peek() == "_":
                    self.pos += 1
                name = self.text[name_start:self.pos]
                if self.peek() == "(":
                    node = n.MethodCall(node.pos, self.pos, node, name, self.arguments())
                else:
                    node = n.Member(node.pos, self.pos, node, name)
            elif self.peek() == "[":
                self.pos += 1
                self.skip_space()
                with self.nested():
                    index = self.expression()
                self.skip_space()
                self.expect("]")
                node = n.Index(node.pos, self.pos, node, index)
            else:
                return node

    def arguments(self):
        """A method's `(a, b)`: the arguments as a list of expressions."""
        self.pos += 1
        self.skip_space(newlines=True)
        if self.peek() == ")":
            self.pos += 1
            return []
        with self.nested():
            given = self.expression()
        self.skip_space(newlines=True)
        self.expect(")")
        return given.items if isinstance(given, n.ArrayLiteral) else [given]

    def type_literal(self):
        """`[int]`, `[byte[]]`, `[System.IO.File]`; then `::Member`, `::Method(...)`, a cast of what follows, or
        the type itself (`.Translate([NTAccount])`)."""
        start = self.pos
        close = self.text.find("]", self.pos)
        if self.text.startswith("[]", close - 1) and self.peek(close - self.pos + 1) == "]":
            close += 1
        name = self.text[start + 1:close].strip() if close != -1 else ""
        if not re.fullmatch(r"[A-Za-z_][\w.]*(\[\])?", name):
            raise self.unexpected()
        self.pos = close + 1
        if self.text.startswith("::", self.pos):
            self.pos += 2
            name_start = self.pos
            while self.peek().isalnum() or self.peek() == "_":
                self.pos += 1
            member = self.text[name_start:self.pos]
            arguments = self.arguments() if self.peek() == "(" else None
            return n.StaticMember(start, self.pos, name, member, arguments)
        mark = self.pos
        self.skip_space()
        if self.next_is("$'\"(@[") or self.peek().isdigit():
            with self.nested():
                operand = self.unary()
            return n.Cast(start, self.pos, name, operand)
        self.pos = mark
        return n.TypeLiteral(start, self.pos, name)

    def variable(self):
        start = self.pos
        self.pos += 1
        if self.peek() == "{":
            close = self.text.find("}", self.pos)
            if close == -1:
                raise self.error("Missing closing '}' in variable name.", incomplete=True)
            name, self.pos = self.text[self.pos + 1:close], close + 1
        else:
            name_start = self.pos
            while self.peek().isalnum() or self.next_is("_?"):
                self.pos += 1
            name = self.text[name_start:self.pos]
        if not name:
            raise self.error("Variable reference is not valid. '$' was not followed by a valid variable name "
                             "character. Consider using ${} to delimit the name.")
        return n.Variable(start, self.pos, name)

    def single_quoted(self):
        """'text' with '' standing for one quote; nothing else is special."""
        self.pos += 1
        chars = []
        while True:
            if self.at_end():
                raise self.error("The string is missing the terminator: '.", incomplete=True)
            c = self.peek()
            self.pos += 1
            if c == "'" and self.peek() == "'":
                chars.append("'")
                self.pos += 1
            elif c == "'":
                return "".join(chars)
            else:
                chars.append(c)

    def double_quoted(self):
        """"text" with `-escapes, "" for a quote, and $variable / $(subexpression) expanded when evaluated."""
        start = self.pos
        self.pos += 1
        parts, chars = [], []
        while True:
            if self.at_end():
                raise self.error('The string is missing the terminator: ".', incomplete=True)
            c, following = self.peek(), self.peek(1)
            if c == '"' and following == '"':
                chars.append('"')
                self.pos += 2
            elif c == '"':
                self.pos += 1
                break
            elif c == "`" and following:
                chars.append(ESCAPES.get(following, following))
                self.pos += 2
            elif c == "$" and (following.isalnum() or self.next_is("(_{?", 1)):
                if chars:
                    parts.append("".join(chars))
                    chars = []
                parts.append(self.primary())
            else:
                chars.append(c)
                self.pos += 1
        if chars:
            parts.append("".join(chars))
        if all(isinstance(part, str) for part in parts):
            return n.Constant(start, self.pos, "".join(parts))
        return n.ExpandableString(start, self.pos, parts)

    def hash_literal(self):
        """@{ Add = "a","b"; Remove = "c" }: keys are bare words or strings, values are pipelines."""
        start = self.pos
        self.pos += 2
        with self.nested():
            return self._hash_entries(start)

    def _hash_entries(self, start):
        entries = []
        while True:
            self.skip_space(newlines=True)
            if self.peek() == ";":
                self.pos += 1
                continue
            if self.peek() == "}":
                self.pos += 1
                return n.HashLiteral(start, self.pos, entries)
            if self.at_end():
                raise self.error("Missing closing '}' in hash literal.", incomplete=True)
            key = self.hash_key()
            self.skip_space()
            if self.peek() != "=":
                raise self.error("Missing '=' operator after key in hash literal.", incomplete=self.at_end())
            self.pos += 1
            self.skip_space(newlines=True)
            entries.append((key, self.pipeline()))
            self.skip_space()
            if not self.at_end() and self.peek() not in ";}" + NEWLINE:
                raise self.unexpected()

    def hash_key(self):
        if self.peek() == "'":
            return self.single_quoted()
        if self.peek() == '"':
            key = self.double_quoted()
            if not isinstance(key, n.Constant):
                raise self.error("A hash literal key can't contain variables.")
            return key.value
        start = self.pos
        while self.peek().isalnum() or self.peek() == "_":
            self.pos += 1
        if self.pos == start:
            raise self.unexpected()
        return self.text[start:self.pos]

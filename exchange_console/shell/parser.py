"""A recursive-descent parser for the PowerShell subset that Exchange 2010 connector scripts use.

PowerShell tokenizes by context. In command mode (a cmdlet's arguments) `contoso.com`, `10.2.17.1:25`,
`10.2.17.1-10.2.17.255` and `00:15:00` are bare strings and `25MB` is a number; in expression mode (after `=`,
inside `( )`, in a script block) `-eq` and friends are operators. So the parser reads the characters itself,
in the mode its position in the grammar calls for, rather than running a tokenizer first.

    script     = statement { (";" | newline) statement }
    statement  = if | foreach | for | while | do | switch | function | try | "break" | "continue"
                 | ("return" | "exit" | "throw") [pipeline]
                 | target ("=" | "+=" | "-=" | "*=" | "/=" | "%=") pipeline
                 | target ("++" | "--") | ("++" | "--") target | pipeline
    target     = $variable { "." member | "[" expression "]" }
    pipeline   = (command | expression) { "|" command }
    command    = name { "-" parameter [":" argument] | "@" name | argument }
    argument   = primary { "," primary }                              (command mode)
    expression = comparison { ("-and" | "-or" | "-xor") comparison }
    comparison = additive { ("-eq" | "-like" | "-join" | "-split" | "-replace" | ...) additive }
    additive   = multiply { ("+" | "-") multiply }
    multiply   = format { ("*" | "/" | "%") format }
    format     = range { "-f" range }
    range      = array [ ".." array ]
    array      = unary { "," unary }
    unary      = ("-not" | "!" | "-join" | "-split" | "-") unary | postfix
    postfix    = primary { "." member [ "(" arguments ")" ] | "[" expression "]" }
    primary    = 'string' | "string" | @' here-string '@ | @" here-string "@ | number | $variable | ( script )
                 | $( script ) | @( script ) | @{ key = pipeline { ; key = pipeline } } | { script }
                 | "[" type "]" [ "::" member [ "(" arguments ")" ] | unary ]

Text pasted from a web page or a word processor has en and em dashes for `-`, curly quotes and no-break
spaces: the parser reads those as PowerShell does, as the characters they stand for, but keeps them as typed
inside strings and bare words.
"""
import re
from contextlib import contextmanager, nullcontext

from exchange_console.shell import nodes as n
from exchange_console.shell.errors import ParseError

_NUMBER = re.compile(r"(0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(kb|mb|gb|tb|pb)?", re.IGNORECASE)
MULTIPLIERS = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}
COMPARISON = frozenset({"eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch",
                        "contains", "notcontains", "in", "notin", "replace", "split", "join"})
# -join and -split have no case-sensitive forms; the others have -c and -i ones (-ceq, -ireplace).
CASE_FORMS = COMPARISON - {"join"}
LOGICAL = frozenset({"and", "or", "xor"})
ASSIGNMENTS = ("+=", "-=", "*=", "/=", "%=", "=")
SCOPE_NAMES = ("global", "script", "local", "private")  # $script:count
VALUE_STATEMENTS = frozenset({"if", "foreach", "for", "while", "do", "switch", "try"})
# The keywords that start a statement of their own.
KEYWORDS = frozenset({"if", "foreach", "for", "while", "do", "switch", "function", "break", "continue",
                      "return", "exit", "try", "throw"})
# What PowerShell's tokenizer takes for a dash, a quote or a space (as pasted from a web page or a document).
PASTED = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2015": "-",
                        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
                        "\u201c": '"', "\u201d": '"', "\u201e": '"',
                        "\u00a0": " ", "\u2007": " ", "\u202f": " "})
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
NEWLINE = "\r\n"
SPACE = " \t\f\v"
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
        self.commas = True  # whether a comma makes an array here; not between a param() block's parameters
        # The text as the grammar reads it, pasted dashes, quotes and spaces made plain; offsets are the same,
        # and string contents and bare words are taken from the text as typed.
        self.chars = text.translate(PASTED)

    # --- characters ----------------------------------------------------------------------------------------

    def peek(self, offset=0):
        index = self.pos + offset
        return self.chars[index] if index < len(self.chars) else ""

    def raw(self):
        """The next character as typed."""
        return self.text[self.pos]

    def word_at(self, offset=0):
        """The letters (and digits) that start at the position, lower-cased, if they form a whole word."""
        start = end = self.pos + offset
        while end < len(self.chars) and (self.chars[end].isalnum() or self.chars[end] == "_"):
            end += 1
        return self.chars[start:end].lower() if end > start and not self.next_is("-", end - self.pos) else ""

    def keyword(self, *words):
        """Consume one of words when the text goes on with it as a whole word; the word or None."""
        word = self.word_at()
        if word in words:
            self.pos += len(word)
            return word
        return None

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
                self.pos += 3 if self.chars.startswith("\r\n", self.pos + 1) else 2
            elif c == "`" and self.pos + 1 == len(self.text):  # the line goes on in the next one
                self.pos += 1
                raise self.error("Missing the line that the line continuation character (`) announces.",
                                 incomplete=True)
            elif c == "#":
                while not self.at_end() and self.peek() not in NEWLINE:
                    self.pos += 1
            elif c == "<" and self.peek(1) == "#":
                close = self.chars.find("#>", self.pos + 2)
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
        with self.nested() if closer else nullcontext(), self.commas_making_arrays(True):
            return self._statements_until(closer)

    @contextmanager
    def commas_making_arrays(self, allowed):
        saved, self.commas = self.commas, allowed
        try:
            yield
        finally:
            self.commas = saved

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
        word = self.word_at()
        if word in KEYWORDS:
            self.pos += len(word)
            return getattr(self, f"{word}_statement")(start)
        if self.peek() == "$" and self.peek(1) != "(":
            assignment = self.assignment(start)
            if assignment:
                return assignment
        if self.peek() == "[":  # `[int]$days = 30` converts what it assigns
            written = self.type_name()
            self.skip_space()
            assignment = self.assignment(start, written) if self.peek() == "$" and self.peek(1) != "(" else None
            if isinstance(assignment, n.Assignment) and assignment.operator == "":
                return assignment
            self.pos = start
        if self.peek(0) == self.peek(1) and self.peek() in "+-" and self.peek(2) == "$":
            delta = 1 if self.peek() == "+" else -1
            self.pos += 2
            return n.Increment(start, self.pos, self.assignable(), delta)
        return self.pipeline()

    def assignment(self, start, type_name=None):
        """`$x = ...`, `$rc.RemoteIPRanges += ...`, `$i++`; None (and back at start) if this isn't one."""
        target = self.assignable()
        self.skip_space()
        if self.chars.startswith(("++", "--"), self.pos):
            delta = 1 if self.peek() == "+" else -1
            self.pos += 2
            return n.Increment(start, self.pos, target, delta)
        operator = next((op for op in ASSIGNMENTS if self.chars.startswith(op, self.pos)), None)
        if operator is None or self.chars.startswith("==", self.pos):
            self.pos = start
            return None
        self.pos += len(operator)
        self.skip_space(newlines=True)
        if self.at_end():
            raise self.error(f"Missing expression after '{operator}'.", incomplete=True)
        # `$x = foreach (...) {...}` takes the statement's output; `$a = $b = 1` assigns both
        value = self.statement() if self.peek() == "$" or self.word_at() in VALUE_STATEMENTS else self.pipeline()
        return n.Assignment(start, self.pos, target, operator[:-1], value, type_name)

    def assignable(self):
        """A variable, or a property or element of one: what can stand left of `=`."""
        if self.peek() != "$" or self.peek(1) == "(":
            raise self.unexpected()
        return self.postfix(self.variable())

    def exit_statement(self, start):
        return n.Exit(start, self.pos, self.optional_value())

    def return_statement(self, start):
        return n.Return(start, self.pos, self.optional_value(pipeline=True))

    def throw_statement(self, start):
        return n.Throw(start, self.pos, self.optional_value(pipeline=True))

    def try_statement(self, start):
        body = self.block("Missing statement block after try.")
        catches, final = [], None
        while True:
            mark = self.pos
            self.skip_space(newlines=True)
            if self.keyword("catch"):
                types = []
                self.skip_space()
                while self.peek() == "[":
                    types.append(self.type_name())
                    self.skip_space()
                    if self.peek() == ",":
                        self.pos += 1
                        self.skip_space(newlines=True)
                catches.append((types, self.block("Missing statement block in catch block.")))
            elif self.keyword("finally"):
                final = self.block("Missing statement block in finally block.")
                break
            else:
                self.pos = mark
                break
        if not catches and final is None:
            raise self.error("The Try statement is missing its Catch or Finally block.", incomplete=self.at_end())
        return n.Try(start, self.pos, body, catches, final)

    def break_statement(self, start):
        return n.Break(start, self.pos, "break")

    def continue_statement(self, start):
        return n.Break(start, self.pos, "continue")

    def optional_value(self, pipeline=False):
        self.skip_space()
        if self.at_end() or self.peek() in STATEMENT_END:
            return None
        return self.pipeline() if pipeline else self.expression()

    def condition(self):
        """`( pipeline )` after if, while, switch and elseif."""
        self.skip_space()
        self.expect("(")
        self.skip_space(newlines=True)
        with self.nested():
            value = self.pipeline()
        self.skip_space(newlines=True)
        self.expect(")")
        return value

    def block(self, missing):
        """`{ statements }` as the body of a statement; missing is PowerShell's error without one."""
        self.skip_space(newlines=True)
        if self.peek() != "{":
            raise self.error(missing, incomplete=self.at_end())
        self.pos += 1
        return self.statement_list("}")

    def if_statement(self, start):
        clauses = [(self.condition(), self.block("Missing statement block after if ( condition )."))]
        otherwise = None
        while True:
            mark = self.pos
            self.skip_space(newlines=True)
            if self.keyword("elseif"):
                clauses.append((self.condition(), self.block("Missing statement block after elseif ( condition ).")))
            elif self.keyword("else"):
                otherwise = self.block("Missing statement block after 'else' keyword.")
                break
            else:
                self.pos = mark
                break
        return n.If(start, self.pos, clauses, otherwise)

    def foreach_statement(self, start):
        self.skip_space()
        self.expect("(")
        self.skip_space()
        variable = self.variable() if self.peek() == "$" else None
        self.skip_space()
        if variable is None or not self.keyword("in"):
            raise self.error("Missing 'in' after variable in foreach loop.", incomplete=self.at_end())
        self.skip_space(newlines=True)
        with self.nested():
            collection = self.pipeline()
        self.skip_space(newlines=True)
        self.expect(")")
        return n.ForEach(start, self.pos, variable.name, collection, self.block("Missing statement body in foreach "
                                                                                "loop."))

    def for_statement(self, start):
        self.skip_space()
        self.expect("(")
        parts = []
        for closer in ";;)":
            self.skip_space(newlines=True)
            parts.append(None if self.peek() == closer else self.statement())
            self.skip_space(newlines=True)
            self.expect(closer)
        initial, test, step = parts
        return n.Loop(start, self.pos, self.block("Missing statement body in for loop."), test, initial=initial,
                      step=step)

    def while_statement(self, start):
        test = self.condition()
        return n.Loop(start, self.pos, self.block("Missing statement body in while loop."), test)

    def do_statement(self, start):
        body = self.block("Missing statement body in do loop.")
        self.skip_space(newlines=True)
        until = self.keyword("while", "until")
        if not until:
            raise self.error("Missing while or until in do loop.", incomplete=self.at_end())
        return n.Loop(start, self.pos, body, self.condition(), test_after=True, until=until == "until")

    def switch_statement(self, start):
        options = set()
        self.skip_space()
        while self.peek() == "-" and self.peek(1).isalpha():
            option = self.word_at(1)
            if option not in ("regex", "wildcard", "exact", "casesensitive"):
                self.pos += 1
                raise self.error(f"'{option}' is not a valid switch option.")
            options.add(option)
            self.pos += 1 + len(option)
            self.skip_space()
        value = self.condition()
        self.skip_space(newlines=True)
        self.expect("{")
        clauses, otherwise = [], None
        with self.nested():
            while True:
                self.skip_space(newlines=True)
                if self.peek() == ";":
                    self.pos += 1
                elif self.peek() == "}":
                    self.pos += 1
                    return n.Switch(start, self.pos, value, clauses, otherwise, options)
                elif self.at_end():
                    raise self.error("Missing closing '}' in switch statement.", incomplete=True)
                elif self.keyword("default"):
                    otherwise = self.block("Missing statement block in switch statement clause.")
                else:
                    clauses.append((self.command_primary(), self.block("Missing statement block in switch "
                                                                       "statement clause.")))

    def function_statement(self, start):
        self.skip_space()
        name = self.bare_word()
        self.skip_space()
        parameters = self.parameter_list(")") if self.peek() == "(" else []
        self.skip_space(newlines=True)
        if self.peek() != "{":
            raise self.error("Missing function body in function declaration.", incomplete=self.at_end())
        self.pos += 1
        self.skip_space(newlines=True)
        if self.keyword("param"):
            self.skip_space()
            parameters = self.parameter_list(")")
        blocks = self.named_blocks()
        if blocks is None:
            return n.FunctionDefinition(start, self.pos, name, parameters, self.statement_list("}"))
        return n.FunctionDefinition(start, self.pos, name, parameters, blocks.get("end", []), blocks.get("begin"),
                                    blocks.get("process"))

    def named_blocks(self):
        """A function body of `begin { } process { } end { }` up to its closing brace; None (and nothing
        consumed) for a body of plain statements."""
        mark, blocks = self.pos, {}
        while True:
            self.skip_space(newlines=True)
            if blocks and self.peek() == "}":
                self.pos += 1
                return blocks
            word = self.word_at()
            after = self.pos + len(word)
            while after < len(self.chars) and self.chars[after] in SPACE + NEWLINE:
                after += 1
            if word not in ("begin", "process", "end") or word in blocks or self.peek(after - self.pos) != "{":
                if blocks:
                    raise self.error("Unexpected token in a function body of begin, process and end blocks.",
                                     incomplete=self.at_end())
                self.pos = mark
                return None
            self.pos = after + 1
            blocks[word] = self.statement_list("}")

    def parameter_list(self, closer):
        """`($Identity, [switch]$Force, [int]$Days = 7)`: names, types, default values, and Mandatory=$true
        from a [Parameter(...)] attribute."""
        self.expect("(")
        parameters = []
        with self.nested():
            while True:
                self.skip_space(newlines=True)
                if self.peek() == closer:
                    self.pos += 1
                    return parameters
                type_name, mandatory = None, False
                while self.peek() == "[":  # type constraints and attributes such as [Parameter(Mandatory=$true)]
                    written = self.type_name()
                    if "(" in written:
                        mandatory = mandatory or bool(re.search(r"mandatory\s*=\s*\$true", written, re.IGNORECASE))
                    else:
                        type_name = written
                    self.skip_space(newlines=True)
                variable = self.variable()
                self.skip_space(newlines=True)
                default = None
                if self.peek() == "=":
                    self.pos += 1
                    self.skip_space(newlines=True)
                    with self.commas_making_arrays(False):
                        default = self.expression()
                    self.skip_space(newlines=True)
                parameters.append(n.ParameterDeclaration(variable.pos, self.pos, variable.name, type_name, mandatory,
                                                         default))
                if self.peek() == ",":
                    self.pos += 1
                elif self.peek() != closer:
                    raise self.error(MISSING_CLOSER[closer], incomplete=True) if self.at_end() \
                        else self.unexpected()

    def type_name(self):
        """`[name]` (brackets balanced, for attributes with arguments); the text between the outer brackets."""
        start, level = self.pos, 0
        while not self.at_end():
            level += {"[": 1, "]": -1}.get(self.peek(), 0)
            self.pos += 1
            if level == 0:
                return self.text[start + 1:self.pos - 1].strip()
        raise self.error("Missing ']' after type name.", incomplete=True)

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
            elif self.peek() == "@" and (self.peek(1).isalnum() or self.peek(1) == "_"):
                variable_start = self.pos
                self.pos += 1
                elements.append(n.Splat(variable_start, self.pos, self.variable(sigil=False).name))
            else:
                elements.append(self.command_argument())

    def command_parameter(self):
        start = self.pos
        self.pos += 1
        while not self.at_end() and self.peek() not in WORD_END and self.peek() != ":":
            self.pos += 1
        name, name_end = self.chars[start + 1:self.pos], self.pos
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
                chars.append(self.raw())
                self.pos += 1
        if self.pos == start:
            raise self.unexpected()
        return "".join(chars)

    # --- expressions ---------------------------------------------------------------------------------------

    def expression(self):
        start = self.pos
        left = self.comparison()
        while found := self.operator(LOGICAL):
            operator_end = self.pos
            self.skip_space(newlines=True)
            right = self.comparison()
            left = n.BinaryOperation(start, operator_end, found[0], False, left, right)
        return left

    def comparison(self):
        start = self.pos
        left = self.additive()
        while found := self.operator(COMPARISON):
            operator_end = self.pos
            self.skip_space(newlines=True)
            right = self.additive()
            left = n.BinaryOperation(start, operator_end, found[0], found[1], left, right)
        return left

    def additive(self):
        return self.arithmetic(self.multiplicative, "+-")

    def multiplicative(self):
        return self.arithmetic(self.format, "*/%")

    def arithmetic(self, operand, symbols):
        """Left-associative `a + b - c` (or `* / %`); a `-` followed by a letter is an operator like -eq."""
        start = self.pos
        left = operand()
        while True:
            mark = self.pos
            self.skip_space()
            symbol = self.peek()
            if not symbol or symbol not in symbols or self.peek(1) == "=" or (symbol == "-" and (
                    self.peek(1).isalpha() or self.peek(1) == "-")):
                self.pos = mark
                return left
            self.pos += 1
            operator_end = self.pos
            self.skip_space(newlines=True)
            right = operand()
            left = n.BinaryOperation(start, operator_end, symbol, False, left, right)

    def format(self):
        start = self.pos
        left = self.range()
        while self.operator({"f"}):
            operator_end = self.pos
            self.skip_space(newlines=True)
            left = n.BinaryOperation(start, operator_end, "f", False, left, self.range())
        return left

    def range(self):
        start = self.pos
        left = self.array()
        mark = self.pos
        self.skip_space()
        if not self.chars.startswith("..", self.pos):
            self.pos = mark
            return left
        self.pos += 2
        operator_end = self.pos
        self.skip_space(newlines=True)
        return n.BinaryOperation(start, operator_end, "..", False, left, self.array())

    def operator(self, names):
        """Consume `-name` (or its case-sensitive `-cname` / explicit `-iname` form) when one follows."""
        mark = self.pos
        self.skip_space()
        if self.peek() == "-" and self.peek(1).isalpha():
            end = self.pos + 1
            while end < len(self.chars) and self.chars[end].isalpha():
                end += 1
            word = self.chars[self.pos + 1:end].lower()
            sensitive = False
            if word not in names and word[:1] in ("c", "i") and word[1:] in CASE_FORMS & names:
                sensitive, word = word.startswith("c"), word[1:]
            if word in names:
                self.pos = end
                return word, sensitive
        self.pos = mark
        return None

    def array(self):
        return self.comma_list(self.unary) if self.commas else self.unary()

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
        prefix = "!" if self.peek() == "!" else self.word_at(1) if self.peek() == "-" else ""
        if prefix in ("!", "not", "join", "split"):
            self.pos += 1 if prefix == "!" else 1 + len(prefix)
            self.skip_space()
            with self.nested():
                operand = self.unary()
            return n.Not(start, self.pos, operand) if prefix in ("!", "not") else \
                n.Unary(start, self.pos, prefix, operand)
        if self.peek() == "-" and (self.peek(1).isdigit() or self.peek(1) == "."):
            self.pos += 1
            number = self.number()
            return n.Constant(start, self.pos, -number.value)
        if self.peek() == "-" and self.next_is("$(", 1):
            self.pos += 1
            with self.nested():
                operand = self.unary()
            return n.Unary(start, self.pos, "-", operand)
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
        if c == "@" and self.next_is("'\"", 1):
            return self.here_string()
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
        while not self.at_end() and (self.peek().isalnum() or self.peek() == ".") \
                and not self.chars.startswith("..", self.pos):  # 1..10 is a range
            self.pos += 1
        value = parse_number(self.chars[start:self.pos])
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

    def variable(self, sigil=True):
        start = self.pos
        self.pos += sigil
        if self.peek() == "{":
            close = self.text.find("}", self.pos)
            if close == -1:
                raise self.error("Missing closing '}' in variable name.", incomplete=True)
            name, self.pos = self.text[self.pos + 1:close], close + 1
        else:
            name_start = self.pos
            while self.peek().isalnum() or self.next_is("_?") or (
                    self.peek() == ":" and self.chars[name_start:self.pos].lower() in SCOPE_NAMES):
                self.pos += 1
            name = self.chars[name_start:self.pos]
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
                chars.append(self.text[self.pos - 1])

    def double_quoted(self):
        """"text" with `-escapes, "" for a quote, and $variable / $(subexpression) expanded when evaluated."""
        start = self.pos
        self.pos += 1
        return self.expandable(start, '"', 'The string is missing the terminator: ".')

    def here_string(self):
        """@" ... "@ or @' ... '@: the lines between the opening line and a line that starts with the closing
        quote and @, taken as they are (quotes included); the double-quoted kind expands variables."""
        start, quote = self.pos, self.peek(1)
        self.pos += 2
        while self.next_is(SPACE):
            self.pos += 1
        if not self.next_is(NEWLINE):
            raise self.error("No characters are allowed after a here-string header but before the end of the "
                             "line.", incomplete=self.at_end())
        self.pos += 2 if self.chars.startswith("\r\n", self.pos) else 1
        missing = f"The string is missing the terminator: {quote}@."
        if quote == '"':
            return self.expandable(start, "\n" + quote + "@", missing, here=True)
        end = self.chars.find("\n" + quote + "@", self.pos - 1)
        if end == -1:
            self.pos = len(self.text)
            raise self.error(missing, incomplete=True)
        text = self.text[self.pos:max(end, self.pos)].removesuffix("\r")
        self.pos = end + 3
        return n.Constant(start, self.pos, text)

    def expandable(self, start, terminator, missing, here=False):
        """The parts of an expandable string up to terminator: text and the $variables / $( ) in it. A
        here-string's terminator starts with the newline that ends its last line (the header's, when empty)."""
        if here:  # at the header's newline: with the closing line right after it, the here-string is empty
            self.pos -= 1
            self.pos += not self.chars.startswith(terminator, self.pos)
        parts, chars = [], []
        while True:
            if self.at_end():
                raise self.error(missing, incomplete=True)
            c, following = self.peek(), self.peek(1)
            if c == '"' and following == '"' and not here:
                chars.append('"')
                self.pos += 2
            elif self.chars.startswith(terminator, self.pos):
                self.pos += len(terminator)
                break
            elif c == "`" and following:
                chars.append(ESCAPES.get(following, self.text[self.pos + 1]))
                self.pos += 2
            elif c == "$" and (following.isalnum() or self.next_is("(_{?", 1)):
                if chars:
                    parts.append("".join(chars))
                    chars = []
                parts.append(self.primary())
            else:
                chars.append(self.raw())
                self.pos += 1
        if here and chars and chars[-1] == "\r":
            chars.pop()
        if chars:
            parts.append("".join(chars))
        if all(isinstance(part, str) for part in parts):
            return n.Constant(start, self.pos, "".join(parts))
        return n.ExpandableString(start, self.pos, parts)

    def hash_literal(self):
        """@{ Add = "a","b"; Remove = "c" }: keys are bare words or strings, values are pipelines."""
        start = self.pos
        self.pos += 2
        with self.nested(), self.commas_making_arrays(True):
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
        return self.chars[start:self.pos]

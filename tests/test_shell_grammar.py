"""The PowerShell subset the shell reads: quoting, numbers and sizes, arrays, hash tables, variables, statements,
operators, and the parse errors PowerShell gives."""
import pytest

from exchange_console.shell import nodes as n
from exchange_console.shell.engine import Session
from exchange_console.shell.errors import ParseError, ShellError
from exchange_console.shell.host import BufferHost
from exchange_console.shell.parser import parse
from exchange_console.shell.values import Hashtable


def values(text):
    return Session(BufferHost()).execute(text)


def value(text):
    (result,) = values(text)
    return result


def only_command(text):
    (pipeline,) = parse(text)
    (command,) = pipeline.elements
    return command


# --- command mode ----------------------------------------------------------------------------------------------

def test_it_reads_named_parameters_with_a_space_or_a_colon():
    command = only_command("New-SendConnector -Name 'To Internet' -Enabled:$false -Internet")
    names = [(element.name, element.argument) for element in command.elements
             if isinstance(element, n.CommandParameter)]
    assert [name for name, _ in names] == ["Name", "Enabled", "Internet"]
    assert isinstance(names[1][1], n.Variable) and names[1][1].name == "false"
    assert isinstance(command.elements[1], n.Constant) and command.elements[1].value == "To Internet"


def test_it_reads_a_positional_identity_with_a_backslash_as_text():
    command = only_command('Set-ReceiveConnector "HUB01\\Default HUB01" -Banner "220 SMTP OK"')
    assert command.elements[0].value == "HUB01\\Default HUB01"


@pytest.mark.parametrize("argument, expected", [
    ("contoso.com", "contoso.com"),
    ("10.2.17.1:25", "10.2.17.1:25"),
    ("10.2.17.1-10.2.17.255", "10.2.17.1-10.2.17.255"),
    ("00:15:00", "00:15:00"),
    ("[::]:25", "[::]:25"),
    ("admin@contoso.com", "admin@contoso.com"),
    ("25", 25),
    ("25MB", 25 * 1024 * 1024),
    ("10240KB", 10 * 1024 * 1024),
    ("1GB", 1024**3),
    ("-5", -5),
    ("0x10", 16),
    ("unlimited", "unlimited"),
])
def test_it_reads_bare_words_as_strings_and_numbers_as_powershell_does(argument, expected):
    assert value(f"Write-Output {argument}") == expected


def test_it_reads_comma_separated_arguments_as_one_array():
    assert values("Write-Output contoso.com,fabrikam.com, 'woodgrovebank.com'") == [
        "contoso.com", "fabrikam.com", "woodgrovebank.com"]


def test_it_joins_lines_ended_by_a_backtick():
    assert values("Write-Output `\n  contoso.com") == ["contoso.com"]


# --- strings ---------------------------------------------------------------------------------------------------

def test_it_reads_doubled_quotes_inside_single_quotes_and_expands_nothing():
    assert value("'It''s $name `n'") == "It's $name `n"


def test_it_expands_variables_and_subexpressions_inside_double_quotes():
    assert value('$name = "World"; $h = @{N="x"}; "Hello $name, ${name}! $($h.N) $name.Length"') == \
        "Hello World, World! x World.Length"


def test_it_applies_backtick_escapes_and_doubled_quotes_inside_double_quotes():
    assert value('"a`tb`"c`$d ""e"" `n"') == 'a\tb"c$d "e" \n'


def test_it_reads_true_false_and_null():
    assert values("$true; $false; $null") == [True, False]


# --- expressions ---------------------------------------------------------------------------------------------

def test_it_reads_numbers_and_size_literals_in_expressions():
    assert values("25MB; 1.5; 10240KB -eq 10MB") == [25 * 1024 * 1024, 1.5, True]


def test_it_builds_arrays_with_commas_and_at_parentheses():
    assert value('$a = "a","b","c"; $a[1]') == "b"
    assert value("@(Write-Output x).Count") == 1
    assert value("(Write-Output x, y).Count") == 2


def test_it_builds_hash_tables_with_keys_in_any_case():
    table = value('@{Add="contoso.com","fabrikam.com"; Remove="woodgrovebank.com"}')
    assert isinstance(table, Hashtable)
    assert table.lookup("add") == ["contoso.com", "fabrikam.com"]
    assert table.lookup("REMOVE") == "woodgrovebank.com"


def test_it_keeps_variables_between_statements_and_reads_their_properties():
    assert values("$x = @{Name = 'To Internet'}\n$x.Name; $X.name") == ["To Internet", "To Internet"]


def test_it_runs_statements_separated_by_semicolons_and_newlines_and_skips_comments():
    script = "# a comment\nWrite-Output a; Write-Output b  # trailing\n<# block\ncomment #>\nWrite-Output c\n"
    assert values(script) == ["a", "b", "c"]


@pytest.mark.parametrize("expression, expected", [
    ("'Contoso' -eq 'contoso'", True),
    ("'Contoso' -ceq 'contoso'", False),
    ("'Contoso' -ne 'Fabrikam'", True),
    ("'Internet Mail' -like 'internet*'", True),
    ("'Internet Mail' -notlike '*Relay*'", True),
    ("20MB -gt 10MB", True),
    ("5 -lt 3", False),
    ("5 -ge 5 -and 3 -le 4", True),
    ("$false -or 'x' -eq 'x'", True),
    ("-not $true", False),
    ("!(1 -eq 2)", True),
    ("'HUB01' -match '^hub\\d+$'", True),
    ("'a','b' -contains 'B'", True),
    ("10MB -eq '10MB'", True),
])
def test_it_evaluates_powershell_operators(expression, expected):
    assert value(expression) is expected


def test_it_filters_an_array_on_the_left_of_a_comparison():
    assert values("('contoso.com','fabrikam.com','contoso.net') -like 'contoso.*'") == ["contoso.com", "contoso.net"]


# --- parse errors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message, incomplete", [
    ("Write-Output 'abc", "The string is missing the terminator: '.", True),
    ('Write-Output "abc', 'The string is missing the terminator: ".', True),
    ("Get-SendConnector | Where-Object { $_.Enabled", "Missing closing '}' in statement block.", True),
    ("Get-SendConnector |", "An empty pipe element is not allowed.", True),
    ("Get-SendConnector `", "Missing the line that the line continuation character (`) announces.", True),
    ("Get-SendConnector | ; Get-SendConnector", "An empty pipe element is not allowed.", False),
    ("Get-SendConnector | 'x'", "Expressions are only allowed as the first element of a pipeline.", False),
    ("$x = 1 2", "Unexpected token '2' in expression or statement.", False),
    ("@{Add 'a'}", "Missing '=' operator after key in hash literal.", False),
])
def test_it_reports_parse_errors_as_powershell_does(text, message, incomplete):
    with pytest.raises(ParseError) as raised:
        parse(text)
    assert raised.value.message == message
    assert raised.value.incomplete is incomplete


def test_it_points_at_the_offending_token_of_a_parse_error():
    with pytest.raises(ParseError) as raised:
        parse("Write-Output a\n$x = 1 2")
    assert raised.value.render("Write-Output a\n$x = 1 2").splitlines() == [
        "Unexpected token '2' in expression or statement.",
        "At line:2 char:8",
        "+ $x = 1  <<<< 2",
    ]


@pytest.mark.parametrize("text, message, incomplete", [
    ("if ($x) 'yes'", "Missing statement block after if ( condition ).", False),
    ("if ($x) { 1 } else", "Missing statement block after 'else' keyword.", True),
    ("foreach ($x of $list) { }", "Missing 'in' after variable in foreach loop.", False),
    ("foreach ($x in $list)", "Missing statement body in foreach loop.", True),
    ("while ($true) {", "Missing closing '}' in statement block.", True),
    ("do { } 'x'", "Missing while or until in do loop.", False),
    ("switch ($x) { 'a' }", "Missing statement block in switch statement clause.", False),
    ("function Get-It", "Missing function body in function declaration.", True),
    ("$note = @\" text\n\"@", "No characters are allowed after a here-string header but before the end of the line.",
     False),
    ("$note = @'\ntext", "The string is missing the terminator: '@.", True),
    ("$count +=", "Missing expression after '+='.", True),
])
def test_it_reports_the_parse_errors_of_statements_as_powershell_2_does(text, message, incomplete):
    with pytest.raises(ParseError) as raised:
        parse(text)
    assert raised.value.message == message
    assert raised.value.incomplete is incomplete


@pytest.mark.parametrize("expression, expected", [
    ("'{0,-6}|{1,4}|{2:N1}|{3:D3}|{4:0.00}|{5:P0}|{{x}}' -f 'ab', 7, 1234.56, 5, 2.5, 0.25",
     "ab    |   7|1,234.6|005|2.50|25 %|{x}"),
    ("'HUB01.contoso.com' -replace '^(?<host>[^.]+)\\..*$', '${host} / $1 / $$'", "HUB01 / HUB01 / $"),
    ("('a;b;c' -split ';', 2) -join '+'", "a+b;c"),
    ("-join ('a', 'b')", "ab"),
    ("(-split '  one two  ').Count", 2),
    ("'x' + 1 + 2", "x12"),
    ("1 + '2'", 3),
    ("-7 % 3", -1),
    ("(1,2) + 3 -join ','", "1,2,3"),
    ("(5..3) -join ''", "543"),
    ("$true -xor $true", False),
])
def test_it_evaluates_string_and_arithmetic_operators(expression, expected):
    assert value(expression) == expected


def test_it_refuses_arithmetic_on_text_that_is_not_a_number():
    with pytest.raises(ShellError) as raised:
        values("5 + 'five'")
    assert raised.value.message == ('Cannot convert value "five" to type "System.Int32". Error: "Input string was not '
                                    'in a correct format."')


def test_it_keeps_a_functions_variables_in_its_own_scope():
    assert values("$name = 'outer'; function Set-Name { $name = 'inner'; $script:seen = $name }; Set-Name; "
                  "$name; $seen") == ["outer", "inner"]


def test_it_refuses_to_overwrite_an_automatic_variable():
    with pytest.raises(ShellError) as raised:
        values("$true = 1")
    assert raised.value.message == "Cannot overwrite variable true because it is read-only or constant."


def test_it_converts_what_a_typed_assignment_assigns():
    assert values("[int]$days = '30'; $days * 2; [string]$text = 5; $text + 1") == [60, "51"]


def test_it_pipes_objects_into_a_functions_process_block_and_input():
    assert values("function Get-Double { begin { 'start' } process { $_ * 2 } end { 'done' } }; 1, 2 | Get-Double; "
                  "function Get-Total { $total = 0; foreach ($item in $input) { $total += $item }; $total }; "
                  "1..4 | Get-Total") == ["start", 2, 4, "done", 10]


def test_it_reads_a_statement_that_starts_with_a_subexpression_or_a_cast_of_one():
    assert values("$(1 + 1); [int]$('3') + 1; ([byte[]]$(Write-Output 65, 66)).Count") == [2, 4, 2]


def test_it_sets_matches_for_match_and_for_a_regex_switch_clause():
    assert values("if ('HUB01.contoso.com' -match '^(?<host>[^.]+)\\.') { $matches.host }; "
                  "switch -regex ('EDGE2') { '^EDGE(\\d)' { \"edge $($matches[1])\" } }") == ["HUB01", "edge 2"]


def test_it_assigns_a_chain_of_variables_and_a_loops_output():
    assert values("$first = $second = 'HUB01'; $first; $second; $doubled = foreach ($n in 1..3) { $n * 2 }; "
                  "$doubled -join ','") == ["HUB01", "HUB01", "2,4,6"]

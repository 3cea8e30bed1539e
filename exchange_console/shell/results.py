"""-ResultSize, as Exchange's Get- cmdlets take it: how many objects one outputs at most, and the warning that
says more were found."""
from exchange_console.shell.errors import ParameterBindingError
from exchange_console.shell.values import to_string

MORE_RESULTS = ("There are more results available than are currently displayed. To view them, increase the value "
                "for the ResultSize parameter.")


def result_size(invocation):
    """The -ResultSize given (1000 by default, as Exchange's); None for Unlimited."""
    text = to_string(invocation.get("ResultSize", "1000"))
    if text.lower() == "unlimited":
        return None
    if not text.isdigit() or int(text) < 1:
        raise ParameterBindingError(f"Cannot bind parameter 'ResultSize'. Cannot convert value \"{text}\" to type "
                                    f"\"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]\".")
    return int(text)

"""What differs between two states, object by object and parameter by parameter, in Exchange's names and values."""
from exchange_console.configuration.state import by_key


def label(item):
    return f"{item['noun']} '{item['identity']}'" if item["identity"] is not None else item["noun"]


def differences(live, other, other_name="script"):
    """Lines describing how `other` differs from the live state; none when they are the same."""
    lines, before, after = [], by_key(live), by_key(other)
    for item in live:
        if item["key"] not in after:
            lines.append(f"{label(item)}: only in the live configuration")
    for item in other:
        old = before.get(item["key"])
        if old is None:
            lines.append(f"{label(item)}: only in the {other_name}")
            lines += [f"    {name}: {value}" for name, value in item["values"].items()]
            continue
        changed = [name for name, value in item["values"].items() if old["values"].get(name) != value]
        if changed:
            lines.append(f"{label(item)}:")
            lines += [f"    {name}: live {_shown(old['values'].get(name))}; {other_name} {_shown(item['values'][name])}"
                      for name in changed]
    return lines


def _shown(value):
    return value if value not in ("", None) else "(empty)"

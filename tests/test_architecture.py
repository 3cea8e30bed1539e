"""The shape of the code that docs/architecture.md describes, checked on the code itself: no import cycle
between modules (imports inside functions included), and no module-level state that a worker would share
between its parts (the runtime object holds it). The layer and forbidden-import contracts are import-linter's
(pyproject.toml, run by `make test`)."""
import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent

# Module-level values that are fixed once built: constructors of immutable things, loggers, query expressions.
IMMUTABLE_CALLS = {"frozenset", "tuple", "re.compile", "logging.getLogger", "getLogger", "MappingProxyType",
                   "types.MappingProxyType", "object", "RecipientReport", "BytesHeaderParser", "fields", "Substr",
                   "TlsPolicy"}


def import_cycles(*packages):
    """The strongly connected components (more than one module) of the packages' import graph."""
    graph = grimp.build_graph(*packages)
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(module):   # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in imports[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return cycles


def test_no_module_imports_itself_through_others():
    assert import_cycles("exchange_console", "transport") == []


def test_the_cycle_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    package = tmp_path / "knot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from knot import b\n")
    (package / "b.py").write_text("def later():\n    from knot import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("knot") == [["knot.a", "knot.b"]]


def module_level_state(path):
    """Names bound at module level to something mutable: a list, dict or set display or comprehension, or a
    call that isn't known to build an immutable value (a class instance, a counter, a cache)."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if _mutable(node.value):
                found += [ast.unparse(target) for target in targets]
        elif isinstance(node, ast.FunctionDef) and any(
                "cache" in ast.unparse(decorator) for decorator in node.decorator_list):
            found.append(f"{node.name} (cached)")
    return found


def _mutable(value):
    if isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
        return True
    if isinstance(value, ast.Call):
        return ast.unparse(value.func) not in IMMUTABLE_CALLS
    return False


def test_the_transport_keeps_no_state_in_module_globals():
    state = {str(path.relative_to(ROOT)): names for path in sorted((ROOT / "transport").rglob("*.py"))
             if "migrations" not in path.parts and (names := module_level_state(path))}
    assert state == {}


def test_the_state_check_finds_globals_a_worker_would_share(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("import functools, itertools, threading\nLIMIT = 5\nNAMES = frozenset({'a'})\n"
                      "pending = set()\nslots = Slots()\n_ids = itertools.count()\n_lock = threading.Lock()\n"
                      "@functools.lru_cache\ndef context(): pass\n")
    assert module_level_state(module) == ["pending", "slots", "_ids", "_lock", "context (cached)"]

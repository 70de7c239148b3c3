"""The package's layout rules, checked on the source: only tracker/store/ talks SQL,
and the stage packages import each other without cycles.

Function-level imports of the package's own modules are allowed only with a
comment saying they buy start-up time (they would otherwise hide a cycle)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tracker"
SQL_MODULES = ("sqlite_utils", "sqlite3")
SQL_TEXT = re.compile(r"\b(SELECT .+ FROM|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|DELETE FROM|CREATE (TABLE|INDEX|VIRTUAL)|PRAGMA \w+)")
SQL_CALLS = frozenset({"execute", "executescript", "query", "rows_where", "insert_all", "upsert_all", "count_where"})
LAZY_MARK = re.compile(r"start-?up", re.IGNORECASE)

# Shrinking allow-lists: modules that still break a rule. Empty them; never add to them.
SQL_OFFENDERS: set[str] = set()
LAZY_OFFENDERS: set[str] = set()


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _in_store(name: str) -> bool:
    return name == "tracker.store" or name.startswith("tracker.store.")


def sql_uses(path: Path) -> list[str]:
    """What in this file talks to SQLite directly: imports, SQL text, sqlite-utils table calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in SQL_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in SQL_MODULES:
            found.append(f"line {node.lineno}: from {node.module} import")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_TEXT.search(node.value):
            found.append(f"line {node.lineno}: SQL text {node.value[:40]!r}")
        elif isinstance(node, ast.JoinedStr) and SQL_TEXT.search(_fstring_text(node)):
            found.append(f"line {node.lineno}: SQL f-string {_fstring_text(node)[:40]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
        elif isinstance(node, ast.Subscript) and _db_name(node.value) and isinstance(node.slice, ast.Constant):
            found.append(f"line {node.lineno}: table access [{node.slice.value!r}]")
    return found


def _fstring_text(node: ast.JoinedStr) -> str:
    """An f-string's text with each {value} read as a word, so f"UPDATE {table} SET" shows."""
    return "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)


def _db_name(node: ast.AST) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name in ("db", "database", "conn")


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imported(module: str, node: ast.AST, known: dict[str, Path], is_package: bool) -> list[str]:
    """The package's own modules an import statement loads."""
    names = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = _resolve(module, node, is_package)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    return [n for n in names if n in known]


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_imports(module: str, path: Path, known: dict[str, Path]) -> tuple[set[str], list[tuple[int, str]]]:
    """(own modules imported at module level, [(line, module)] imported inside functions without a start-up comment)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    is_package = path.name == "__init__.py"
    top: set[str] = set()
    lazy: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                own = _imported(module, child, known, is_package)
                if not in_function:
                    top.update(own)
                elif own and not _commented(lines, child):
                    lazy.extend((child.lineno, m) for m in sorted(set(own)))
                continue
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    # a package's parent packages are imported first anyway; they are no edge of a cycle
    top = {m for m in top if m != module and not module.startswith(m + ".")}
    return top, lazy


def _commented(lines: list[str], node: ast.AST) -> bool:
    """A start-up comment on the import's line(s), or on the comment lines just above it
    (one comment may cover a block of imports)."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    if any(LAZY_MARK.search(lines[i].partition("#")[2]) for i in range(first, last + 1)):
        return True
    i = first - 1
    while i >= 0 and (lines[i].strip().startswith("#") or re.match(r"\s*(from|import)\s", lines[i])):
        if lines[i].strip().startswith("#") and LAZY_MARK.search(lines[i]):
            return True
        i -= 1
    return False


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def test_only_the_store_talks_sql():
    found = {name: sql_uses(path) for name, path in modules().items() if not _in_store(name)}
    offenders = {name: uses for name, uses in found.items() if uses}
    new = {name: uses for name, uses in offenders.items() if name not in SQL_OFFENDERS}
    assert not new, "SQL outside tracker/store/ (add a named function to tracker/store/ instead):\n" + "\n".join(
        f"{name}: {'; '.join(uses)}" for name, uses in sorted(new.items()))
    cleaned = SQL_OFFENDERS - set(offenders)
    assert not cleaned, f"no longer offending, remove from SQL_OFFENDERS: {sorted(cleaned)}"


def test_the_store_itself_is_seen_talking_sql():
    """The scanner finds what it looks for (else the test above could never fail)."""
    uses = sql_uses(PACKAGE / "store" / "ledger.py")
    assert any("SQL f-string 'UPDATE x SET" in u for u in uses) and any("from sqlite_utils" in u for u in uses)
    assert any("SQL text" in u for u in sql_uses(PACKAGE / "store" / "decisions.py"))


def test_no_import_cycles():
    known = modules()
    graph = {name: module_imports(name, path, known)[0] for name, path in known.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_function_level_imports_say_why():
    known = modules()
    missing = {name: lazy for name, path in known.items() if (lazy := module_imports(name, path, known)[1])}
    new = {name: lazy for name, lazy in missing.items() if name not in LAZY_OFFENDERS}
    assert not new, "function-level imports of tracker modules without a comment saying they buy start-up time:\n" + "\n".join(
        f"{name}: " + ", ".join(f"line {line} {mod}" for line, mod in lazy) for name, lazy in sorted(new.items()))
    cleaned = LAZY_OFFENDERS - set(missing)
    assert not cleaned, f"no longer offending, remove from LAZY_OFFENDERS: {sorted(cleaned)}"


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_test_module_imports_another():
    """Shared helpers live in conftest.py or *_support.py modules, never in a test module."""
    tests = Path(__file__).resolve().parent
    found = []
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name} line {node.lineno}: {n}" for n in names if n.split(".")[0].startswith("test_")]
    assert not found, "test modules importing test modules:\n" + "\n".join(found)

"""The package's rooms and the directions its imports may take (docs/core-api.md draws them).

Every `import fsdgimg…` and `from fsdgimg… import` in the package is read — at module level and
inside functions alike, since a lazy import is still a dependency — and checked against LAYERS:
a module may import its own room and any room of a lower layer, never a higher one nor another
room of its own layer, and no chain of imports may come back to where it started. A new room is
one line here; a new upward arrow or loop fails with the import that makes it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "fsdgimg"

# Lowest first. A room is a sub-package, or a top-level module (`fsdgimg` itself is its __init__).
LAYERS: list[set[str]] = [
    {"errors"},
    {"fsdgimg", "progress", "distversion"},   # plumbing every room may use
    {"oci"},                                  # the image model
    {"platforms", "guix", "signature"},       # architectures, the guix driver, signature formats
    {"catalog"},                              # the image catalog (reads platforms)
    {"transports"},                           # where images are read from and written to
    {"sbom"},
    {"audit"},
    {"trust"},                                # signing, attachments, policy, verify
    {"build", "mirror"},                      # the two pipelines that use all of the above
    {"commands"},
    {"cli"},
    {"__main__"},
]
RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _module_of(name: str) -> str:
    """The module a dotted name lives in (`fsdgimg.oci.mediatypes` for `from fsdgimg.oci import mediatypes`)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module: str) -> list[tuple[str, int]]:
    """(imported module, line) for each fsdgimg import in `module`."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            if base.split(".")[0] == "fsdgimg":
                found += [(_module_of(f"{base}.{a.name}"), node.lineno) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(_module_of(a.name), node.lineno) for a in node.names if a.name.split(".")[0] == "fsdgimg"]
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "fsdgimg"


def test_every_room_has_a_layer():
    assert sorted({room(m) for m in MODULES} - RANK.keys()) == []


def test_every_room_says_what_it_owns_and_may_import():
    """A sub-package's docstring is where a newcomer reads what goes in it."""
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc, f"{init.parent.name}/__init__.py: no 'May import' in its docstring"


def test_no_import_runs_up_or_across():
    wrong = []
    for module, imports in GRAPH.items():
        for target, line in imports:
            a, b = room(module), room(target)
            if a != b and RANK[b] >= RANK[a]:
                wrong.append(f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}: {module} imports {target} "
                             f"({a} may not import {b})")
    assert wrong == []


def test_no_import_loop():
    # Tarjan's strongly connected components: a component of more than one module is a loop.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w, _ in GRAPH[v]:
            if w == v:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                loops.append(sorted(component + [v]))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert loops == []


@pytest.mark.parametrize("source, expected", [
    # The checker itself: it sees a lazy import inside a function, and both kinds of from-import.
    ("def f():\n    from fsdgimg.cli import main\n", ["fsdgimg.cli"]),
    ("from fsdgimg.oci import mediatypes\nimport fsdgimg.errors\n", ["fsdgimg.oci.mediatypes", "fsdgimg.errors"]),
])
def test_the_reader_sees_every_kind_of_import(tmp_path, source, expected, monkeypatch):
    monkeypatch.setitem(MODULES, "fsdgimg.oci.probe", tmp_path / "probe.py")
    (tmp_path / "probe.py").write_text(source)
    assert [m for m, _ in _imports("fsdgimg.oci.probe")] == expected

"""The package's imports point one way (docs/ARCHITECTURE.md): no cycle among its modules, counting
imports inside functions and the packages a dotted import runs first; no module imports from a layer
above its own; and no import inside a function but of an optional dependency."""

import ast
import pathlib

import pytest

import semrsm

PACKAGE = pathlib.Path(semrsm.__file__).parent

#: Layers from the bottom up: a module may import from its own layer and those below it. Listed by
#: their first names below semrsm (``lap`` covers semrsm.lap and its modules).
LAYERS = [
    {"_core"},
    {"_backend"},
    {"_checks"},
    {"_floats", "_gram", "kernels", "datasets", "benchmarking"},
    {"lap"},
    {"semantic", "rsm"},
    {"cka", "cca", "plot", "_demo_figure", "torch"},
    {"similarity", "demo", "analysis", "jobs"},
    {"cli", "__main__"},
]
#: Dependencies that need not be installed: imported where they are used.
OPTIONAL = {"cupy", "torch", "dask", "distributed", "dask_cuda", "zarr", "matplotlib"}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: pathlib.Path):
    """(imported module, line, inside a function) for every import statement of the module."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module
                found.append((target, child.lineno, in_function))
                # "from pkg import mod" imports the module pkg.mod when there is one
                found.extend((f"{target}.{alias.name}", child.lineno, in_function) for alias in child.names)
            visit(child, nested)

    visit(tree, False)
    return found


def internal_edges():
    """Module -> modules of the package it imports, with the packages a dotted import runs first
    (but semrsm itself, whose __init__ only gathers the public API, and the module's own packages,
    which are being imported already when it runs)."""
    known = modules()
    edges = {name: set() for name in known}
    for name, path in known.items():
        for target, _, _ in imports_of(name, path):
            parts = target.split(".")
            for k in range(2, len(parts) + 1):
                prefix = ".".join(parts[:k])
                if prefix in known and prefix != name and not name.startswith(prefix + "."):
                    edges[name].add(prefix)
    return edges


def layer_of(name: str) -> int:
    first = name.split(".")[1] if "." in name else name
    for index, layer in enumerate(LAYERS):
        if first in layer:
            return index
    raise AssertionError(f"{name} is in no layer of tests/test_imports.py (add it where it belongs)")


def test_no_import_cycles():
    edges = internal_edges()
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_imports_point_down_the_layers():
    wrong = []
    for name, targets in internal_edges().items():
        if name == "semrsm":
            continue
        for target in targets:
            if target != "semrsm" and layer_of(target) > layer_of(name):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports that point up the layers: " + "; ".join(sorted(wrong))


def test_no_import_inside_functions_but_optional_dependencies():
    hidden = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
              for name, path in modules().items()
              for target, line, in_function in imports_of(name, path)
              if in_function and target.split(".")[0] not in OPTIONAL]
    assert not hidden, "imports inside functions: " + "; ".join(hidden)


def test_the_checks_find_what_they_look_for(tmp_path):
    """The graph is read as Python runs the imports: relative, dotted and nested ones."""
    found = {(target, nested) for target, _, nested in imports_of("semrsm.lap._cuda", PACKAGE / "lap" / "_cuda.py")}
    assert ("semrsm._core", False) in found and ("semrsm.lap._cpu", False) in found
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..semantic import _plan\n    import cupy\n")
    assert {(t, nested) for t, _, nested in imports_of("semrsm.lap.probe", probe)} >= {
        ("semrsm.semantic", True), ("semrsm.semantic._plan", True), ("cupy", True)}

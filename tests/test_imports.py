"""Import rules of drivers/ and simulators/: no cycle (function-level imports included), and
from monitor only its domain (models, metrics, errors)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("drivers", "simulators")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module this file imports, at any depth of the code (absolute names)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            out.add(node.module)
            # ``from pkg import submodule`` imports the submodule too.
            out.update(f"{node.module}.{a.name}" for a in node.names
                       if f"{node.module}.{a.name}" in modules)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m in _imports(path, modules) if m in modules and m != name}
            for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_imports_drivers_and_simulators_have_no_cycle():
    graph = _graph()
    assert "drivers.base" in graph and "simulators.recording" in graph
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_imports_cycle_check_sees_function_level_imports(tmp_path: Path):
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from drivers import transport\n")
    assert _imports(lazy, _modules()) == {"drivers", "drivers.transport"}


def test_imports_monitor_only_through_its_domain():
    allowed = ("monitor.domain",)
    wrong = []
    modules = _modules()
    for name, path in modules.items():
        for imported in _imports(path, modules):
            top = imported.split(".")[0]
            if top == "monitor" and not imported.startswith(allowed):
                wrong.append(f"{name} imports {imported}")
    assert not wrong, wrong


def test_imports_drivers_never_import_simulators():
    modules = _modules()
    wrong = [f"{name} imports {m}" for name, path in modules.items()
             if name.split(".")[0] == "drivers"
             for m in _imports(path, modules) if m.split(".")[0] == "simulators"]
    assert not wrong, wrong

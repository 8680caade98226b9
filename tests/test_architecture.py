"""The shape of the code, read from the code: the flow's layers, no cycles, small modules.

The layers follow the flow (docs/architecture.md): bytes -> drivers -> domain events ->
bus -> (board, rules, store, stream). Every import, module-level or inside a function,
must point down this table; nothing in a package imports a package above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor", "drivers", "simulators")

ALLOWED: dict[str, set[str]] = {
    "monitor.domain": set(),
    "drivers": {"monitor.domain"},
    "simulators": {"monitor.domain", "drivers"},
    "monitor.alarms": {"monitor.domain"},
    "monitor.config": {"monitor.domain", "monitor.alarms", "drivers"},
    "monitor.storage": {"monitor.domain"},
    "monitor.records": {"monitor.domain", "monitor.alarms", "monitor.storage"},
    "monitor.auth": {"monitor.domain", "monitor.storage", "monitor.records"},
    "monitor.reports": {"monitor.domain", "monitor.alarms", "monitor.storage",
                        "monitor.records"},
    "monitor.live": {"monitor.domain", "drivers", "monitor.alarms", "monitor.config",
                     "monitor.storage", "monitor.records"},
    "monitor.interop": {"monitor.domain", "drivers", "monitor.alarms", "monitor.config",
                        "monitor.storage", "monitor.records", "monitor.live"},
    "monitor.service": {"monitor.domain", "drivers", "monitor.alarms", "monitor.config",
                        "monitor.storage", "monitor.records", "monitor.auth",
                        "monitor.reports", "monitor.live", "monitor.interop"},
    "monitor.api": {"monitor.domain", "monitor.alarms", "monitor.config", "monitor.storage",
                    "monitor.records", "monitor.auth", "monitor.reports", "monitor.live",
                    "monitor.interop", "monitor.service"},
    "monitor.cli": {"monitor.domain", "drivers", "simulators", "monitor.alarms",
                    "monitor.config", "monitor.storage", "monitor.records", "monitor.auth",
                    "monitor.reports", "monitor.live", "monitor.interop", "monitor.service",
                    "monitor.api"},
}
"""Each layer and the layers below it that it may import."""

LONG_MODULES_ALLOWED = {"monitor/alarms/engine.py"}
"""The pure rules engine may exceed the module size; so may wire-format tables."""
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import of ``name`` loads (None: not the project's)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            resolved = _resolve(target)
            if resolved is not None and resolved != module:
                out.add(resolved)
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _layer(module: str) -> str:
    if module in ("monitor", "monitor.__main__"):
        return "monitor.cli"
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    raise AssertionError(f"{module} belongs to no layer: add its package to ALLOWED")


def test_monitor_has_no_flat_modules() -> None:
    flat = sorted(p.name for p in (ROOT / "monitor").glob("*.py")
                  if p.name not in ("__init__.py", "__main__.py"))
    assert not flat, f"modules outside a subpackage of monitor/: {flat}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down_the_flow(module: str) -> None:
    layer = _layer(module)
    upward = sorted(t for t in GRAPH[module]
                    if _layer(t) != layer and _layer(t) not in ALLOWED[layer])
    assert not upward, f"{module} ({layer}) imports above or beside its layer: {upward}"


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH[m]):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _is_wire_table(path: Path) -> bool:
    return path.parent.parent.name == "drivers" and path.name == "frames.py"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_are_small(module: str) -> None:
    path = MODULES[module]
    rel = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    if rel not in LONG_MODULES_ALLOWED and not _is_wire_table(path):
        lines = text.count("\n")
        assert lines <= MAX_MODULE_LINES, f"{rel} has {lines} lines"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{rel}: functions over {MAX_FUNCTION_LINES} lines: {long}"

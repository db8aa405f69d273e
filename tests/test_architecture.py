"""The layers of docs/architecture.md, checked on the source: imports run one way, and nothing imports in a circle.

Every ``import`` and ``from ... import`` in ``tonearm/`` counts, at module level or inside a
function (a lazy import is still a dependency). The graph is read with ``ast``, so the check
needs no import of tonearm itself and sees code paths no test runs.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "tonearm"

# Lowest layer first. A package may import its own modules and any package of a lower layer.
LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"tonearm", "tonearm.errors", "tonearm.config", "tonearm.failpoints"}),
    ("signals and text models", {"tonearm.audio", "tonearm.words"}),
    ("components", {"tonearm.analyzers", "tonearm.store"}),
    ("engine", {"tonearm.search", "tonearm.library"}),
    ("faces", {"tonearm.cli", "tonearm.api", "tonearm.demo", "tonearm.eval"}),
]
# Faces may use each other where one drives the other; each edge is named, so a new one is a decision.
FACE_EDGES = {
    ("tonearm.cli", "tonearm.api"),  # `tonearm serve` starts the app
    ("tonearm.cli", "tonearm.demo"),  # `tonearm demo`
    ("tonearm.cli", "tonearm.eval"),  # `tonearm eval`
    ("tonearm.demo", "tonearm.cli"),  # the demo prints with the CLI's tables (tonearm.cli.render)
    ("tonearm.demo", "tonearm.eval"),  # the demo renders tunes with the benchmark's renderer
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str, modules: frozenset[str] = frozenset()) -> set[str]:
    """Modules that ``module`` imports. ``from pkg import sub`` names only ``pkg.sub`` when ``sub`` is a
    module: the package itself is then just the parent Python initialises first, not a dependency."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "tonearm"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] == "tonearm":
                subs = {f"{target}.{a.name}" for a in node.names}
                named_modules = subs & modules
                found |= named_modules
                if named_modules != subs or not modules:
                    found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        graph[name] = {t for t in _imports(path, name, frozenset(modules)) if t in modules and t != name}
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _layer(package: str) -> int:
    for i, (_, members) in enumerate(LAYERS):
        if package in members:
            return i
    raise AssertionError(f"{package} is in no layer of docs/architecture.md: add it to LAYERS there and here")


def test_every_package_has_a_layer():
    for module in _graph():
        _layer(_package(module))


def test_imports_run_one_way():
    wrong = []
    for module, targets in _graph().items():
        src = _package(module)
        for target in targets:
            dst = _package(target)
            if src == dst or dst == "tonearm" or _layer(dst) < _layer(src):
                continue
            if (src, dst) in FACE_EDGES:
                continue
            wrong.append(f"{module} -> {target} ({LAYERS[_layer(src)][0]} -> {LAYERS[_layer(dst)][0]})")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checker_sees_a_wrong_import(tmp_path):
    """The check itself: a lower layer importing a higher one is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from tonearm.search.similar import similar\n")
    assert "tonearm.search.similar" in _imports(bad, "tonearm.store.bad")
    assert _layer("tonearm.search") > _layer("tonearm.store")

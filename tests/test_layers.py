"""Imports run one way, edge -> schema -> resolvers -> domain -> base, and never in a circle.

The import graph is read from the source with ast (no module is imported), over app/, schema/
and resolvers/; an import inside a function counts like any other. A failure lists the offending
edges, importer -> imported.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
ROOTS = ("app", "schema", "resolvers")

# Highest first; a module may import its own layer or any layer below it. The same layers as
# the import-linter contract in pyproject.toml (`make lint`), checked here with every test run.
EDGE, SCHEMA, RESOLVERS, DOMAIN, BASE = 4, 3, 2, 1, 0
LAYER_NAMES = {
    EDGE: "edge",
    SCHEMA: "schema",
    RESOLVERS: "resolvers",
    DOMAIN: "domain",
    BASE: "base",
}
EDGE_MODULES = ("app.main", "app.cli", "app.demo", "app.routes")
BASE_MODULES = (
    "app.models",
    "app.database",
    "app.enums",
    "app.ids",
    "app.metrics",
    "app.settings",
    "app.instants",
    "app.migrate",
    "app.versions",
)


def modules() -> dict[str, Path]:
    """Every project module by dotted name (a package by its own name)."""
    found = {}
    for root in ROOTS:
        for path in (PROJECT / root).rglob("*.py"):
            name = ".".join(path.relative_to(PROJECT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Importer -> the project modules it imports (the longest known prefix of each name)."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [resolve(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    resolve(f"{node.module}.{alias.name}") or resolve(node.module)
                    for alias in node.names
                ]
            graph[name].update(t for t in targets if t is not None and t != name)
    return graph


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def layer(name: str) -> int:
    if within(name, ("schema",)):
        return SCHEMA
    if within(name, ("resolvers",)):
        return RESOLVERS
    if within(name, EDGE_MODULES):
        return EDGE
    if within(name, BASE_MODULES):
        return BASE
    return DOMAIN


def upward_edges(graph: dict[str, set[str]]) -> Iterator[str]:
    for importer, imported in sorted(graph.items()):
        for target in sorted(imported):
            if layer(target) > layer(importer):
                yield (
                    f"{importer} ({LAYER_NAMES[layer(importer)]}) -> "
                    f"{target} ({LAYER_NAMES[layer(target)]})"
                )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def cycle_edges(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    members = set(component)
    return [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]


def only(graph: dict[str, set[str]], prefixes: tuple[str, ...]) -> dict[str, set[str]]:
    """The graph restricted to modules under `prefixes`."""
    return {
        name: {target for target in targets if within(target, prefixes)}
        for name, targets in graph.items()
        if within(name, prefixes)
    }


def test_the_graph_sees_imports_inside_functions_and_packages() -> None:
    """The reader itself: a few imports known by hand."""
    graph = import_graph()
    assert "app.ingest.apply" in graph["app.ingest.pending"]
    assert "app.credentials" in graph["app.cli"]  # `from app import credentials`, in a function
    assert "app.demo.plans" in graph["app.demo.generator"]
    assert layer("app.routes.http") == EDGE and layer("app.demo.loader") == EDGE
    assert layer("app.ingest.providers.adapter") == DOMAIN and layer("app.models") == BASE
    assert layer("app.message_views.sanitize") == DOMAIN
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_app_modules_import_no_module_of_a_higher_layer() -> None:
    graph = import_graph()
    offending = [
        edge for edge in upward_edges(graph) if not within(edge.split(" ")[0], SCHEMA_AND_RESOLVERS)
    ]
    assert not offending, "upward imports:\n" + "\n".join(offending)


def test_app_modules_import_in_no_circle() -> None:
    graph = only(import_graph(), ("app",))
    found = [cycle_edges(graph, component) for component in cycles(graph)]
    assert not found, "import cycles:\n" + "\n\n".join("\n".join(edges) for edges in found)


SCHEMA_AND_RESOLVERS = ("schema", "resolvers")


def test_schema_and_resolvers_import_no_module_of_a_higher_layer() -> None:
    offending = [
        edge
        for edge in upward_edges(import_graph())
        if within(edge.split(" ")[0], SCHEMA_AND_RESOLVERS)
    ]
    assert not offending, "upward imports:\n" + "\n".join(offending)


def test_no_project_modules_import_in_a_circle() -> None:
    graph = import_graph()
    found = [cycle_edges(graph, component) for component in cycles(graph)]
    assert not found, "import cycles:\n" + "\n\n".join("\n".join(edges) for edges in found)

"""The import graph points one way: evaluation -> agents/scenarios -> sim -> assets, with no cycle.

The graph comes from grimp, which reads every ``import`` statement, function-level ones included
(a lazy import is still a dependency).
"""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("assets", "sim", "scenarios", "agents", "evaluation")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=False)


def _chain(graph: grimp.ImportGraph, importer: str, imported: str) -> tuple[str, ...] | None:
    return graph.find_shortest_chain(importer=importer, imported=imported, as_packages=True)


@pytest.mark.parametrize(
    "above",
    [
        "scenarios",
        "agents",
        "evaluation",
    ],
)
def test_sim_imports_nothing_of_the_layers_above_it(graph, above):
    assert _chain(graph, "sim", above) is None, f"sim reaches {above}: {' -> '.join(_chain(graph, 'sim', above))}"


@pytest.mark.parametrize(("importer", "imported"), [("agents", "evaluation"), ("scenarios", "evaluation"),
                                                    ("assets", "sim"), ("scenarios", "agents"),
                                                    ("agents", "scenarios")])
def test_lower_layers_do_not_import_higher_ones(graph, importer, imported):
    chain = _chain(graph, importer, imported)
    assert chain is None, f"{importer} reaches {imported}: {' -> '.join(chain)}"


def strongly_connected_components(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm over the direct imports between modules (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                components.append(sorted(component))
    return components


@pytest.mark.parametrize(
    "package",
    [
        "assets",
        "sim",
        "scenarios",
        "agents",
        "evaluation",
    ],
)
def test_no_import_cycle_between_modules(graph, package):
    """No cycle touches ``package`` (a cycle across packages shows under each package it touches)."""
    cycles = [component for component in strongly_connected_components(graph)
              if len(component) > 1 and any(module.split(".")[0] == package for module in component)]
    assert cycles == [], f"import cycles: {cycles}"


def test_the_cycle_finder_finds_a_cycle():
    toy = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        toy.add_module(module)
    toy.add_import(importer="pkg.a", imported="pkg.b")
    toy.add_import(importer="pkg.b", imported="pkg.a")
    toy.add_import(importer="pkg.c", imported="pkg.a")
    assert [c for c in strongly_connected_components(toy) if len(c) > 1] == [["pkg.a", "pkg.b"]]

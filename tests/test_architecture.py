"""The import graph points one way: evaluation -> agents/scenarios -> sim -> assets, with no cycle; inside ``sim``
the rooms point one way too: sim.env -> sim.scene -> sim.robot, each above ``sim.errors``; ``sim.env.world`` is the
only module that imports pybullet.

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


#: The rooms of ``sim``, lowest first: each imports only the rooms before it (and the modules at the top of sim).
SIM_ROOMS = ("sim.robot", "sim.scene", "sim.env")


@pytest.mark.parametrize(("importer", "imported"), [(low, high) for index, low in enumerate(SIM_ROOMS)
                                                    for high in SIM_ROOMS[index + 1:]])
def test_a_sim_room_imports_nothing_of_the_rooms_above_it(graph, importer, imported):
    chain = _chain(graph, importer, imported)
    assert chain is None, f"{importer} reaches {imported}: {' -> '.join(chain)}"


def test_every_sim_module_lives_in_a_room_or_is_shared_or_an_old_path():
    """New modules go into a room; at the top of sim only the package, the shared errors, the safe file writes
    every layer uses (sim.files), and the old paths' re-exports
    (tests/sim/test_layout.py lists them and checks nothing of the project imports them)."""
    from tests.sim.test_layout import MOVED

    top = {module for module in grimp.build_graph("sim", include_external_packages=False).modules
           if not module.startswith(tuple(f"{room}." for room in SIM_ROOMS)) and module not in SIM_ROOMS}
    assert top == {"sim", "sim.errors", "sim.files"} | (set(MOVED) - set(SIM_ROOMS))


@pytest.mark.parametrize("module", ["sim", "sim.errors", "sim.files"])
def test_the_top_of_sim_imports_no_room(graph, module):
    """``sim`` (it registers the env by entry-point strings), ``sim.errors`` (every room raises its errors) and
    ``sim.files`` (safe writes, used by every layer) sit below the rooms."""
    reached = sorted(upstream for upstream in graph.find_upstream_modules(module)
                     if upstream.startswith(tuple(f"{room}." for room in SIM_ROOMS)) or upstream in SIM_ROOMS)
    assert reached == [], f"{module} reaches {reached}"


def test_the_world_is_the_only_module_that_imports_pybullet():
    with_external = grimp.build_graph(*PACKAGES, include_external_packages=True)
    assert with_external.find_modules_that_directly_import("pybullet") == {"sim.env.world"}


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

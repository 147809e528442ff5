"""``sim`` is split into rooms (``sim.robot``, ``sim.scene``, ``sim.env``); the old module paths users have keep
working and give the same objects, and the project's own code imports the new paths only."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Each old path and the module that now holds its names (``sim.scene`` and ``sim.env`` are the rooms' packages).
MOVED: dict[str, str] = {
    "sim.kinematics": "sim.robot.kinematics",
    "sim.transforms": "sim.robot.transforms",
    "sim.robot_geometry": "sim.robot.robot_geometry",
    "sim.geometry_fit": "sim.robot.geometry_fit",
    "sim.collision": "sim.robot.collision",
    "sim.obstacle_kinds": "sim.robot.obstacle_kinds",
    "sim.scene": "sim.scene.obstacles",
    "sim.scene_sampling": "sim.scene.scene_sampling",
    "sim.scenario_spec": "sim.scene.scenario_spec",
    "sim.world": "sim.env.world",
    "sim.env": "sim.env.env",
    "sim.env_spaces": "sim.env.env_spaces",
    "sim.vector": "sim.env.vector",
    "sim.camera": "sim.env.camera",
}
#: The project's own code, which imports none of the old paths (tests may: this one does).
PROJECT_PACKAGES = ("assets", "sim", "scenarios", "agents", "evaluation")
PROJECT_SCRIPTS = (ROOT / "run_sim.py", *sorted((ROOT / "benchmarks").glob("*.py")))


@pytest.mark.parametrize(("old", "new"), MOVED.items())
def test_an_old_path_gives_the_new_modules_objects(old, new):
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    assert sorted(old_module.__all__) == sorted(new_module.__all__)
    assert new_module.__all__, f"{new} names nothing public"
    for name in new_module.__all__:
        assert getattr(old_module, name) is getattr(new_module, name), f"{old}.{name} is not {new}.{name}"
    namespace: dict[str, object] = {}
    exec(f"from {old} import *", namespace)  # the star import a user may write
    assert {name for name in namespace if name != "__builtins__"} == set(new_module.__all__)


def test_the_names_the_issue_promises():
    import sim.collision
    import sim.kinematics
    import sim.obstacle_kinds
    import sim.robot.collision
    import sim.robot.kinematics
    import sim.robot.obstacle_kinds
    import sim.robot.transforms
    import sim.scene
    import sim.scene.obstacles
    import sim.transforms

    assert sim.kinematics.forward_kinematics is sim.robot.kinematics.forward_kinematics
    assert sim.kinematics.analytic_ik is sim.robot.kinematics.analytic_ik
    assert sim.kinematics.JOINT_LIMITS is sim.robot.kinematics.JOINT_LIMITS
    assert sim.collision.ObstacleSet is sim.robot.collision.ObstacleSet
    assert sim.transforms.quat_angle is sim.robot.transforms.quat_angle
    assert sim.obstacle_kinds.OBSTACLE_KINDS is sim.robot.obstacle_kinds.OBSTACLE_KINDS
    assert sim.scene.Scene is sim.scene.obstacles.Scene


def test_the_env_package_reads_its_names_from_the_env_module(monkeypatch):
    import sim.env
    import sim.env.env

    assert sim.env.ObstacleReachEnv is sim.env.env.ObstacleReachEnv
    monkeypatch.setattr(sim.env.env, "EPISODES_PER_CLIENT", 3)
    assert sim.env.EPISODES_PER_CLIENT == 3
    assert set(sim.env.__all__) <= set(dir(sim.env))
    with pytest.raises(AttributeError, match="no_such_name"):
        sim.env.no_such_name  # noqa: B018


def test_the_vector_entry_point_names_the_new_module():
    import gymnasium as gym

    import sim

    assert gym.spec(sim.ENV_IDS[0]).vector_entry_point == "sim.env.vector:make_vector_env"


def test_importing_the_camera_loads_neither_the_env_nor_pybullet():
    """``run_sim.py --help`` lists the cameras: the env room's package loads its env on first use only."""
    code = "import sys, sim.env.camera; print(sorted({'pybullet', 'sim.env.env', 'sim.env.world'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_the_old_geometry_fit_command_still_runs():
    result = subprocess.run([sys.executable, "-m", "sim.geometry_fit", "--help"], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "--check" in result.stdout


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PROJECT_PACKAGES, include_external_packages=False)


@pytest.mark.parametrize("old", MOVED)
def test_project_packages_import_no_old_path(graph, old):
    importers = sorted(graph.find_modules_that_directly_import(old))
    assert importers == [], f"{', '.join(importers)} import {old}: import {MOVED[old]} instead"


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` statement of ``path`` names (function-level ones included), as grimp
    reads them: ``from package import name`` imports ``package.name`` if that is a module, else ``package``."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                modules.add(submodule if node.module.split(".")[0] == "sim" and _is_module(submodule)
                            else node.module)
    return modules


@pytest.mark.parametrize("script", PROJECT_SCRIPTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_scripts_import_no_old_path(script):
    old_paths = sorted(_imported_modules(script) & set(MOVED))
    assert old_paths == [], f"{script.name} imports {old_paths}: import {[MOVED[p] for p in old_paths]} instead"


def test_the_script_scan_sees_an_old_path(tmp_path):
    script = tmp_path / "old.py"
    script.write_text("def f():\n    from sim import kinematics\n    from sim.scene import Scene\n"
                      "    from sim.env import world\n    import sim.env.env\n")
    assert _imported_modules(script) == {"sim.kinematics", "sim.scene", "sim.env.world", "sim.env.env"}

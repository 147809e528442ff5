"""The OMPL planner baseline: collision-free paths on the hard scenarios, timing within the joint
limits, the policy adapter through the runner, names, and the missing-extra message."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from agents.ik_policy.planning import configuration_clearance, densify
from sim.errors import DependencyNotInstalled, InvalidInputError, UnknownNameError
from sim.robot.kinematics import MAX_JOINT_VELOCITY_RAD_S, analytic_ik_solutions

REPO = Path(__file__).resolve().parents[3]
NARROW_SEEDS = range(12)


def _missing_ompl(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [name for name in sys.modules if name == "ompl" or name.startswith("ompl.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "ompl", None)  # makes ``import ompl`` raise ImportError


def test_missing_ompl_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.baselines import planner_policy
    from agents.policies import make_policy, validate_policy_name

    _missing_ompl(monkeypatch)
    for call in (validate_policy_name, make_policy, planner_policy.validate_name):
        with pytest.raises(DependencyNotInstalled, match=r"pip install '\.\[plan\]'"):
            call("ompl:rrtconnect")


pytest.importorskip("ompl", reason="the 'plan' extra (ompl) is not installed")

from agents.baselines.planner import PLANNERS, JointSpacePlanner, JointSpacePlannerConfig, time_parameterise  # noqa: E402
from agents.baselines.planner_policy import make_planner_policy, parse_planner_name, validate_name  # noqa: E402

#: The time budget per query the >= 95 % claim is made for: the default, 5 s.
BUDGET_S = JointSpacePlannerConfig().time_budget_s


@pytest.fixture(scope="module")
def planner():
    instance = JointSpacePlanner(JointSpacePlannerConfig(time_budget_s=BUDGET_S))
    yield instance
    instance.close()


def _goals(scene) -> np.ndarray:
    solutions = analytic_ik_solutions(np.array(scene.goal_pose))
    return solutions.joints[solutions.valid]


def _scenes(name: str) -> list:
    from scenarios import get_scenario
    from sim.scene.scene_sampling import sample_scene

    spec = get_scenario(name)
    if spec.fixed_scenes:
        return list(spec.fixed_scenes)
    return [sample_scene(spec, np.random.default_rng(seed)) for seed in NARROW_SEEDS]


#: Share of queries solved within the budget (`narrow`'s gaps are sized for the real gripper).
SOLVED_AT_LEAST = {"benchmark": 0.95, "narrow": 0.95}


@pytest.mark.parametrize("scenario", ["benchmark", "narrow"])
def test_finds_collision_free_paths_for_95_percent_within_budget(planner, world, scenario: str) -> None:
    scenes = _scenes(scenario)
    results = [planner.plan(np.array(scene.start_joints), _goals(scene), scene.obstacle_set()) for scene in scenes]
    solved = [result.solved for result in results]
    assert any(solved) and np.mean(solved) >= SOLVED_AT_LEAST[scenario], [result.status for result in results]
    for scene, result in zip(scenes, results, strict=True):
        assert result.plan_time_s < BUDGET_S + 0.5  # the last check may overrun the budget slightly
        if not result.solved:
            continue
        np.testing.assert_allclose(result.waypoints[0], scene.start_joints, atol=1e-12)
        assert any(np.allclose(result.waypoints[-1], goal, atol=1e-9) for goal in _goals(scene))
        dense = densify(result.waypoints, 0.005)
        assert configuration_clearance(dense, scene.obstacle_set()).min() >= planner.config.final_margin_m - 1e-9
        assert result.pybullet_clearance_m >= 0.0
    # An independent PyBullet check of one path per scenario, in a world the planner does not own.
    scene, result = next((s, r) for s, r in zip(scenes, results, strict=True) if r.solved)
    for obstacle in scene.obstacles:
        world.add_obstacle(obstacle.name, obstacle.kind, obstacle.size, obstacle.position, obstacle.orientation)
    for q in densify(result.waypoints, 0.01):
        world.reset_joints(q)
        assert world.min_clearance(0.05) >= 0.0


def test_planning_is_deterministic_for_a_seed() -> None:
    scene = _scenes("narrow")[0]
    paths = []
    for seed in (3, 3, 4):
        with JointSpacePlanner(JointSpacePlannerConfig(seed=seed, pybullet_check=False)) as planner:
            result = planner.plan(np.array(scene.start_joints), _goals(scene), scene.obstacle_set())
            assert result.solved
            paths.append(result.waypoints)
    np.testing.assert_array_equal(paths[0], paths[1])


def test_invalid_start_and_goal_are_reported_not_planned(planner) -> None:
    scene = _scenes("benchmark")[0]
    obstacles = scene.obstacle_set()
    inside = np.array(scene.start_joints)
    # A huge sphere around the whole arm: nothing is valid.
    from sim.robot.collision import ObstacleSet

    blocked = ObstacleSet.from_list(["sphere"], [[0.0, 0.0, 0.1]], [[0.29]])
    assert planner.plan(inside, _goals(scene), blocked).status == "invalid_start"
    assert planner.plan(inside, np.zeros((0, 4)), obstacles).status == "invalid_goal"
    with pytest.raises(InvalidInputError):
        planner.plan(np.array([0.0, 2.0, 0.0, 0.0]), _goals(scene), obstacles)


def test_time_parameterisation_keeps_velocity_and_acceleration_limits() -> None:
    waypoints = np.array([[0.0, 0.0, 0.0, 0.0], [1.2, -0.4, 0.3, 0.0], [1.2, 0.5, 0.3, -0.8], [1.25, 0.5, 0.3, -0.8]])
    dt, velocity, acceleration = 0.05, 0.6 * MAX_JOINT_VELOCITY_RAD_S, 20.0
    trajectory = time_parameterise(waypoints, dt, velocity, acceleration)
    np.testing.assert_array_equal(trajectory[-1], waypoints[-1])
    full = np.vstack([waypoints[:1], trajectory])
    speeds = np.abs(np.diff(full, axis=0)) / dt
    assert speeds.max() <= velocity + 1e-9
    # Second differences bound the acceleration (a segment boundary inside a step adds at most one more step's worth).
    assert (np.abs(np.diff(full, 2, axis=0)) / dt**2).max() <= 2 * acceleration + 1e-6
    # Oracle: a rest-to-rest trapezoid over the Chebyshev length L lasts L / v + v / a.
    lengths = np.abs(np.diff(waypoints, axis=0)).max(-1)
    durations = [length / velocity + velocity / acceleration if length * acceleration >= velocity**2
                 else 2 * np.sqrt(length / acceleration) for length in lengths]
    assert abs(len(trajectory) * dt - sum(durations)) <= dt + 1e-9


@pytest.mark.parametrize("name,planner_name,goal", [
    ("ompl:rrtconnect", "rrtconnect", "analytic"), ("ompl:rrtstar", "rrtstar", "analytic"),
    ("ompl:rrtconnect:iknet:improved", "rrtconnect", "iknet:improved"), ("ompl:prm:pybullet-ik", "prm", "pybullet-ik"),
])
def test_names_parse(name: str, planner_name: str, goal: str) -> None:
    spec = parse_planner_name(name)
    assert (spec.planner, spec.goal_solver) == (planner_name, goal)


@pytest.mark.parametrize("name", ["ompl:rrtconect", "ompl:", "ompl:rrtconnect:nonsense", "ompl:rrtconnect:iknet:nope"])
def test_bad_names_list_the_choices(name: str) -> None:
    with pytest.raises(UnknownNameError, match="valid choices"):
        validate_name(name)


def test_every_listed_planner_is_in_ompl() -> None:
    from ompl import geometric

    assert all(hasattr(geometric, class_name) for class_name in PLANNERS.values())


@pytest.mark.parametrize("scenario,episodes", [("benchmark", 3), ("narrow", 3), ("dynamic", 1)])
def test_executed_episodes_reach_the_goal_without_collision(scenario: str, episodes: int) -> None:
    from evaluation.runner import EpisodeWorker

    worker = EpisodeWorker()
    try:
        rows = [worker.run(scenario, "ompl:rrtconnect", 0, episode, 150).row for episode in range(episodes)]
    finally:
        worker.close()
    for row in rows:
        assert row["planner_candidate"].startswith("rrtconnect")
        assert row["plan_time_ms"] > 0
        if scenario != "dynamic":  # the planner assumes obstacles keep their positions at planning time
            assert not row["collided"], row
        if scenario != "dynamic":
            assert row["success"], row


def test_policy_adapter_follows_the_plan_within_the_velocity_limit() -> None:
    from agents.ik_policy.interface import PolicyContext

    scene = _scenes("benchmark")[1]
    policy = make_planner_policy("ompl:rrtconnect")
    try:
        context = PolicyContext(np.array(scene.start_joints), np.array(scene.goal_pose), scene.obstacle_set, 0.05)
        policy.reset(context)
        targets = [np.array(scene.start_joints)]
        while not policy.done:
            targets.append(policy.act(None))
        assert np.abs(np.diff(targets, axis=0)).max() <= 0.6 * MAX_JOINT_VELOCITY_RAD_S * 0.05 + 1e-9
        assert any(np.allclose(targets[-1], goal) for goal in _goals(scene))
        info = policy.episode_info()
        assert info["plan_time_ms"] > 0 and "exact" in info["planner_candidate"]
    finally:
        policy.close()

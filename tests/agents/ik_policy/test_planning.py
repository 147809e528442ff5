"""Planner, safety layer and policy names: the obstacle-aware path must actually avoid obstacles."""

from __future__ import annotations

import numpy as np
import pytest

from agents.ik_policy.interface import PolicyContext
from agents.ik_policy.planning import (
    CartesianPlannerConfig,
    cartesian_path,
    configuration_clearance,
    densify,
    plan_path,
)
from agents.ik_policy.policy import EXAMPLE_POLICIES, IKPolicy, parse_policy
from agents.ik_policy.safety import keep_clearance
from agents.ik_policy.solvers import AnalyticSolver, PyBulletSolver
from sim.errors import UnknownNameError
from sim.robot.collision import ObstacleSet, min_clearance, self_clearance, table_clearance
from sim.robot.kinematics import MAX_JOINT_VELOCITY_RAD_S, analytic_ik, forward_kinematics, within_limits
from sim.robot.transforms import quat_angle

START = np.array([-0.9, 0.2, 0.1, 0.5])
GOAL_Q = np.array([0.9, 0.2, 0.1, 0.5])


def blocking_obstacle() -> ObstacleSet:
    """A box on the straight Cartesian line between START and GOAL_Q's end-effector positions."""
    start, goal = forward_kinematics(START)[:3], forward_kinematics(GOAL_Q)[:3]
    middle = (start + goal) / 2
    return ObstacleSet.from_list(["box"], [[middle[0], middle[1], middle[2] - 0.03]], [[0.03, 0.05, 0.05]])


def test_cartesian_path_ends_exactly_and_is_realisable():
    start, goal = forward_kinematics(START), forward_kinematics(GOAL_Q)
    for options in ({}, {"arc": True, "lift_m": 0.1, "radial_m": 0.05}):
        path = cartesian_path(start, goal, 15, **options)
        np.testing.assert_allclose(path[0, :3], start[:3], atol=1e-12)
        np.testing.assert_allclose(path[-1, :3], goal[:3], atol=1e-12)
        assert quat_angle(path[-1, 3:], goal[3:]) < 1e-7  # float64 floor of the angle: ~3e-8
        joints, reachable = analytic_ik(path, return_mask=True)
        assert reachable.all() or options, "the straight path between two reachable poses stays reachable here"
        assert reachable.sum() >= 8
        # Every reachable waypoint's orientation is one the 4-DOF arm realises exactly.
        assert np.max(quat_angle(forward_kinematics(joints[reachable])[:, 3:], path[reachable, 3:])) < 1e-7


def test_densify_bounds_every_joint_step():
    dense = densify(np.array([START, GOAL_Q, START]), 0.03)
    assert np.max(np.abs(np.diff(dense, axis=0))) <= 0.03 + 1e-12
    np.testing.assert_allclose(dense[-1], START)


def test_obstacle_aware_plan_avoids_what_the_straight_path_hits():
    obstacles = blocking_obstacle()
    goal = forward_kinematics(GOAL_Q)
    straight = plan_path(START, goal, obstacles, AnalyticSolver(), CartesianPlannerConfig(straight_only=True))
    assert straight.min_clearance_m < 0, "the fixture must block the straight path"
    aware = plan_path(START, goal, obstacles, AnalyticSolver())
    assert aware.candidate != "straight"
    assert aware.min_clearance_m >= CartesianPlannerConfig().margin_m
    assert np.all(configuration_clearance(aware.joints, obstacles) >= CartesianPlannerConfig().margin_m - 1e-9)
    np.testing.assert_allclose(forward_kinematics(aware.joints[-1])[:3], goal[:3], atol=1e-9)
    assert within_limits(aware.joints).all()


def test_pybullet_solver_plans_too():
    solver = PyBulletSolver()
    try:
        plan = plan_path(START, forward_kinematics(GOAL_Q), blocking_obstacle(), solver)
    finally:
        solver.close()
    assert plan.min_clearance_m >= CartesianPlannerConfig().margin_m
    assert solver.stats.calls >= 1 and solver.stats.seconds > 0


def test_keep_clearance_restores_the_margin():
    obstacles = blocking_obstacle()
    plan = plan_path(START, forward_kinematics(GOAL_Q), obstacles, AnalyticSolver(),
                     CartesianPlannerConfig(straight_only=True))
    worst = plan.joints[np.argmin(configuration_clearance(plan.joints, obstacles))]
    assert configuration_clearance(worst[None], obstacles)[0] < 0
    # The worst configuration sits 37 mm deep in the block with the real arm's geometry; projecting
    # out of that depth while the table pushes back takes more than the policy's per-step 8 iterations.
    safe = keep_clearance(worst, obstacles, 0.012, iterations=64)
    # Obstacles and table get the margin back; the arm stays clear of itself.
    assert min(min_clearance(safe, obstacles).distance_m, table_clearance(safe)) >= 0.012 - 1e-4
    assert self_clearance(safe) > 0.0
    assert within_limits(safe)
    free = np.array([0.0, -0.5, 0.3, 0.4])
    np.testing.assert_array_equal(keep_clearance(free, ObstacleSet.from_list([], [], []), 0.012), free)


def test_policy_follows_its_path_within_the_velocity_limit():
    obstacles = blocking_obstacle()
    policy = IKPolicy(parse_policy("analytic"), speed_fraction=0.6)
    dt = 0.05
    policy.reset(PolicyContext(START, forward_kinematics(GOAL_Q), lambda t: obstacles, dt))
    targets = [START]
    while not policy.done:
        targets.append(policy.act(None))
        assert len(targets) < 500
    steps = np.abs(np.diff(np.array(targets), axis=0))
    assert steps.max() <= 0.6 * MAX_JOINT_VELOCITY_RAD_S * dt + 1e-9
    np.testing.assert_allclose(targets[-1], policy.plan.joints[-1], atol=1e-12)


@pytest.mark.parametrize("name", EXAMPLE_POLICIES)
def test_every_example_policy_name_parses(name):
    spec = parse_policy(name)
    assert spec.name == name
    assert spec.safe == ("+safe" in name) and spec.straight == ("+straight" in name)


@pytest.mark.parametrize(
    ("name", "message"),
    [("iknet:improvd", "improved"), ("analytic+fast", "safe"), ("rrt", "analytic"), ("analytic+refine", "refine")],
)
def test_bad_policy_names_list_the_valid_choices(name, message):
    with pytest.raises(UnknownNameError, match=message):
        parse_policy(name)

"""Sampled scenes obey the scene rules, for hundreds of seeded scenes per scenario.

Rules (see sim/scene/scene_sampling.py): start and goal inside the joint limits, above the table and
clear of every obstacle by the scenario's margin (capsule model, moving obstacles over their
whole period); the goal reachable (its pose is FK of in-limit joints and the analytic IK solves
it back); obstacle centres inside the region and surfaces away from the base; and the naive
straight path blocked in most episodes (a stated floor per scenario).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from scenarios import BUILTIN_SCENARIOS, ObstacleGroup, Region, ScenarioSpec, scenario_names
from sim.errors import InvalidInputError
from sim.robot.collision import signed_distances
from sim.robot.kinematics import analytic_ik, forward_kinematics, within_limits
from sim.scene.obstacles import MIN_BASE_DISTANCE_M, Scene
from sim.scene.scene_sampling import path_clearance, sample_scene, straight_path_blocked, table_clearance

SCENES_PER_SCENARIO = 200
#: Floor of the fraction of scenes whose straight joint-space path collides (measured: 0.9-1.0,
#: ``python benchmarks/scenario_stats.py``); "empty" has nothing to block.
BLOCKED_FLOOR = {"single": 0.8, "cluttered": 0.8, "narrow": 0.75, "shelf": 0.75, "dynamic": 0.8, "benchmark": 1.0}
_TIMES = 64  # samples over a moving obstacle's period


@pytest.fixture(scope="module")
def scenes() -> dict[str, list[Scene]]:
    """Hundreds of seeded scenes per sampled scenario, and the benchmark's ten."""
    drawn = {}
    for name in scenario_names():
        spec = BUILTIN_SCENARIOS[name]
        if spec.fixed_scenes:
            drawn[name] = list(spec.fixed_scenes)
        else:
            rng = np.random.default_rng(2024)
            drawn[name] = [sample_scene(spec, rng) for _ in range(SCENES_PER_SCENARIO)]
    return drawn


def _times(scene: Scene) -> np.ndarray:
    periods = [obstacle.motion.period_s for obstacle in scene.obstacles if obstacle.motion is not None]
    return np.linspace(0.0, max(periods), _TIMES) if periods else np.zeros(1)


@pytest.mark.parametrize("name", scenario_names())
def test_start_and_goal_are_valid_and_clear(scenes, name):
    spec = BUILTIN_SCENARIOS[name]
    for scene in scenes[name]:
        ends = np.array([scene.start_joints, scene.goal_joints])
        assert np.all(within_limits(ends))
        assert np.all(table_clearance(ends) >= spec.table_margin_m - 1e-9)
        if scene.obstacles:
            obstacles, count = scene.obstacle_set_over(_times(scene))
            clearance = signed_distances(ends, obstacles).min()
            # Moving obstacles were checked at 16 phases; between them allow 1 mm.
            assert clearance >= spec.clearance_margin_m - (1e-3 if scene.is_dynamic else 1e-9), (name, clearance)


@pytest.mark.parametrize("name", scenario_names())
def test_the_goal_is_reachable_with_an_in_limit_solution(scenes, name):
    goals = np.array([scene.goal_pose for scene in scenes[name]])
    joints = np.array([scene.goal_joints for scene in scenes[name]])
    np.testing.assert_allclose(forward_kinematics(joints), goals, atol=1e-12)
    solved, reachable = analytic_ik(goals, return_mask=True)
    assert np.all(reachable)
    np.testing.assert_allclose(forward_kinematics(solved), goals, atol=1e-9)


@pytest.mark.parametrize("name", scenario_names())
def test_obstacles_stay_inside_their_region_and_away_from_the_base(scenes, name):
    spec = BUILTIN_SCENARIOS[name]
    for scene in scenes[name]:
        for obstacle in scene.obstacles:
            positions = obstacle.position_at(_times(scene))
            assert np.all(spec.region.contains(positions, tolerance=1e-6)), (name, obstacle)
            radial = np.hypot(positions[:, 0], positions[:, 1])
            assert np.all(radial - obstacle.horizontal_radius_m() >= MIN_BASE_DISTANCE_M - 1e-6), (name, obstacle)


@pytest.mark.parametrize("name", scenario_names())
def test_obstacle_counts_follow_the_spec(scenes, name):
    counts = [len(scene.obstacles) for scene in scenes[name]]
    expected = {"empty": (0, 0), "single": (1, 1), "cluttered": (2, 5), "narrow": (2, 2), "shelf": (5, 5),
                "dynamic": (2, 3), "benchmark": (2, 5)}[name]
    assert (min(counts), max(counts)) == expected


@pytest.mark.parametrize("name", [name for name in scenario_names() if name != "empty"])
def test_the_straight_path_is_blocked_in_most_scenes(scenes, name):
    blocked = np.mean([straight_path_blocked(scene) for scene in scenes[name]])
    print(f"{name}: straight joint-space path blocked in {blocked:.1%} of {len(scenes[name])} scenes")
    assert blocked >= BLOCKED_FLOOR[name]


def test_empty_scenes_have_nothing_to_block(scenes):
    assert all(path_clearance(scene) == math.inf for scene in scenes["empty"])


def test_same_seed_same_scene_different_seed_different_scene():
    spec = BUILTIN_SCENARIOS["cluttered"]
    first = sample_scene(spec, np.random.default_rng(7))
    assert sample_scene(spec, np.random.default_rng(7)) == first
    others = {sample_scene(spec, np.random.default_rng(seed)) for seed in range(20)}
    assert len(others) == 20


def test_moving_obstacles_follow_their_motion():
    scene = sample_scene(BUILTIN_SCENARIOS["dynamic"], np.random.default_rng(1))
    obstacle = next(obstacle for obstacle in scene.obstacles if obstacle.motion is not None)
    period = obstacle.motion.period_s
    np.testing.assert_allclose(obstacle.position_at(period), obstacle.position_at(0.0), atol=1e-12)
    step = 1e-6  # the velocity is the derivative of the position
    np.testing.assert_allclose((obstacle.position_at(0.3 + step) - obstacle.position_at(0.3 - step)) / (2 * step),
                               obstacle.velocity_at(0.3), atol=1e-6)
    assert not np.allclose(scene.obstacle_set(0.0).positions, scene.obstacle_set(0.5).positions)


def test_an_unsatisfiable_scenario_fails_with_a_clear_error():
    spec = ScenarioSpec(name="impossible", region=Region(radius_m=(0.08, 0.09)), max_sample_attempts=5,
                        obstacles=(ObstacleGroup(placement="uniform", count=(1, 1)),))
    with pytest.raises(InvalidInputError, match="no valid scene in 5 attempts"):
        sample_scene(spec, np.random.default_rng(0))


def test_scenes_validate_their_fields():
    scene = BUILTIN_SCENARIOS["benchmark"].fixed_scenes[0]
    with pytest.raises(InvalidInputError, match="goal_joints"):
        replace(scene, goal_joints=(0.0, 0.0, 0.0, 5.0))
    with pytest.raises(InvalidInputError, match="unique"):
        replace(scene, obstacles=scene.obstacles[:1] * 2)

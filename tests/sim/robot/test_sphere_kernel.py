"""The compiled loops of the sphere model return exactly the values of the array paths: the culled
closest-pair search those of the full scan, the env's one-call measurement (link frames, obstacle,
self and table clearance) those of sim.robot.kinematics and sim.robot.collision's batch functions."""

from __future__ import annotations

import numpy as np

from sim.robot import _sphere_kernel
from sim.robot.collision import (
    _SELF_FIRST,
    _SELF_SECOND,
    SPHERE_RADII_M,
    ObstacleSet,
    arm_clearances,
    chosen_sphere_centres,
    first_clear_obstacle,
    first_free_configuration,
    min_clearance,
    self_clearance,
    signed_distances,
    sphere_centres,
    table_clearance,
)
from sim.robot.kinematics import JOINT_LIMITS, forward_kinematics, link_frames
from sim.robot.obstacle_kinds import OBSTACLE_KINDS
from sim.robot.transforms import quat_normalize, quat_to_matrix


def random_centres(rng: np.random.Generator, count: int) -> np.ndarray:
    q = rng.uniform(JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1], (count, 4))
    return np.ascontiguousarray(sphere_centres(q, rng.uniform(-0.01, 0.019, count), validate=False))


def test_culled_self_pairs_equal_the_full_scan_on_20000_configurations(rng):
    centres = random_centres(rng, 20_000)
    culled = _sphere_kernel.pair_minimum(centres, SPHERE_RADII_M, _SELF_FIRST, _SELF_SECOND)
    full = _sphere_kernel.pair_minimum_all(centres, SPHERE_RADII_M, _SELF_FIRST, _SELF_SECOND)
    assert np.array_equal(culled[0], full[0]) and np.array_equal(culled[1], full[1])
    assert (culled[0] < 0).any() and (culled[0] > 0.05).any()  # collisions and clear configurations both seen
    single = [_sphere_kernel.pair_minimum(centres[n:n + 1], SPHERE_RADII_M, _SELF_FIRST, _SELF_SECOND)
              for n in range(200)]
    assert [float(value[0][0]) for value in single] == full[0][:200].tolist()


def test_any_pair_list_gives_the_full_scans_minimum_and_first_index(rng):
    """Unsorted lists, repeated pairs (ties: the first index wins) and lists edited in place."""
    centres = random_centres(rng, 50)
    spheres = centres.shape[1]
    for trial in range(100):
        size = int(rng.integers(1, 400))
        first, second = rng.integers(0, spheres, size), rng.integers(0, spheres, size)
        if trial % 3 == 0:
            first = np.sort(first)
        if trial % 4 == 0:
            first, second = np.concatenate([first, first]), np.concatenate([second, second])
        culled = _sphere_kernel.pair_minimum(centres, SPHERE_RADII_M, first, second)
        full = _sphere_kernel.pair_minimum_all(centres, SPHERE_RADII_M, first, second)
        assert np.array_equal(culled[0], full[0]) and np.array_equal(culled[1], full[1]), trial
    first, second = _SELF_FIRST.copy(), _SELF_SECOND.copy()
    _sphere_kernel.pair_minimum(centres, SPHERE_RADII_M, first, second)  # planned
    first[:300] = first[:300][::-1].copy()  # the same arrays, other contents
    second[7] = 0
    culled = _sphere_kernel.pair_minimum(centres, SPHERE_RADII_M, first, second)
    full = _sphere_kernel.pair_minimum_all(centres, SPHERE_RADII_M, first, second)
    assert np.array_equal(culled[0], full[0]) and np.array_equal(culled[1], full[1])


def test_compiled_link_frames_equal_the_array_path_bit_for_bit(rng):
    """Within, past and far past the joint limits (the kernel compiles sim.robot.kinematics' scalar code)."""
    q = np.concatenate([rng.uniform(JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1], (2000, 4)),
                        rng.uniform(-20.0, 20.0, (500, 4)), np.zeros((1, 4)), -np.zeros((1, 4))])
    gripper = rng.uniform(-0.011, 0.02, len(q))
    frames = link_frames(q, gripper, validate=False)
    for n in range(len(q)):
        positions, rotations = _sphere_kernel.configuration_frames(q[n], float(gripper[n]))
        assert np.array_equal(positions[0], frames.positions[n]), n
        assert np.array_equal(rotations[0], frames.rotations[n]), n
        assert np.array_equal(np.signbit(rotations[0]), np.signbit(frames.rotations[n])), n  # signed zeros too


def random_obstacles(rng: np.random.Generator, count: int) -> ObstacleSet:
    kinds = [OBSTACLE_KINDS[k] for k in rng.integers(0, len(OBSTACLE_KINDS), count)]
    sizes = [rng.uniform(0.01, 0.08, {"sphere": 1, "box": 3, "cylinder": 2}[kind]) for kind in kinds]
    positions = rng.uniform([-0.3, -0.3, -0.05], [0.35, 0.3, 0.4], (count, 3))
    return ObstacleSet.from_list(kinds, positions, sizes, quat_normalize(rng.normal(size=(count, 4))))


def test_arm_clearances_equal_the_batch_functions_on_random_scenes(rng):
    """Per-(link, obstacle) minima, the closest pair and its names, self and table clearance, exactly,
    on scenes of 0-6 obstacles (touching and penetrating ones among them) and any finger position."""
    touching = self_hits = 0
    for trial in range(400):
        obstacles = random_obstacles(rng, int(rng.integers(0, 7)))
        q = rng.uniform(JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1])
        gripper_m = float(rng.uniform(-0.011, 0.02))
        measured = arm_clearances(q, obstacles, gripper_m)
        batch, gripper = q[None], np.full(1, gripper_m)
        expected = signed_distances(batch, obstacles, gripper)[0]
        assert measured.per_link_m.shape == expected.shape and np.array_equal(measured.per_link_m, expected), trial
        closest = min_clearance(batch, obstacles, gripper)
        assert measured.obstacle.distance_m == closest.distance_m[0], trial
        assert (int(measured.obstacle.link), int(measured.obstacle.obstacle)) == (closest.link[0], closest.obstacle[0])
        assert measured.self_m == self_clearance(batch, gripper)[0], trial
        assert measured.table_m == table_clearance(batch, gripper)[0], trial
        touching += bool(len(obstacles)) and measured.obstacle.distance_m < 0
        self_hits += measured.self_m < 0
    assert touching > 20 and self_hits > 5  # penetrations of obstacles and of the arm itself were checked


def test_unvalidated_sphere_centres_take_the_compiled_loop_and_equal_the_array_path(rng):
    """sim.robot.collision's hot loops (validate=False) place the spheres with the compiled link frames;
    validated calls take sim.robot.kinematics' array path: the same values, bit for bit."""
    q = np.concatenate([rng.uniform(JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1], (300, 4)), rng.uniform(-9, 9, (60, 4))])
    gripper = rng.uniform(-0.011, 0.02, len(q))
    for fingers in (gripper.reshape(6, 60), 0.004, 0):
        compiled = sphere_centres(q.reshape(6, 60, 4), fingers, validate=False)
        assert compiled.shape == (6, 60, len(SPHERE_RADII_M), 3)
        assert np.array_equal(compiled, sphere_centres(q.reshape(6, 60, 4), fingers, validate=True))
    assert np.array_equal(sphere_centres(q[0], 0.01, validate=False), sphere_centres(q[0], 0.01))


def test_first_free_configuration_is_the_first_survivor_of_the_batch_filters(rng):
    """The scene sampler's early-exit search returns the first configuration that forward_kinematics,
    table_clearance and self_clearance of the whole batch accept; bounds and margins set to a
    candidate's own value test the comparisons at equality (a one-ulp difference would show)."""
    outcomes = set()
    for trial in range(300):
        q = rng.uniform(JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1], (16, 4))
        candidates = rng.random(16) < 0.8
        poses = forward_kinematics(q, validate=False)
        radius, height = np.hypot(poses[:, 0], poses[:, 1]), poses[:, 2]
        table, self_m = table_clearance(q, validate=False), self_clearance(q, validate=False)
        pick = int(rng.integers(16))  # bounds and margin through one candidate's values
        ee_radius = (float(radius[pick]), 0.3) if trial % 3 else None
        ee_z = (0.02, float(height[pick])) if trial % 4 else None
        margin = float(table[pick]) if trial % 2 else 0.01
        keep = candidates & (table >= margin) & (self_m > 0.0)
        if ee_radius is not None:
            keep &= (radius >= ee_radius[0]) & (radius <= ee_radius[1])
        if ee_z is not None:
            keep &= (height >= ee_z[0]) & (height <= ee_z[1])
        expected = int(np.flatnonzero(keep)[0]) if keep.any() else -1
        assert first_free_configuration(q, candidates, ee_radius, ee_z, margin) == expected, trial
        outcomes.add(min(expected, 1))
    assert outcomes == {-1, 0, 1}  # none, the first and a later candidate were all seen


def test_chosen_sphere_centres_equal_rows_of_sphere_centres(rng):
    q = np.concatenate([rng.uniform(JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1], (50, 4)), rng.uniform(-9, 9, (10, 4))])
    which, sphere = rng.integers(0, len(q), 500), rng.integers(0, len(SPHERE_RADII_M), 500)
    chosen = chosen_sphere_centres(q, which, sphere)
    assert np.array_equal(chosen, sphere_centres(q, validate=False)[which, sphere])
    assert np.array_equal(chosen, sphere_centres(q)[which, sphere])


def test_first_clear_obstacle_is_the_first_candidate_signed_distances_accept(rng):
    """Candidates of every kind, orientation and 1 or 4 phases, against two configurations: the first
    whose ObstacleSet (rotations by sim.robot.transforms.quat_to_matrix) keeps the margin at every phase."""
    outcomes = set()
    for trial in range(300):
        count, phases = 12, (1, 4)[trial % 2]
        kinds = rng.integers(0, len(OBSTACLE_KINDS), count)
        sizes = rng.uniform(0.01, 0.06, (count, 3)) * (np.arange(3) < np.array([1, 3, 2])[kinds][:, None])
        positions = rng.uniform([-0.3, -0.3, 0.0], [0.35, 0.3, 0.4], (count, 1, 3)) + rng.normal(
            0.0, 0.03, (count, phases, 3))
        quaternions = quat_normalize(rng.normal(size=(count, 4)))
        ends = rng.uniform(JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1], (2, 4))
        candidates = rng.random(count) < 0.8
        rotations = quat_to_matrix(np.repeat(quaternions, phases, axis=0))
        obstacles = ObstacleSet(np.repeat(kinds, phases), positions.reshape(-1, 3), rotations,
                                np.repeat(sizes, phases, axis=0))
        clearance = signed_distances(ends, obstacles, validate=False).reshape(2, -1, count, phases).min(axis=(0, 1, 3))
        margin = float(clearance[int(rng.integers(count))]) if trial % 2 else 0.015
        keep = candidates & (clearance >= margin)
        expected = int(np.flatnonzero(keep)[0]) if keep.any() else -1
        centres = sphere_centres(ends, validate=False)
        found = first_clear_obstacle(candidates, kinds, positions, quaternions, sizes, centres, margin)
        assert found == expected, trial
        outcomes.add(min(expected, 1))
    assert outcomes == {-1, 0, 1}

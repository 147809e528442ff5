"""The compiled loops of the sphere model return exactly the values of the array paths: the culled
closest-pair search those of the full scan, the env's one-call measurement (link frames, obstacle,
self and table clearance) those of sim.kinematics and sim.collision's batch functions."""

from __future__ import annotations

import numpy as np

from sim import _sphere_kernel
from sim.collision import (
    _SELF_FIRST,
    _SELF_SECOND,
    SPHERE_RADII_M,
    ObstacleSet,
    arm_clearances,
    min_clearance,
    self_clearance,
    signed_distances,
    sphere_centres,
    table_clearance,
)
from sim.kinematics import JOINT_LIMITS, link_frames
from sim.obstacle_kinds import OBSTACLE_KINDS
from sim.transforms import quat_normalize


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
    """Within, past and far past the joint limits (the kernel compiles sim.kinematics' scalar code)."""
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
    """sim.collision's hot loops (validate=False) place the spheres with the compiled link frames;
    validated calls take sim.kinematics' array path: the same values, bit for bit."""
    q = np.concatenate([rng.uniform(JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1], (300, 4)), rng.uniform(-9, 9, (60, 4))])
    gripper = rng.uniform(-0.011, 0.02, len(q))
    for fingers in (gripper.reshape(6, 60), 0.004, 0):
        compiled = sphere_centres(q.reshape(6, 60, 4), fingers, validate=False)
        assert compiled.shape == (6, 60, len(SPHERE_RADII_M), 3)
        assert np.array_equal(compiled, sphere_centres(q.reshape(6, 60, 4), fingers, validate=True))
    assert np.array_equal(sphere_centres(q[0], 0.01, validate=False), sphere_centres(q[0], 0.01))

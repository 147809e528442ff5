"""Capsule model: exactness against PyBullet, gradients, indices, validation.

Tolerances, measured and justified:
- spheres and boxes: 1e-6 m. The solids are identical (URDF capsules, obstacle collision margin
  set to 0) and both sides are exact up to Bullet's single-precision-like contact output
  (observed worst 2.3e-7 m).
- cylinders: 5e-5 m. Bullet finds cylinder distances by GJK, an iterative method on the curved
  surface; its residual is the only difference (observed worst 2.7e-5 m).
- penetration: Bullet reports EPA's separating distance, the capsule model the signed distance
  field at the axis' deepest point; both are negative together, magnitudes differ by design.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sim.collision import (
    ARM_CAPSULES,
    CAPSULE_LINKS,
    ObstacleSet,
    _point_sdf,
    capsule_segments,
    min_clearance,
    signed_distances,
)
from sim._backend import ops_for
from sim.errors import InvalidInputError
from sim.kinematics import HOME_CONFIGURATION, sample_joints
from sim.transforms import quat_normalize

TOLERANCE_M = {"sphere": 1e-6, "box": 1e-6, "cylinder": 5e-5}
SIZES = {"sphere": (0.03,), "box": (0.03, 0.05, 0.02), "cylinder": (0.025, 0.05)}


def random_obstacle(rng, kind):
    position = rng.uniform([0.05, -0.25, 0.02], [0.33, 0.25, 0.3])
    quaternion = quat_normalize(rng.normal(size=4))
    size = tuple(np.array(SIZES[kind]) * rng.uniform(0.5, 1.5))
    return position, quaternion, size


@pytest.mark.parametrize("kind", ["sphere", "box", "cylinder"])
def test_capsule_distances_match_pybullet_closest_points(world, rng, kind):
    compared = 0
    for trial in range(150):
        position, quaternion, size = random_obstacle(rng, kind)
        world.clear_obstacles()
        world.add_obstacle("obstacle", kind, size, position, quaternion)
        obstacles = ObstacleSet.from_list([kind], [position], [size], [quaternion])
        q = sample_joints(rng, 1)[0]
        world.reset_joints(q)
        distances = signed_distances(q, obstacles)
        for point in world.closest_points(1.0):
            if point.link not in CAPSULE_LINKS:
                continue
            ours = distances[CAPSULE_LINKS.index(point.link), 0]
            if ours > 0:
                assert abs(point.distance_m - ours) < TOLERANCE_M[kind], (point, ours)
            elif ours < -1e-4:
                assert point.distance_m < 0, (point, ours)
            compared += 1
    assert compared > 500


def test_capsule_endpoints_follow_the_links(rng):
    q = sample_joints(rng, 50)
    starts, ends = capsule_segments(q)
    assert starts.shape == ends.shape == (50, len(ARM_CAPSULES), 3)
    lengths = np.linalg.norm(ends - starts, axis=-1)
    expected = [np.linalg.norm(np.subtract(c.b, c.a)) for c in ARM_CAPSULES]
    np.testing.assert_allclose(lengths, np.broadcast_to(expected, lengths.shape), atol=1e-12)


def test_compiled_search_agrees_with_vectorised_field_and_torch(rng):
    kinds = ["sphere", "box", "cylinder", "box"]
    placed = [random_obstacle(rng, kind) for kind in kinds]
    obstacles = ObstacleSet.from_list(kinds, [p for p, _, _ in placed], [s for _, _, s in placed], [r for _, r, _ in placed])
    q = sample_joints(rng, 300)
    numpy_distances = signed_distances(q, obstacles)
    torch_distances = signed_distances(torch.tensor(q), obstacles)
    np.testing.assert_allclose(torch_distances.numpy(), numpy_distances, atol=1e-12)
    # The closest point along a segment is a minimum: probing other points never gives less.
    starts, ends = capsule_segments(q)
    radii = np.array([c.radius_m for c in ARM_CAPSULES])
    for t in np.linspace(0, 1, 11):
        points = starts + t * (ends - starts)
        local = np.einsum("...mj,mjk->...mk", points[..., :, None, :] - obstacles.positions, obstacles.rotations)
        probe = _point_sdf(local, obstacles.kinds, obstacles.sizes, ops_for(local)) - radii[:, None]
        assert np.all(probe >= numpy_distances - 1e-9)


def test_torch_gradients_match_finite_differences(rng):
    kinds = ["sphere", "box", "cylinder"]
    placed = [random_obstacle(rng, kind) for kind in kinds]
    obstacles = ObstacleSet.from_list(kinds, [p for p, _, _ in placed], [s for _, _, s in placed], [r for _, r, _ in placed])
    q = torch.tensor(sample_joints(rng, 20) * 0.9, requires_grad=True)
    distances = signed_distances(q, obstacles)
    distances.sum().backward()
    step = 1e-6
    numeric = np.zeros((20, 4))
    base = q.detach().numpy()
    for joint in range(4):
        shift = np.zeros(4)
        shift[joint] = step
        numeric[:, joint] = (
            signed_distances(base + shift, obstacles, validate=False).sum((1, 2))
            - signed_distances(base - shift, obstacles, validate=False).sum((1, 2))
        ) / (2 * step)
    np.testing.assert_allclose(q.grad.numpy(), numeric, atol=1e-5)


def test_min_clearance_names_the_closest_pair():
    obstacles = ObstacleSet.from_list(["sphere", "box"], [[0.5, 0.5, 0.5], [0.3, 0.0, 0.2]], [[0.02], [0.02, 0.02, 0.02]])
    q = np.array([0.0, 0.5, 0.2, 0.0])
    clearance = min_clearance(q, obstacles)
    distances = signed_distances(q, obstacles)
    assert clearance.distance_m == pytest.approx(distances.min())
    assert clearance.obstacle == 1
    assert distances[clearance.link, clearance.obstacle] == distances.min()
    batch = min_clearance(np.stack([q, HOME_CONFIGURATION]), obstacles)
    assert batch.distance_m.shape == (2,) and batch.link.shape == (2,)


def test_penetration_is_negative_and_empty_set_is_infinite():
    q = np.array([0.0, 0.0, 0.0, 0.0])
    from sim.kinematics import forward_kinematics

    tip = forward_kinematics(q)[:3]
    inside = ObstacleSet.from_list(["box"], [tip], [[0.04, 0.04, 0.04]])  # fingers at y = +-0.021
    assert min_clearance(q, inside).distance_m < -0.02
    empty = ObstacleSet.from_list([], [], [])
    assert signed_distances(q, empty).shape == (7, 0)
    assert min_clearance(q, empty).distance_m == np.inf


def test_bad_input_is_rejected():
    with pytest.raises(InvalidInputError, match="kind"):
        ObstacleSet.from_list(["cone"], [[0, 0, 0]], [[0.1]])
    with pytest.raises(InvalidInputError, match="shape"):
        signed_distances(np.zeros(3), ObstacleSet.from_list(["sphere"], [[0, 0, 0]], [[0.1]]))

"""The culled closest-pair search of the sphere model returns exactly the full scan's values."""

from __future__ import annotations

import numpy as np

from sim import _sphere_kernel
from sim.collision import _SELF_FIRST, _SELF_SECOND, SPHERE_RADII_M, sphere_centres
from sim.kinematics import JOINT_LIMITS


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

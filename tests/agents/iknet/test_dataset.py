"""Synthetic pose-joint pairs: seeded, exact, filtered as asked, normalised from the train split."""

from __future__ import annotations

import numpy as np
import pytest

from agents.iknet.dataset import (
    SELF_COLLISION_PAIRS,
    make_splits,
    normalisation_stats,
    sample_pairs,
    sample_poses,
    self_collision_distance,
)
from sim.collision import ARM_CAPSULES, CAPSULE_RADII_M, capsule_segments
from sim.errors import InvalidInputError
from sim.kinematics import analytic_ik, forward_kinematics, sample_joints, within_limits


def test_pairs_are_exact_filtered_and_relabelled() -> None:
    data = sample_pairs(np.random.default_rng(0), 4000)
    assert data.poses.shape == (4000, 7) and data.joints.shape == (4000, 4)
    assert data.poses.dtype == data.joints.dtype == np.float32
    assert within_limits(data.joints, 1e-6).all()
    np.testing.assert_allclose(forward_kinematics(data.joints.astype(np.float64), validate=False), data.poses,
                               atol=2e-6)
    assert np.all(data.poses[:, 6] >= 0.0)  # canonical quaternions
    assert np.all(data.poses[:, 2] >= 0.0)  # above the table
    assert np.all(self_collision_distance(data.joints.astype(np.float64)) > -1e-6)
    # The labels are the analytic "closest" branch (float32 poses move near-singular ones slightly).
    np.testing.assert_allclose(data.joints, analytic_ik(data.poses.astype(np.float64)), atol=1e-3)


def test_unfiltered_pairs_cover_the_whole_joint_box() -> None:
    raw = sample_pairs(np.random.default_rng(1), 20_000, reject_self_collision=False, reject_below_table=False,
                       relabel=False)
    assert np.mean(raw.poses[:, 2] < 0) > 0.1
    assert np.mean(self_collision_distance(raw.joints.astype(np.float64)) <= 0) > 0.02


def test_self_collision_distance_matches_dense_segment_sampling() -> None:
    q = sample_joints(np.random.default_rng(2), 100)
    starts, ends = capsule_segments(q, validate=False)
    t = np.linspace(0.0, 1.0, 101)
    brute = np.full(len(q), np.inf)
    for i, j in SELF_COLLISION_PAIRS:
        a = starts[:, i, None, :] + t[:, None] * (ends[:, i] - starts[:, i])[:, None, :]
        b = starts[:, j, None, :] + t[:, None] * (ends[:, j] - starts[:, j])[:, None, :]
        gap = np.linalg.norm(a[:, :, None, :] - b[:, None, :, :], axis=-1).min((1, 2))
        brute = np.minimum(brute, gap - CAPSULE_RADII_M[i] - CAPSULE_RADII_M[j])
    fast = self_collision_distance(q)
    assert np.all(fast <= brute + 1e-12)
    np.testing.assert_allclose(fast, brute, atol=1e-3)  # grid spacing of the longest capsule: 1.3 mm
    assert len(SELF_COLLISION_PAIRS) == len(ARM_CAPSULES) * (len(ARM_CAPSULES) - 1) // 2 - 6


def test_splits_are_seeded_disjoint_and_normalised_from_train() -> None:
    first, second = make_splits(2000, seed=7), make_splits(2000, seed=7)
    np.testing.assert_array_equal(first.train.poses, second.train.poses)
    np.testing.assert_array_equal(first.test.joints, second.test.joints)
    assert not np.array_equal(make_splits(2000, seed=8).train.poses, first.train.poses)
    assert (len(first.train), len(first.validation), len(first.test)) == (1800, 100, 100)
    assert first.seed == 7 and first.size == 2000
    stats = normalisation_stats(first.train.poses)
    np.testing.assert_allclose(first.stats.mean, stats.mean)
    np.testing.assert_allclose(first.stats.std, first.train.poses.astype(np.float64).std(0), rtol=1e-12)
    together = np.concatenate([first.train.poses, first.validation.poses, first.test.poses])
    assert len(np.unique(together, axis=0)) == 2000


def test_sample_poses_and_bad_sizes() -> None:
    poses = sample_poses(np.random.default_rng(3), 10)
    assert poses.shape == (10, 7)
    assert sample_pairs(np.random.default_rng(3), 0).poses.shape == (0, 7)
    with pytest.raises(InvalidInputError):
        sample_pairs(np.random.default_rng(3), -1)
    with pytest.raises(InvalidInputError, match="dataset size"):
        make_splits(2, seed=0)
    with pytest.raises(InvalidInputError, match="validation_fraction"):
        make_splits(100, seed=0, validation_fraction=0.7)

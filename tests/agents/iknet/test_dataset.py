"""Synthetic pose-joint pairs: seeded, exact, filtered as asked, normalised from the train split."""

from __future__ import annotations

import numpy as np
import pytest

from agents.iknet.dataset import make_splits, normalisation_stats, sample_pairs, sample_poses
from sim.errors import InvalidInputError
from sim.robot.collision import self_clearance
from sim.robot.kinematics import analytic_ik, forward_kinematics, within_limits


def test_pairs_are_exact_filtered_and_relabelled() -> None:
    data = sample_pairs(np.random.default_rng(0), 4000)
    assert data.poses.shape == (4000, 7) and data.joints.shape == (4000, 4)
    assert data.poses.dtype == data.joints.dtype == np.float32
    assert within_limits(data.joints, 1e-6).all()
    np.testing.assert_allclose(forward_kinematics(data.joints.astype(np.float64), validate=False), data.poses,
                               atol=2e-6)
    assert np.all(data.poses[:, 6] >= 0.0)  # canonical quaternions
    assert np.all(data.poses[:, 2] >= 0.0)  # above the table
    assert np.all(self_clearance(data.joints.astype(np.float64)) > -1e-6)
    # The labels are the analytic "closest" branch (float32 poses move near-singular ones slightly).
    np.testing.assert_allclose(data.joints, analytic_ik(data.poses.astype(np.float64)), atol=1e-3)


def test_unfiltered_pairs_cover_the_whole_joint_box() -> None:
    raw = sample_pairs(np.random.default_rng(1), 20_000, reject_self_collision=False, reject_below_table=False,
                       relabel=False)
    assert np.mean(raw.poses[:, 2] < 0) > 0.1
    assert np.mean(self_clearance(raw.joints.astype(np.float64)) <= 0) > 0.02


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

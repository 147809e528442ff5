"""Hybrid IK refinement: converges from a network-sized error, respects limits, batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.iknet.dataset import sample_pairs
from agents.iknet.refine import pose_residual, refine
from sim.errors import InvalidInputError
from sim.robot.kinematics import JOINT_LIMITS, forward_kinematics
from sim.robot.transforms import quat_angle


@pytest.fixture(scope="module")
def pairs():
    return sample_pairs(np.random.default_rng(11), 2000)


def test_residual_is_zero_at_the_solution_and_measures_geodesic_angle(pairs) -> None:
    q = torch.from_numpy(pairs.joints).double()
    pose = torch.from_numpy(forward_kinematics(pairs.joints.astype(np.float64)))
    assert float(pose_residual(q, pose).abs().max()) < 1e-9
    bumped = q + torch.tensor([0.002, 0.0, 0.0, 0.001], dtype=torch.float64)
    residual = pose_residual(bumped, pose, orientation_weight_m=1.0)
    angle = quat_angle(forward_kinematics(bumped, validate=False)[:, 3:], pose[:, 3:])
    torch.testing.assert_close(residual[:, 3:].norm(dim=1), angle, rtol=1e-4, atol=1e-9)


def test_refine_reaches_analytic_accuracy_from_network_sized_errors(pairs) -> None:
    rng = np.random.default_rng(12)
    poses = pairs.poses.astype(np.float64)
    guess = pairs.joints + rng.normal(0.0, 0.02, pairs.joints.shape)  # ~5 mm typical error
    refined = refine(guess, poses, 3)
    reached = forward_kinematics(refined)
    error_mm = np.linalg.norm(reached[:, :3] - poses[:, :3], axis=1) * 1000
    assert np.median(error_mm) < 1e-4 and np.percentile(error_mm, 95) < 1e-2
    assert np.median(np.degrees(quat_angle(reached[:, 3:], poses[:, 3:]))) < 1e-4
    assert refined.dtype == np.float64 and refined.shape == guess.shape


def test_refine_respects_joint_limits_and_keeps_input_type(pairs) -> None:
    poses = torch.from_numpy(pairs.poses[:200]).double()
    outside = torch.from_numpy(pairs.joints[:200]).double() + 4.0  # far outside every limit
    refined = refine(outside, poses, 4)
    assert isinstance(refined, torch.Tensor)
    low, high = torch.from_numpy(JOINT_LIMITS[:, 0].copy()), torch.from_numpy(JOINT_LIMITS[:, 1].copy())
    assert bool(((refined >= low) & (refined <= high)).all())
    unchanged = refine(outside, poses, 0)
    torch.testing.assert_close(unchanged, torch.clamp(outside, low, high))


def test_refine_rejects_bad_input(pairs) -> None:
    with pytest.raises(InvalidInputError, match=r"q \(N, 4\) and pose \(N, 7\)"):
        refine(np.zeros((3, 4)), pairs.poses[:2], 1)
    with pytest.raises(InvalidInputError, match="NaN"):
        refine(np.full((2, 4), np.nan), pairs.poses[:2], 1)
    with pytest.raises(InvalidInputError, match="steps"):
        refine(pairs.joints[:2], pairs.poses[:2], -1)

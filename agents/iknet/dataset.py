"""Synthetic pose -> joint pairs for training and judging IK networks.

Joints are drawn uniformly inside :data:`sim.robot.kinematics.JOINT_LIMITS`; optionally the
configurations in self-collision (the real arm's geometry, :func:`sim.robot.collision.self_clearance`)
or whose end effector lies below the table plane ``z = 0`` are rejected and redrawn. Poses come
from exact forward kinematics.

Pose -> joints is multi-valued for uniformly drawn joints (elbow up / elbow down), and a regressor
trained on raw samples would average the two branches. With ``relabel=True`` (the default) every
pose is therefore labelled with :func:`sim.robot.kinematics.analytic_ik`'s ``"closest"`` branch, which
makes the target a function of the pose (discontinuous only where the preferred branch switches).

All randomness comes from one ``numpy.random.Generator`` built from the caller's seed; nothing is
seeded globally. One million pairs take a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import InvalidInputError
from sim.robot.collision import self_clearance
from sim.robot.kinematics import analytic_ik, forward_kinematics, sample_joints

POSE_DIM = 7
JOINT_DIM = 4
_CHUNK = 100_000


@dataclass(frozen=True)
class NormStats:
    """Per-feature input normalisation ``(pose - mean) / std``.

    Attributes:
        mean: (7,) float64 mean pose of the training split.
        std: (7,) float64 standard deviation (floored at 1e-6).
    """

    mean: np.ndarray
    std: np.ndarray


@dataclass(frozen=True)
class PoseJointSet:
    """Matched poses and joints.

    Attributes:
        poses: (N, 7) float32 ``[x, y, z, qx, qy, qz, qw]`` (m), base frame, qw >= 0.
        joints: (N, 4) float32 joint angles (rad) whose forward kinematics is ``poses``.
    """

    poses: np.ndarray
    joints: np.ndarray

    def __len__(self) -> int:
        return len(self.poses)


@dataclass(frozen=True)
class DatasetSplits:
    """Seeded train / validation / test splits and the training split's normalisation."""

    train: PoseJointSet
    validation: PoseJointSet
    test: PoseJointSet
    stats: NormStats
    seed: int
    size: int


def sample_pairs(
    rng: np.random.Generator,
    n: int,
    *,
    reject_self_collision: bool = True,
    reject_below_table: bool = True,
    relabel: bool = True,
) -> PoseJointSet:
    """Draw ``n`` pose-joint pairs.

    Args:
        rng: the source of randomness.
        n: number of pairs (>= 0).
        reject_self_collision: redraw configurations in self-collision (sim.robot.collision.self_clearance <= 0).
        reject_below_table: redraw configurations whose end effector has ``z < 0``.
        relabel: replace the drawn joints by the analytic ``"closest"`` branch of their pose.

    Returns:
        :class:`PoseJointSet` of ``n`` float32 pairs.

    Raises:
        InvalidInputError: ``n`` is negative.
    """
    if n < 0:
        raise InvalidInputError(f"number of pairs must be >= 0, got {n}")
    kept: list[np.ndarray] = []
    count = 0
    while count < n:
        # Draw a little more than needed so one round is usually enough, in bounded chunks.
        q = sample_joints(rng, min(_CHUNK, int((n - count) * 1.5) + 16))
        if reject_below_table:
            q = q[forward_kinematics(q, validate=False)[:, 2] >= 0.0]
        if reject_self_collision:
            q = q[self_clearance(q, validate=False) > 0.0]
        kept.append(q)
        count += len(q)
    joints = np.concatenate(kept)[:n] if kept else np.zeros((0, JOINT_DIM))
    poses = forward_kinematics(joints, validate=False)
    if relabel and n:
        labels, ok = analytic_ik(poses, return_mask=True)
        joints = np.where(ok[:, None], labels, joints)
    return PoseJointSet(poses.astype(np.float32), joints.astype(np.float32))


def sample_poses(
    rng: np.random.Generator, n: int, *, reject_self_collision: bool = True, reject_below_table: bool = True
) -> np.ndarray:
    """(n, 7) float32 reachable poses drawn as :func:`sample_pairs` draws them (same options)."""
    return sample_pairs(rng, n, reject_self_collision=reject_self_collision,
                        reject_below_table=reject_below_table, relabel=False).poses


def normalisation_stats(poses: np.ndarray) -> NormStats:
    """Mean and standard deviation of ``poses`` (N, 7), the std floored at 1e-6."""
    poses = np.asarray(poses, dtype=np.float64)
    return NormStats(poses.mean(0), np.maximum(poses.std(0), 1e-6))


def make_splits(
    size: int,
    seed: int,
    *,
    validation_fraction: float = 0.05,
    test_fraction: float = 0.05,
    reject_self_collision: bool = True,
    reject_below_table: bool = True,
    relabel: bool = True,
) -> DatasetSplits:
    """Seeded train / validation / test splits of ``size`` pairs in all.

    Args:
        size: total number of pairs (>= 3).
        seed: seed of the ``numpy.random.Generator``; the same seed gives the same splits.
        validation_fraction: share of ``size`` held out for early stopping.
        test_fraction: share of ``size`` held out for the final report.
        reject_self_collision: see :func:`sample_pairs`.
        reject_below_table: see :func:`sample_pairs`.
        relabel: see :func:`sample_pairs`.

    Returns:
        :class:`DatasetSplits`; normalisation statistics come from the training split only.

    Raises:
        InvalidInputError: a size or fraction out of range.
    """
    if size < 3:
        raise InvalidInputError(f"dataset size must be >= 3, got {size}")
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 0.5:
            raise InvalidInputError(f"{name} must lie in (0, 0.5), got {value}")
    rng = np.random.default_rng(seed)
    data = sample_pairs(rng, size, reject_self_collision=reject_self_collision,
                        reject_below_table=reject_below_table, relabel=relabel)
    n_val = max(1, int(round(size * validation_fraction)))
    n_test = max(1, int(round(size * test_fraction)))
    n_train = size - n_val - n_test

    def part(start: int, stop: int) -> PoseJointSet:
        return PoseJointSet(data.poses[start:stop], data.joints[start:stop])

    train = part(0, n_train)
    return DatasetSplits(
        train=train,
        validation=part(n_train, n_train + n_val),
        test=part(n_train + n_val, size),
        stats=normalisation_stats(train.poses),
        seed=seed,
        size=size,
    )

"""Synthetic pose -> joint pairs for training and judging IK networks.

Joints are drawn uniformly inside :data:`sim.kinematics.JOINT_LIMITS`; optionally the
configurations whose capsules touch each other (self-collision) or whose end effector lies below
the table plane ``z = 0`` are rejected and redrawn. Poses come from exact forward kinematics.

Pose -> joints is multi-valued for uniformly drawn joints (elbow up / elbow down), and a regressor
trained on raw samples would average the two branches. With ``relabel=True`` (the default) every
pose is therefore labelled with :func:`sim.kinematics.analytic_ik`'s ``"closest"`` branch, which
makes the target a function of the pose (discontinuous only where the preferred branch switches).

All randomness comes from one ``numpy.random.Generator`` built from the caller's seed; nothing is
seeded globally. One million pairs take a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.collision import _CAPSULE_A, _CAPSULE_B, _FRAME_OF_CAPSULE, ARM_CAPSULES, CAPSULE_RADII_M
from sim.errors import InvalidInputError
from sim.kinematics import analytic_ik, forward_kinematics, link_frames, sample_joints

POSE_DIM = 7
JOINT_DIM = 4
#: Capsule pairs (indices into ``ARM_CAPSULES``) that can touch: all but parent-child pairs.
_ADJACENT = {("link1", "link2"), ("link2", "link3"), ("link3", "link4"), ("link4", "link5"),
             ("link5", "gripper_left_link"), ("link5", "gripper_right_link")}
SELF_COLLISION_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (i, j)
    for i in range(len(ARM_CAPSULES))
    for j in range(i + 1, len(ARM_CAPSULES))
    if (ARM_CAPSULES[i].link, ARM_CAPSULES[j].link) not in _ADJACENT
)
_PAIR_FIRST = np.array([i for i, _ in SELF_COLLISION_PAIRS])
_PAIR_SECOND = np.array([j for _, j in SELF_COLLISION_PAIRS])
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


def self_collision_distance(q: np.ndarray) -> np.ndarray:
    """Smallest signed distance (m) between non-adjacent arm capsules.

    Args:
        q: (N, 4) joint angles (rad), inside the limits.

    Returns:
        (N,) distance between capsule surfaces; negative when two links interpenetrate.
    """
    frames = link_frames(q, validate=False)
    positions = frames.positions[:, _FRAME_OF_CAPSULE]  # (N, 7, 3)
    rotations = frames.rotations[:, _FRAME_OF_CAPSULE]  # (N, 7, 3, 3)
    # Component-major (3, N, 7) layout keeps the arithmetic below on contiguous arrays.
    starts = np.einsum("nkij,kj->ink", rotations, _CAPSULE_A) + positions.transpose(2, 0, 1)
    ends = np.einsum("nkij,kj->ink", rotations, _CAPSULE_B) + positions.transpose(2, 0, 1)
    first, second = _PAIR_FIRST, _PAIR_SECOND
    distance = _segment_distance(starts[:, :, first], ends[:, :, first], starts[:, :, second], ends[:, :, second])
    return (distance - CAPSULE_RADII_M[first] - CAPSULE_RADII_M[second]).min(-1)


def _segment_distance(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Distances (...,) between segments ``p1-q1`` and ``p2-q2`` given as (3, ...) (Ericson, RTCD 5.1.9)."""

    def dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]

    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a, e, b = dot(d1, d1), dot(d2, d2), dot(d1, d2)
    c, f = dot(d1, r), dot(d2, r)
    denom = a * e - b * b
    safe_a, safe_e = np.maximum(a, 1e-18), np.maximum(e, 1e-18)
    s = np.where(denom > 1e-18, np.clip((b * f - c * e) / np.maximum(denom, 1e-18), 0.0, 1.0), 0.0)
    t = (b * s + f) / safe_e
    s = np.where(t < 0, np.clip(-c / safe_a, 0.0, 1.0), np.where(t > 1, np.clip((b - c) / safe_a, 0.0, 1.0), s))
    t = np.clip(t, 0.0, 1.0)
    gap = (p1 + d1 * s) - (p2 + d2 * t)
    return np.sqrt(dot(gap, gap))


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
        reject_self_collision: redraw configurations whose non-adjacent capsules touch.
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
            q = q[self_collision_distance(q) > 0.0]
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

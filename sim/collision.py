"""The arm as capsules, and batched signed distances from every capsule to obstacles.

The capsules are the URDF's collision geometry (same numbers, see ``assets/urdf``), so these
distances measure the very solids PyBullet collides. Obstacles are spheres, boxes and cylinders
with arbitrary poses. Everything is vectorised over configurations and obstacles, works on
NumPy arrays and torch tensors, and is differentiable in torch (the closest point along each
capsule axis is found without gradients, then the distance is evaluated there with them: by the
envelope theorem that is the exact gradient).

Distances are signed: positive clearance, negative penetration depth (for boxes and cylinders
penetration is measured from the capsule axis' deepest point, as a signed distance field does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from sim._backend import is_torch, ops_for
from sim._distance_kernel import closest_along_segments
from sim.errors import InvalidInputError
from sim.kinematics import LINK_NAMES, link_frames


class Capsule(NamedTuple):
    """A segment ``a -> b`` (m, in ``link``'s frame) swept by a sphere of ``radius_m``."""

    link: str
    a: tuple[float, float, float]
    b: tuple[float, float, float]
    radius_m: float


#: The arm's collision geometry; identical to the URDF's ``<capsule>`` elements.
ARM_CAPSULES: tuple[Capsule, ...] = (
    Capsule("link1", (0.012, -0.010, 0.012), (0.012, 0.010, 0.012), 0.012),
    Capsule("link2", (0.0, 0.0, 0.010), (0.0, 0.0, 0.0595), 0.020),
    Capsule("link3", (0.0, 0.0, 0.0), (0.024, 0.0, 0.128), 0.018),
    Capsule("link4", (0.0, 0.0, 0.0), (0.124, 0.0, 0.0), 0.018),
    Capsule("link5", (0.0, 0.0, 0.0), (0.070, 0.0, 0.0), 0.019),
    Capsule("gripper_left_link", (0.008, 0.0, 0.0), (0.040, 0.0, 0.0), 0.007),
    Capsule("gripper_right_link", (0.008, 0.0, 0.0), (0.040, 0.0, 0.0), 0.007),
)
CAPSULE_LINKS: tuple[str, ...] = tuple(c.link for c in ARM_CAPSULES)
_FRAME_OF_CAPSULE = np.array([LINK_NAMES.index(c.link) for c in ARM_CAPSULES])
_CAPSULE_A = np.array([c.a for c in ARM_CAPSULES])
_CAPSULE_B = np.array([c.b for c in ARM_CAPSULES])
CAPSULE_RADII_M = np.array([c.radius_m for c in ARM_CAPSULES])

KIND_CODES: dict[str, int] = {"sphere": 0, "box": 1, "cylinder": 2}


@dataclass(frozen=True)
class ObstacleSet:
    """M obstacles as arrays (NumPy), ready for batched distance queries.

    Attributes:
        kinds: (M,) int codes of :data:`KIND_CODES`.
        positions: (M, 3) centres, base frame (m).
        rotations: (M, 3, 3) body-to-base rotations.
        sizes: (M, 3) sphere ``(r, 0, 0)``, box half extents, cylinder ``(r, half_height, 0)`` (m).
    """

    kinds: np.ndarray
    positions: np.ndarray
    rotations: np.ndarray
    sizes: np.ndarray

    @staticmethod
    def from_list(
        kinds: Sequence[str],
        positions: Sequence[Sequence[float]],
        sizes: Sequence[Sequence[float]],
        quaternions: Sequence[Sequence[float]] | None = None,
    ) -> "ObstacleSet":
        """Build from per-obstacle kind names, centres, sizes and ``[qx, qy, qz, qw]`` quaternions."""
        from sim.transforms import quat_to_matrix

        count = len(kinds)
        unknown = [kind for kind in kinds if kind not in KIND_CODES]
        if unknown:
            raise InvalidInputError(f"unknown obstacle kind {unknown[0]!r}; valid choices: sphere, box, cylinder")
        padded = np.zeros((count, 3))
        for i, size in enumerate(sizes):
            padded[i, : len(size)] = size
        quats = np.array(quaternions, dtype=float).reshape(count, 4) if quaternions is not None else np.tile(
            [0.0, 0.0, 0.0, 1.0], (count, 1)
        )
        return ObstacleSet(
            np.array([KIND_CODES[k] for k in kinds], dtype=int),
            np.array(positions, dtype=float).reshape(count, 3),
            quat_to_matrix(quats).reshape(count, 3, 3),
            padded,
        )

    def __len__(self) -> int:
        return len(self.kinds)


class Clearance(NamedTuple):
    """Minimum clearance of configurations against an obstacle set."""

    distance_m: Any  #: (...,) smallest signed distance (m); +inf with no obstacles
    link: np.ndarray  #: (...,) index into :data:`CAPSULE_LINKS` of the closest capsule (-1 if none)
    obstacle: np.ndarray  #: (...,) index of the closest obstacle (-1 if none)


def capsule_segments(q: Any, gripper_m: float = 0.0, *, validate: bool = True) -> tuple[Any, Any]:
    """World endpoints of every capsule axis: ``(starts, ends)``, each (..., 7, 3) m."""
    frames = link_frames(q, gripper_m, validate=validate)
    ops = ops_for(q)
    positions = frames.positions[..., _FRAME_OF_CAPSULE, :]
    rotations = frames.rotations[..., _FRAME_OF_CAPSULE, :, :]
    a = ops.asarray(_CAPSULE_A, positions)
    b = ops.asarray(_CAPSULE_B, positions)
    starts = positions + (rotations @ a[..., None])[..., 0]
    ends = positions + (rotations @ b[..., None])[..., 0]
    return starts, ends


def _norm(v: Any, ops: Any) -> Any:
    """Euclidean norm over the last axis, with a finite gradient at zero."""
    squared = (v * v).sum(-1)
    return ops.sqrt(ops.clip(squared, 1e-24, None)) if is_torch(v) else np.sqrt(squared)


def _point_sdf(points: Any, kinds: Any, sizes: Any, ops: Any) -> Any:
    """Signed distance of local-frame points (..., M, 3) to centred primitives of ``kinds`` (M,)."""
    sphere = _norm(points, ops) - sizes[..., 0]
    excess = ops.abs(points) - sizes  # box: per-axis distance outside the faces
    deepest = ops.maximum(ops.maximum(excess[..., 0], excess[..., 1]), excess[..., 2])
    box = _norm(ops.relu(excess), ops) + ops.negative_part(deepest)
    radial = _norm(points[..., :2], ops) - sizes[..., 0]  # cylinder, axis z
    axial = ops.abs(points[..., 2]) - sizes[..., 1]
    outside = _norm(ops.stack([ops.relu(radial), ops.relu(axial)], -1), ops)
    cylinder = outside + ops.negative_part(ops.maximum(radial, axial))
    return ops.where(kinds == 0, sphere, ops.where(kinds == 1, box, cylinder))


def signed_distances(
    q: Any,
    obstacles: ObstacleSet,
    gripper_m: float = 0.0,
    *,
    iterations: int = 48,
    validate: bool = True,
) -> Any:
    """Signed distance from every arm capsule to every obstacle.

    Args:
        q: (..., 4) joint angles (rad), NumPy or torch (differentiable).
        obstacles: the M obstacles.
        gripper_m: finger joint position (m).
        iterations: golden-section steps along each capsule axis (the distance to a convex
            primitive is convex along a segment); 48 steps locate the closest point to 1e-10 of
            the segment's length, i.e. below 1e-10 m on this arm.
        validate: check ``q`` first.

    Returns:
        (..., 7, M) distances (m) in the order of :data:`ARM_CAPSULES`; negative = penetrating.
    """
    ops = ops_for(q)
    starts, ends = capsule_segments(q, gripper_m, validate=validate)
    if len(obstacles) == 0:
        return starts[..., :0] * 0.0  # (..., 7, 0)
    centres = ops.asarray(obstacles.positions, starts)
    rotations = ops.asarray(obstacles.rotations, starts)
    sizes = ops.asarray(obstacles.sizes, starts)
    kinds = ops.asarray(obstacles.kinds, starts)
    radii = ops.asarray(CAPSULE_RADII_M, starts)
    # Segment endpoints in every obstacle's frame: (..., 7, M, 3).
    local_a = ((starts[..., :, None, :] - centres)[..., None, :] @ rotations)[..., 0, :]
    local_b = ((ends[..., :, None, :] - centres)[..., None, :] @ rotations)[..., 0, :]
    direction = local_b - local_a
    pair_shape = tuple(direction.shape[:-1])
    kinds_b = np.broadcast_to(obstacles.kinds, pair_shape).reshape(-1)
    sizes_b = np.broadcast_to(obstacles.sizes, pair_shape + (3,)).reshape(-1, 3)
    if is_torch(q):
        flat_a = local_a.detach().cpu().double().numpy().reshape(-1, 3)
        flat_d = direction.detach().cpu().double().numpy().reshape(-1, 3)
    else:
        flat_a, flat_d = local_a.reshape(-1, 3), direction.reshape(-1, 3)
    t, values = closest_along_segments(
        np.ascontiguousarray(flat_a, dtype=np.float64), np.ascontiguousarray(flat_d, dtype=np.float64),
        np.ascontiguousarray(kinds_b, dtype=np.int64), np.ascontiguousarray(sizes_b, dtype=np.float64), iterations,
    )
    if not is_torch(q):
        return values.reshape(pair_shape) - CAPSULE_RADII_M[:, None]
    # torch: re-evaluate at the closest points with gradients (exact by the envelope theorem).
    t = ops.asarray(t.reshape(pair_shape), local_a)
    points = local_a + t[..., None] * direction
    return _point_sdf(points, kinds, sizes, ops) - radii[:, None]


def min_clearance(q: Any, obstacles: ObstacleSet, gripper_m: float = 0.0, *, validate: bool = True) -> Clearance:
    """Smallest signed capsule-obstacle distance per configuration, and which pair achieves it."""
    distances = signed_distances(q, obstacles, gripper_m, validate=validate)
    batch_shape = tuple(q.shape[:-1])
    if len(obstacles) == 0:
        inf = np.full(batch_shape, np.inf)
        none = np.full(batch_shape, -1)
        return Clearance(ops_for(q).asarray(inf, q) if is_torch(q) else inf, none, none)
    flat = distances.reshape(*batch_shape, -1)
    index = flat.argmin(-1)
    index_np = index.detach().cpu().numpy() if is_torch(index) else index
    if is_torch(flat):
        best = flat.gather(-1, index[..., None])[..., 0]
    else:
        best = np.take_along_axis(flat, index[..., None], -1)[..., 0]
    return Clearance(best, index_np // len(obstacles), index_np % len(obstacles))


#: Capsules that can move vertically (the base and the yaw link cannot reach the table).
_TABLE_CHECKED = np.array([c.link not in ("link1", "link2") for c in ARM_CAPSULES])


def table_clearance(q: Any, gripper_m: float = 0.0, *, table_z_m: float = 0.0, validate: bool = True) -> Any:
    """Height (m) of the lowest point of the moving capsules above the table plane ``z = table_z_m``.

    Args:
        q: (..., 4) joint angles (rad), NumPy or torch.

    Returns:
        (...,) signed clearance to the table (negative when a link is below its surface).
    """
    starts, ends = capsule_segments(q, gripper_m, validate=validate)
    lowest = ops_for(q).where(starts[..., 2] < ends[..., 2], starts[..., 2], ends[..., 2])
    radii = ops_for(q).asarray(CAPSULE_RADII_M, lowest) if is_torch(q) else CAPSULE_RADII_M
    heights = (lowest - radii)[..., _TABLE_CHECKED]
    return heights.min(-1) if not is_torch(q) else heights.min(-1).values

"""The arm as spheres, and batched signed distances from the arm to obstacles, the table and itself.

The spheres enclose every vertex of ROBOTIS' CAD meshes (:mod:`sim.robot.robot_geometry`, fitted by
``python -m sim.robot.geometry_fit``) and are the URDF's collision geometry, so these distances measure
the very solid PyBullet collides. Obstacles are spheres, boxes and cylinders with arbitrary poses.
The distance from a sphere to a convex primitive is the primitive's signed distance field at the
sphere's centre minus its radius: exact, with no inner search, vectorised over configurations,
spheres and obstacles, on NumPy arrays and torch tensors alike, and differentiable in torch.

Distances are signed: positive clearance, negative penetration depth (as a signed distance field
measures it). Per-link results follow :data:`COLLISION_LINKS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from sim.errors import InvalidInputError
from sim.robot._backend import is_torch, ops_for
from sim.robot._sphere_kernel import (
    configuration_centres,
    first_clear_configuration,
    first_clear_placement,
    link_obstacle_minima,
    measure_configuration,
    pair_minimum,
    pair_plan,
    path_sphere_centres,
    world_centres,
)
from sim.robot.kinematics import as_real_array, link_frames
from sim.robot.obstacle_kinds import KIND_CODES, OBSTACLE_KINDS
from sim.robot.robot_geometry import COLLISION_LINKS, TABLE_CHECKED_LINKS, self_collision_pairs, sphere_model

_MODEL = sphere_model()
#: (S, 3) sphere centres in their link frames (m), (S,) radii (m), (S,) index into COLLISION_LINKS.
SPHERE_CENTRES_M, SPHERE_RADII_M, SPHERE_LINK = _MODEL.centres_m, _MODEL.radii_m, _MODEL.link_index
_SPHERE_FRAME = np.array(_MODEL.frame_index)  # a writable copy: torch indexes with it


def _link_groups() -> np.ndarray:
    """(L, K) sphere indices per link, short links padded with their own first sphere (a repeat
    leaves a minimum unchanged), so per-link minima are one gather and one ``min``."""
    groups = [np.flatnonzero(SPHERE_LINK == link) for link in range(len(COLLISION_LINKS))]
    width = max(len(group) for group in groups)
    return np.array([np.concatenate([group, np.full(width - len(group), group[0])]) for group in groups])


_LINK_GROUPS = _link_groups()
_TABLE_SPHERES = np.flatnonzero(np.isin(SPHERE_LINK, [COLLISION_LINKS.index(k) for k in TABLE_CHECKED_LINKS]))


def _self_pairs() -> tuple[np.ndarray, np.ndarray]:
    """Sphere index pairs ``(first (P,), second (P,))`` of every link pair the SRDF leaves enabled."""
    first, second = [], []
    for a, b in self_collision_pairs():
        i = np.flatnonzero(SPHERE_LINK == COLLISION_LINKS.index(a))
        j = np.flatnonzero(SPHERE_LINK == COLLISION_LINKS.index(b))
        first.append(np.repeat(i, len(j)))
        second.append(np.tile(j, len(i)))
    return np.concatenate(first), np.concatenate(second)


_SELF_FIRST, _SELF_SECOND = _self_pairs()


def _pair_of_sphere_pairs() -> np.ndarray:
    """(P_spheres,) the index into ``self_collision_pairs()`` of each sphere pair of the self list."""
    pairs = {(COLLISION_LINKS.index(a), COLLISION_LINKS.index(b)): index
             for index, (a, b) in enumerate(self_collision_pairs())}
    return np.array([pairs[(int(SPHERE_LINK[i]), int(SPHERE_LINK[j]))] for i, j in zip(_SELF_FIRST, _SELF_SECOND,
                                                                                        strict=True)])


_SELF_PAIR_OF = _pair_of_sphere_pairs()


def self_pair_spheres() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The self-collision list of the bound: ``(first (P,), second (P,), link_pair (P,))`` sphere
    indices of every sphere pair of the SRDF-enabled link pairs and the index of its link pair in
    :func:`sim.robot.robot_geometry.self_collision_pairs` (read-only)."""
    return _SELF_FIRST, _SELF_SECOND, _SELF_PAIR_OF


def sphere_frames() -> np.ndarray:
    """(S,) the kinematic frame (index into :data:`sim.robot.kinematics.LINK_NAMES`) of every sphere."""
    return _SPHERE_FRAME


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
    ) -> ObstacleSet:
        """Build from per-obstacle kind names, centres, sizes and ``[qx, qy, qz, qw]`` quaternions."""
        from sim.robot.transforms import quat_to_matrix

        count = len(kinds)
        unknown = [kind for kind in kinds if kind not in KIND_CODES]
        if unknown:
            raise InvalidInputError(f"unknown obstacle kind {unknown[0]!r}; valid choices: {', '.join(OBSTACLE_KINDS)}")
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
    link: np.ndarray  #: (...,) index into :data:`COLLISION_LINKS` of the closest link (-1 if none)
    obstacle: np.ndarray  #: (...,) index of the closest obstacle (-1 if none)


def _numpy_centres(q: Any, gripper_m: Any, validate: bool) -> np.ndarray:
    """(N, S, 3) float64 sphere centres of ``q`` flattened to N configurations (no gradients).

    Without ``validate`` (the hot loops: env steps, scene sampling, planners), float64 joints with
    a scalar finger position or one per configuration take the compiled loop
    (:func:`sim.robot._sphere_kernel.configuration_centres`, the scalar link frames of
    :mod:`sim.robot.kinematics` compiled: the same values as the array path, several times faster)."""
    if is_torch(q):
        q = q.detach().cpu().double().numpy()
        gripper_m = gripper_m.detach().cpu().double().numpy() if is_torch(gripper_m) else gripper_m
    if not validate:
        q = as_real_array(q, 4)
        gripper = np.asarray(gripper_m)
        if q.dtype == np.float64 and gripper.dtype.kind in "iuf" and gripper.shape in ((), q.shape[:-1]):
            gripper = np.broadcast_to(gripper.astype(np.float64), q.shape[:-1]).reshape(-1)
            return configuration_centres(np.ascontiguousarray(q.reshape(-1, 4)), np.ascontiguousarray(gripper),
                                         SPHERE_CENTRES_M, _SPHERE_FRAME)
    frames = link_frames(q, gripper_m, validate=validate)
    positions = np.asarray(frames.positions, dtype=np.float64)
    rotations = np.asarray(frames.rotations, dtype=np.float64)
    return world_centres(positions.reshape(-1, *positions.shape[-2:]), rotations.reshape(-1, *rotations.shape[-3:]),
                         SPHERE_CENTRES_M, _SPHERE_FRAME)


def sphere_centres(q: Any, gripper_m: Any = 0.0, *, validate: bool = True) -> Any:
    """Base-frame centres (..., S, 3) m of every collision sphere at joint angles ``q`` (..., 4)
    and finger position ``gripper_m`` (m); radii are :data:`SPHERE_RADII_M`."""
    if not is_torch(q):
        batch_shape = np.shape(q)[:-1]
        return _numpy_centres(q, gripper_m, validate).reshape(*batch_shape, len(SPHERE_RADII_M), 3)
    frames = link_frames(q, gripper_m, validate=validate)
    ops = ops_for(frames.positions)
    positions = frames.positions[..., _SPHERE_FRAME, :]
    rotations = frames.rotations[..., _SPHERE_FRAME, :, :]
    local = ops.asarray(SPHERE_CENTRES_M, positions)
    return positions + (rotations @ local[..., None])[..., 0]


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


def point_distances(points: Any, obstacles: ObstacleSet) -> Any:
    """Signed distance (m) from points (..., 3), base frame, to every obstacle: (..., M), NumPy or torch."""
    return _local_sdf(points[..., None, :], obstacles)


def _local_sdf(points: Any, obstacles: ObstacleSet) -> Any:
    """Signed distance of base-frame points (..., M, 3), the m-th measured to obstacle m: (..., M)."""
    ops = ops_for(points)
    origins = ops.asarray(obstacles.positions, points)
    rotations = ops.asarray(obstacles.rotations, points)
    local = ((points - origins)[..., None, :] @ rotations)[..., 0, :]  # R^T (p - o), per obstacle
    return _point_sdf(local, ops.asarray(obstacles.kinds, points), ops.asarray(obstacles.sizes, points), ops)


def sphere_distances(q: Any, obstacles: ObstacleSet, gripper_m: Any = 0.0, *, validate: bool = True) -> Any:
    """Signed distance from every collision sphere to every obstacle.

    Args:
        q: (..., 4) joint angles (rad), NumPy or torch (differentiable).
        obstacles: the M obstacles.
        gripper_m: finger joint position (m).
        validate: check ``q`` first.

    Returns:
        (..., S, M) distances (m) in the order of :data:`SPHERE_RADII_M`; negative = penetrating.
    """
    centres = sphere_centres(q, gripper_m, validate=validate)
    if len(obstacles) == 0:
        return centres[..., :0] * 0.0  # (..., S, 0)
    return point_distances(centres, obstacles) - ops_for(centres).asarray(SPHERE_RADII_M, centres)[:, None]


def per_link_minimum(values: Any) -> Any:
    """(..., S, X) per-sphere values -> (..., L, X) minimum over each link's spheres."""
    grouped = values[..., _LINK_GROUPS, :]  # (..., L, K, X)
    return grouped.amin(-2) if is_torch(grouped) else grouped.min(-2)


def _link_minima(centres: np.ndarray, obstacles: ObstacleSet) -> tuple[np.ndarray, np.ndarray]:
    """Compiled per-(configuration, link, obstacle) minima of (N, S, 3) centres: distances and spheres."""
    return link_obstacle_minima(centres, SPHERE_RADII_M, SPHERE_LINK, len(COLLISION_LINKS),
                                obstacles.kinds.astype(np.int64), obstacles.positions, obstacles.rotations,
                                obstacles.sizes)


def signed_distances(q: Any, obstacles: ObstacleSet, gripper_m: Any = 0.0, *, validate: bool = True) -> Any:
    """Signed distance from every collision link to every obstacle.

    The smallest over each link's spheres, found by a compiled loop; for torch input the winning
    spheres are evaluated again with gradients (the gradient of a minimum is the gradient at its
    argument, so this is exact wherever the minimum is unique).

    Args:
        q: (..., 4) joint angles (rad), NumPy or torch (differentiable).
        obstacles: the M obstacles.
        gripper_m: finger joint position (m).
        validate: check ``q`` first.

    Returns:
        (..., L, M) distances (m), links in the order of :data:`COLLISION_LINKS`; negative = penetrating.
    """
    batch_shape = tuple(q.shape[:-1]) if is_torch(q) else np.shape(q)[:-1]
    shape = (*batch_shape, len(COLLISION_LINKS), len(obstacles))
    centres = _numpy_centres(q, gripper_m, validate)
    if len(obstacles) == 0:
        return q.new_zeros(shape) if is_torch(q) else np.zeros(shape)
    distances, which = _link_minima(centres, obstacles)
    if not is_torch(q):
        return distances.reshape(shape)
    # torch: the winning spheres (N, L, M) again, with gradients.
    ops = ops_for(q)
    with_grad = sphere_centres(q, gripper_m, validate=False).reshape(-1, len(SPHERE_RADII_M), 3)
    rows = ops.asarray(np.arange(len(which))[:, None, None], with_grad).long()
    points = with_grad[rows, ops.asarray(which, with_grad).long()]  # (N, L, M, 3)
    values = _local_sdf(points, obstacles) - ops.asarray(SPHERE_RADII_M[which], with_grad)
    return values.reshape(shape)


def min_clearance(q: Any, obstacles: ObstacleSet, gripper_m: Any = 0.0, *, validate: bool = True) -> Clearance:
    """Smallest signed arm-obstacle distance per configuration, and which link and obstacle achieve it."""
    batch_shape = tuple(q.shape[:-1]) if is_torch(q) else np.shape(q)[:-1]
    if len(obstacles) == 0:
        inf = np.full(batch_shape, np.inf)
        none = np.full(batch_shape, -1)
        return Clearance(ops_for(q).asarray(inf, q) if is_torch(q) else inf, none, none)
    flat = signed_distances(q, obstacles, gripper_m, validate=validate).reshape(*batch_shape, -1)
    index = flat.argmin(-1)
    if is_torch(flat):
        best = flat.gather(-1, index[..., None])[..., 0]
        index = index.detach().cpu().numpy()
    else:
        best = np.take_along_axis(flat, index[..., None], -1)[..., 0]
    return Clearance(best, index // len(obstacles), index % len(obstacles))


def table_clearance(q: Any, gripper_m: Any = 0.0, *, table_z_m: float = 0.0, validate: bool = True) -> Any:
    """Height (m) of the arm's lowest point above the table plane ``z = table_z_m``.

    Links from link2 on are checked (:data:`TABLE_CHECKED_LINKS`): the base plate and link1 stand
    on the table by construction.

    Args:
        q: (..., 4) joint angles (rad), NumPy or torch (differentiable).
        gripper_m: finger joint position (m).
        table_z_m: height of the table's surface in the base frame (m).

    Returns:
        (...,) signed clearance to the table (negative when a link reaches below its surface).
    """
    centres = sphere_centres(q, gripper_m, validate=validate)[..., _TABLE_SPHERES, :]
    ops = ops_for(centres)
    heights = centres[..., 2] - ops.asarray(SPHERE_RADII_M[_TABLE_SPHERES], centres) - table_z_m
    return heights.amin(-1) if is_torch(heights) else heights.min(-1)


def self_clearance(q: Any, gripper_m: Any = 0.0, *, validate: bool = True) -> Any:
    """Smallest signed distance (m) between links that may collide with each other.

    Every pair of :data:`COLLISION_LINKS` that ROBOTIS' MoveIt SRDF does not disable (adjacent
    links and pairs that can never meet) is checked; for torch input the closest sphere pair is
    evaluated again with gradients.

    Args:
        q: (..., 4) joint angles (rad), NumPy or torch (differentiable).
        gripper_m: finger joint position (m).

    Returns:
        (...,) signed distance; negative when two links interpenetrate.
    """
    batch_shape = tuple(q.shape[:-1]) if is_torch(q) else np.shape(q)[:-1]
    distances, pair = pair_minimum(_numpy_centres(q, gripper_m, validate), SPHERE_RADII_M, _SELF_FIRST, _SELF_SECOND)
    if not is_torch(q):
        return distances.reshape(batch_shape)
    ops = ops_for(q)
    centres = sphere_centres(q, gripper_m, validate=False).reshape(-1, len(SPHERE_RADII_M), 3)
    rows = ops.asarray(np.arange(len(pair)), centres).long()
    first, second = _SELF_FIRST[pair], _SELF_SECOND[pair]
    one, other = ops.asarray(first, centres).long(), ops.asarray(second, centres).long()
    gap = _norm(centres[rows, one] - centres[rows, other], ops)
    return (gap - ops.asarray(SPHERE_RADII_M[first] + SPHERE_RADII_M[second], gap)).reshape(batch_shape)


def overall_clearance(q: np.ndarray, obstacles: ObstacleSet, gripper_m: float = 0.0) -> np.ndarray:
    """(...,) smallest of the obstacle, table and self clearance (m) of configurations ``q`` (..., 4)
    (NumPy, no validation: the planners' state check), from one placement of the spheres."""
    batch_shape = np.shape(q)[:-1]
    centres = _numpy_centres(q, gripper_m, False)
    clearance = np.minimum(pair_minimum(centres, SPHERE_RADII_M, _SELF_FIRST, _SELF_SECOND)[0],
                           (centres[:, _TABLE_SPHERES, 2] - SPHERE_RADII_M[_TABLE_SPHERES]).min(-1))
    if len(obstacles):
        clearance = np.minimum(clearance, _link_minima(centres, obstacles)[0].min((-1, -2)))
    return clearance.reshape(batch_shape)


class ArmClearances(NamedTuple):
    """Everything the env measures of one configuration, from one placement of the spheres."""

    obstacle: Clearance  #: smallest arm-obstacle distance and its link/obstacle
    per_link_m: np.ndarray  #: (L, M) smallest distance of every link to every obstacle
    self_m: float  #: smallest distance between links that may collide (SRDF pairs)
    table_m: float  #: lowest point of the links from link2 on above the table


def arm_clearances(q: np.ndarray, obstacles: ObstacleSet, gripper_m: float = 0.0) -> ArmClearances:
    """Obstacle, self and table clearance of one (4,) configuration (rad, computed in float64; no
    validation: the hot path of every env step), in one compiled call
    (:func:`sim.robot._sphere_kernel.measure_configuration`): the values of :func:`signed_distances`,
    :func:`self_clearance` and :func:`table_clearance`."""
    count = len(obstacles)
    per_link, index, self_m, table_m = measure_configuration(
        np.asarray(q, dtype=np.float64), float(gripper_m), SPHERE_CENTRES_M, _SPHERE_FRAME, SPHERE_RADII_M,
        SPHERE_LINK, len(COLLISION_LINKS), np.asarray(obstacles.kinds, dtype=np.int64), obstacles.positions,
        obstacles.rotations, obstacles.sizes, _TABLE_SPHERES, _SELF_FIRST, _SELF_SECOND,
        pair_plan(_SELF_FIRST, _SELF_SECOND))
    if count:
        obstacle = Clearance(float(per_link.flat[index]), np.array(index // count), np.array(index % count))
    else:
        obstacle = Clearance(np.inf, np.array(-1), np.array(-1))
    return ArmClearances(obstacle, per_link, float(self_m), float(table_m))


# --------------------------------------------------------------------------------- scene sampling
def first_free_configuration(q: np.ndarray, candidates: np.ndarray, ee_radius_m: tuple[float, float] | None,
                             ee_z_m: tuple[float, float] | None, table_margin_m: float) -> int:
    """Index of the first of the float64 configurations ``q`` (N, 4) rad flagged in ``candidates``
    (N,) whose end effector lies within ``ee_radius_m`` (horizontal distance from the z axis, m)
    and ``ee_z_m`` (height, m) (``None``: unchecked), with :func:`table_clearance` at least
    ``table_margin_m`` and :func:`self_clearance` above 0 (fingers at 0 m); -1 if none.

    The answer of filtering the whole batch with ``forward_kinematics`` and those functions (the
    same values), at the cost of the candidates up to the one returned
    (:func:`sim.robot._sphere_kernel.first_clear_configuration`)."""
    bounds = np.array([*(ee_radius_m or (0.0, 0.0)), *(ee_z_m or (0.0, 0.0))], dtype=np.float64)
    return first_clear_configuration(
        np.ascontiguousarray(q, dtype=np.float64), np.asarray(candidates, dtype=np.bool_), bounds,
        ee_radius_m is not None, ee_z_m is not None, float(table_margin_m), SPHERE_CENTRES_M, _SPHERE_FRAME,
        SPHERE_RADII_M, _TABLE_SPHERES, _SELF_FIRST, _SELF_SECOND, pair_plan(_SELF_FIRST, _SELF_SECOND))


def chosen_sphere_centres(q: np.ndarray, which: np.ndarray, sphere: np.ndarray) -> np.ndarray:
    """(C, 3) base-frame centres (m) of sphere ``sphere[c]`` at configuration ``q[which[c]]`` of
    float64 configurations ``q`` (K, 4) rad, fingers at 0 m: ``sphere_centres(q)[which, sphere]``
    without placing the other spheres."""
    return path_sphere_centres(np.ascontiguousarray(q, dtype=np.float64), np.asarray(which, dtype=np.int64),
                               np.asarray(sphere, dtype=np.int64), SPHERE_CENTRES_M, _SPHERE_FRAME)


def first_clear_obstacle(candidates: np.ndarray, kinds: np.ndarray, positions: np.ndarray, quaternions: np.ndarray,
                         sizes: np.ndarray, centres: np.ndarray, margin_m: float) -> int:
    """Index of the first obstacle candidate, among those flagged in ``candidates`` (C,), that keeps
    ``margin_m`` (m) from every link of the arm placed at sphere centres ``centres`` (N, S, 3) m
    at each of its T phases; -1 if none.

    Args:
        candidates: (C,) bool.
        kinds: (C,) codes of :data:`KIND_CODES`.
        positions: (C, T, 3) obstacle centres at T phases (m, base frame).
        quaternions: (C, 4) orientations ``[qx, qy, qz, qw]``.
        sizes: (C, 3) sizes padded as :class:`ObstacleSet` holds them (m).
        centres: (N, S, 3) sphere centres, e.g. :func:`sphere_centres` of some configurations.
        margin_m: required clearance (m).

    The answer of ``signed_distances`` against every candidate at every phase (an
    :class:`ObstacleSet` built with :func:`sim.robot.transforms.quat_to_matrix`, the same values), at
    the cost of the candidates up to the one returned (:func:`sim.robot._sphere_kernel.first_clear_placement`).
    """
    return first_clear_placement(
        np.asarray(candidates, dtype=np.bool_), np.asarray(kinds, dtype=np.int64),
        np.ascontiguousarray(positions, dtype=np.float64), np.ascontiguousarray(quaternions, dtype=np.float64),
        np.ascontiguousarray(sizes, dtype=np.float64), float(margin_m), np.ascontiguousarray(centres, dtype=np.float64),
        SPHERE_RADII_M, SPHERE_LINK, len(COLLISION_LINKS))


__all__ = [
    "COLLISION_LINKS", "SPHERE_CENTRES_M", "SPHERE_LINK", "SPHERE_RADII_M", "ArmClearances", "Clearance",
    "ObstacleSet", "arm_clearances", "chosen_sphere_centres", "first_clear_obstacle", "first_free_configuration",
    "min_clearance", "overall_clearance", "per_link_minimum", "point_distances", "self_clearance",
    "self_pair_spheres", "signed_distances", "sphere_centres", "sphere_distances", "sphere_frames", "table_clearance",
]

"""The truth channel: signed distances on ROBOTIS' full-resolution CAD meshes.

The arm is measured on the meshes themselves (:func:`sim.robot.robot_geometry.mesh`, every
triangle of ROBOTIS' STL files, placed on our link frames), not on a stand-in:

* **arm to obstacle**: the smallest signed distance field value of the obstacle (sphere, box or
  cylinder, exact fields) over each link's surface; negative where the surface enters the obstacle
  (the depth of its deepest surface point). Found by branch and bound over a bounding-sphere tree
  of the triangles and, per triangle, over sub-triangles bounded below by the field's tangent
  plane (a convex obstacle's field is convex): the value is never below the exact minimum and at
  most :data:`REFINE_TOLERANCE_M` above it (a sphere's triangles are exact: the distance from its
  centre to the triangle's nearest point, minus its radius).
* **arm to table**: the lowest mesh vertex (a vertex of the mesh's convex hull) of every link from
  link2 on, above the table plane: exact.
* **link to link** (the pairs ROBOTIS' SRDF leaves enabled): the distance between the two meshes'
  surfaces (dual tree traversal, exact triangle-triangle distances, a search tolerance of
  :data:`SELF_TOLERANCE_M`); 0 where they cross (interpenetration depth between links is not
  measured: 0 is contact); measured up to :data:`SELF_HORIZON_M`, +inf beyond.

**The bound culls, exactly.** The fitted spheres (:mod:`sim.robot.collision`) enclose every
mesh vertex; between vertices the surface reaches up to 1.08 mm beyond them (link5; measured on a
0.3 mm sample), and every triangle lies in one of its link's spheres grown by
:data:`BOUND_SLACK_M` (certified triangle by triangle in the tests), so a pair whose sphere
distance minus that slack is at least the best CAD value found so far cannot hold the minimum:
pairs are visited in the order of their bound and the visit stops there. Culled and unculled
measurements return identical numbers (a test checks it); a step of ``cluttered`` measures
1.8 pairs (37 unculled).

Geometry facts: the geometry *is* the mesh (long triangles split, the same surface), so every
vertex is on it (0 mm) and its surface is the mesh's (0 mm two-sided Hausdorff); distances are
exact for the table, within :data:`REFINE_TOLERANCE_M` for obstacles and within
:data:`SELF_TOLERANCE_M` (and half the gap) for link pairs, always from above.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from sim.errors import InvalidInputError
from sim.robot._cad_kernel import (
    _relative_frame,
    build_tree,
    link_obstacle_minimum,
    measure_configuration,
    obstacle_in_link,
    pair_gap,
    triangle_spots,
)
from sim.robot._cad_kernel import step_contacts as kernel_step_contacts
from sim.robot._sphere_kernel import configuration_frames
from sim.robot.kinematics import LINK_NAMES, as_real_array
from sim.robot.robot_geometry import COLLISION_LINKS, TABLE_CHECKED_LINKS, mesh, self_collision_pairs

#: Refinement tolerance of the arm-obstacle distance (m): a reported value is at most this much
#: above the exact minimum over the mesh surface, never below it.
REFINE_TOLERANCE_M: float = 5e-5
#: Link pairs are measured on the meshes up to this gap (m); a pair farther apart reads +inf (the
#: bound's own value is logged beside it). Exact search near contact, none where links are far.
SELF_HORIZON_M: float = 0.03
#: Search tolerance of the link-to-link gap (m): a reported gap is at most this (and at most half
#: the gap) above the exact one; crossing surfaces always read 0.
SELF_TOLERANCE_M: float = 5e-4
#: How much (m) the fitted spheres must grow for every triangle of their link's mesh to lie in one
#: of them (certified by splitting triangles: tests/sim/robot/test_cad.py; the surface reaches at
#: most 1.08 mm past the spheres, which enclose the vertices exactly). The bound's culling
#: subtracts it, so it stays exact.
BOUND_SLACK_M: float = 1.2e-3
#: Longest triangle edge in the trees (m): ROBOTIS' long thin triangles (up to 73 mm) are split
#: (the same surface) so every node is compact.
MAX_EDGE_M: float = 0.004
#: Triangles per leaf of the trees.
LEAF_SIZE: int = 4


@dataclass(frozen=True)
class CadModel:
    """Every link's mesh triangles in one bounding-sphere forest (global indices).

    Attributes:
        triangles: (T, 3, 3) triangle corners in their link's frame (m), grouped by link in tree order;
            spot (T, 4) each one's centroid and the radius about it reaching its corners.
        centre, half, radius, left, right, start, count: the nodes (N,): box centre (N, 3), half
            extents (N, 3) and enclosing sphere radius (m) about the same centre, children (-1 at
            leaves), and the triangles ``start:start + count`` under them.
        roots: (L,) root node of each of :data:`COLLISION_LINKS`.
        frames: (L,) index into :data:`sim.robot.kinematics.LINK_NAMES` of each link's frame.
        hull_points: (H, 3) vertices of each link's convex hull (link frame, m); hull_link (H,).
        pairs: (P, 2) link indices of the SRDF-enabled self-collision pairs.
    """

    triangles: np.ndarray
    spot: np.ndarray
    centre: np.ndarray
    half: np.ndarray
    radius: np.ndarray
    left: np.ndarray
    right: np.ndarray
    start: np.ndarray
    count: np.ndarray
    roots: np.ndarray
    frames: np.ndarray
    hull_points: np.ndarray
    hull_link: np.ndarray
    pairs: np.ndarray

    def tree(self) -> tuple[np.ndarray, ...]:
        """The arrays the kernels take: ``(triangles, spot, centre, half, radius, left, right, start,
        count)``."""
        return (self.triangles, self.spot, self.centre, self.half, self.radius, self.left, self.right, self.start,
                self.count)


def _split_long_triangles(corners: np.ndarray, max_edge_m: float) -> np.ndarray:
    """(T', 3, 3) the same surface with every triangle split at its edges' midpoints (4 ways)
    until no edge is longer than ``max_edge_m``: compact tree nodes, tight bounds."""
    done, pending = [], corners
    while len(pending):
        edges = np.linalg.norm(pending[:, [1, 2, 0]] - pending, axis=-1).max(-1)
        long = edges > max_edge_m
        done.append(pending[~long])
        a, b, c = (pending[long][:, i] for i in range(3))
        ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
        pending = np.concatenate([np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
    return np.concatenate(done)


def _convex_hull_points(vertices: np.ndarray) -> np.ndarray:
    from scipy.spatial import ConvexHull

    return vertices[np.unique(ConvexHull(vertices).vertices)]


@functools.cache
def cad_model() -> CadModel:
    """The CAD truth model of the shipped meshes (built once per process, ~0.3 s)."""
    triangles, centres, halves, radii, lefts, rights, starts, counts, roots = ([] for _ in range(9))
    hull_points, hull_link = [], []
    node_offset = triangle_offset = 0
    for index, link in enumerate(COLLISION_LINKS):
        vertices, faces = mesh(link)
        corners = np.ascontiguousarray(_split_long_triangles(vertices[faces], MAX_EDGE_M), dtype=np.float64)
        order, centre, half, radius, left, right, start, count = build_tree(corners, LEAF_SIZE)
        triangles.append(corners[order])
        centres.append(centre)
        halves.append(half)
        radii.append(radius)
        lefts.append(np.where(left >= 0, left + node_offset, -1))
        rights.append(np.where(right >= 0, right + node_offset, -1))
        starts.append(start + triangle_offset)
        counts.append(count)
        roots.append(node_offset)
        node_offset += len(centre)
        triangle_offset += len(corners)
        points = _convex_hull_points(vertices)
        hull_points.append(points)
        hull_link.append(np.full(len(points), index))
    pairs = np.array([(COLLISION_LINKS.index(a), COLLISION_LINKS.index(b)) for a, b in self_collision_pairs()])
    corners = np.concatenate(triangles)
    arrays = [corners, triangle_spots(corners), np.concatenate(centres), np.concatenate(halves),
              np.concatenate(radii), np.concatenate(lefts), np.concatenate(rights), np.concatenate(starts),
              np.concatenate(counts), np.array(roots),
              np.array([LINK_NAMES.index(link) for link in COLLISION_LINKS]), np.concatenate(hull_points),
              np.concatenate(hull_link), pairs]
    for array in arrays:
        array.setflags(write=False)
    return CadModel(*arrays)


class CadClearances(NamedTuple):
    """What the truth channel measures of one configuration (m; +inf where there is nothing to measure)."""

    obstacle_m: float  #: smallest signed arm-obstacle distance
    link: int  #: its link (index into COLLISION_LINKS; -1 with no obstacle)
    obstacle: int  #: its obstacle (-1 with none)
    witness: np.ndarray  #: (3,) base-frame point of the arm's surface that achieves it (NaN with none)
    self_m: float  #: smallest gap between SRDF-enabled link pairs (0 = touching; +inf beyond the horizon)
    self_pair: int  #: its pair (index into self_collision_pairs(); -1 if none)
    table_m: float  #: lowest point of the links from link2 on above the table plane
    queries: int  #: link-obstacle pairs and link pairs measured on the meshes (after culling)


def frames(q: np.ndarray, gripper_m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Every kinematic frame of one (4,) configuration: positions (F, 3) m and rotations (F, 3, 3)."""
    positions, rotations = configuration_frames(np.ascontiguousarray(q, dtype=np.float64), float(gripper_m))
    return positions[0], rotations[0]


def link_obstacle_distance(model: CadModel, positions: np.ndarray, rotations: np.ndarray, link: int,
                           kind: int, origin: np.ndarray, rotation: np.ndarray, size: np.ndarray
                           ) -> tuple[float, np.ndarray]:
    """``(distance m, witness (3,) base frame)`` of one link (placed by frames ``positions`` (F, 3),
    ``rotations`` (F, 3, 3)) against one obstacle, on the mesh."""
    frame = model.frames[link]
    matrix, offset = obstacle_in_link(positions[frame], rotations[frame], np.asarray(origin, dtype=np.float64),
                                      np.asarray(rotation, dtype=np.float64))
    witness = np.full(3, np.nan)
    value = link_obstacle_minimum(int(model.roots[link]), *model.tree(), matrix, offset, int(kind),
                                  float(size[0]), float(size[1]), float(size[2]), REFINE_TOLERANCE_M, witness)
    return float(value), positions[frame] + rotations[frame] @ witness


def link_pair_gap(model: CadModel, positions: np.ndarray, rotations: np.ndarray, first: int, second: int,
                  best: float = np.inf) -> float:
    """Exact gap (m) between two links' mesh surfaces (0 where they cross), or ``best`` if not below it."""
    rotation, offset = np.empty((3, 3)), np.empty(3)  # link b's frame in link a's
    _relative_frame(positions, rotations, int(model.frames[first]), int(model.frames[second]), rotation, offset)
    return float(pair_gap(int(model.roots[first]), int(model.roots[second]), *model.tree(),
                          rotation, offset, float(best),
                          SELF_TOLERANCE_M, np.zeros(3)))


def table_heights(model: CadModel, positions: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """(L,) lowest point (m, base z) of every link's mesh (a vertex of its convex hull)."""
    frames_of_points = model.frames[model.hull_link]
    heights = positions[frames_of_points, 2] + np.einsum("nj,nj->n", rotations[frames_of_points, 2, :],
                                                          model.hull_points)
    return np.minimum.reduceat(heights, _hull_starts(model))


def _hull_starts(model: CadModel) -> np.ndarray:
    return np.searchsorted(model.hull_link, np.arange(len(COLLISION_LINKS)))


_TABLE_MASK = np.isin(np.arange(len(COLLISION_LINKS)), [COLLISION_LINKS.index(link) for link in TABLE_CHECKED_LINKS])
_NO_BOUND = np.zeros(0)


def measure(q: Any, obstacles: Any, gripper_m: float = 0.0, *, bound_per_link: np.ndarray | None = None,
            bound_self_m: float | None = None, self_horizon_m: float = SELF_HORIZON_M,
            table_z_m: float = 0.0, validate: bool = True) -> CadClearances:
    """The truth channel of one configuration (one compiled call): smallest arm-obstacle, link-pair
    and table distances on the meshes.

    Args:
        q: (4,) joint angles (rad); any finite values (real logs pass the published limits).
        obstacles: an :class:`sim.robot.collision.ObstacleSet`.
        gripper_m: finger position (m).
        bound_per_link: (L, M) the sphere bound's per (link, obstacle) distances (m) at the same
            configuration (:func:`sim.robot.collision.arm_clearances`): pairs are visited in its
            order and the visit stops where it proves no pair can be nearer. ``None``: every pair
            is measured (the same numbers).
        bound_self_m: the sphere bound's smallest link-pair distance at the same configuration: at
            or beyond the horizon (plus the slack) no pair is measured. ``None``: every pair is.
        self_horizon_m: link pairs are measured up to this gap; farther ones read +inf.
        table_z_m: the table surface's height (m).
        validate: check ``q`` first (``False``: the env's hot path passes a float64 (4,) array).
    """
    if validate:
        q = np.ascontiguousarray(as_real_array(q, 4).reshape(4), dtype=np.float64)
        if not np.all(np.isfinite(q)):
            raise InvalidInputError(f"joint angles must be finite, got {q.tolist()}")
    model = cad_model()
    bound = _NO_BOUND if bound_per_link is None else np.ascontiguousarray(bound_per_link, dtype=np.float64).reshape(-1)
    (obstacle_m, link, obstacle, witness, self_m, self_pair, table_m, queries) = measure_configuration(
        q, float(gripper_m), model.frames, model.roots, *model.tree(), model.hull_points, model.hull_link,
        _TABLE_MASK, float(table_z_m), np.asarray(obstacles.kinds, dtype=np.int64), obstacles.positions,
        obstacles.rotations, obstacles.sizes, bound, BOUND_SLACK_M, model.pairs,
        -np.inf if bound_self_m is None else float(bound_self_m), float(self_horizon_m), REFINE_TOLERANCE_M,
        SELF_TOLERANCE_M)
    return CadClearances(float(obstacle_m), int(link), int(obstacle), witness, float(self_m), int(self_pair),
                         float(table_m), int(queries))


#: Each kinematic frame's parent (index into LINK_NAMES; the end effector and fingers hang on link5).
_PARENT = (-1, 0, 1, 2, 3, 4, 4, 4)


@functools.cache
def link_joint_reach() -> np.ndarray:
    """(4, L) for each joint and each of :data:`COLLISION_LINKS`, how far (m) any point of that
    link's mesh can lie from the joint's axis, in any configuration (0 where the joint does not
    move the link): the chain's fixed link lengths from the joint to a sphere's frame, plus the
    sphere's offset in that frame, its radius and :data:`BOUND_SLACK_M` (the mesh lies in the
    spheres grown by it). A joint turning by ``dq`` moves no point of the link farther than
    ``reach * |dq|``."""
    from sim.robot.collision import SPHERE_CENTRES_M, SPHERE_LINK, SPHERE_RADII_M, sphere_frames

    positions, _ = frames(np.zeros(4), 0.0)
    length = [0.0] + [float(np.linalg.norm(positions[f] - positions[_PARENT[f]])) for f in range(1, len(_PARENT))]
    reach = np.zeros((4, len(COLLISION_LINKS)))
    for joint in range(4):  # joint i + 1 turns about an axis through frame i + 1's origin
        origin = joint + 1
        for centre, sphere_radius, frame, link in zip(SPHERE_CENTRES_M, SPHERE_RADII_M, sphere_frames(), SPHERE_LINK,
                                                      strict=True):
            chain, f = 0.0, int(frame)
            while f > origin:
                chain, f = chain + length[f], _PARENT[f]
            if f == origin:
                reach[joint, link] = max(reach[joint, link],
                                         chain + float(np.linalg.norm(centre)) + float(sphere_radius)
                                         + BOUND_SLACK_M)
    reach.setflags(write=False)
    return reach


@functools.cache
def joint_reach() -> np.ndarray:
    """(4,) for each joint, how far (m) any point of the arm's mesh beyond it can lie from its
    axis, in any configuration (the largest of :func:`link_joint_reach` over the links). A joint
    turning by ``dq`` moves no point of the arm farther than ``reach * |dq|``."""
    reach = link_joint_reach().max(axis=1)
    reach.setflags(write=False)
    return reach


@functools.cache
def _link_balls() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per link, a ball holding all its spheres: ``(centre (L, 3) in the link frame, frame (L,), radius (L,))``."""
    from sim.robot.collision import SPHERE_CENTRES_M, SPHERE_LINK, SPHERE_RADII_M

    model = cad_model()
    centres, radii = np.zeros((len(COLLISION_LINKS), 3)), np.zeros(len(COLLISION_LINKS))
    for link in range(len(COLLISION_LINKS)):
        mine = SPHERE_LINK == link
        low = (SPHERE_CENTRES_M[mine] - SPHERE_RADII_M[mine, None]).min(0)
        high = (SPHERE_CENTRES_M[mine] + SPHERE_RADII_M[mine, None]).max(0)
        centres[link] = (low + high) / 2
        radii[link] = (np.linalg.norm(SPHERE_CENTRES_M[mine] - centres[link], axis=1) + SPHERE_RADII_M[mine]).max()
    return centres, np.array(model.frames), radii * (1 + 1e-12)


class StepContacts(NamedTuple):
    """The contacts of one control step (see :func:`step_contacts`)."""

    cad_m: np.ndarray  #: (L, M + 1 + P) a CAD touch's signed distance (<= 0), +inf where none
    witness: np.ndarray  #: (L, M + 1 + P, 3) its point on the arm, base frame
    normal: np.ndarray  #: (L, M + 1 + P, 3) the other body's normal there, towards the arm (0 for link pairs)
    bound_m: np.ndarray  #: (L, M + 1 + P) deepest bound distance of a touch of the spheres, +inf where none
    checks: int  #: substeps whose configuration was measured (the others were proven clear)
    queries: int  #: mesh queries


def step_contacts(q_steps: np.ndarray, origins: np.ndarray, obstacles: Any, gripper_m: float = 0.0,
                  table_z_m: float = 0.0) -> StepContacts:
    """Every contact of the arm over one control step, from its joint angles after each substep.

    Columns: the M obstacles, then the table, then the SRDF link pairs (filed under their first
    link). The sphere bound finds the pairs within :data:`BOUND_SLACK_M`, the meshes decide; a
    substep is skipped where every link's motion since the last measured one (at most
    :func:`link_joint_reach` times each joint's turn) plus the obstacles' is less than that link's
    bound clearance there, which proves it clear (:func:`sim.robot._cad_kernel.step_contacts`).

    Args:
        q_steps: (n, 4) joint angles after each substep (rad).
        origins: (n, M, 3) obstacle centres after each substep (m).
        obstacles: the :class:`sim.robot.collision.ObstacleSet` (kinds, rotations, sizes).
        gripper_m: finger position (m); table_z_m: table height (m).
    """
    spheres, model_arrays = _step_contact_arrays()
    shape = (len(COLLISION_LINKS), len(obstacles.kinds) + 1 + len(model_arrays[-1]))
    cad, bound = np.empty(shape), np.empty(shape)
    witness, normal = np.empty((*shape, 3)), np.empty((*shape, 3))
    checks, queries = kernel_step_contacts(
        np.ascontiguousarray(q_steps, dtype=np.float64), float(gripper_m),
        np.ascontiguousarray(origins, dtype=np.float64), obstacles.rotations,
        np.asarray(obstacles.kinds, dtype=np.int64), obstacles.sizes, *spheres, BOUND_SLACK_M, *model_arrays,
        float(table_z_m), REFINE_TOLERANCE_M, SELF_TOLERANCE_M, cad, witness, normal, bound)
    return StepContacts(cad, witness, normal, bound, int(checks), int(queries))


@functools.cache
def _step_contact_arrays() -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """The fixed arrays :func:`step_contacts` hands its kernel: the sphere bound's (with the link balls,
    the table mask, the link pairs' spheres and the joints' reach), then the CAD forest's."""
    from sim.robot.collision import SPHERE_CENTRES_M, SPHERE_LINK, SPHERE_RADII_M, self_pair_spheres, sphere_frames

    model = cad_model()
    spheres = (SPHERE_CENTRES_M, sphere_frames(), SPHERE_RADII_M, SPHERE_LINK, *_link_balls(), _TABLE_MASK,
               *self_pair_spheres(), link_joint_reach())
    return spheres, (model.frames, model.roots, *model.tree(), model.hull_points, model.hull_link, model.pairs)


class CadStates(NamedTuple):
    """The truth channel of N configurations (m; see :class:`CadClearances`)."""

    obstacle_m: np.ndarray  #: (N,) smallest signed arm-obstacle distance (+inf with no obstacle)
    self_m: np.ndarray  #: (N,) smallest link-pair gap (+inf beyond the horizon)
    table_m: np.ndarray  #: (N,) lowest point of link2 onwards above the table


def measure_states(q: Any, gripper_m: Any = 0.0, *, obstacles: Any = None, table_z_m: float = 0.0,
                   self_horizon_m: float = SELF_HORIZON_M) -> CadStates:
    """:func:`measure` of many configurations (e.g. a real robot's log), culled by the bound.

    Args:
        q: (N, 4) joint angles (rad), any finite values.
        gripper_m: finger position (m), scalar or (N,).
        obstacles: an :class:`sim.robot.collision.ObstacleSet` (``None``: none).
        table_z_m: the table surface's height (m).
        self_horizon_m: link pairs are measured up to this gap (m).
    """
    from sim.robot.collision import ObstacleSet, arm_clearances

    q = np.asarray(as_real_array(q, 4), dtype=np.float64).reshape(-1, 4)
    if not np.all(np.isfinite(q)):
        raise InvalidInputError("joint angles must be finite")
    fingers = np.broadcast_to(np.asarray(gripper_m, dtype=np.float64), (len(q),))
    obstacles = obstacles if obstacles is not None else ObstacleSet.from_list([], [], [])
    out = np.empty((3, len(q)))
    for index, (joints, finger) in enumerate(zip(q, fingers, strict=True)):
        bound = arm_clearances(joints, obstacles, float(finger))
        measured = measure(joints, obstacles, float(finger), bound_per_link=bound.per_link_m,
                           bound_self_m=bound.self_m, self_horizon_m=self_horizon_m, table_z_m=table_z_m,
                           validate=False)
        out[:, index] = measured.obstacle_m, measured.self_m, measured.table_m
    return CadStates(*out)


__all__ = [
    "BOUND_SLACK_M", "LEAF_SIZE", "MAX_EDGE_M", "REFINE_TOLERANCE_M", "SELF_HORIZON_M", "SELF_TOLERANCE_M",
    "CadClearances", "CadModel", "CadStates", "StepContacts", "cad_model", "frames", "joint_reach", "link_joint_reach",
    "link_obstacle_distance", "link_pair_gap", "measure", "measure_states", "step_contacts", "table_heights",
]

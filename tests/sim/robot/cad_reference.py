"""An independent reference for the CAD truth channel (:mod:`sim.robot.cad`), written for its tests.

Nothing here imports the project's distance code: each link's full-resolution mesh is sampled on a
deterministic barycentric grid (every triangle split into ``n = ceil(longest edge / spacing)``
parts per edge, so sample points are at most ``spacing`` apart along every edge of the grid and
the mesh vertices are sample points), and the signed distance fields of spheres, boxes and
cylinders are written out below in NumPy.

Every reference value is a minimum over the sample, so it is never below the exact minimum over
the surface, and at most the sample's covering radius above it (the fields are 1-Lipschitz; a grid
cell with edges of at most 0.5 mm leaves no surface point farther than 0.29 mm from a sample point).

To stay fast the points are binned into nested voxels (6, 1.5 and 0.5 mm), each with one
representative sample point and the exact radius about it that holds the voxel's points (its
cover): a voxel whose representative's value minus its cover is above the best representative
value found cannot hold the minimum, so level by level only the voxels that can are kept and their
points evaluated at the end. Field minima are exactly the minima over the whole sample (the pruning
drops nothing that could win); distances between two links' samples are exact too, or, given a
search tolerance, a distance between two sample points at most that much above the smallest.
``test_cad.py::test_reference_search_equals_brute_force`` checks both against every point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
from scipy.spatial import cKDTree

#: Sample spacing along the grid's edges (m).
SPACING_M = 5e-4
#: Voxel edges of the coarse-to-fine search (m), coarse to fine; each divides the one before.
VOXELS_M = (6e-3, 1.5e-3, 5e-4)


def barycentric_grid(n: int) -> np.ndarray:
    """(K, 3) barycentric weights of the grid that splits each edge of a triangle into ``n`` parts."""
    i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = i + j <= n
    i, j = i[keep], j[keep]
    weights = np.stack([n - i - j, i, j], axis=1).astype(np.float64) / n
    return weights


def surface_sample(vertices: np.ndarray, faces: np.ndarray, spacing_m: float = SPACING_M) -> np.ndarray:
    """(P, 3) points of every triangle's barycentric grid (corners included), in the mesh's frame."""
    corners = vertices[faces]  # (F, 3, 3)
    longest = np.linalg.norm(corners[:, [1, 2, 0]] - corners, axis=-1).max(-1)
    parts = np.maximum(1, np.ceil(longest / spacing_m)).astype(int)
    chunks = []  # weights (1, 0, 0) reproduce a corner exactly: the mesh vertices are sample points
    for n in np.unique(parts):
        weights = barycentric_grid(int(n))
        chunks.append(np.einsum("kc,fcx->fkx", weights, corners[parts == n]).reshape(-1, 3))
    return np.concatenate(chunks)


@dataclass
class Level:
    """One level of voxels: groups of sample points.

    Attributes:
        starts: (G + 1,) each group's first point (points are sorted so groups are contiguous).
        reps: (G, 3) one point of each group; cover (G,) the largest distance from it to the group's points.
        tree: a cKDTree of ``reps``.
        children: (G + 1,) each group's first group on the next level (``None`` on the finest).
    """

    starts: np.ndarray
    reps: np.ndarray
    cover: np.ndarray
    tree: cKDTree
    children: np.ndarray | None


@dataclass
class LinkSample:
    """One link's sample (link frame, m) in nested voxels, coarse to fine (:data:`VOXELS_M`).

    Attributes:
        points: (P, 3) sample points, sorted so that every voxel of every level is contiguous.
        levels: the voxel levels, coarse to fine.
    """

    points: np.ndarray
    levels: list[Level]

    @staticmethod
    def of(points: np.ndarray, voxels_m: tuple[float, ...] = VOXELS_M) -> LinkSample:
        finest = np.floor(points / voxels_m[-1]).astype(np.int64)
        finest -= finest.min(0)
        keys = [finest // round(voxel / voxels_m[-1]) for voxel in voxels_m]
        flat = [(k[:, 0] * (k[:, 1].max() + 1) + k[:, 1]) * (k[:, 2].max() + 1) + k[:, 2] for k in keys]
        order = np.lexsort(flat[::-1])
        points = points[order]
        flat = [key[order] for key in flat]
        changed = np.zeros(len(points) - 1, dtype=bool)
        firsts = []
        for key in flat:  # a group ends where its key or a coarser one changes
            changed |= key[1:] != key[:-1]
            firsts.append(np.flatnonzero(np.r_[True, changed]))
        levels = []
        for index, first in enumerate(firsts):
            reps = points[first]
            owner = np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(points)]))
            cover = np.maximum.reduceat(np.linalg.norm(points - reps[owner], axis=1), first)
            children = None
            if index + 1 < len(firsts):
                children = np.searchsorted(firsts[index + 1], np.r_[first, len(points)])
            levels.append(Level(np.r_[first, len(points)], reps, cover, cKDTree(reps), children))
        return LinkSample(points, levels)

    def points_of(self, level: int, groups: np.ndarray) -> np.ndarray:
        """(Q, 3) the points of the given groups of a level."""
        starts = self.levels[level].starts
        return self.points[_ranges(starts[groups], starts[groups + 1])]

    def children_of(self, level: int, groups: np.ndarray) -> np.ndarray:
        """The groups of the next level inside the given groups of ``level``."""
        children = self.levels[level].children
        return _ranges(children[groups], children[groups + 1])


def _ranges(begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(begin[i], end[i])``."""
    sizes = end - begin
    return np.repeat(begin - np.r_[0, np.cumsum(sizes)[:-1]], sizes) + np.arange(sizes.sum())


# ------------------------------------------------------------------------------ signed distances
def sdf(local: np.ndarray, kind: str, size: np.ndarray) -> np.ndarray:
    """Exact signed distance of points (..., 3) in the obstacle's own frame (centred, axis z for a
    cylinder) to a sphere (r), box (half extents) or cylinder (r, half height)."""
    x, y, z = local[..., 0], local[..., 1], local[..., 2]
    if kind == "sphere":
        return np.sqrt(x * x + y * y + z * z) - size[0]
    if kind == "box":
        ex, ey, ez = np.abs(x) - size[0], np.abs(y) - size[1], np.abs(z) - size[2]
        ox, oy, oz = np.maximum(ex, 0.0), np.maximum(ey, 0.0), np.maximum(ez, 0.0)
        return np.sqrt(ox * ox + oy * oy + oz * oz) + np.minimum(np.maximum(np.maximum(ex, ey), ez), 0.0)
    if kind == "cylinder":
        radial = np.sqrt(x * x + y * y) - size[0]
        axial = np.abs(z) - size[1]
        orad, oax = np.maximum(radial, 0.0), np.maximum(axial, 0.0)
        return np.sqrt(orad * orad + oax * oax) + np.minimum(np.maximum(radial, axial), 0.0)
    raise ValueError(f"unknown kind {kind!r}")


def bounding_radius(kind: str, size: np.ndarray) -> float:
    """Radius of the smallest ball about the obstacle's centre that holds it (m)."""
    if kind == "sphere":
        return float(size[0])
    if kind == "box":
        return float(np.linalg.norm(size[:3]))
    return float(np.hypot(size[0], size[1]))


def field_minimum(sample: LinkSample, field: Callable[[np.ndarray], np.ndarray], reach_m: float = np.inf
                  ) -> tuple[float, np.ndarray | None]:
    """``(min of a 1-Lipschitz field over the sample, its point (link frame))`` if below ``reach_m``,
    exact; else ``(inf, None)`` (every sample point then reads at least ``reach_m``).

    ``field`` maps link-frame points (N, 3) to values (N,). A voxel's points read at least its
    representative's value minus its cover; level by level, only voxels whose bound is not above
    the best representative value found are kept, and their points evaluated at the end.
    """
    upper = reach_m
    groups = np.arange(len(sample.levels[0].reps))
    for index, level in enumerate(sample.levels):
        if index:
            groups = sample.children_of(index - 1, groups)
        values = field(level.reps[groups])
        upper = min(upper, float(values.min()))  # representatives are sample points
        groups = groups[values - level.cover[groups] <= upper + 1e-12]
        if len(groups) == 0:
            return np.inf, None
    points = sample.points_of(len(sample.levels) - 1, groups)
    fine = field(points)
    best = int(np.argmin(fine))
    if fine[best] >= reach_m:
        return np.inf, None
    return float(fine[best]), points[best]


def obstacle_minimum(sample: LinkSample, link_position: np.ndarray, link_rotation: np.ndarray, kind: str,
                     centre: np.ndarray, rotation: np.ndarray, size: np.ndarray, reach_m: float
                     ) -> tuple[float, np.ndarray | None]:
    """``(min of the obstacle's field over the link's sample, its point (base frame))`` if below
    ``reach_m`` (exact), else ``(inf, None)``.

    Link pose: a link-frame point ``p`` is at ``link_position + link_rotation @ p``; obstacle:
    a body-frame point ``x`` is at ``centre + rotation @ x``.
    """
    to_obstacle = rotation.T @ link_rotation  # link frame -> obstacle frame
    shift = rotation.T @ (link_position - centre)
    # No sample point within reach of the obstacle's bounding ball: nothing to evaluate.
    centre_local = link_rotation.T @ (centre - link_position)
    coarse = sample.levels[0]
    reach = bounding_radius(kind, size) + reach_m + coarse.cover.max()
    if coarse.tree.query(centre_local, distance_upper_bound=reach)[0] == np.inf:
        return np.inf, None
    value, point = field_minimum(sample, lambda p: sdf(p @ to_obstacle.T + shift, kind, size), reach_m)
    return value, None if point is None else link_position + link_rotation @ point


def lowest_point(sample: LinkSample, link_position: np.ndarray, link_rotation: np.ndarray) -> float:
    """Smallest base-frame height (m) of the link's sample."""
    row, height = link_rotation[2], link_position[2]
    return field_minimum(sample, lambda p: p @ row + height)[0]


def pair_minimum(first: LinkSample, second: LinkSample, rotation: np.ndarray, offset: np.ndarray,
                 horizon_m: float, tolerance_m: float = 0.0) -> float:
    """Smallest distance between a point of ``first``'s sample and one of ``second``'s (``second``'s
    frame mapped into ``first``'s: ``p_first = rotation @ p_second + offset``), to within
    ``tolerance_m`` (the answer is a distance between two sample points, at most that much above
    the smallest); ``inf`` if it is not below ``horizon_m``.

    Branch and bound on both samples' voxels, coarse to fine: a voxel of one link whose
    representative lies farther than ``upper - tolerance_m`` + its cover + the largest cover of the
    other link's kept voxels from every representative of those is dropped (none of its points can
    improve ``upper`` by more than the tolerance), ``upper`` being the best distance between
    representatives (sample points) found. The kept points are measured exactly at the end.
    Crossing surfaces stop the search as soon as ``upper`` is within the tolerance (of 0).
    """
    upper = horizon_m
    kept_a = np.arange(len(first.levels[0].reps))
    kept_b = np.arange(len(second.levels[0].reps))
    for index, (level_a, level_b) in enumerate(zip(first.levels, second.levels, strict=True)):
        if index:
            kept_a, kept_b = first.children_of(index - 1, kept_a), second.children_of(index - 1, kept_b)
        reps_a, reps_b = level_a.reps[kept_a], level_b.reps[kept_b] @ rotation.T + offset
        cover_a, cover_b = level_a.cover[kept_a], level_b.cover[kept_b]
        to_a, _ = cKDTree(reps_a).query(reps_b, distance_upper_bound=upper + cover_a.max() + cover_b.max())
        upper = min(upper, float(to_a.min()))  # representatives are sample points
        if upper <= tolerance_m:
            return upper
        kept_b = kept_b[to_a - cover_a.max() - cover_b <= upper - tolerance_m + 1e-12]
        if len(kept_b) == 0:
            return upper if upper < horizon_m else np.inf
        reps_b, cover_b = level_b.reps[kept_b] @ rotation.T + offset, level_b.cover[kept_b]
        to_b, _ = cKDTree(reps_b).query(reps_a, distance_upper_bound=upper + cover_a.max() + cover_b.max())
        kept_a = kept_a[to_b - cover_b.max() - cover_a <= upper - tolerance_m + 1e-12]
        if len(kept_a) == 0:
            return upper if upper < horizon_m else np.inf
    points_a = first.points_of(len(first.levels) - 1, kept_a)
    points_b = second.points_of(len(second.levels) - 1, kept_b) @ rotation.T + offset
    distance, _ = cKDTree(points_a, balanced_tree=False, compact_nodes=False).query(
        points_b, distance_upper_bound=upper + 1e-9)
    best = min(upper, float(distance.min()))
    return best if best < horizon_m else np.inf


# ------------------------------------------------------------------------ covers and trees
def uncovered(corners: np.ndarray, centres: np.ndarray, radii: np.ndarray, slack_m: float,
              levels: int = 12) -> tuple[int, float, np.ndarray | None, int]:
    """Whether every triangle (T, 3, 3) lies in one of the balls ``(centres (S, 3), radii + slack_m)``.

    A triangle is certified when one ball holds its three corners (balls are convex, so it holds
    the triangle). The others are split 4 ways at their edges' midpoints and checked again, up to
    ``levels`` times. A piece with a corner outside every ball proves the surface is not covered.

    Returns:
        ``(pieces left uncertified, the largest distance (m) by which a surface point found lies
        outside every ball (-inf if none), that point (or None), the triangle it lies on (or -1))``.
    """
    pending, outside_m, witness, origin = corners, -np.inf, None, np.arange(len(corners))
    triangle = -1
    for level in range(levels + 1):
        excess = np.linalg.norm(pending[:, None, :, :] - centres[None, :, None, :], axis=-1) - radii[None, :, None]
        certified = (excess <= slack_m).all(-1).any(-1)
        nearest = excess[~certified].min(1)  # (T', 3) each corner's excess over its nearest ball
        pending = pending[~certified]
        escaped = (nearest > slack_m).any(-1)
        if escaped.any() and nearest[escaped].max() > outside_m:
            piece, corner = np.unravel_index(np.argmax(np.where(escaped[:, None], nearest, -np.inf)), nearest.shape)
            outside_m, witness = float(nearest[piece, corner]), pending[piece, corner].copy()
            triangle = int(origin[~certified][piece])
        origin = origin[~certified][~escaped]
        pending = pending[~escaped]
        if len(pending) == 0 or level == levels:
            break
        a, b, c = pending[:, 0], pending[:, 1], pending[:, 2]
        ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
        pieces = ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))
        pending = np.concatenate([np.stack(piece, 1) for piece in pieces])
        origin = np.tile(origin, 4)
    return len(pending), outside_m, witness, triangle


@numba.njit(cache=True)
def node_reach(triangles: np.ndarray, centre: np.ndarray, half: np.ndarray, start: np.ndarray,
               count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per node: the largest distance from its centre to a corner of its triangles
    ``start:start + count`` (m), and the largest amount by which such a corner lies outside its box
    (m, negative inside)."""
    nodes = centre.shape[0]
    sphere = np.zeros(nodes)
    box = np.full(nodes, -np.inf)
    for node in range(nodes):
        farthest, excess = 0.0, -np.inf
        for k in range(start[node], start[node] + count[node]):
            for corner in range(3):
                squared = 0.0
                for i in range(3):
                    offset = triangles[k, corner, i] - centre[node, i]
                    squared += offset * offset
                    excess = max(excess, abs(offset) - half[node, i])
                farthest = max(farthest, squared)
        sphere[node], box[node] = np.sqrt(farthest), excess
    return sphere, box

"""Convex decomposition of ROBOTIS' link meshes (CoACD) into hulls that enclose every mesh vertex.

    python -m sim.robot.decompose                      # the shipped setting -> assets/collision_hulls/
    python -m sim.robot.decompose --setting medium --out /tmp/hulls_medium
    python -m sim.robot.decompose --check              # re-measure the shipped hulls, write nothing

Per link (:data:`~sim.robot.robot_geometry.COLLISION_LINKS`, meshes in metres in the link frame,
link2's +0.019 m origin included) the mesh is split into its closed parts (ROBOTIS' meshes are
assemblies of 1-19 parts; whole-mesh CoACD runs crash on some links or take over 20 minutes) and
each part goes through CoACD on its own, its threshold rescaled so the concavity allowed in
metres is the one the setting's threshold gives the whole link mesh (CoACD normalises each input
by its largest bounding-box side). Parts run in separate processes (two at a time by default); a
part whose CoACD run crashes is retried with another seed and then falls back to its convex hull.
Flat parts (link5's two 2-triangle patches) go through no decomposition: their vertices are
covered by the enclosure step below.

Each hull is then:

1. **simplified outward** (:func:`enclosing_polytope`): CoACD's hulls of the curved CAD carry up to
   thousands of vertices, and PyBullet's support search is linear in them. The hull is replaced by
   the intersection of a few of its own supporting planes, chosen greedily until no vertex of the
   result lies more than ``simplify_tolerance_m`` beyond any of the hull's planes (or the vertex
   cap is met). The result contains the hull, so enclosure is kept.
2. **merged** within the link (:func:`merge_hulls`): pairs of hulls whose common convex hull lies
   within ``merge_tolerance_m`` of the hulls before any merge (measured on surface samples) are
   replaced by it, cheapest first, down to ``max_link_hulls`` (PyBullet's cost grows with the
   hull count).
3. **checked and fixed for enclosure**: every mesh vertex outside the union of hulls by more than
   :data:`ENCLOSURE_TOLERANCE_M` is added to its nearest hull, which is re-hulled (said in the
   manifest, per link).

PyBullet grows every convex mesh of a URDF by a 1 mm collision margin, which
``changeDynamics(collisionMargin=0)`` does not remove on a multibody's links (it does on a base),
and ``createCollisionShapeArray`` keeps only 16 children, so ``pybullet/<link>.obj`` holds each
link's **cores** (:func:`margin_cores`): the hulls shrunk by the margin, with points added where
the margin's rounding of their edges and corners would uncover the mesh (its vertices, and
samples of the triangles that cross between hulls), so the solid PyBullet collides for them,
cores grown by 1 mm, encloses every mesh vertex and lies within the hulls but for fractions of
a millimetre at rounded corners and thin hulls.

Measured and recorded in ``manifest.json``: hull and vertex counts, the largest exact distance of a
mesh vertex outside the union of hulls, and the deviation of the union's outer surface from the
mesh (exact point-to-triangle distance of area-uniform samples of the hulls' faces that lie on
the union's boundary and outside the CAD solid: max and p99), the same for the cores' PyBullet
solid, with wall times. Output: one OBJ per link, one ``o hull_k`` object per hull (PyBullet
loads it as a compound of convex hulls), in metres in the link frame.

Needs ``coacd`` (1.0.14 was used) and ``trimesh`` (``pip install '.[geometry]' coacd``).
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import multiprocessing.connection
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numba
import numpy as np
from scipy.spatial import ConvexHull, HalfspaceIntersection, QhullError

import assets
from sim.errors import DependencyNotInstalled, InvalidInputError
from sim.robot._cad_kernel import _point_triangle
from sim.robot.robot_geometry import COLLISION_LINKS, MESH_ORIGINS_M, mesh

#: Where the shipped hulls live (one OBJ per link and ``manifest.json``).
HULL_DIR = assets.ASSETS_DIR / "collision_hulls"
#: A mesh vertex farther than this outside every hull is added to its nearest hull (m).
ENCLOSURE_TOLERANCE_M = 1e-6
#: Decimals of the OBJ coordinates (m): 1e-8 m, far below every tolerance here.
OBJ_DECIMALS = 8
#: Samples per square millimetre of the mesh triangles that cross between hulls, for the PyBullet cores.
SEAM_SAMPLES_PER_MM2 = 16.0
#: Surface samples per square millimetre of hull surface for the deviation figures.
SAMPLES_PER_MM2 = 8.0
#: PyBullet's collision margin of a URDF's convex meshes (m): ``changeDynamics(collisionMargin=...)``
#: does not change it on a multibody's links, so the solid it collides is each hull grown by this.
PYBULLET_URDF_MARGIN_M = 0.001
#: Part-level CoACD runs that take longer than this are stopped and retried, then hulled (s).
PART_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Setting:
    """One decomposition setting.

    Attributes:
        threshold: CoACD's concavity threshold for the whole link mesh (normalised by its largest
            bounding-box side, as CoACD does); each part gets the same concavity in metres.
        max_part_hulls: CoACD's ``max_convex_hull`` per part (-1: no cap).
        mcts_iterations, mcts_max_depth, mcts_nodes, resolution, preprocess_resolution: CoACD's.
        simplify_tolerance_m: how far (m) the outward simplification may move a hull's surface.
        max_hull_vertices: cap on each simplified hull's vertices (the tolerance wins if the cap is met).
        merge_tolerance_m: two hulls are merged when their common hull is within this (m) of them.
        max_link_hulls: hulls are merged (cheapest first) while a link has more than this, as long as
            a merge stays within ``merge_tolerance_m``.
        seed: CoACD's seed.
    """

    threshold: float
    max_part_hulls: int
    mcts_iterations: int
    mcts_max_depth: int = 3
    mcts_nodes: int = 20
    resolution: int = 2000
    preprocess_resolution: int = 50
    simplify_tolerance_m: float = 0.0003
    max_hull_vertices: int = 64
    merge_tolerance_m: float = 0.001
    max_link_hulls: int = 0
    seed: int = 0


#: The settings this command knows; ``coarse`` is the one shipped (see the manifest for its figures).
SETTINGS: dict[str, Setting] = {
    "coarse": Setting(threshold=0.1, max_part_hulls=-1, mcts_iterations=60, mcts_max_depth=2),
    "medium": Setting(threshold=0.05, max_part_hulls=-1, mcts_iterations=100),
    # coarse's CoACD run, then merged down towards 8 hulls a link (merges up to 4 mm beyond coarse's hulls)
    "lean": Setting(threshold=0.1, max_part_hulls=-1, mcts_iterations=60, mcts_max_depth=2, merge_tolerance_m=0.004,
                    max_link_hulls=8),
}
DEFAULT_SETTING = "coarse"


# --------------------------------------------------------------------------------------- exact distances
# (point to triangle: sim.robot._cad_kernel._point_triangle, the CAD channel's own)
@numba.njit(cache=True, parallel=True)
def _points_to_triangles(points, corners, lows, highs, bounds_sq):  # type: ignore[no-untyped-def]
    """Exact distance of each point to the nearest triangle; ``bounds_sq``: an upper bound per point
    (squared) that prunes triangles whose bounding box is farther."""
    result = np.empty(len(points))
    for i in numba.prange(len(points)):
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        best = bounds_sq[i]
        for t in range(len(corners)):
            dx = max(lows[t, 0] - px, 0.0, px - highs[t, 0])
            dy = max(lows[t, 1] - py, 0.0, py - highs[t, 1])
            dz = max(lows[t, 2] - pz, 0.0, pz - highs[t, 2])
            if dx * dx + dy * dy + dz * dz >= best:
                continue
            c = corners[t]
            d = _point_triangle(px, py, pz, c[0, 0], c[0, 1], c[0, 2], c[1, 0], c[1, 1], c[1, 2],
                                   c[2, 0], c[2, 1], c[2, 2])
            if d < best:
                best = d
        result[i] = np.sqrt(best)
    return result


def distance_to_triangles(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Exact distance (N,) from each of ``points`` (N, 3) to the surface ``(vertices, faces)``."""
    from scipy.spatial import cKDTree

    corners = np.ascontiguousarray(vertices[faces], dtype=np.float64)
    points = np.ascontiguousarray(points, dtype=np.float64)
    # The nearest vertex bounds the distance from above: prunes most triangles at once.
    bound, _ = cKDTree(vertices).query(points)
    return _points_to_triangles(points, corners, corners.min(1), corners.max(1), bound**2 * (1 + 1e-9) + 1e-18)


# --------------------------------------------------------------------------------------- hulls
@dataclass
class Hull:
    """One convex hull: its vertices (K, 3), triangles (F, 3) outward, plane equations (P, 4) with
    ``n . x + d <= 0`` inside, and its volume (m^3)."""

    vertices: np.ndarray
    faces: np.ndarray
    planes: np.ndarray
    volume: float


def make_hull(points: np.ndarray) -> Hull:
    """The convex hull of ``points`` (N, 3), with outward triangles and de-duplicated planes."""
    hull = ConvexHull(points)
    used = np.unique(hull.simplices)
    remap = np.full(len(points), -1)
    remap[used] = np.arange(len(used))
    vertices = np.asarray(points, dtype=float)[used]
    faces = remap[hull.simplices]
    # Orient each triangle along its facet's outward normal.
    normals = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    flip = (normals * hull.equations[:, :3]).sum(1) < 0
    faces[flip] = faces[flip][:, ::-1]
    planes = np.unique(np.round(hull.equations, 12), axis=0)
    return Hull(vertices, faces, planes, float(hull.volume))


def signed_plane_distance(points: np.ndarray, hull: Hull) -> np.ndarray:
    """Largest plane violation (N,) of ``points``: <= 0 inside ``hull``; outside, a lower bound of the distance."""
    return (points @ hull.planes[:, :3].T + hull.planes[:, 3]).max(1)


def distance_outside(points: np.ndarray, hull: Hull) -> np.ndarray:
    """Exact distance (N,) of ``points`` to ``hull`` (0 inside)."""
    result = np.zeros(len(points))
    outside = signed_plane_distance(points, hull) > 0
    if outside.any():
        result[outside] = distance_to_triangles(points[outside], hull.vertices, hull.faces)
    return result


def enclosing_polytope(hull: Hull, tolerance_m: float, max_vertices: int) -> Hull:
    """A polytope containing ``hull`` with fewer vertices: the intersection of some of its supporting
    planes, chosen greedily (the plane most violated by the result's worst vertex is added) until no
    vertex lies more than ``tolerance_m`` beyond any plane of ``hull``, or the next plane would pass
    ``max_vertices``. ``hull`` itself when it is small already or Qhull fails."""
    if len(hull.vertices) <= max_vertices:
        return hull
    planes = hull.planes
    centre = hull.vertices.mean(0)
    # Start from the six axis-aligned support planes (bounded), then add the hull's own planes.
    axes = np.vstack([np.eye(3), -np.eye(3)])
    chosen = np.column_stack([axes, -(hull.vertices @ axes.T).max(0)])
    best: Hull | None = None
    for _ in range(4 * max_vertices):
        try:
            intersection = HalfspaceIntersection(chosen, centre)
            candidate = make_hull(intersection.intersections)
        except (QhullError, ValueError):
            break
        if len(candidate.vertices) > max_vertices and best is not None:
            break
        best = candidate
        violation = candidate.vertices @ planes[:, :3].T + planes[:, 3]  # (K, P)
        worst_vertex = int(violation.max(1).argmax())
        if violation[worst_vertex].max() <= tolerance_m:
            break
        chosen = np.vstack([chosen, planes[int(violation[worst_vertex].argmax())]])
    if best is None or len(best.vertices) >= len(hull.vertices):
        return hull
    return best


def surface_samples(hull: Hull, density_per_m2: float, rng: np.random.Generator) -> np.ndarray:
    """Area-uniform points on ``hull``'s surface, ``density_per_m2`` per square metre (at least 50)."""
    return surface_samples_with_normals(hull, density_per_m2, rng)[0]


def surface_samples_with_normals(hull: Hull, density_per_m2: float, rng: np.random.Generator,
                                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`surface_samples` and the unit normal (N, 3) of each one's triangle (outward for a hull)."""
    corners = hull.vertices[hull.faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    areas = 0.5 * np.linalg.norm(normals, axis=1)
    normals = normals / np.maximum(2 * areas, 1e-30)[:, None]
    count = max(50, int(areas.sum() * density_per_m2))
    chosen = rng.choice(len(areas), size=count, p=areas / areas.sum())
    u, v = rng.random((2, count))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    a, b, c = corners[chosen, 0], corners[chosen, 1], corners[chosen, 2]
    return a + u[:, None] * (b - a) + v[:, None] * (c - a), normals[chosen]


#: Outer-surface test: a sample pushed this far (m) along its normal into another hull is inside the union.
_PUSH_M = 1e-5


@numba.njit(cache=True, parallel=True)
def _odd_crossings(points, corners, lows, highs):  # type: ignore[no-untyped-def]
    """(N,) True where the ray from each point along +z crosses the triangles an odd number of times."""
    result = np.zeros(len(points), dtype=np.bool_)
    for i in numba.prange(len(points)):
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        count = 0
        for t in range(len(corners)):
            if px < lows[t, 0] or px > highs[t, 0] or py < lows[t, 1] or py > highs[t, 1] or pz > highs[t, 2]:
                continue
            c = corners[t]
            # barycentric coordinates of (px, py) in the triangle's xy projection
            x0, y0 = c[0, 0] - px, c[0, 1] - py
            x1, y1 = c[1, 0] - px, c[1, 1] - py
            x2, y2 = c[2, 0] - px, c[2, 1] - py
            w0, w1, w2 = x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0
            if not ((w0 > 0 and w1 > 0 and w2 > 0) or (w0 < 0 and w1 < 0 and w2 < 0)):
                continue
            total = w0 + w1 + w2
            z = (w0 * c[0, 2] + w1 * c[1, 2] + w2 * c[2, 2]) / total
            if z > pz:
                count += 1
        result[i] = count % 2 == 1
    return result


@functools.cache
def _closed_parts(link: str) -> tuple[np.ndarray, ...]:
    """The triangle corners (F, 3, 3) of each closed (watertight) part of ``link``'s mesh."""
    trimesh = _trimesh()
    whole = trimesh.Trimesh(*mesh(link), process=False)
    return tuple(np.ascontiguousarray(part.vertices[part.faces], dtype=np.float64)
                 for part in whole.split(only_watertight=False) if part.is_watertight)


def outside_solid(link: str, points: np.ndarray) -> np.ndarray:
    """(N,) True where a point lies inside none of ``link``'s closed mesh parts (outside the CAD
    solid; parity of a +z ray's crossings, part by part)."""
    inside = np.zeros(len(points), dtype=bool)
    points = np.ascontiguousarray(points, dtype=np.float64)
    for corners in _closed_parts(link):
        low, high = corners.min((0, 1)), corners.max((0, 1))
        box = ~inside & np.all((points >= low) & (points <= high), axis=1)
        if box.any():
            inside[np.flatnonzero(box)] = _odd_crossings(points[box], corners, corners.min(1), corners.max(1))
    return ~inside


def _merge_cost(first: Hull, second: Hull, reference: list[Hull], tolerance_m: float,
                rng: np.random.Generator) -> tuple[float, Hull]:
    """How far (m) the common hull of two hulls reaches beyond the union of ``reference`` (the hulls
    before any merge, so merges do not drift), on surface samples; and that hull. Above
    ``tolerance_m`` the figure may be a lower bound (the merge is refused either way)."""
    merged = make_hull(np.vstack([first.vertices, second.vertices]))
    samples = surface_samples(merged, 2e6, rng)  # 2 per mm^2: a merge criterion, not a figure
    samples = samples[np.minimum(signed_plane_distance(samples, first), signed_plane_distance(samples, second)) > 0]
    low, high = merged.vertices.min(0) - tolerance_m, merged.vertices.max(0) + tolerance_m
    nearby = [hull for hull in reference
              if np.all(hull.vertices.min(0) <= high) and np.all(hull.vertices.max(0) >= low)]
    if len(samples) == 0 or not nearby:
        return (0.0 if len(samples) == 0 else np.inf), merged
    violation = np.stack([signed_plane_distance(samples, hull) for hull in nearby], 1)  # lower bounds of distances
    outside = violation.min(1) > 0
    samples, violation = samples[outside], violation[outside]
    if len(samples) == 0:
        return 0.0, merged
    if violation.min(1).max() > tolerance_m:
        return float(violation.min(1).max()), merged
    distance = np.full(len(samples), np.inf)
    for k, hull in enumerate(nearby):
        candidates = violation[:, k] <= tolerance_m
        if candidates.any():
            distance[candidates] = np.minimum(distance[candidates], distance_outside(samples[candidates], hull))
    return float(distance.max()), merged


def merge_hulls(hulls: list[Hull], tolerance_m: float, max_hulls: int, seed: int = 0) -> list[Hull]:
    """Merge pairs of ``hulls`` whose common hull stays within ``tolerance_m`` of the union of the
    given ``hulls`` (the reference for every merge), cheapest first, until ``max_hulls`` remain (0:
    as long as any pair qualifies) or no pair qualifies. Only pairs whose bounding boxes come within
    ``tolerance_m`` of each other are considered."""
    rng = np.random.default_rng(seed)
    reference = list(hulls)
    hulls = list(hulls)
    costs: dict[tuple[int, int], tuple[float, Hull]] = {}
    alive = set(range(len(hulls)))

    def near(i: int, j: int) -> bool:
        low_i, high_i = hulls[i].vertices.min(0), hulls[i].vertices.max(0)
        low_j, high_j = hulls[j].vertices.min(0), hulls[j].vertices.max(0)
        return bool(np.all(low_i <= high_j + tolerance_m) and np.all(low_j <= high_i + tolerance_m))

    for i in alive:
        for j in alive:
            if i < j and near(i, j):
                costs[(i, j)] = _merge_cost(hulls[i], hulls[j], reference, tolerance_m, rng)
    while len(alive) > max(max_hulls, 1) or (max_hulls == 0 and costs):
        qualifying = [(cost, pair) for pair, (cost, _) in costs.items() if cost <= tolerance_m]
        if not qualifying:
            break
        _, (i, j) = min(qualifying)
        merged = costs[(i, j)][1]
        alive -= {i, j}
        costs = {pair: value for pair, value in costs.items() if i not in pair and j not in pair}
        hulls.append(merged)
        new = len(hulls) - 1
        for k in alive:
            if near(k, new):
                costs[(k, new)] = _merge_cost(hulls[k], merged, reference, tolerance_m, rng)
        alive.add(new)
    return [hulls[k] for k in sorted(alive)]


def _inradius(hull: Hull) -> tuple[float, np.ndarray]:
    """Radius (m) and centre (3,) of the largest ball inside ``hull`` (a linear program)."""
    from scipy.optimize import linprog

    normals, offsets = hull.planes[:, :3], hull.planes[:, 3]
    scale = np.linalg.norm(normals, axis=1)
    result = linprog(c=[0.0, 0.0, 0.0, -1.0], A_ub=np.column_stack([normals, scale]), b_ub=-offsets,
                     bounds=[(None, None)] * 3 + [(0.0, None)], method="highs")
    if not result.success:
        return 0.0, hull.vertices.mean(0)
    return float(result.x[3]), result.x[:3]


def _add_within(core: Hull, points: np.ndarray, margin_m: float) -> tuple[Hull, int]:
    """``core`` with a point added ``margin_m`` from each of ``points`` (N, 3) that lies farther than
    that from it (towards its centre): afterwards every point is within ``margin_m`` of the core."""
    if len(points) == 0:
        return core, 0
    far = signed_plane_distance(points, core) > 0
    if far.any():
        far[far] = distance_outside(points[far], core) > margin_m - 1e-9
    if not far.any():
        return core, 0
    chosen = points[far]
    direction = core.vertices.mean(0) - chosen
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return make_hull(np.vstack([core.vertices, chosen + direction * (margin_m - 1e-7)])), len(chosen)


def margin_cores(hulls: list[Hull], margin_m: float, vertices: np.ndarray, faces: np.ndarray,
                 loose: np.ndarray | None = None, *, simplify_tolerance_m: float = 0.0003,
                 max_vertices: int = 64) -> tuple[list[Hull], dict]:
    """Cores for a collision margin: PyBullet grows every convex mesh of a URDF by its margin
    (1 mm, not removable on links), so the solid it collides is ``core + ball(margin_m)``.

    Each core is its hull shrunk by ``margin_m`` (planes moved inwards; a hull thinner than that is
    shrunk by less, and its solid is larger than the hull by the difference). The margin rounds off
    the hulls' edges and corners, where the mesh may reach, so each mesh triangle ``(vertices,
    faces)`` is given to the hull its three vertices lie deepest in, and every vertex of it farther
    than ``margin_m`` from that hull's core gets a point added to the core ``margin_m`` from it
    (towards the core's centre). As the core is convex, it then comes within ``margin_m`` of every
    point of the triangle: the grown cores hold each mesh triangle that one hull held. Vertices of
    triangles no single hull holds, and ``loose`` points (M, 3), are brought within ``margin_m`` of
    their nearest core, and so are area-uniform samples of the triangles no single hull holds (the
    margin rounds off the seam where two hulls meet). Last, each core is simplified outwards
    (:func:`enclosing_polytope`, which keeps all of it). Returns the cores and a record."""
    cores, shrinks = [], []
    for hull in hulls:
        radius, centre = _inradius(hull)
        shrink = min(margin_m, 0.9 * radius)
        planes = hull.planes.copy()
        planes[:, 3] += shrink * np.linalg.norm(planes[:, :3], axis=1)
        try:
            cores.append(make_hull(HalfspaceIntersection(planes, centre).intersections))
        except (QhullError, ValueError):
            cores.append(hull)
            shrink = 0.0
        shrinks.append(shrink)
    depth = np.stack([signed_plane_distance(vertices, hull) for hull in hulls], 1)  # (V, H), <= 0 inside
    triangle_depth = depth[faces].max(1)  # (F, H): the shallowest of the three vertices
    owner = triangle_depth.argmin(1)
    owned = triangle_depth[np.arange(len(faces)), owner] <= ENCLOSURE_TOLERANCE_M
    added = 0
    for k in range(len(cores)):
        needed = np.unique(faces[owned & (owner == k)])
        cores[k], count = _add_within(cores[k], vertices[needed], margin_m)
        added += count
    # Triangles across hulls (CoACD cuts through them): the margin rounds off both hulls' edges at the
    # seam, so their surface (samples, SEAM_SAMPLES_PER_MM2), not only their vertices, is brought within reach.
    rest = [vertices[np.setdiff1d(np.arange(len(vertices)), np.unique(faces[owned]))]]
    if (~owned).any():
        seams = Hull(vertices, faces[~owned], np.zeros((0, 4)), 0.0)
        rest.append(surface_samples(seams, SEAM_SAMPLES_PER_MM2 * 1e6, np.random.default_rng(0)))
        rest.append(vertices[np.unique(faces[~owned])])
    rest += [loose] if loose is not None and len(loose) else []
    rest_points = np.vstack(rest)
    if len(rest_points):
        distance = np.stack([distance_outside(rest_points, core) for core in cores], 1)
        nearest = distance.argmin(1)
        for k in np.unique(nearest):
            cores[k], count = _add_within(cores[k], rest_points[nearest == k], margin_m)
            added += count
    cores = [enclosing_polytope(core, simplify_tolerance_m, max_vertices) for core in cores]
    record = {"margin_m": margin_m, "hulls_shrunk_less": int(sum(s < margin_m for s in shrinks)),
              "largest_excess_over_hull_m": float(margin_m - min(shrinks)), "points_added": added,
              "triangles_in_no_single_hull": int((~owned).sum())}
    return cores, record


def margin_quality(link: str, cores: list[Hull], margin_m: float, seed: int = 0) -> dict:
    """The figures of the solid PyBullet collides for ``cores`` with ``margin_m`` (each core grown by a
    ball): mesh vertices outside it (exact, max; <= 0 inside) and the deviation of its outer surface
    from the mesh (max, p99), on the cores' face samples pushed out by ``margin_m`` along the face
    normal and each core vertex pushed out along its mean face normal (the rounded edges between
    are not sampled), those on the boundary and outside the CAD solid (as :func:`quality`)."""
    vertices, faces = mesh(link)
    nearest = np.full(len(vertices), np.inf)
    for core in cores:
        nearest = np.minimum(nearest, distance_outside(vertices, core))
    rng = np.random.default_rng(seed)
    samples = []
    for k, core in enumerate(cores):
        corners = core.vertices[core.faces]
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        areas = 0.5 * np.linalg.norm(normals, axis=1)
        normals /= np.maximum(2 * areas, 1e-30)[:, None]
        count = max(50, int(areas.sum() * SAMPLES_PER_MM2 * 1e6))
        chosen = rng.choice(len(areas), size=count, p=areas / areas.sum())
        u, v = rng.random((2, count))
        flip = u + v > 1
        u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
        a, b, c = corners[chosen, 0], corners[chosen, 1], corners[chosen, 2]
        vertex_normals = np.zeros_like(core.vertices)
        np.add.at(vertex_normals, core.faces.ravel(), np.repeat(normals * areas[:, None], 3, axis=0))
        vertex_normals /= np.maximum(np.linalg.norm(vertex_normals, axis=1, keepdims=True), 1e-30)
        directions = np.vstack([normals[chosen], vertex_normals])
        points = np.vstack([a + u[:, None] * (b - a) + v[:, None] * (c - a), core.vertices]) + margin_m * directions
        pushed = points + _PUSH_M * directions
        inner = np.zeros(len(points), dtype=bool)
        for j, other in enumerate(cores):
            if j == k:
                continue
            close = ~inner & (signed_plane_distance(pushed, other) < margin_m)
            if close.any():
                inner[np.flatnonzero(close)] = distance_outside(pushed[close], other) < margin_m
        samples.append(points[~inner])
    outer = np.vstack(samples)
    deviation = distance_to_triangles(outer[outside_solid(link, outer)], vertices, faces)
    return {"outside_max_mm": round(float((nearest - margin_m).max()) * 1e3, 4),
            "deviation_max_mm": round(float(deviation.max()) * 1e3, 3),
            "deviation_p99_mm": round(float(np.percentile(deviation, 99)) * 1e3, 3)}


# --------------------------------------------------------------------------------------- CoACD per part
def _trimesh():  # type: ignore[no-untyped-def]
    try:
        import trimesh
    except ImportError:
        raise DependencyNotInstalled("trimesh", "geometry") from None
    return trimesh


def _coacd():  # type: ignore[no-untyped-def]
    try:
        import coacd
    except ImportError:
        raise DependencyNotInstalled("coacd", "geometry") from None
    return coacd


def link_parts(link: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The closed parts of ``link``'s mesh as ``(vertices (V, 3) m, faces (F, 3))``, and the vertices
    (N, 3) of flat parts (no volume: nothing to decompose; the enclosure step covers them)."""
    trimesh = _trimesh()
    vertices, faces = mesh(link)
    parts, flat = [], []
    # Face-connected bodies (trimesh's split): parts that only touch at a vertex stay apart.
    for body in trimesh.Trimesh(vertices, faces, process=False).split(only_watertight=False):
        part_vertices, part_faces = np.array(body.vertices), np.array(body.faces)
        try:
            volume = ConvexHull(part_vertices).volume
        except QhullError:
            volume = 0.0
        if volume <= 1e-12:  # below 1 mm^3: a patch
            flat.append(part_vertices)
        else:
            parts.append((part_vertices, part_faces))
    parts.sort(key=lambda part: -len(part[1]))
    return parts, (np.vstack(flat) if flat else np.zeros((0, 3)))


def _part_threshold(setting: Setting, link_extent_m: float, part_extent_m: float) -> float:
    """The part's CoACD threshold giving the same concavity in metres as ``setting.threshold`` on the link."""
    return float(min(1.0, setting.threshold * link_extent_m / part_extent_m))


def _run_part(vertices: np.ndarray, faces: np.ndarray, setting: Setting, threshold: float, seed: int,
              ) -> list[np.ndarray]:
    """CoACD on one part: the vertices (K, 3) of each hull."""
    coacd = _coacd()
    coacd.set_log_level("error")
    result = coacd.run_coacd(
        coacd.Mesh(vertices, faces), threshold=threshold, max_convex_hull=setting.max_part_hulls,
        preprocess_mode="auto", preprocess_resolution=setting.preprocess_resolution,
        resolution=setting.resolution, mcts_nodes=setting.mcts_nodes, mcts_iterations=setting.mcts_iterations,
        mcts_max_depth=setting.mcts_max_depth, merge=True, seed=seed,
    )
    return [np.asarray(hull_vertices, dtype=float) for hull_vertices, _ in result]


def _child(connection: multiprocessing.connection.Connection, vertices: np.ndarray, faces: np.ndarray,
           setting: Setting, threshold: float, seed: int) -> None:
    with open(os.devnull, "w") as devnull:  # CoACD prints its progress on C's stdout
        os.dup2(devnull.fileno(), 1)
    connection.send(_run_part(vertices, faces, setting, threshold, seed))
    connection.close()


@dataclass
class _Task:
    link: str
    index: int
    vertices: np.ndarray
    faces: np.ndarray
    threshold: float
    attempt: int = 0
    started: float = 0.0
    seconds: float = 0.0


def decompose_parts(tasks: list[_Task], setting: Setting, jobs: int) -> tuple[dict[tuple[str, int], list[np.ndarray]],
                                                                             list[str]]:
    """Run CoACD on every part, ``jobs`` processes at a time (one process per run, so a crash costs
    one part): ``({(link, part): [hull vertices]}, notes on retries and fallbacks)``."""
    context = multiprocessing.get_context("fork")
    pending = sorted(tasks, key=lambda task: -len(task.faces))  # the longest first
    running: dict[multiprocessing.connection.Connection, tuple[_Task, multiprocessing.Process]] = {}
    results: dict[tuple[str, int], list[np.ndarray]] = {}
    notes: list[str] = []

    def failed(task: _Task, why: str) -> None:
        if task.attempt < 1:
            notes.append(f"{task.link} part {task.index}: CoACD {why}; retried with seed {setting.seed + 1}")
            pending.insert(0, replace(task, attempt=task.attempt + 1))
        else:
            notes.append(f"{task.link} part {task.index}: CoACD {why} twice; its convex hull is used")
            results[(task.link, task.index)] = [task.vertices]

    while pending or running:
        while pending and len(running) < jobs:
            task = pending.pop(0)
            task.started = time.perf_counter()
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(sender, task.vertices, task.faces, setting,
                                                           task.threshold, setting.seed + task.attempt))
            process.start()
            sender.close()
            running[receiver] = (task, process)
        ready = multiprocessing.connection.wait(list(running), timeout=5.0)
        for receiver in ready:
            task, process = running.pop(receiver)
            try:
                results[(task.link, task.index)] = receiver.recv()
            except EOFError:
                process.join()
                failed(task, f"ended with exit code {process.exitcode}")
            receiver.close()
            process.join()
            task.seconds = time.perf_counter() - task.started
        for receiver, (task, process) in list(running.items()):
            if time.perf_counter() - task.started > PART_TIMEOUT_S:
                process.kill()
                process.join()
                receiver.close()
                del running[receiver]
                failed(task, f"ran over {PART_TIMEOUT_S:.0f} s")
    return results, notes


# --------------------------------------------------------------------------------------- per link
def enclose(hulls: list[Hull], points: np.ndarray) -> tuple[list[Hull], int, float]:
    """Add every point (N, 3) outside the union of ``hulls`` by more than :data:`ENCLOSURE_TOLERANCE_M`
    to its nearest hull and re-hull: ``(hulls, points added, largest distance before)``."""
    violation = np.stack([signed_plane_distance(points, hull) for hull in hulls], 1)  # (N, H)
    candidates = np.flatnonzero(violation.min(1) > ENCLOSURE_TOLERANCE_M)
    if len(candidates) == 0:
        return hulls, 0, 0.0
    distance = np.stack([distance_outside(points[candidates], hull) for hull in hulls], 1)
    outside = distance.min(1) > ENCLOSURE_TOLERANCE_M
    if not outside.any():
        return hulls, 0, float(distance.min(1).max())
    nearest = distance.argmin(1)
    hulls = list(hulls)
    for k in np.unique(nearest[outside]):
        extra = points[candidates[outside & (nearest == k)]]
        hulls[k] = make_hull(np.vstack([hulls[k].vertices, extra]))
    return hulls, int(outside.sum()), float(distance.min(1).max())


def quality(link: str, hulls: list[Hull], seed: int = 0) -> dict:
    """The figures of ``hulls`` against ``link``'s mesh (m): vertices outside the union (exact,
    max), and the deviation of the union's outer surface from the mesh (max, p99, mean): the
    distance to the mesh of area-uniform samples of the hulls' faces that lie on the union's
    boundary (pushed 10 um outwards, in no other hull) and outside the CAD solid (its closed
    parts; the union's faces against voids inside the solid are no excess)."""
    vertices, faces = mesh(link)
    violation = np.stack([signed_plane_distance(vertices, hull) for hull in hulls], 1)
    candidates = np.flatnonzero(violation.min(1) > 0)
    outside = 0.0
    if len(candidates):
        outside = float(np.stack([distance_outside(vertices[candidates], hull) for hull in hulls], 1).min(1).max())
    rng = np.random.default_rng(seed)
    samples = []
    for k, hull in enumerate(hulls):
        points, normals = surface_samples_with_normals(hull, SAMPLES_PER_MM2 * 1e6, rng)
        pushed = points + _PUSH_M * normals
        inner = np.zeros(len(points), dtype=bool)
        for j, other in enumerate(hulls):
            if j != k:
                inner |= signed_plane_distance(pushed, other) < 0
        samples.append(points[~inner])
    outer = np.vstack(samples)
    outer = outer[outside_solid(link, outer)]  # the union's faces inside the CAD solid are no excess
    deviation = distance_to_triangles(outer, vertices, faces)
    return {"outside_max_mm": round(outside * 1e3, 4), "deviation_max_mm": round(float(deviation.max()) * 1e3, 3),
            "deviation_p99_mm": round(float(np.percentile(deviation, 99)) * 1e3, 3),
            "deviation_mean_mm": round(float(deviation.mean()) * 1e3, 3), "surface_samples": len(outer)}


def round_hulls(hulls: list[Hull]) -> list[Hull]:
    """The hulls of the OBJ coordinates (rounded to :data:`OBJ_DECIMALS`): what is measured is what is written."""
    return [make_hull(np.round(hull.vertices, OBJ_DECIMALS)) for hull in hulls]


def write_obj(path: Path, link: str, hulls: list[Hull]) -> None:
    """One OBJ with an object ``hull_k`` per hull (vertices in metres, link frame; outward triangles)."""
    lines = [f"# {link}: {len(hulls)} convex hulls enclosing ROBOTIS' mesh (python -m sim.robot.decompose), metres"]
    offset = 1
    for k, hull in enumerate(hulls):
        lines.append(f"o hull_{k}")
        lines.extend(f"v {x:.{OBJ_DECIMALS}f} {y:.{OBJ_DECIMALS}f} {z:.{OBJ_DECIMALS}f}" for x, y, z in hull.vertices)
        lines.extend(f"f {a + offset} {b + offset} {c + offset}" for a, b, c in hull.faces)
        offset += len(hull.vertices)
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def read_obj(path: Path) -> list[np.ndarray]:
    """The vertices (K, 3) of each object of an OBJ written by :func:`write_obj`."""
    hulls: list[list[list[float]]] = []
    for line in Path(path).read_text(encoding="ascii").splitlines():
        if line.startswith("o "):
            hulls.append([])
        elif line.startswith("v "):
            hulls[-1].append([float(value) for value in line.split()[1:4]])
    return [np.array(hull) for hull in hulls]


def finish_link(link: str, part_hulls: list[list[np.ndarray]], flat: np.ndarray, setting: Setting,
                ) -> tuple[list[Hull], dict]:
    """From CoACD's hulls to the link's final hulls (simplified, merged, enclosing) and their record."""
    vertices, _ = mesh(link)
    raw = [make_hull(points) for hulls in part_hulls for points in hulls]
    record: dict = {"coacd_hulls": len(raw), "coacd_vertices": int(sum(len(h.vertices) for h in raw))}
    hulls = [enclosing_polytope(hull, setting.simplify_tolerance_m, setting.max_hull_vertices) for hull in raw]
    hulls = merge_hulls(hulls, setting.merge_tolerance_m, setting.max_link_hulls, seed=setting.seed)
    hulls, added, before = enclose(hulls, np.vstack([vertices, flat]))
    record["enclosure_fix"] = {"vertices_added": added, "largest_outside_before_mm": round(before * 1e3, 4)}
    hulls = round_hulls(hulls)
    hulls, added_after_rounding, _ = enclose(hulls, vertices)  # rounding to 1e-8 m cannot uncover more
    if added_after_rounding:
        hulls = round_hulls(hulls)
    record["hulls"] = len(hulls)
    record["vertices"] = int(sum(len(h.vertices) for h in hulls))
    record["max_hull_vertices"] = int(max(len(h.vertices) for h in hulls))
    return hulls, record


def _cache_key(task: _Task, setting: Setting) -> str:
    import hashlib

    later = ("simplify_tolerance_m", "max_hull_vertices", "merge_tolerance_m", "max_link_hulls")  # not CoACD's
    coacd_parameters = {key: value for key, value in asdict(setting).items() if key not in later}
    text = json.dumps([task.link, task.index, round(task.threshold, 12), coacd_parameters, _version("coacd")])
    digest = hashlib.sha256(text.encode() + np.ascontiguousarray(task.vertices).tobytes()).hexdigest()[:20]
    return f"{task.link}_{task.index}_{digest}.npz"


def _cache_load(cache: Path, task: _Task, setting: Setting) -> list[np.ndarray] | None:
    path = cache / _cache_key(task, setting)
    if not path.exists():
        return None
    with np.load(path) as data:
        return [data[f"hull_{k}"] for k in range(len(data.files))]


def _cache_save(cache: Path, task: _Task, setting: Setting, hulls: list[np.ndarray]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(cache / _cache_key(task, setting), **{f"hull_{k}": hull for k, hull in enumerate(hulls)})


def decompose(setting_name: str, out: Path, jobs: int, links: tuple[str, ...] = COLLISION_LINKS,
              cache: Path | None = None) -> dict:
    """Decompose every link of ``links``, write the OBJ files and ``manifest.json`` into ``out``;
    returns the manifest. ``cache``: a folder keeping CoACD's per-part results (keyed by part,
    threshold, CoACD's parameters and version), so the steps after CoACD can be rerun alone."""
    setting = SETTINGS[setting_name]
    _coacd()  # fail before any work if CoACD is missing
    started = time.perf_counter()
    tasks, flats = [], {}
    for link in links:
        parts, flats[link] = link_parts(link)
        link_extent = np.ptp(mesh(link)[0], axis=0).max()
        for index, (vertices, faces) in enumerate(parts):
            threshold = _part_threshold(setting, link_extent, np.ptp(vertices, axis=0).max())
            tasks.append(_Task(link, index, vertices, faces, threshold))
    cached = {(task.link, task.index): _cache_load(cache, task, setting) for task in tasks} if cache else {}
    results, notes = decompose_parts([task for task in tasks if cached.get((task.link, task.index)) is None],
                                     setting, jobs)
    if cache:
        for task in tasks:
            if (task.link, task.index) in results:
                _cache_save(cache, task, setting, results[(task.link, task.index)])
            else:
                results[(task.link, task.index)] = cached[(task.link, task.index)]
        notes.append(f"CoACD results of {sum(value is not None for value in cached.values())} of {len(tasks)} "
                     f"parts read from the cache {cache}")
    coacd_seconds = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    records = {}
    for link in links:
        link_started = time.perf_counter()
        mine = [task for task in tasks if task.link == link]
        hulls, record = finish_link(link, [results[(link, task.index)] for task in mine], flats[link], setting)
        record["parts"] = len(mine)
        record["flat_parts_vertices"] = len(flats[link])
        record["coacd_part_seconds"] = round(sum(task.seconds for task in mine), 1)
        record["part_thresholds"] = [round(task.threshold, 4) for task in mine]
        record.update(quality(link, hulls, seed=setting.seed))
        path = out / f"{link}.obj"
        write_obj(path, link, hulls)
        record["file"] = path.name
        record["file_bytes"] = path.stat().st_size
        cores, core_record = margin_cores(hulls, PYBULLET_URDF_MARGIN_M, *mesh(link), flats[link],
                                          simplify_tolerance_m=setting.simplify_tolerance_m,
                                          max_vertices=setting.max_hull_vertices)
        cores = round_hulls(cores)
        (out / "pybullet").mkdir(exist_ok=True)
        write_obj(out / "pybullet" / f"{link}.obj", link, cores)
        record["pybullet_cores"] = {**core_record, "vertices": int(sum(len(core.vertices) for core in cores)),
                                    "max_hull_vertices": int(max(len(core.vertices) for core in cores)),
                                    **margin_quality(link, cores, PYBULLET_URDF_MARGIN_M, seed=setting.seed),
                                    "file": f"pybullet/{link}.obj"}
        record["postprocess_seconds"] = round(time.perf_counter() - link_started, 1)
        records[link] = record
        print(f"{link}: {record['hulls']} hulls, {record['vertices']} vertices, outside {record['outside_max_mm']} mm, "
              f"deviation max {record['deviation_max_mm']} / p99 {record['deviation_p99_mm']} mm", flush=True)
        cores_record = record["pybullet_cores"]
        print(f"  PyBullet cores + {PYBULLET_URDF_MARGIN_M * 1e3:g} mm: outside {cores_record['outside_max_mm']} mm, "
              f"deviation max {cores_record['deviation_max_mm']} / p99 {cores_record['deviation_p99_mm']} mm",
              flush=True)
    manifest = {
        "command": "python -m sim.robot.decompose " + " ".join(sys.argv[1:]),
        "setting": setting_name,
        "parameters": asdict(setting),
        "coacd_version": _version("coacd"),
        "coacd_call": "coacd.run_coacd(part, threshold=part threshold, max_convex_hull=max_part_hulls, "
                      "preprocess_mode='auto', merge=True, other parameters as listed)",
        "mesh_frames": {link: {"origin_m": MESH_ORIGINS_M[link], "units": "m, link frame"} for link in links},
        "enclosure_tolerance_m": ENCLOSURE_TOLERANCE_M,
        "deviation": "outer surface of the union of hulls (area-uniform samples, "
                     f"{SAMPLES_PER_MM2:g} per mm^2, those in no other hull) to ROBOTIS' mesh, exact point-to-triangle",
        "pybullet_cores": f"pybullet/<link>.obj: the hulls shrunk for PyBullet's {PYBULLET_URDF_MARGIN_M * 1e3:g} mm "
                          "URDF margin (see margin_cores); the solid PyBullet collides for them is each core grown "
                          "by the margin; their figures are of that solid (face and vertex samples)",
        "jobs": jobs,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "wall_seconds": {"coacd": round(coacd_seconds, 1), "total": round(time.perf_counter() - started, 1)},
        "notes": notes,
        "links": records,
        "totals": {"hulls": sum(r["hulls"] for r in records.values()),
                   "vertices": sum(r["vertices"] for r in records.values())},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def check(directory: Path) -> dict:
    """Re-measure the hulls in ``directory`` (figures as in the manifest), writing nothing."""
    figures = {}
    for link in COLLISION_LINKS:
        path = directory / f"{link}.obj"
        if not path.exists():
            raise InvalidInputError(f"{path} is missing; run python -m sim.robot.decompose")
        hulls = [make_hull(points) for points in read_obj(path)]
        figures[link] = {"hulls": len(hulls), **quality(link, hulls)}
        cores_path = directory / "pybullet" / f"{link}.obj"
        if cores_path.exists():
            cores = [make_hull(points) for points in read_obj(cores_path)]
            figures[link]["pybullet_cores"] = margin_quality(link, cores, PYBULLET_URDF_MARGIN_M)
        print(link, figures[link], flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", choices=sorted(SETTINGS), default=DEFAULT_SETTING)
    parser.add_argument("--out", type=Path, default=HULL_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="CoACD processes at once (default: %(default)s)")
    parser.add_argument("--links", nargs="+", choices=COLLISION_LINKS, default=list(COLLISION_LINKS))
    parser.add_argument("--check", action="store_true", help="re-measure the hulls in --out, write nothing")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder keeping CoACD's per-part results between runs (default: none)")
    arguments = parser.parse_args(argv)
    if arguments.jobs < 1:
        parser.error("--jobs must be at least 1")
    if arguments.check:
        check(arguments.out)
        return 0
    print(f"setting {arguments.setting}: {SETTINGS[arguments.setting]}; output {arguments.out}", flush=True)
    manifest = decompose(arguments.setting, arguments.out, arguments.jobs, tuple(arguments.links), arguments.cache)
    print(f"{manifest['totals']['hulls']} hulls, {manifest['totals']['vertices']} vertices; "
          f"wall {manifest['wall_seconds']['total']} s; {arguments.out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

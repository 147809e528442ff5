"""Compiled queries on ROBOTIS' full-resolution meshes (numba): the truth channel's inner loops.

Each link's triangles sit in a bounding-sphere tree (:func:`build_tree`). Three queries run on it:

* :func:`link_obstacle_minimum`: the smallest signed distance field value of a convex obstacle
  (sphere, box, cylinder) over the link's surface: branch and bound over the tree (a node's bound
  is the field at its centre minus its radius: the field is 1-Lipschitz), then, per triangle,
  over sub-triangles bounded below by the field's tangent plane at their centroid (a convex
  obstacle's signed distance field is convex, so the tangent plane lies below it), refined until
  the bound is within ``tolerance`` of the best value found. The value is at most ``tolerance``
  above the exact minimum over the mesh surface, and never below it.
* :func:`pair_gap`: the exact distance between two links' surfaces (0 where they cross), by a
  dual traversal of both trees and exact triangle-triangle distances.
* the table needs no tree: the lowest point of a mesh is a vertex of its convex hull.

All geometry is in metres; obstacles come as the sphere kernel takes them (kind codes, centres,
body-to-base rotations, padded sizes).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sim.robot._sphere_kernel import _sdf, configuration_frames

_STACK = 256  # traversal stacks (tree depth ~16; triangle refinement depth ~24, 3 entries a level)
_REFINE_LIMIT = 4096
_COARSE_CUTOFF_M = 0.03  # a link's ball this clear of an obstacle stands for its spheres (step_contacts)


# ------------------------------------------------------------------------------------------ trees
@numba.njit(cache=True)
def build_tree(triangles: np.ndarray, leaf_size: int) -> tuple[np.ndarray, ...]:
    """A bounding-volume tree over triangles (F, 3, 3): median splits of the centroids along the
    widest axis, down to ``leaf_size`` triangles.

    Returns:
        ``(order (F,), centre (N, 3), half (N, 3), radius (N,), left (N,), right (N,), start (N,),
        count (N,))``: the triangles' order (leaves hold ``order[start:start + count]``), each
        node's axis-aligned box (centre, half extents) and the sphere about the same centre that
        encloses every vertex of its triangles, children (-1 at leaves).
    """
    faces = triangles.shape[0]
    centroid = np.empty((faces, 3))
    for f in range(faces):
        for i in range(3):
            centroid[f, i] = (triangles[f, 0, i] + triangles[f, 1, i] + triangles[f, 2, i]) / 3.0
    order = np.arange(faces)
    capacity = 2 * faces + 1
    centre = np.zeros((capacity, 3))
    half = np.zeros((capacity, 3))
    radius = np.zeros(capacity)
    left = np.full(capacity, -1, dtype=np.int64)
    right = np.full(capacity, -1, dtype=np.int64)
    start = np.zeros(capacity, dtype=np.int64)
    count = np.zeros(capacity, dtype=np.int64)
    count[0] = faces
    nodes = 1
    stack = np.empty(capacity, dtype=np.int64)
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        first, size = start[node], count[node]
        low = np.full(3, np.inf)
        high = np.full(3, -np.inf)
        for k in range(first, first + size):
            for corner in range(3):
                for i in range(3):
                    value = triangles[order[k], corner, i]
                    low[i] = min(low[i], value)
                    high[i] = max(high[i], value)
        reach = 0.0
        for i in range(3):
            centre[node, i] = 0.5 * (low[i] + high[i])
            half[node, i] = 0.5 * (high[i] - low[i]) * (1.0 + 1e-12) + 1e-12
        for k in range(first, first + size):
            for corner in range(3):
                dx = triangles[order[k], corner, 0] - centre[node, 0]
                dy = triangles[order[k], corner, 1] - centre[node, 1]
                dz = triangles[order[k], corner, 2] - centre[node, 2]
                reach = max(reach, dx * dx + dy * dy + dz * dz)
        radius[node] = math.sqrt(reach) * (1.0 + 1e-12) + 1e-12
        if size <= leaf_size:
            continue
        clow = np.full(3, np.inf)
        chigh = np.full(3, -np.inf)
        for k in range(first, first + size):
            for i in range(3):
                clow[i] = min(clow[i], centroid[order[k], i])
                chigh[i] = max(chigh[i], centroid[order[k], i])
        axis = 0
        for i in range(1, 3):
            if chigh[i] - clow[i] > chigh[axis] - clow[axis]:
                axis = i
        members = order[first:first + size].copy()
        keys = np.empty(size)
        for k in range(size):
            keys[k] = centroid[members[k], axis]
        ranked = np.argsort(keys, kind="mergesort")
        for k in range(size):
            order[first + k] = members[ranked[k]]
        middle = size // 2
        left[node], right[node] = nodes, nodes + 1
        start[nodes], count[nodes] = first, middle
        start[nodes + 1], count[nodes + 1] = first + middle, size - middle
        stack[top], stack[top + 1] = nodes, nodes + 1
        top += 2
        nodes += 2
    return (order, centre[:nodes].copy(), half[:nodes].copy(), radius[:nodes].copy(), left[:nodes].copy(),
            right[:nodes].copy(), start[:nodes].copy(), count[:nodes].copy())


# ------------------------------------------------------------------------------- fields and frames
@numba.njit(cache=True)
def triangle_spots(triangles: np.ndarray) -> np.ndarray:
    """(T, 4): each triangle's centroid and the distance from it to its farthest corner (m)."""
    spot = np.empty((triangles.shape[0], 4))
    for k in range(triangles.shape[0]):
        for i in range(3):
            spot[k, i] = (triangles[k, 0, i] + triangles[k, 1, i] + triangles[k, 2, i]) / 3.0
        reach = 0.0
        for corner in range(3):
            dx = triangles[k, corner, 0] - spot[k, 0]
            dy = triangles[k, corner, 1] - spot[k, 1]
            dz = triangles[k, corner, 2] - spot[k, 2]
            reach = max(reach, dx * dx + dy * dy + dz * dz)
        spot[k, 3] = math.sqrt(reach) * (1.0 + 1e-12) + 1e-12
    return spot


@numba.njit(cache=True, inline="always")
def _sign(value: float) -> float:
    return 1.0 if value > 0.0 else (-1.0 if value < 0.0 else 0.0)


@numba.njit(cache=True, inline="always")
def _sdf_gradient(x: float, y: float, z: float, kind: int, s0: float, s1: float,
                  s2: float) -> tuple[float, float, float, float]:
    """A convex primitive's signed distance at a local point and a subgradient there (local frame)."""
    if kind == 0:
        norm = math.sqrt(x * x + y * y + z * z)
        if norm > 0.0:
            return norm - s0, x / norm, y / norm, z / norm
        return -s0, 0.0, 0.0, 0.0
    if kind == 1:
        ex, ey, ez = abs(x) - s0, abs(y) - s1, abs(z) - s2
        ox, oy, oz = max(ex, 0.0), max(ey, 0.0), max(ez, 0.0)
        outside = math.sqrt(ox * ox + oy * oy + oz * oz)
        if outside > 0.0:
            return outside, _sign(x) * ox / outside, _sign(y) * oy / outside, _sign(z) * oz / outside
        if ex >= ey and ex >= ez:
            return ex, _sign(x), 0.0, 0.0
        if ey >= ez:
            return ey, 0.0, _sign(y), 0.0
        return ez, 0.0, 0.0, _sign(z)
    planar = math.sqrt(x * x + y * y)
    radial, axial = planar - s0, abs(z) - s1
    ux, uy = (x / planar, y / planar) if planar > 0.0 else (0.0, 0.0)
    orad, oax = max(radial, 0.0), max(axial, 0.0)
    outside = math.sqrt(orad * orad + oax * oax)
    if outside > 0.0:
        return outside, ux * orad / outside, uy * orad / outside, _sign(z) * oax / outside
    if radial >= axial:
        return radial, ux, uy, 0.0
    return axial, 0.0, 0.0, _sign(z)


@numba.njit(cache=True)
def obstacle_in_link(link_position: np.ndarray, link_rotation: np.ndarray, origin: np.ndarray,
                     rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(M, b)``: a link-frame point ``p`` is at ``M p + b`` in the obstacle's frame
    (``M = R_o^T R_l``, ``b = R_o^T (t_l - o)``)."""
    matrix = np.empty((3, 3))
    offset = np.empty(3)
    for i in range(3):
        for j in range(3):
            matrix[i, j] = (rotation[0, i] * link_rotation[0, j] + rotation[1, i] * link_rotation[1, j]
                            + rotation[2, i] * link_rotation[2, j])
        offset[i] = (rotation[0, i] * (link_position[0] - origin[0]) + rotation[1, i] * (link_position[1] - origin[1])
                     + rotation[2, i] * (link_position[2] - origin[2]))
    return matrix, offset


@numba.njit(cache=True)
def _relative_frame(positions: np.ndarray, rotations: np.ndarray, first: int, second: int, rotation: np.ndarray,
                    offset: np.ndarray) -> None:
    """Frame ``second`` in frame ``first`` (of frames (F, 3), (F, 3, 3)), into ``rotation`` (3, 3) and
    ``offset`` (3,): ``p_first = rotation @ p_second + offset``."""
    for i in range(3):
        offset[i] = 0.0
        for k in range(3):
            offset[i] += rotations[first, k, i] * (positions[second, k] - positions[first, k])
        for j in range(3):
            rotation[i, j] = 0.0
            for k in range(3):
                rotation[i, j] += rotations[first, k, i] * rotations[second, k, j]


@numba.njit(cache=True, inline="always")
def _to_base(position: np.ndarray, rotation: np.ndarray, point: np.ndarray) -> tuple[float, float, float]:
    """A frame-local point (3,) in the base frame, given the frame's position (3,) and rotation (3, 3)."""
    return (position[0] + rotation[0, 0] * point[0] + rotation[0, 1] * point[1] + rotation[0, 2] * point[2],
            position[1] + rotation[1, 0] * point[0] + rotation[1, 1] * point[1] + rotation[1, 2] * point[2],
            position[2] + rotation[2, 0] * point[0] + rotation[2, 1] * point[1] + rotation[2, 2] * point[2])


@numba.njit(cache=True, inline="always")
def _field(px: float, py: float, pz: float, matrix: np.ndarray, offset: np.ndarray, kind: int, s0: float,
           s1: float, s2: float) -> float:
    x = matrix[0, 0] * px + matrix[0, 1] * py + matrix[0, 2] * pz + offset[0]
    y = matrix[1, 0] * px + matrix[1, 1] * py + matrix[1, 2] * pz + offset[1]
    z = matrix[2, 0] * px + matrix[2, 1] * py + matrix[2, 2] * pz + offset[2]
    return _sdf(x, y, z, kind, s0, s1, s2)


# ----------------------------------------------------------------------------- link vs obstacle
@numba.njit(cache=True)
def _triangle_minimum(triangle: np.ndarray, matrix: np.ndarray, offset: np.ndarray, kind: int, s0: float,
                      s1: float, s2: float, best: float, tolerance: float, witness: np.ndarray,
                      work: np.ndarray) -> float:
    """min(best, smallest field value over the triangle (3, 3) found to within ``tolerance``);
    ``witness`` takes the point of a new best (link frame). A sphere's is exact: the distance from
    its centre to the triangle's nearest point, minus its radius."""
    if kind == 0:  # the sphere's centre (the obstacle frame's origin) in the link frame: M^T (0 - b)
        ox = -(matrix[0, 0] * offset[0] + matrix[1, 0] * offset[1] + matrix[2, 0] * offset[2])
        oy = -(matrix[0, 1] * offset[0] + matrix[1, 1] * offset[1] + matrix[2, 1] * offset[2])
        oz = -(matrix[0, 2] * offset[0] + matrix[1, 2] * offset[1] + matrix[2, 2] * offset[2])
        qx, qy, qz = _closest_on_triangle(ox, oy, oz, triangle[0, 0], triangle[0, 1], triangle[0, 2], triangle[1, 0],
                                          triangle[1, 1], triangle[1, 2], triangle[2, 0], triangle[2, 1],
                                          triangle[2, 2])
        value = math.sqrt((qx - ox) ** 2 + (qy - oy) ** 2 + (qz - oz) ** 2) - s0
        if value < best:
            best = value
            witness[0], witness[1], witness[2] = qx, qy, qz
        return best
    for i in range(3):
        for j in range(3):
            work[0, 3 * i + j] = triangle[i, j]
    top = 1
    visits = 0
    while top > 0 and visits < _REFINE_LIMIT:
        visits += 1
        top -= 1
        ax, ay, az = work[top, 0], work[top, 1], work[top, 2]
        bx, by, bz = work[top, 3], work[top, 4], work[top, 5]
        cx, cy, cz = work[top, 6], work[top, 7], work[top, 8]
        mx, my, mz = (ax + bx + cx) / 3.0, (ay + by + cy) / 3.0, (az + bz + cz) / 3.0
        lx = matrix[0, 0] * mx + matrix[0, 1] * my + matrix[0, 2] * mz + offset[0]
        ly = matrix[1, 0] * mx + matrix[1, 1] * my + matrix[1, 2] * mz + offset[1]
        lz = matrix[2, 0] * mx + matrix[2, 1] * my + matrix[2, 2] * mz + offset[2]
        value, gx, gy, gz = _sdf_gradient(lx, ly, lz, kind, s0, s1, s2)
        if value < best:
            best = value
            witness[0], witness[1], witness[2] = mx, my, mz
        # The subgradient in the link frame: M^T g; the tangent plane's minimum is at a corner.
        hx = matrix[0, 0] * gx + matrix[1, 0] * gy + matrix[2, 0] * gz
        hy = matrix[0, 1] * gx + matrix[1, 1] * gy + matrix[2, 1] * gz
        hz = matrix[0, 2] * gx + matrix[1, 2] * gy + matrix[2, 2] * gz
        lowest = min(hx * (ax - mx) + hy * (ay - my) + hz * (az - mz),
                     min(hx * (bx - mx) + hy * (by - my) + hz * (bz - mz),
                         hx * (cx - mx) + hy * (cy - my) + hz * (cz - mz)))
        if value + lowest >= best - tolerance or top + 4 > work.shape[0]:
            continue
        abx, aby, abz = 0.5 * (ax + bx), 0.5 * (ay + by), 0.5 * (az + bz)
        bcx, bcy, bcz = 0.5 * (bx + cx), 0.5 * (by + cy), 0.5 * (bz + cz)
        cax, cay, caz = 0.5 * (cx + ax), 0.5 * (cy + ay), 0.5 * (cz + az)
        for corners in ((ax, ay, az, abx, aby, abz, cax, cay, caz), (abx, aby, abz, bx, by, bz, bcx, bcy, bcz),
                        (cax, cay, caz, bcx, bcy, bcz, cx, cy, cz), (abx, aby, abz, bcx, bcy, bcz, cax, cay, caz)):
            for k in range(9):
                work[top, k] = corners[k]
            top += 1
    return best


@numba.njit(cache=True, inline="always")
def _node_field_bound(node: int, centre: np.ndarray, half: np.ndarray, matrix: np.ndarray, offset: np.ndarray,
                      kind: int, s0: float, s1: float, s2: float) -> float:
    """A lower bound of the field over a node's box: the tangent plane at the box centre, at its
    lowest corner (the field is convex). Tight where a flat patch faces the obstacle."""
    px, py, pz = centre[node, 0], centre[node, 1], centre[node, 2]
    x = matrix[0, 0] * px + matrix[0, 1] * py + matrix[0, 2] * pz + offset[0]
    y = matrix[1, 0] * px + matrix[1, 1] * py + matrix[1, 2] * pz + offset[1]
    z = matrix[2, 0] * px + matrix[2, 1] * py + matrix[2, 2] * pz + offset[2]
    value, gx, gy, gz = _sdf_gradient(x, y, z, kind, s0, s1, s2)
    hx = matrix[0, 0] * gx + matrix[1, 0] * gy + matrix[2, 0] * gz
    hy = matrix[0, 1] * gx + matrix[1, 1] * gy + matrix[2, 1] * gz
    hz = matrix[0, 2] * gx + matrix[1, 2] * gy + matrix[2, 2] * gz
    return value - (abs(hx) * half[node, 0] + abs(hy) * half[node, 1] + abs(hz) * half[node, 2])


@numba.njit(cache=True)
def link_obstacle_minimum(root: int, triangles: np.ndarray, spot: np.ndarray, centre: np.ndarray, half: np.ndarray,
                          radius: np.ndarray, left: np.ndarray, right: np.ndarray, start: np.ndarray,
                          count: np.ndarray, matrix: np.ndarray, offset: np.ndarray, kind: int, s0: float, s1: float,
                          s2: float, tolerance: float, witness: np.ndarray, cap: float = np.inf,
                          stop: float = -np.inf) -> float:
    """The smallest signed distance (m) of the obstacle over one link's mesh surface (see the
    module doc), or ``cap`` if none is below it; ``witness`` takes its point (link frame). The
    search ends early once a value at or below ``stop`` is found (a touch, when only that matters).

    Args:
        root: the link's root node; triangles (T, 3, 3) and the tree arrays of every link (global indices).
        matrix, offset: the link-to-obstacle map of :func:`obstacle_in_link`.
        kind, s0, s1, s2: the obstacle's kind code and padded size.
        tolerance: refinement tolerance (m).
    """
    best = cap
    nodes = np.empty(_STACK, dtype=np.int64)
    bounds = np.empty(_STACK)
    work = np.empty((_STACK, 9))
    nodes[0] = root
    bounds[0] = -np.inf
    top = 1
    while top > 0:
        top -= 1
        node = nodes[top]
        if bounds[top] >= best - tolerance:
            continue
        if left[node] < 0:
            for k in range(start[node], start[node] + count[node]):
                best = _triangle_minimum(triangles[k], matrix, offset, kind, s0, s1, s2, best, tolerance, witness,
                                         work)
            if best <= stop:
                return best
            continue
        a, b = left[node], right[node]
        bound_a = _node_field_bound(a, centre, half, matrix, offset, kind, s0, s1, s2)
        bound_b = _node_field_bound(b, centre, half, matrix, offset, kind, s0, s1, s2)
        if bound_a > bound_b:  # the nearer child is visited first
            a, b = b, a
            bound_a, bound_b = bound_b, bound_a
        if top + 2 > _STACK:
            raise RuntimeError("tree deeper than the traversal stack")
        if bound_b < best - tolerance:
            nodes[top], bounds[top] = b, bound_b
            top += 1
        if bound_a < best - tolerance:
            nodes[top], bounds[top] = a, bound_a
            top += 1
    return best


# ------------------------------------------------------------------------------------- link pairs
@numba.njit(cache=True, inline="always")
def _point_triangle(px: float, py: float, pz: float, ax: float, ay: float, az: float, bx: float, by: float,
                    bz: float, cx: float, cy: float, cz: float) -> float:
    """Squared distance from point p to triangle abc (Ericson, Real-Time Collision Detection 5.1.5)."""
    qx, qy, qz = _closest_on_triangle(px, py, pz, ax, ay, az, bx, by, bz, cx, cy, cz)
    dx, dy, dz = px - qx, py - qy, pz - qz
    return dx * dx + dy * dy + dz * dz


@numba.njit(cache=True, inline="always")
def _closest_on_triangle(px: float, py: float, pz: float, ax: float, ay: float, az: float, bx: float, by: float,
                         bz: float, cx: float, cy: float, cz: float) -> tuple[float, float, float]:
    """The point of triangle abc nearest to p (Ericson, Real-Time Collision Detection 5.1.5)."""
    abx, aby, abz = bx - ax, by - ay, bz - az
    acx, acy, acz = cx - ax, cy - ay, cz - az
    d1 = abx * (px - ax) + aby * (py - ay) + abz * (pz - az)
    d2 = acx * (px - ax) + acy * (py - ay) + acz * (pz - az)
    d3 = abx * (px - bx) + aby * (py - by) + abz * (pz - bz)
    d4 = acx * (px - bx) + acy * (py - by) + acz * (pz - bz)
    d5 = abx * (px - cx) + aby * (py - cy) + abz * (pz - cz)
    d6 = acx * (px - cx) + acy * (py - cy) + acz * (pz - cz)
    vc, vb, va = d1 * d4 - d3 * d2, d5 * d2 - d1 * d6, d3 * d6 - d5 * d4
    if d1 <= 0.0 and d2 <= 0.0:
        qx, qy, qz = ax, ay, az
    elif d3 >= 0.0 and d4 <= d3:
        qx, qy, qz = bx, by, bz
    elif d6 >= 0.0 and d5 <= d6:
        qx, qy, qz = cx, cy, cz
    elif vc <= 0.0 and d1 >= 0.0 and d3 <= 0.0:
        v = d1 / (d1 - d3)
        qx, qy, qz = ax + v * abx, ay + v * aby, az + v * abz
    elif vb <= 0.0 and d2 >= 0.0 and d6 <= 0.0:
        w = d2 / (d2 - d6)
        qx, qy, qz = ax + w * acx, ay + w * acy, az + w * acz
    elif va <= 0.0 and (d4 - d3) >= 0.0 and (d5 - d6) >= 0.0:
        w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        qx, qy, qz = bx + w * (cx - bx), by + w * (cy - by), bz + w * (cz - bz)
    else:
        total = va + vb + vc
        if total == 0.0:  # a zero-area triangle: its edges' distances cover it
            qx, qy, qz = ax, ay, az
        else:
            v, w = vb / total, vc / total
            qx, qy, qz = ax + abx * v + acx * w, ay + aby * v + acy * w, az + abz * v + acz * w
    return qx, qy, qz


@numba.njit(cache=True, inline="always")
def _segment_segment(p1x: float, p1y: float, p1z: float, q1x: float, q1y: float, q1z: float, p2x: float,
                     p2y: float, p2z: float, q2x: float, q2y: float, q2z: float) -> float:
    """Squared distance between segments p1q1 and p2q2 (Ericson 5.1.9, degenerate segments too)."""
    d1x, d1y, d1z = q1x - p1x, q1y - p1y, q1z - p1z
    d2x, d2y, d2z = q2x - p2x, q2y - p2y, q2z - p2z
    rx, ry, rz = p1x - p2x, p1y - p2y, p1z - p2z
    a = d1x * d1x + d1y * d1y + d1z * d1z
    e = d2x * d2x + d2y * d2y + d2z * d2z
    f = d2x * rx + d2y * ry + d2z * rz
    tiny = 1e-30
    if a <= tiny and e <= tiny:
        s = t = 0.0
    elif a <= tiny:
        s, t = 0.0, min(max(f / e, 0.0), 1.0)
    else:
        c = d1x * rx + d1y * ry + d1z * rz
        if e <= tiny:
            t, s = 0.0, min(max(-c / a, 0.0), 1.0)
        else:
            b = d1x * d2x + d1y * d2y + d1z * d2z
            denominator = a * e - b * b
            s = min(max((b * f - c * e) / denominator, 0.0), 1.0) if denominator > tiny else 0.0
            t = (b * s + f) / e
            if t < 0.0:
                t, s = 0.0, min(max(-c / a, 0.0), 1.0)
            elif t > 1.0:
                t, s = 1.0, min(max((b - c) / a, 0.0), 1.0)
    dx = p1x + d1x * s - (p2x + d2x * t)
    dy = p1y + d1y * s - (p2y + d2y * t)
    dz = p1z + d1z * s - (p2z + d2z * t)
    return dx * dx + dy * dy + dz * dz


@numba.njit(cache=True, inline="always")
def _segment_crosses(px: float, py: float, pz: float, qx: float, qy: float, qz: float, ax: float, ay: float,
                     az: float, bx: float, by: float, bz: float, cx: float, cy: float, cz: float) -> bool:
    """Whether segment pq meets triangle abc (Moller-Trumbore; coplanar cases are left to the
    distance tests, which find 0 there)."""
    e1x, e1y, e1z = bx - ax, by - ay, bz - az
    e2x, e2y, e2z = cx - ax, cy - ay, cz - az
    dx, dy, dz = qx - px, qy - py, qz - pz
    hx, hy, hz = dy * e2z - dz * e2y, dz * e2x - dx * e2z, dx * e2y - dy * e2x
    det = e1x * hx + e1y * hy + e1z * hz
    if abs(det) < 1e-30:
        return False
    inverse = 1.0 / det
    sx, sy, sz = px - ax, py - ay, pz - az
    u = inverse * (sx * hx + sy * hy + sz * hz)
    if u < 0.0 or u > 1.0:
        return False
    kx, ky, kz = sy * e1z - sz * e1y, sz * e1x - sx * e1z, sx * e1y - sy * e1x
    v = inverse * (dx * kx + dy * ky + dz * kz)
    if v < 0.0 or u + v > 1.0:
        return False
    t = inverse * (e2x * kx + e2y * ky + e2z * kz)
    return 0.0 <= t <= 1.0


@numba.njit(cache=True)
def triangle_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Exact distance between triangles (3, 3) and (3, 3): 0 if they meet, else the smallest of the
    nine edge-edge and six corner-face distances."""
    a0x, a0y, a0z = first[0, 0], first[0, 1], first[0, 2]
    a1x, a1y, a1z = first[1, 0], first[1, 1], first[1, 2]
    a2x, a2y, a2z = first[2, 0], first[2, 1], first[2, 2]
    b0x, b0y, b0z = second[0, 0], second[0, 1], second[0, 2]
    b1x, b1y, b1z = second[1, 0], second[1, 1], second[1, 2]
    b2x, b2y, b2z = second[2, 0], second[2, 1], second[2, 2]
    if (_segment_crosses(a0x, a0y, a0z, a1x, a1y, a1z, b0x, b0y, b0z, b1x, b1y, b1z, b2x, b2y, b2z)
            or _segment_crosses(a1x, a1y, a1z, a2x, a2y, a2z, b0x, b0y, b0z, b1x, b1y, b1z, b2x, b2y, b2z)
            or _segment_crosses(a2x, a2y, a2z, a0x, a0y, a0z, b0x, b0y, b0z, b1x, b1y, b1z, b2x, b2y, b2z)
            or _segment_crosses(b0x, b0y, b0z, b1x, b1y, b1z, a0x, a0y, a0z, a1x, a1y, a1z, a2x, a2y, a2z)
            or _segment_crosses(b1x, b1y, b1z, b2x, b2y, b2z, a0x, a0y, a0z, a1x, a1y, a1z, a2x, a2y, a2z)
            or _segment_crosses(b2x, b2y, b2z, b0x, b0y, b0z, a0x, a0y, a0z, a1x, a1y, a1z, a2x, a2y, a2z)):
        return 0.0
    best = _point_triangle(a0x, a0y, a0z, b0x, b0y, b0z, b1x, b1y, b1z, b2x, b2y, b2z)
    best = min(best, _point_triangle(a1x, a1y, a1z, b0x, b0y, b0z, b1x, b1y, b1z, b2x, b2y, b2z))
    best = min(best, _point_triangle(a2x, a2y, a2z, b0x, b0y, b0z, b1x, b1y, b1z, b2x, b2y, b2z))
    best = min(best, _point_triangle(b0x, b0y, b0z, a0x, a0y, a0z, a1x, a1y, a1z, a2x, a2y, a2z))
    best = min(best, _point_triangle(b1x, b1y, b1z, a0x, a0y, a0z, a1x, a1y, a1z, a2x, a2y, a2z))
    best = min(best, _point_triangle(b2x, b2y, b2z, a0x, a0y, a0z, a1x, a1y, a1z, a2x, a2y, a2z))
    for i in range(3):
        p = first[i]
        q = first[(i + 1) % 3]
        for j in range(3):
            r = second[j]
            t = second[(j + 1) % 3]
            best = min(best, _segment_segment(p[0], p[1], p[2], q[0], q[1], q[2], r[0], r[1], r[2], t[0], t[1], t[2]))
    return math.sqrt(best)


@numba.njit(cache=True)
def pair_gap(root_a: int, root_b: int, triangles: np.ndarray, spot: np.ndarray, centre: np.ndarray,
             half: np.ndarray, radius: np.ndarray, left: np.ndarray, right: np.ndarray, start: np.ndarray,
             count: np.ndarray, rotation: np.ndarray, offset: np.ndarray, best: float, tolerance: float,
             witness: np.ndarray) -> float:
    """min(best, distance between the surfaces of two links' meshes), 0 where they cross.

    A node pair is skipped once its bound is within ``min(tolerance, best / 2)`` of the best gap
    found, so the result is at most that much above the exact distance (and 0 whenever the
    surfaces cross: a crossing pair's bound is at most 0, below ``best / 2``). Nearly parallel
    surfaces of fine tessellation would otherwise be searched leaf pair by leaf pair.

    Args:
        root_a, root_b: the two links' root nodes; the tree arrays of every link; spot (T, 4) each
            triangle's centroid and the radius about it that reaches its corners.
        rotation, offset: link b's frame in link a's (``p_a = rotation @ p_b + offset``).
        best: a known upper bound (m).
        tolerance: the search tolerance (m).
        witness: (3,) takes the centroid of link a's triangle of a new best pair (link a's frame).
    """
    stack_a = np.empty(_STACK, dtype=np.int64)
    stack_b = np.empty(_STACK, dtype=np.int64)
    bounds = np.empty(_STACK)
    moved = np.empty((3, 3))
    stack_a[0], stack_b[0], bounds[0] = root_a, root_b, -np.inf
    top = 1
    while top > 0:
        top -= 1
        a, b = stack_a[top], stack_b[top]
        if bounds[top] >= best - min(tolerance, 0.5 * best):
            continue
        leaf_a, leaf_b = left[a] < 0, left[b] < 0
        if leaf_a and leaf_b:
            for kb in range(start[b], start[b] + count[b]):
                mx = my = mz = 0.0
                for corner in range(3):
                    for i in range(3):
                        moved[corner, i] = (rotation[i, 0] * triangles[kb, corner, 0]
                                            + rotation[i, 1] * triangles[kb, corner, 1]
                                            + rotation[i, 2] * triangles[kb, corner, 2] + offset[i])
                    mx += moved[corner, 0] / 3.0
                    my += moved[corner, 1] / 3.0
                    mz += moved[corner, 2] / 3.0
                for ka in range(start[a], start[a] + count[a]):
                    # The triangles' spheres about their centroids first: most pairs end there.
                    dx, dy, dz = mx - spot[ka, 0], my - spot[ka, 1], mz - spot[ka, 2]
                    if math.sqrt(dx * dx + dy * dy + dz * dz) - spot[ka, 3] - spot[kb, 3] >= best:
                        continue
                    value = triangle_distance(triangles[ka], moved)
                    if value < best:
                        best = value
                        witness[0], witness[1], witness[2] = spot[ka, 0], spot[ka, 1], spot[ka, 2]
            if best <= 0.0:  # touching: nothing is nearer
                return 0.0
            continue
        if leaf_b or (not leaf_a and radius[a] >= radius[b]):
            a0, a1, b0, b1 = left[a], right[a], b, b
        else:
            a0, a1, b0, b1 = a, a, left[b], right[b]
        bound0 = _box_gap(a0, b0, centre, half, radius, rotation, offset)
        bound1 = _box_gap(a1, b1, centre, half, radius, rotation, offset)
        if bound0 > bound1:
            a0, a1, b0, b1, bound0, bound1 = a1, a0, b1, b0, bound1, bound0
        if top + 2 > _STACK:
            raise RuntimeError("trees deeper than the traversal stack")
        threshold = best - min(tolerance, 0.5 * best)
        if bound1 < threshold:
            stack_a[top], stack_b[top], bounds[top] = a1, b1, bound1
            top += 1
        if bound0 < threshold:
            stack_a[top], stack_b[top], bounds[top] = a0, b0, bound0
            top += 1
    return best


@numba.njit(cache=True, inline="always")
def _box_gap(a: int, b: int, centre: np.ndarray, half: np.ndarray, radius: np.ndarray, rotation: np.ndarray,
             offset: np.ndarray) -> float:
    """A lower bound of the distance between node a's box and node b's (b's frame mapped into a's by
    ``rotation``, ``offset``): the largest gap of their projections on the seven axes of the two
    boxes and the centre line (projections never lengthen distances), and their spheres' gap."""
    dx, dy, dz = -centre[a, 0] + offset[0], -centre[a, 1] + offset[1], -centre[a, 2] + offset[2]
    for j in range(3):
        dx += rotation[0, j] * centre[b, j]
        dy += rotation[1, j] * centre[b, j]
        dz += rotation[2, j] * centre[b, j]
    distance = math.sqrt(dx * dx + dy * dy + dz * dz)
    gap = distance - radius[a] - radius[b]
    ha0, ha1, ha2 = half[a, 0], half[a, 1], half[a, 2]
    hb0, hb1, hb2 = half[b, 0], half[b, 1], half[b, 2]
    for i in range(3):  # a's axes
        d = dx if i == 0 else (dy if i == 1 else dz)
        reach_b = abs(rotation[i, 0]) * hb0 + abs(rotation[i, 1]) * hb1 + abs(rotation[i, 2]) * hb2
        gap = max(gap, abs(d) - half[a, i] - reach_b)
    for j in range(3):  # b's axes, in a's frame
        nx, ny, nz = rotation[0, j], rotation[1, j], rotation[2, j]
        reach_a = abs(nx) * ha0 + abs(ny) * ha1 + abs(nz) * ha2
        gap = max(gap, abs(nx * dx + ny * dy + nz * dz) - reach_a - half[b, j])
    if distance > 0.0:
        nx, ny, nz = dx / distance, dy / distance, dz / distance
        reach_a = abs(nx) * ha0 + abs(ny) * ha1 + abs(nz) * ha2
        reach_b = 0.0
        for j in range(3):
            reach_b += abs(nx * rotation[0, j] + ny * rotation[1, j] + nz * rotation[2, j]) * half[b, j]
        gap = max(gap, distance - reach_a - reach_b)
    return gap


# ------------------------------------------------------------------------------ one configuration
@numba.njit(cache=True)
def measure_configuration(
    q: np.ndarray, gripper_m: float, frames: np.ndarray, roots: np.ndarray, triangles: np.ndarray, spot: np.ndarray,
    centre: np.ndarray, half: np.ndarray, radius: np.ndarray, left: np.ndarray, right: np.ndarray,
    start: np.ndarray, count: np.ndarray, hull_points: np.ndarray, hull_link: np.ndarray, table_links: np.ndarray,
    table_z: float, kinds: np.ndarray, origins: np.ndarray, rotations: np.ndarray, sizes: np.ndarray,
    bound: np.ndarray, slack: float, pairs: np.ndarray, bound_self: float, self_horizon: float, tolerance: float,
    self_tolerance: float,
) -> tuple[float, int, int, np.ndarray, float, int, float, int]:
    """The truth channel of one configuration, in one call.

    Args:
        q: (4,) joint angles (rad); gripper_m: finger position (m).
        frames, roots: per link, its frame (index into the kinematic frames) and root node.
        triangles ... count: the forest (see :func:`build_tree`, :func:`triangle_spots`).
        hull_points, hull_link: convex hull vertices of every link (link frames) and their links.
        table_links: (L,) bool, the links checked against the table plane ``z = table_z``.
        kinds, origins, rotations, sizes: the M obstacles.
        bound: (L * M,) the sphere bound of every (link, obstacle) pair, or empty: measure all pairs.
        slack: how far the mesh may reach outside its link's spheres (m).
        pairs: (P, 2) the link pairs to check against each other.
        bound_self: the sphere bound's smallest link-pair distance (-inf: measure every pair).
        self_horizon: link pairs are measured up to this gap (m); beyond it the gap reads +inf.
        tolerance, self_tolerance: the searches' tolerances (m).

    Returns:
        ``(obstacle_m, link, obstacle, witness (3,) base frame, self_m, self_pair, table_m, queries)``.
    """
    positions, frame_rotations = configuration_frames(q, gripper_m)
    links, obstacles = roots.shape[0], kinds.shape[0]
    witness = np.full(3, np.nan)
    local = np.zeros(3)
    best, best_link, best_obstacle, queries = np.inf, -1, -1, 0
    if obstacles > 0:
        order = np.argsort(bound, kind="mergesort") if bound.shape[0] > 0 else np.arange(links * obstacles)
        for pair in order:
            if bound.shape[0] > 0 and bound[pair] - slack >= best:
                break
            link, slot = pair // obstacles, pair % obstacles
            frame = frames[link]
            matrix, offset = obstacle_in_link(positions[0, frame], frame_rotations[0, frame], origins[slot],
                                              rotations[slot])
            value = link_obstacle_minimum(roots[link], triangles, spot, centre, half, radius, left, right, start,
                                          count, matrix, offset, kinds[slot], sizes[slot, 0], sizes[slot, 1],
                                          sizes[slot, 2], tolerance, local)
            queries += 1
            if value < best:
                best, best_link, best_obstacle = value, link, slot
                for i in range(3):
                    witness[i] = (positions[0, frame, i] + frame_rotations[0, frame, i, 0] * local[0]
                                  + frame_rotations[0, frame, i, 1] * local[1]
                                  + frame_rotations[0, frame, i, 2] * local[2])
    self_best, self_pair = self_horizon, -1
    if bound_self - 2.0 * slack < self_horizon:
        relative = np.empty((3, 3))
        offset = np.empty(3)
        for index in range(pairs.shape[0]):
            _relative_frame(positions[0], frame_rotations[0], frames[pairs[index, 0]], frames[pairs[index, 1]],
                            relative, offset)
            value = pair_gap(roots[pairs[index, 0]], roots[pairs[index, 1]], triangles, spot, centre, half, radius,
                             left, right, start, count, relative, offset, self_best, self_tolerance, local)
            queries += 1
            if value < self_best:
                self_best, self_pair = value, index
    if self_pair < 0:
        self_best = np.inf
    table = np.inf
    for h in range(hull_points.shape[0]):
        link = hull_link[h]
        if table_links[link]:
            frame = frames[link]
            height = (positions[0, frame, 2] + frame_rotations[0, frame, 2, 0] * hull_points[h, 0]
                      + frame_rotations[0, frame, 2, 1] * hull_points[h, 1]
                      + frame_rotations[0, frame, 2, 2] * hull_points[h, 2])
            table = min(table, height)
    return best, best_link, best_obstacle, witness, self_best, self_pair, table - table_z, queries


# ----------------------------------------------------------------------------- contacts of a step
@numba.njit(cache=True)
def step_contacts(
    q_steps: np.ndarray, gripper_m: float, origins: np.ndarray, rotations: np.ndarray, kinds: np.ndarray,
    sizes: np.ndarray, sphere_local: np.ndarray, sphere_frame: np.ndarray, sphere_radius: np.ndarray,
    sphere_link: np.ndarray, link_centre: np.ndarray, link_frame: np.ndarray, link_radius: np.ndarray,
    table_links: np.ndarray, self_first: np.ndarray, self_second: np.ndarray,
    self_pair_of: np.ndarray, reach: np.ndarray, slack: float, frames: np.ndarray, roots: np.ndarray,
    triangles: np.ndarray, spot: np.ndarray, centre: np.ndarray, half: np.ndarray, radius: np.ndarray,
    left: np.ndarray, right: np.ndarray, start: np.ndarray, count: np.ndarray, hull_points: np.ndarray,
    hull_link: np.ndarray, pairs: np.ndarray, table_z: float, tolerance: float, self_tolerance: float,
    cad: np.ndarray, witness: np.ndarray, normal: np.ndarray, bound: np.ndarray,
) -> tuple[int, int]:
    """Every contact of the arm during one control step, from its joint angles after each physics
    substep: the sphere bound finds the pairs within its slack, the CAD meshes decide.

    A substep is checked only if the arm may have come within the slack since the last check: no
    point of link ``l`` moves farther than ``sum_i |dq_i| * reach[i, l]`` (each joint turns the
    points beyond it about its axis, none of link ``l`` farther than ``reach[i, l]`` from it) and no
    obstacle farther than its own displacement, so where every link's bound clearance (obstacles
    and table) exceeds its own motion plus the slack, no contact happened in between. Link pairs
    are checked again once the arm's relative motion (joints 2-4, at their largest reach) may have
    closed the bound's smallest link-pair gap.

    Args:
        q_steps: (n, 4) joint angles after each substep (rad); gripper_m: finger position (m).
        origins: (n, M, 3) obstacle centres after each substep; rotations (M, 3, 3), kinds (M,), sizes (M, 3).
        sphere_*: the sphere bound (local centres, frame, radius, link per sphere); link_*: per link a
            ball holding its spheres (centre in the link's frame, frame, radius); table_links (L,) bool.
        self_first, self_second: sphere index pairs of the SRDF-enabled link pairs; self_pair_of:
            (P_spheres,) the index into ``pairs`` of each sphere pair.
        reach: (4, L) how far (m) each joint can move each link's spheres per radian (0 where it moves
            none of them); slack: how far the mesh may reach past its spheres (m).
        frames ... pairs: the CAD forest (see :func:`measure_configuration`).

        cad, witness, normal, bound: the outputs, filled here (the caller allocates them, so no array
            is boxed on return): (L, M + 1 + P), (L, M + 1 + P, 3), (L, M + 1 + P, 3), (L, M + 1 + P):
            per link and other body (obstacles, then the table, then the link pairs ``pairs``, filed
            under their first link), a CAD touch's distance (<= 0, the first found; +inf: no touch),
            its base-frame point on the arm and the other body's normal there (towards the arm; 0 for
            link pairs), the deepest bound distance of a touch of the spheres.

    Returns:
        ``(checks, queries)``: substeps checked and mesh queries made.
    """
    steps, obstacles, links = q_steps.shape[0], kinds.shape[0], roots.shape[0]
    columns = obstacles + 1 + pairs.shape[0]
    cad[:] = np.inf
    bound[:] = np.inf
    witness[:] = 0.0
    normal[:] = 0.0
    local = np.zeros(3)
    spheres = sphere_local.shape[0]
    checks = queries = 0
    last_q = np.zeros(4)
    last_origins = np.zeros((obstacles, 3))
    margins = np.full(links, -np.inf)  # per link: the bound's obstacle and table clearance at the last check - slack
    joint_reach = np.zeros(4)  # per joint, its farthest reach over all links
    for i in range(4):
        for link in range(links):
            joint_reach[i] = max(joint_reach[i], reach[i, link])
    self_margin = -np.inf  # its link-pair clearance at the last check of those, minus twice the slack
    self_q = np.zeros(4)
    near = np.zeros((links, columns), dtype=np.bool_)
    placed = np.empty((spheres, 3))
    values = np.full((links, columns), np.inf)
    far = np.zeros((links, max(obstacles, 1)), dtype=np.bool_)
    ball = np.zeros(3)
    for k in range(steps):
        # Turning joint 1 moves no link relative to another: link pairs need only joints 2-4.
        self_motion = 0.0
        for i in range(1, 4):
            self_motion += abs(q_steps[k, i] - self_q[i]) * joint_reach[i]
        check_self = checks == 0 or self_motion >= self_margin
        if checks > 0 and not check_self:
            moved = 0.0
            for m in range(obstacles):
                dx = origins[k, m, 0] - last_origins[m, 0]
                dy = origins[k, m, 1] - last_origins[m, 1]
                dz = origins[k, m, 2] - last_origins[m, 2]
                moved = max(moved, math.sqrt(dx * dx + dy * dy + dz * dz))
            clear = True  # every link's own motion below its own margin: no link can have come near
            for link in range(links):
                motion = 0.0
                for i in range(4):
                    motion += abs(q_steps[k, i] - last_q[i]) * reach[i, link]
                if motion + moved >= margins[link]:
                    clear = False
                    break
            if clear:
                continue
        checks += 1
        for i in range(4):
            last_q[i] = q_steps[k, i]
        for m in range(obstacles):
            for i in range(3):
                last_origins[m, i] = origins[k, m, i]
        positions, frame_rotations = configuration_frames(q_steps[k], gripper_m)
        for s in range(spheres):
            f = sphere_frame[s]
            for i in range(3):
                placed[s, i] = (positions[0, f, i] + frame_rotations[0, f, i, 0] * sphere_local[s, 0]
                                + frame_rotations[0, f, i, 1] * sphere_local[s, 1]
                                + frame_rotations[0, f, i, 2] * sphere_local[s, 2])
        # The bound: per (link, obstacle), per link above the table, per link pair (those kept from
        # the last check of link pairs while it still proves them clear).
        for link in range(links):
            for column in range(obstacles + 1 if not check_self else columns):
                values[link, column] = np.inf
        # Each link's spheres lie in one ball about their link: where that ball is clear by more than
        # the cutoff, it stands for them (a lower bound of theirs).
        for link in range(links):
            f = link_frame[link]
            for i in range(3):
                ball[i] = (positions[0, f, i] + frame_rotations[0, f, i, 0] * link_centre[link, 0]
                           + frame_rotations[0, f, i, 1] * link_centre[link, 1]
                           + frame_rotations[0, f, i, 2] * link_centre[link, 2])
            for m in range(obstacles):
                dx, dy, dz = ball[0] - origins[k, m, 0], ball[1] - origins[k, m, 1], ball[2] - origins[k, m, 2]
                x = rotations[m, 0, 0] * dx + rotations[m, 1, 0] * dy + rotations[m, 2, 0] * dz
                y = rotations[m, 0, 1] * dx + rotations[m, 1, 1] * dy + rotations[m, 2, 1] * dz
                z = rotations[m, 0, 2] * dx + rotations[m, 1, 2] * dy + rotations[m, 2, 2] * dz
                coarse = _sdf(x, y, z, kinds[m], sizes[m, 0], sizes[m, 1], sizes[m, 2]) - link_radius[link]
                far[link, m] = coarse > _COARSE_CUTOFF_M
                if far[link, m]:
                    values[link, m] = coarse
        for s in range(spheres):
            link = sphere_link[s]
            for m in range(obstacles):
                if far[link, m]:
                    continue
                dx = placed[s, 0] - origins[k, m, 0]
                dy = placed[s, 1] - origins[k, m, 1]
                dz = placed[s, 2] - origins[k, m, 2]
                x = rotations[m, 0, 0] * dx + rotations[m, 1, 0] * dy + rotations[m, 2, 0] * dz
                y = rotations[m, 0, 1] * dx + rotations[m, 1, 1] * dy + rotations[m, 2, 1] * dz
                z = rotations[m, 0, 2] * dx + rotations[m, 1, 2] * dy + rotations[m, 2, 2] * dz
                value = _sdf(x, y, z, kinds[m], sizes[m, 0], sizes[m, 1], sizes[m, 2]) - sphere_radius[s]
                values[link, m] = min(values[link, m], value)
            if table_links[link]:
                values[link, obstacles] = min(values[link, obstacles], placed[s, 2] - sphere_radius[s] - table_z)
        for p in range(self_first.shape[0] if check_self else 0):
            i, j = self_first[p], self_second[p]
            dx = placed[i, 0] - placed[j, 0]
            dy = placed[i, 1] - placed[j, 1]
            dz = placed[i, 2] - placed[j, 2]
            value = math.sqrt(dx * dx + dy * dy + dz * dz) - sphere_radius[i] - sphere_radius[j]
            column = obstacles + 1 + self_pair_of[p]
            link = sphere_link[i]
            values[link, column] = min(values[link, column], value)
        lowest_self = np.inf
        for link in range(links):
            lowest = np.inf
            for column in range(columns):
                value = values[link, column]
                if column > obstacles:
                    lowest_self = min(lowest_self, value)
                    near[link, column] = check_self and value <= 2.0 * slack
                    if not check_self:
                        continue
                else:
                    lowest = min(lowest, value)
                    near[link, column] = value <= slack
                bound[link, column] = min(bound[link, column], value) if value <= 0.0 else bound[link, column]
            margins[link] = lowest - slack
        if check_self:
            self_margin = lowest_self - 2.0 * slack
            for i in range(4):
                self_q[i] = q_steps[k, i]
        # The meshes decide, where the bound is within its slack.
        heights = np.empty(0)
        lowest_point = np.zeros((0, 3))
        for link in range(links):
            for column in range(columns):
                if not near[link, column] or cad[link, column] <= 0.0:
                    continue  # clear, or already touching in this step
                queries += 1
                frame = frames[link]
                value = np.inf
                if column < obstacles:
                    matrix, offset = obstacle_in_link(positions[0, frame], frame_rotations[0, frame],
                                                      origins[k, column], rotations[column])
                    # Only a touch matters here: capped just above 0, ended at the first point at or below it.
                    value = link_obstacle_minimum(roots[link], triangles, spot, centre, half, radius, left, right,
                                                  start, count, matrix, offset, kinds[column], sizes[column, 0],
                                                  sizes[column, 1], sizes[column, 2], tolerance, local, 1e-9, 0.0)
                    point_x, point_y, point_z = _to_base(positions[0, frame], frame_rotations[0, frame], local)
                    # The field's gradient there: the obstacle's outward normal, towards the arm.
                    gx = point_x - origins[k, column, 0]
                    gy = point_y - origins[k, column, 1]
                    gz = point_z - origins[k, column, 2]
                    rot = rotations[column]
                    _, nx, ny, nz = _sdf_gradient(rot[0, 0] * gx + rot[1, 0] * gy + rot[2, 0] * gz,
                                                  rot[0, 1] * gx + rot[1, 1] * gy + rot[2, 1] * gz,
                                                  rot[0, 2] * gx + rot[1, 2] * gy + rot[2, 2] * gz,
                                                  kinds[column], sizes[column, 0], sizes[column, 1], sizes[column, 2])
                    normal_x = rot[0, 0] * nx + rot[0, 1] * ny + rot[0, 2] * nz
                    normal_y = rot[1, 0] * nx + rot[1, 1] * ny + rot[1, 2] * nz
                    normal_z = rot[2, 0] * nx + rot[2, 1] * ny + rot[2, 2] * nz
                elif column == obstacles:
                    if heights.shape[0] == 0:  # every link's lowest hull vertex, once per substep
                        heights = np.full(links, np.inf)
                        lowest_point = np.zeros((links, 3))
                        for h in range(hull_points.shape[0]):
                            f = frames[hull_link[h]]
                            z = (positions[0, f, 2] + frame_rotations[0, f, 2, 0] * hull_points[h, 0]
                                 + frame_rotations[0, f, 2, 1] * hull_points[h, 1]
                                 + frame_rotations[0, f, 2, 2] * hull_points[h, 2])
                            if z < heights[hull_link[h]]:
                                heights[hull_link[h]] = z
                                for i in range(3):
                                    lowest_point[hull_link[h], i] = (
                                        positions[0, f, i] + frame_rotations[0, f, i, 0] * hull_points[h, 0]
                                        + frame_rotations[0, f, i, 1] * hull_points[h, 1]
                                        + frame_rotations[0, f, i, 2] * hull_points[h, 2])
                    value = heights[link] - table_z
                    point_x, point_y, point_z = lowest_point[link, 0], lowest_point[link, 1], lowest_point[link, 2]
                    normal_x, normal_y, normal_z = 0.0, 0.0, 1.0
                else:
                    index = column - obstacles - 1
                    fa = frames[pairs[index, 0]]
                    relative = np.empty((3, 3))
                    shift = np.empty(3)
                    _relative_frame(positions[0], frame_rotations[0], fa, frames[pairs[index, 1]], relative, shift)
                    # Only a touch matters: the search stops at any gap above a micrometre.
                    value = pair_gap(roots[pairs[index, 0]], roots[pairs[index, 1]], triangles, spot, centre, half,
                                     radius, left, right, start, count, relative, shift, 1e-6, self_tolerance, local)
                    point_x, point_y, point_z = _to_base(positions[0, fa], frame_rotations[0, fa], local)
                    normal_x = normal_y = normal_z = 0.0
                if value <= 0.0 and value < cad[link, column]:
                    cad[link, column] = value
                    witness[link, column, 0], witness[link, column, 1], witness[link, column, 2] = (
                        point_x, point_y, point_z)
                    normal[link, column, 0], normal[link, column, 1], normal[link, column, 2] = (
                        normal_x, normal_y, normal_z)
    return checks, queries

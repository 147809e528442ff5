"""Compiled inner loop of the capsule clearance: closest point along each segment (numba).

For every (segment, obstacle) pair it finds the parameter ``t`` in [0, 1] minimising the
obstacle's signed distance field along the segment (convex there, so golden-section search
converges to the global minimum) and returns ``t`` with the SDF value at ``t``. The vectorised
``sim.collision._point_sdf`` evaluates the same fields; a test checks that they agree, and
torch callers re-evaluate at ``t`` through it to get gradients.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@numba.njit(cache=True, fastmath=False)
def _sdf(x: float, y: float, z: float, kind: int, s0: float, s1: float, s2: float) -> float:
    if kind == 0:  # sphere (radius s0)
        return math.sqrt(x * x + y * y + z * z) - s0
    if kind == 1:  # box (half extents s0, s1, s2)
        ex, ey, ez = abs(x) - s0, abs(y) - s1, abs(z) - s2
        ox, oy, oz = max(ex, 0.0), max(ey, 0.0), max(ez, 0.0)
        return math.sqrt(ox * ox + oy * oy + oz * oz) + min(max(ex, max(ey, ez)), 0.0)
    # cylinder (radius s0, half height s1, axis z)
    radial = math.sqrt(x * x + y * y) - s0
    axial = abs(z) - s1
    orad, oax = max(radial, 0.0), max(axial, 0.0)
    return math.sqrt(orad * orad + oax * oax) + min(max(radial, axial), 0.0)


@numba.njit(cache=True)
def closest_along_segments(
    starts: np.ndarray, directions: np.ndarray, kinds: np.ndarray, sizes: np.ndarray, iterations: int
) -> tuple[np.ndarray, np.ndarray]:
    """For (P, 3) local segment starts/directions and (P,) kinds, (P, 3) sizes: (t, sdf) each (P,)."""
    count = starts.shape[0]
    best_t = np.empty(count)
    best_f = np.empty(count)
    for i in range(count):
        ax, ay, az = starts[i, 0], starts[i, 1], starts[i, 2]
        dx, dy, dz = directions[i, 0], directions[i, 1], directions[i, 2]
        kind = kinds[i]
        s0, s1, s2 = sizes[i, 0], sizes[i, 1], sizes[i, 2]
        if kind == 0:
            length_sq = dx * dx + dy * dy + dz * dz
            t = min(max(-(ax * dx + ay * dy + az * dz) / length_sq, 0.0), 1.0)
        else:
            low, high = 0.0, 1.0
            c, d = high - _GOLDEN, _GOLDEN
            fc = _sdf(ax + c * dx, ay + c * dy, az + c * dz, kind, s0, s1, s2)
            fd = _sdf(ax + d * dx, ay + d * dy, az + d * dz, kind, s0, s1, s2)
            for _ in range(iterations):
                if fc > fd:
                    low, c, fc = c, d, fd
                    d = low + _GOLDEN * (high - low)
                    fd = _sdf(ax + d * dx, ay + d * dy, az + d * dz, kind, s0, s1, s2)
                else:
                    high, d, fd = d, c, fc
                    c = high - _GOLDEN * (high - low)
                    fc = _sdf(ax + c * dx, ay + c * dy, az + c * dz, kind, s0, s1, s2)
            t = 0.5 * (low + high)
            # The ends are candidates too (the search interval's ends are never evaluated).
            f_mid = _sdf(ax + t * dx, ay + t * dy, az + t * dz, kind, s0, s1, s2)
            f0 = _sdf(ax, ay, az, kind, s0, s1, s2)
            f1 = _sdf(ax + dx, ay + dy, az + dz, kind, s0, s1, s2)
            if f0 < f_mid and f0 <= f1:
                t = 0.0
            elif f1 < f_mid:
                t = 1.0
        best_t[i] = t
        best_f[i] = _sdf(ax + t * dx, ay + t * dy, az + t * dz, kind, s0, s1, s2)
    return best_t, best_f

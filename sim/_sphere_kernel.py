"""Compiled inner loops of the sphere model (numba): one pass per configuration, no temporaries.

:func:`link_obstacle_minima` places every collision sphere with its link's frame and evaluates
every obstacle's signed distance field at its centre, keeping the smallest value (and which
sphere gives it) per (link, obstacle). :func:`pair_minimum` finds the closest pair of spheres
among given index pairs (self-collision). ``sim.collision`` calls them for NumPy input and, for
torch input, re-evaluates only the winning spheres with gradients (the gradient of a minimum is
the gradient at its argument), so both paths return the same numbers; tests check that against
the vectorised field.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
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
def world_centres(positions: np.ndarray, rotations: np.ndarray, local: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """(N, S, 3) base-frame sphere centres from link frames (N, F, 3), (N, F, 3, 3) and local centres (S, 3)."""
    count, spheres = positions.shape[0], local.shape[0]
    out = np.empty((count, spheres, 3))
    for n in range(count):
        for s in range(spheres):
            f = frame[s]
            for i in range(3):
                out[n, s, i] = (positions[n, f, i] + rotations[n, f, i, 0] * local[s, 0]
                                + rotations[n, f, i, 1] * local[s, 1] + rotations[n, f, i, 2] * local[s, 2])
    return out


@numba.njit(cache=True)
def link_obstacle_minima(
    centres: np.ndarray, radii: np.ndarray, link: np.ndarray, links: int,
    kinds: np.ndarray, origins: np.ndarray, rotations: np.ndarray, sizes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per (configuration, link, obstacle): the smallest sphere-obstacle signed distance and its sphere.

    Args:
        centres: (N, S, 3) sphere centres, base frame; radii (S,); link (S,) link index per sphere.
        kinds, origins, rotations, sizes: the M obstacles (codes, centres, body-to-base rotations, sizes).

    Returns:
        ``(distances (N, L, M), sphere (N, L, M))``.
    """
    count, spheres, obstacles = centres.shape[0], centres.shape[1], kinds.shape[0]
    best = np.full((count, links, obstacles), np.inf)
    which = np.zeros((count, links, obstacles), dtype=np.int64)
    for n in range(count):
        for m in range(obstacles):
            kind = kinds[m]
            s0, s1, s2 = sizes[m, 0], sizes[m, 1], sizes[m, 2]
            for s in range(spheres):
                dx = centres[n, s, 0] - origins[m, 0]
                dy = centres[n, s, 1] - origins[m, 1]
                dz = centres[n, s, 2] - origins[m, 2]
                # R^T d: the centre in the obstacle's frame.
                x = rotations[m, 0, 0] * dx + rotations[m, 1, 0] * dy + rotations[m, 2, 0] * dz
                y = rotations[m, 0, 1] * dx + rotations[m, 1, 1] * dy + rotations[m, 2, 1] * dz
                z = rotations[m, 0, 2] * dx + rotations[m, 1, 2] * dy + rotations[m, 2, 2] * dz
                value = _sdf(x, y, z, kind, s0, s1, s2) - radii[s]
                k = link[s]
                if value < best[n, k, m]:
                    best[n, k, m] = value
                    which[n, k, m] = s
    return best, which


@numba.njit(cache=True)
def pair_minimum(centres: np.ndarray, radii: np.ndarray, first: np.ndarray,
                 second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per configuration, the smallest ``|c_i - c_j| - r_i - r_j`` over the pairs ``(first[p], second[p])``
    and the index ``p`` achieving it: ``(distance (N,), pair (N,))``."""
    count = centres.shape[0]
    best = np.full(count, np.inf)
    which = np.zeros(count, dtype=np.int64)
    for n in range(count):
        for p in range(first.shape[0]):
            i, j = first[p], second[p]
            dx = centres[n, i, 0] - centres[n, j, 0]
            dy = centres[n, i, 1] - centres[n, j, 1]
            dz = centres[n, i, 2] - centres[n, j, 2]
            value = math.sqrt(dx * dx + dy * dy + dz * dz) - radii[i] - radii[j]
            if value < best[n]:
                best[n] = value
                which[n] = p
    return best, which

"""Compiled inner loops of the sphere model (numba): one pass per configuration, no temporaries.

:func:`link_obstacle_minima` places every collision sphere with its link's frame and evaluates
every obstacle's signed distance field at its centre, keeping the smallest value (and which
sphere gives it) per (link, obstacle). :func:`pair_minimum` finds the closest pair of spheres
among given index pairs (self-collision). ``sim.robot.collision`` calls them for NumPy input and, for
torch input, re-evaluates only the winning spheres with gradients (the gradient of a minimum is
the gradient at its argument), so both paths return the same numbers; tests check that against
the vectorised field.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sim.robot.kinematics import _frame_plane_coordinates, _single_frame_values
from sim.robot.transforms import _quat_matrix_rows


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
def pair_minimum_all(centres: np.ndarray, radii: np.ndarray, first: np.ndarray,
                     second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pair_minimum` by visiting every pair (the reference the culled search must equal)."""
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


#: A block is skipped only if its lower bound exceeds the best pair found by more than this (m):
#: far above the rounding of either computation (~1e-16 m), so a skipped block never holds the minimum.
_CULL_SLACK_M = 1e-9


@numba.njit(cache=True)
def _pair_minimum_culled(
    centres: np.ndarray, radii: np.ndarray, first: np.ndarray, second: np.ndarray, plan: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """:func:`pair_minimum_all`, visiting only the blocks and rows of pairs that may hold the minimum.

    ``plan`` (int64, from :func:`_pair_plan`) is ``[B, K, P, blocks (B x 5), set_start (K + 1),
    set_members, first (P), second (P)]``: ``B`` blocks, ``K`` sets of spheres, and the pair list
    it was made for, compared with ``first`` and ``second`` first (if they differ the third
    result is False and nothing is computed). Block ``b`` is ``(start, stop, a, c, row)``: the
    pairs ``start <= p < stop``, in rows of ``row`` pairs sharing their first sphere, the first
    spheres being the members of set ``a`` and the second spheres of each row those of set ``c``.
    Per configuration each set gets an enclosing sphere (centre: the mean of its members'
    centres; radius: the farthest member surface from it), so ``|C_a - C_c| - R_a - R_c`` bounds
    every pair of the block from below and ``|c_i - C_c| - r_i - R_c`` every pair of sphere
    ``i``'s row (triangle inequality). Blocks are visited by increasing bound until the bound
    passes the best pair found, and rows whose bound passes it are skipped; among equal values
    the smallest ``p`` wins, as in the full scan.
    """
    block_count, sets, pairs = plan[0], plan[1], plan[2]
    blocks = plan[3:3 + 5 * block_count].reshape(block_count, 5)
    set_start = plan[3 + 5 * block_count:4 + 5 * block_count + sets]
    set_members = plan[4 + 5 * block_count + sets:plan.shape[0] - 2 * pairs]
    count = centres.shape[0]
    best = np.full(count, np.inf)
    which = np.zeros(count, dtype=np.int64)
    if first.shape[0] != pairs or second.shape[0] != pairs:
        return best, which, False
    differences = 0  # no early exit: the loop vectorises
    for p in range(pairs):
        differences |= (first[p] ^ plan[plan.shape[0] - 2 * pairs + p]) | (second[p] ^ plan[plan.shape[0] - pairs + p])
    if differences != 0:
        return best, which, False
    hub = np.empty((sets, 3))
    reach = np.empty(sets)
    bound = np.empty(block_count)
    for n in range(count):
        for s in range(sets):
            x = y = z = 0.0
            for k in range(set_start[s], set_start[s + 1]):
                i = set_members[k]
                x += centres[n, i, 0]
                y += centres[n, i, 1]
                z += centres[n, i, 2]
            size = set_start[s + 1] - set_start[s]
            x, y, z = x / size, y / size, z / size
            farthest = 0.0
            for k in range(set_start[s], set_start[s + 1]):
                i = set_members[k]
                dx, dy, dz = centres[n, i, 0] - x, centres[n, i, 1] - y, centres[n, i, 2] - z
                farthest = max(farthest, math.sqrt(dx * dx + dy * dy + dz * dz) + radii[i])
            hub[s, 0], hub[s, 1], hub[s, 2], reach[s] = x, y, z, farthest
        for b in range(block_count):
            a, c = blocks[b, 2], blocks[b, 3]
            dx, dy, dz = hub[a, 0] - hub[c, 0], hub[a, 1] - hub[c, 1], hub[a, 2] - hub[c, 2]
            bound[b] = math.sqrt(dx * dx + dy * dy + dz * dz) - reach[a] - reach[c]
        for b in np.argsort(bound):
            if bound[b] > best[n] + _CULL_SLACK_M:
                break
            c, row = blocks[b, 3], blocks[b, 4]
            for start in range(blocks[b, 0], blocks[b, 1], row):
                i = first[start]
                dx, dy, dz = centres[n, i, 0] - hub[c, 0], centres[n, i, 1] - hub[c, 1], centres[n, i, 2] - hub[c, 2]
                if math.sqrt(dx * dx + dy * dy + dz * dz) - radii[i] - reach[c] > best[n] + _CULL_SLACK_M:
                    continue
                for p in range(start, start + row):
                    j = second[p]
                    dx = centres[n, i, 0] - centres[n, j, 0]
                    dy = centres[n, i, 1] - centres[n, j, 1]
                    dz = centres[n, i, 2] - centres[n, j, 2]
                    value = math.sqrt(dx * dx + dy * dy + dz * dz) - radii[i] - radii[j]
                    if value < best[n] or (value == best[n] and p < which[n]):
                        best[n] = value
                        which[n] = p
    return best, which, True


_PLANS: dict[tuple[int, int], np.ndarray] = {}
_MAX_PLANS = 8


def _pair_plan(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The packed plan of a pair list for :func:`_pair_minimum_culled`: blocks are runs of pairs
    sharing their first sphere ("rows"), consecutive rows with the same sequence of second spheres
    joined (the pairs of one link pair, listed as ``repeat``/``tile`` of the two links' spheres,
    form one block); any list gives valid blocks."""
    row_start = np.concatenate([[0], np.flatnonzero(np.diff(first)) + 1, [len(first)]]).astype(np.int64)
    starts = [0]
    for r in range(1, len(row_start) - 1):
        if not np.array_equal(second[row_start[r - 1]:row_start[r]], second[row_start[r]:row_start[r + 1]]):
            starts.append(int(row_start[r]))
    starts.append(len(first))
    set_index: dict[tuple[int, ...], int] = {}
    blocks = np.zeros((len(starts) - 1, 5), dtype=np.int64)
    for b, (start, stop) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
        sets = [set_index.setdefault(tuple(np.unique(values[start:stop]).tolist()), len(set_index))
                for values in (first, second)]
        row = int(row_start[np.searchsorted(row_start, start) + 1] - start)  # pairs in the block's first row
        blocks[b] = (start, stop, sets[0], sets[1], row)
    members = list(set_index)
    set_start = np.cumsum([0] + [len(m) for m in members])
    set_members = [i for m in members for i in m]
    return np.concatenate([[len(blocks), len(members), len(first)], blocks.reshape(-1), set_start, set_members,
                           first, second]).astype(np.int64)


def pair_minimum(centres: np.ndarray, radii: np.ndarray, first: np.ndarray,
                 second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per configuration, the smallest ``|c_i - c_j| - r_i - r_j`` over the pairs ``(first[p], second[p])``
    and the index ``p`` achieving it (the smallest such ``p``): ``(distance (N,), pair (N,))``.

    Args:
        centres: (N, S, 3) sphere centres (m).
        radii: (S,) sphere radii (m).
        first, second: (P,) sphere indices of the pairs.

    The same values as :func:`pair_minimum_all`, found by skipping blocks and rows of pairs whose
    enclosing spheres lie farther apart than the best pair found (:func:`_pair_minimum_culled`):
    ``sim.robot.collision``'s self-collision list (2,388 pairs, 11 link pairs) costs ~2 us per call for
    one configuration instead of ~6. The plan of a list is made once and kept (a few lists, by
    identity), and every call first checks the list still equals the plan's copy.
    """
    if len(first) == 0 or first.dtype != np.int64 or second.dtype != np.int64:
        return pair_minimum_all(centres, radii, first, second)
    best, which, planned = _pair_minimum_culled(centres, radii, first, second, pair_plan(first, second))
    if planned:
        return best, which
    best, which, _ = _pair_minimum_culled(centres, radii, first, second, pair_plan(first, second, renew=True))
    return best, which


def pair_plan(first: np.ndarray, second: np.ndarray, *, renew: bool = False) -> np.ndarray:
    """The plan of int64 pair lists ``first``, ``second`` for :func:`_pair_minimum_culled`: made once
    and kept (a few lists, by identity); ``renew`` makes it again (the lists were edited in place)."""
    key = (id(first), id(second))
    plan = _PLANS.get(key)
    if plan is None or renew:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[key] = _pair_plan(first, second)
    return plan


@numba.njit(cache=True)
def _sin(x: float) -> float:
    return math.sin(x)


@numba.njit(cache=True)
def _cos(x: float) -> float:
    return math.cos(x)


# sim.robot.kinematics' scalar path of one configuration's link frames, compiled (the same code, so the same values).
_plane_coordinates = numba.njit(cache=True, inline="always")(_frame_plane_coordinates)
_frame_values = numba.njit(cache=True, inline="always")(_single_frame_values)


@numba.njit(cache=True, inline="always")
def _planned_pair_minimum(centres: np.ndarray, radii: np.ndarray, first: np.ndarray, second: np.ndarray,
                          plan: np.ndarray) -> np.ndarray:
    """(N,) :func:`pair_minimum` distances with ``plan`` (the full search if the plan does not match the lists)."""
    best, _, planned = _pair_minimum_culled(centres, radii, first, second, plan)
    if not planned:
        best, _ = pair_minimum_all(centres, radii, first, second)
    return best


@numba.njit(cache=True)
def configuration_frames(q: np.ndarray, gripper_m: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sim.robot.kinematics.link_frames` of one (4,) configuration (rad) and finger position (m):
    positions (1, 8, 3) m and rotations (1, 8, 3, 3), base frame."""
    plane = _plane_coordinates(q[1], q[2], q[3], gripper_m, _sin, _cos)
    positions, rotations = _frame_values(q[0], plane, _sin, _cos)
    position_array, rotation_array = np.empty(24), np.empty(72)
    for i in range(24):
        position_array[i] = positions[i]
    for i in range(72):
        rotation_array[i] = rotations[i]
    return position_array.reshape(1, 8, 3), rotation_array.reshape(1, 8, 3, 3)


@numba.njit(cache=True)
def configuration_centres(q: np.ndarray, gripper_m: np.ndarray, local: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """(N, S, 3) base-frame sphere centres of configurations ``q`` (N, 4) rad with finger positions
    ``gripper_m`` (N,) m: :func:`configuration_frames`, then :func:`world_centres` of local centres
    (S, 3) on frames ``frame`` (S,)."""
    out = np.empty((q.shape[0], local.shape[0], 3))
    for n in range(q.shape[0]):
        positions, rotations = configuration_frames(q[n], gripper_m[n])
        out[n] = world_centres(positions, rotations, local, frame)[0]
    return out


@numba.njit(cache=True)
def measure_configuration(
    q: np.ndarray, gripper_m: float, local: np.ndarray, frame: np.ndarray, radii: np.ndarray, link: np.ndarray,
    links: int, kinds: np.ndarray, origins: np.ndarray, rotations: np.ndarray, sizes: np.ndarray,
    table_spheres: np.ndarray, first: np.ndarray, second: np.ndarray, plan: np.ndarray,
) -> tuple[np.ndarray, int, float, float]:
    """Everything the env measures of one configuration, in one call: the spheres placed once
    (:func:`configuration_centres`), then :func:`link_obstacle_minima`,
    :func:`pair_minimum` and the table clearance.

    Args:
        q: (4,) joint angles (rad); gripper_m: finger position (m).
        local, frame, radii, link, links: the sphere model (local centres (S, 3), frame per
            sphere, radii (S,), link per sphere, link count).
        kinds, origins, rotations, sizes: the M obstacles, as :func:`link_obstacle_minima` takes them.
        table_spheres: indices of the spheres checked against the table plane z = 0.
        first, second, plan: the self-collision pairs and their :func:`pair_plan`.

    Returns:
        ``(per_link (L, M), index, self_m, table_m)``: smallest distance per (link, obstacle), the
        flat index of the smallest of them (NumPy's ``argmin``: the first, NaN first; -1 with no
        obstacle), the smallest self-pair distance and the lowest table-checked sphere's height.
    """
    centres = configuration_centres(q.reshape(1, 4), np.full(1, gripper_m), local, frame)
    per_link = link_obstacle_minima(centres, radii, link, links, kinds, origins, rotations, sizes)[0][0]
    values = per_link.ravel()
    index = -1
    for i in range(values.shape[0]):
        if i == 0 or values[i] < values[index] or (math.isnan(values[i]) and not math.isnan(values[index])):
            index = i
    self_m = _planned_pair_minimum(centres, radii, first, second, plan)
    table_m = math.inf
    for k in range(table_spheres.shape[0]):  # NumPy's min: NaN if any is NaN
        s = table_spheres[k]
        height = centres[0, s, 2] - radii[s]
        if k == 0 or height < table_m or math.isnan(height):
            table_m = height
            if math.isnan(height):
                break
    return per_link, index, self_m[0], table_m


@numba.njit(cache=True)
def first_clear_configuration(
    q: np.ndarray, candidates: np.ndarray, ee_bounds_m: np.ndarray, check_radius: bool, check_height: bool,
    table_margin_m: float, local: np.ndarray, frame: np.ndarray, radii: np.ndarray, table_spheres: np.ndarray,
    first: np.ndarray, second: np.ndarray, plan: np.ndarray,
) -> int:
    """Index of the first configuration of ``q`` (N, 4) rad passing the scene sampler's filters, or -1.

    Candidate ``n`` passes if ``candidates[n]``, its end effector (frame 5 of
    :func:`configuration_frames`, fingers at 0 m: the position of ``forward_kinematics``) lies
    within ``ee_bounds_m = [radius_min, radius_max, z_min, z_max]`` (horizontal distance from the z
    axis, checked if ``check_radius``; height, checked if ``check_height``), its table-checked
    spheres ``table_spheres`` clear the plane z = 0 by ``table_margin_m`` and its closest
    self-collision pair (``first``, ``second``, ``plan``: :func:`pair_minimum`) is apart (> 0).
    Candidates are visited in order and the visit stops at the first that passes: the answer of
    filtering the whole batch with the vectorised functions, at the cost of the candidates before it.
    """
    for n in range(q.shape[0]):
        if not candidates[n]:
            continue
        positions, rotations = configuration_frames(q[n], 0.0)
        x, y, z = positions[0, 5, 0], positions[0, 5, 1], positions[0, 5, 2]
        if check_radius:
            radius = math.hypot(x, y)
            if not (radius >= ee_bounds_m[0] and radius <= ee_bounds_m[1]):
                continue
        if check_height and not (z >= ee_bounds_m[2] and z <= ee_bounds_m[3]):
            continue
        centres = world_centres(positions, rotations, local, frame)
        clear = True
        for k in range(table_spheres.shape[0]):  # the minimum's test: False on NaN
            s = table_spheres[k]
            if not centres[0, s, 2] - radii[s] >= table_margin_m:
                clear = False
                break
        if not clear:
            continue
        self_m = _planned_pair_minimum(centres, radii, first, second, plan)
        if self_m[0] > 0.0:
            return n
    return -1


@numba.njit(cache=True)
def path_sphere_centres(path: np.ndarray, which: np.ndarray, sphere: np.ndarray, local: np.ndarray,
                        frame: np.ndarray) -> np.ndarray:
    """(C, 3) base-frame centres (m) of sphere ``sphere[c]`` of configuration ``path[which[c]]``
    (fingers at 0 m): rows of :func:`configuration_centres` of ``path``, placing only those spheres."""
    out = np.empty((which.shape[0], 3))
    for c in range(which.shape[0]):
        positions, rotations = configuration_frames(path[which[c]], 0.0)
        s = sphere[c]
        out[c] = world_centres(positions, rotations, local[s:s + 1], frame[s:s + 1])[0, 0]
    return out


# sim.robot.transforms.quat_to_matrix's arithmetic, compiled (the same code, so the same values).
_quat_rows = numba.njit(cache=True, inline="always")(_quat_matrix_rows)


@numba.njit(cache=True, inline="always")
def _quaternion_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """:func:`sim.robot.transforms.quat_to_matrix` of one quaternion ``[x, y, z, w]``."""
    out = np.empty((3, 3))
    rows = _quat_rows(x, y, z, w)
    for i in range(3):
        out[i, 0], out[i, 1], out[i, 2] = rows[i]
    return out


@numba.njit(cache=True)
def first_clear_placement(
    candidates: np.ndarray, kinds: np.ndarray, positions: np.ndarray, quaternions: np.ndarray, sizes: np.ndarray,
    margin_m: float, centres: np.ndarray, radii: np.ndarray, link: np.ndarray, links: int,
) -> int:
    """Index of the first obstacle candidate clearing the arm by ``margin_m`` at every phase, or -1.

    Args:
        candidates: (C,) which candidates to consider (the others are skipped).
        kinds, positions, quaternions, sizes: the candidates: (C,) codes, (C, T, 3) centres at T
            phases (m), (C, 4) ``[qx, qy, qz, qw]`` and (C, 3) sizes, as
            :class:`~sim.robot.collision.ObstacleSet` holds them.
        centres, radii, link, links: (N, S, 3) sphere centres of the N configurations to clear
            (m), the sphere model's radii, link per sphere and link count.

    Candidate ``c`` clears if every value of :func:`link_obstacle_minima` of its T phases is at
    least ``margin_m`` (the minimum's test: False on NaN); the visit stops at the first that does.
    """
    phases = positions.shape[1]
    codes = np.empty(phases, dtype=np.int64)
    rotations = np.empty((phases, 3, 3))
    padded = np.empty((phases, 3))
    for c in range(candidates.shape[0]):
        if not candidates[c]:
            continue
        rotation = _quaternion_matrix(quaternions[c, 0], quaternions[c, 1], quaternions[c, 2], quaternions[c, 3])
        for t in range(phases):
            codes[t] = kinds[c]
            rotations[t] = rotation
            padded[t] = sizes[c]
        distances = link_obstacle_minima(centres, radii, link, links, codes, positions[c], rotations, padded)[0]
        clear = True
        for value in distances.ravel():
            if not value >= margin_m:
                clear = False
                break
        if clear:
            return c
    return -1

"""Seeded sampling of scenes from a :class:`~sim.scene.scenario_spec.ScenarioSpec`, and the naive-path check.

Every draw comes from the ``numpy.random.Generator`` passed in (the env passes its
``np_random``), so a seed fixes the scene. A scene is accepted only if

* its start and goal configurations lie inside the joint limits, keep the arm's collision
  spheres ``table_margin_m`` above the table, are free of self-collision and are
  ``clearance_margin_m`` clear of every obstacle (the sphere model of the real arm,
  :mod:`sim.robot.collision`; moving obstacles at 16 phases of their period);
* its goal is reachable: goals are drawn as joint configurations and converted with forward
  kinematics, so an in-limit solution exists and the goal orientation is realisable;
* every obstacle centre stays inside the scenario's region (at every phase of its motion) and
  every obstacle surface keeps :data:`~sim.scene.obstacles.MIN_BASE_DISTANCE_M` from the base's axis.

Sampling is bounded: at most ``spec.max_sample_attempts`` scene attempts and
:data:`SAMPLE_BATCH_BUDGET` candidate batches (start/goal configurations and obstacle placements)
per scene, so no scenario samples for more than a few seconds; then it fails with an
:class:`~sim.errors.InvalidInputError` that says what to relax.

Scenes that are given rather than sampled (fixed scenes, ``reset(options={"scene": ...})``) are
checked by :func:`check_scene` before they run: every obstacle stands above the table, clear of
the robot's base and of the start configuration (the sphere model of the real arm), and the start
configuration is above the table and free of self-collision; a goal configuration in contact is
reported (:attr:`SceneCheck.goal_clear`).

``path`` placements put obstacles on the arm's straight joint-space path from start to goal,
which is what a policy commanding the goal joints directly would follow; :func:`path_clearance`
measures whether that naive path collides.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from sim.errors import InvalidInputError, UnknownNameError, show_value
from sim.robot.collision import (
    SPHERE_LINK,
    ObstacleSet,
    chosen_sphere_centres,
    first_clear_obstacle,
    first_free_configuration,
    self_clearance,
    signed_distances,
    sphere_centres,
    table_clearance,
)
from sim.robot.kinematics import JOINT1_XYZ, MAX_JOINT_VELOCITY_RAD_S, analytic_ik_solutions, forward_kinematics
from sim.robot.obstacle_kinds import KIND_CODES, SIZE_LENGTHS
from sim.robot.transforms import quat_angle, slerp
from sim.scene.obstacles import MIN_BASE_DISTANCE_M, Motion, Obstacle, Scene
from sim.scene.scenario_spec import ConfigurationSpec, GateSpec, ObstacleGroup, ScenarioSpec, ShelfSpec

#: Largest joint change (rad) between consecutive configurations of the naive joint path.
PATH_STEP_RAD: float = 0.02
#: Phases per period at which moving obstacles are checked.
MOTION_PHASES: int = 16
#: Candidate batches (start/goal configurations, obstacle placements) one scene may cost before
#: sampling gives up (~1 ms each, so ~1-2 s at most; the built-in scenarios need at most a few
#: hundred, and their 400 attempts cost at most 800 in ``narrow``, so the budget never changes them).
SAMPLE_BATCH_BUDGET: int = 1000
_CANDIDATES = 32
_CONFIGURATION_CANDIDATES = 64
# Which links (in COLLISION_LINKS order) path placements aim at: the links that sweep space.
_AIM_WEIGHTS = np.array([0.0, 0.0, 1.0, 2.0, 2.0, 0.5, 0.5])
# rng.choice(len(_AIM_WEIGHTS), size, p=_AIM_WEIGHTS / _AIM_WEIGHTS.sum()) is
# _AIM_CDF.searchsorted(rng.random(size), side="right") with NumPy's cdf: the same draws, without its checks of p.
_AIM_CDF = (_AIM_WEIGHTS / _AIM_WEIGHTS.sum()).cumsum()
_AIM_CDF /= _AIM_CDF[-1]
_SPHERES_OF_LINK = [np.flatnonzero(SPHERE_LINK == link) for link in range(len(_AIM_WEIGHTS))]
# The same, flat: link k's spheres are _LINK_SPHERES[_LINK_SPHERE_START[k]:][:_LINK_SPHERE_COUNT[k]].
_LINK_SPHERES = np.concatenate(_SPHERES_OF_LINK)
_LINK_SPHERE_COUNT = np.array([len(spheres) for spheres in _SPHERES_OF_LINK])
_LINK_SPHERE_START = np.concatenate([[0], np.cumsum(_LINK_SPHERE_COUNT)[:-1]])


def sample_scene(spec: ScenarioSpec, rng: np.random.Generator) -> Scene:
    """Draw one scene of ``spec`` with ``rng``.

    Raises:
        InvalidInputError: no valid scene within ``spec.max_sample_attempts`` attempts (or
            :data:`SAMPLE_BATCH_BUDGET` candidate batches); an invalid fixed scene.
    """
    if spec.fixed_scenes:
        index = int(rng.integers(len(spec.fixed_scenes)))
        return _checked(spec.fixed_scenes[index], f"scenario {spec.name!r} fixed scene {index}")
    batches = attempts = 0
    while attempts < spec.max_sample_attempts and batches < SAMPLE_BATCH_BUDGET:
        attempts += 1
        batches += 2
        start = sample_configuration(spec.start, rng, spec.table_margin_m)
        goal = sample_configuration(spec.goal, rng, spec.table_margin_m)
        if start is None or goal is None:
            continue
        ends_q = np.stack([start, goal])
        ends = forward_kinematics(ends_q, validate=False)
        if np.linalg.norm(ends[0, :3] - ends[1, :3]) < spec.min_goal_distance_m:
            continue
        obstacles: list[Obstacle] = []
        if spec.gate is not None:
            obstacles += _gate(spec.gate, goal, rng)
        if spec.shelf is not None:
            obstacles += _shelf(spec.shelf, goal, rng)
        if obstacles and not _structures_valid(obstacles, ends_q, spec):
            continue
        path = straight_joint_path(start, goal) if any(group.placement == "path" for group in spec.obstacles) else None
        ends_centres = sphere_centres(ends_q, validate=False)  # placed once for all the scene's candidates
        complete = True
        for group in spec.obstacles:
            for _ in range(int(rng.integers(group.count[0], group.count[1] + 1))):
                batches += 1
                placed = _place(group, len(obstacles), path, ends_centres, spec, rng)
                if placed is None:
                    complete = False
                    break
                obstacles.append(placed)
            if not complete:
                break
        if complete:
            return Scene(tuple(obstacles), _floats(start), _floats(goal), spec.name)
    raise InvalidInputError(
        f"scenario {spec.name!r}: no valid scene in {attempts} attempts ({batches} candidate batches, at most "
        f"{spec.max_sample_attempts} and {SAMPLE_BATCH_BUDGET}); widen the region or the start/goal ranges, or "
        "lower the obstacle counts, sizes or margins"
    )


def scene_for_episode(spec: ScenarioSpec, rng: np.random.Generator, options: dict | None = None) -> Scene:
    """The scene of a new episode, as the env's ``reset(options=...)`` asks.

    Args:
        spec: the scenario.
        rng: the env's ``np_random``.
        options: ``{"scene": Scene}`` uses that scene; ``{"scene_index": i}`` fixed scene ``i`` of
            ``spec``; empty or ``None`` samples one.

    Raises:
        UnknownNameError: an unknown option.
        InvalidInputError: a bad scene or index; a scene that breaks :func:`check_scene`'s rules.
    """
    if options is not None and not isinstance(options, dict):
        raise InvalidInputError(f"options must be a dict or None, got {type(options).__name__}")
    options = dict(options or {})
    unknown = sorted(set(options) - {"scene", "scene_index"})
    if unknown:
        raise UnknownNameError("reset option", unknown[0], ("scene", "scene_index"))
    if "scene" in options:
        if not isinstance(options["scene"], Scene):
            raise InvalidInputError(
                f"options['scene'] must be a sim.scene.Scene, got {type(options['scene']).__name__}")
        return _checked(options["scene"], "options['scene']")
    if "scene_index" in options:
        index, fixed = options["scene_index"], spec.fixed_scenes
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(fixed):
            raise InvalidInputError(
                f"options['scene_index'] must be an integer in [0, {len(fixed)}) for scenario {spec.name!r}, "
                f"got {show_value(index)}"
            )
        return _checked(fixed[int(index)], f"scenario {spec.name!r} fixed scene {int(index)}")
    return sample_scene(spec, rng)


def sample_configuration(spec: ConfigurationSpec, rng: np.random.Generator, table_margin_m: float) -> np.ndarray | None:
    """One (4,) configuration drawn from ``spec`` whose arm clears the table by ``table_margin_m``
    and is free of self-collision, or ``None`` if a batch of candidates held none."""
    low, high = np.array(spec.joint_low), np.array(spec.joint_high)
    q = rng.uniform(low, high, size=(_CONFIGURATION_CANDIDATES, 4))
    valid = np.ones(len(q), dtype=bool)
    if spec.pitch_rad is not None:
        q[:, 3] = rng.uniform(*spec.pitch_rad, len(q)) - q[:, 1] - q[:, 2]
        valid &= (q[:, 3] >= low[3]) & (q[:, 3] <= high[3])
    q = np.clip(q, low, high)
    # The candidates in order, each through the cheap filters (end-effector radius and height) and then
    # the sphere model, up to the first that passes: the same draws and the same first valid candidate
    # as filtering the whole batch, at the cost of the candidates up to it.
    index = first_free_configuration(q, valid, spec.ee_radius_m, spec.ee_z_m, table_margin_m)
    return q[index] if index >= 0 else None


def straight_joint_path(start: np.ndarray, goal: np.ndarray, max_step_rad: float = PATH_STEP_RAD) -> np.ndarray:
    """(K, 4) configurations evenly spaced on the joint-space segment from ``start`` to ``goal``
    (both included), at most ``max_step_rad`` apart per joint."""
    start, goal = np.asarray(start, dtype=float), np.asarray(goal, dtype=float)
    count = int(np.clip(math.ceil(np.max(np.abs(goal - start)) / max_step_rad) + 1, 2, 2000))
    fraction = np.linspace(0.0, 1.0, count)[:, None]
    return start + fraction * (goal - start)


def straight_cartesian_path(scene: Scene, step_m: float = 0.004, step_rad: float = 0.02) -> np.ndarray | None:
    """(K, 4) configurations solving, with the analytic IK on the start's elbow branch, the
    Cartesian straight line (position) and slerp (orientation) from the start pose to the goal
    pose; ``None`` if a waypoint has no in-limit solution on that branch."""
    start_q, goal_q = np.asarray(scene.start_joints), np.asarray(scene.goal_joints)
    poses = forward_kinematics(np.stack([start_q, goal_q]))
    distance = float(np.linalg.norm(poses[1, :3] - poses[0, :3]))
    angle = float(quat_angle(poses[0, 3:], poses[1, 3:]))
    count = max(2, math.ceil(max(distance / step_m, angle / step_rad)) + 1)
    fraction = np.linspace(0.0, 1.0, count)
    positions = poses[0, :3] + fraction[:, None] * (poses[1, :3] - poses[0, :3])
    waypoints = np.concatenate([positions, slerp(poses[0, 3:], poses[1, 3:], fraction)], -1)
    solutions = analytic_ik_solutions(waypoints)
    first = analytic_ik_solutions(poses[0])
    branch = int(np.nanargmin(np.where(first.valid, np.abs(first.joints - start_q).sum(-1), np.inf)))
    if not first.valid[branch] or not np.all(solutions.valid[:, branch]):
        return None
    return solutions.joints[:, branch]


def path_clearance(scene: Scene, path: str = "joint") -> float:
    """Smallest arm clearance (m) along the scene's naive path from start to goal.

    Args:
        scene: the scene.
        path: ``"joint"`` (straight line in joint space) or ``"cartesian"`` (straight line of the
            end effector, see :func:`straight_cartesian_path`).

    Returns:
        Negative if the naive path collides, ``+inf`` with no obstacles, NaN if a Cartesian path
        leaves the reachable set. Moving obstacles are taken at the time the arm passes, the path
        being run at the joint velocity limit.
    """
    if path not in ("joint", "cartesian"):
        raise InvalidInputError(f"unknown path {path!r}; valid choices: cartesian, joint")
    if path == "joint":
        configurations = straight_joint_path(scene.start_joints, scene.goal_joints)
    else:
        configurations = straight_cartesian_path(scene)
    if configurations is None:
        return math.nan
    if not scene.obstacles:
        return math.inf
    if not scene.is_dynamic:
        return float(signed_distances(configurations, scene.obstacle_set(), validate=False).min())
    travel = np.concatenate([[0.0], np.cumsum(np.max(np.abs(np.diff(configurations, axis=0)), axis=1))])
    times = travel / MAX_JOINT_VELOCITY_RAD_S
    return float(min(
        signed_distances(q, scene.obstacle_set(time_s), validate=False).min()
        for q, time_s in zip(configurations, times, strict=True)
    ))


def straight_path_blocked(scene: Scene, path: str = "joint") -> bool:
    """True if the naive path (see :func:`path_clearance`) collides with an obstacle."""
    return bool(path_clearance(scene, path) < 0.0)


# --------------------------------------------------------------------------------- given scenes
class SceneCheck(NamedTuple):
    """What :func:`check_scene` measured of a scene (m, sphere model of the real arm)."""

    start_clearance_m: float  #: smallest start-configuration clearance to the obstacles (+inf with none)
    base_clearance_m: float  #: smallest clearance of the base (``link1``) to the obstacles (+inf with none)
    goal_clearance_m: float  #: smallest goal-configuration clearance to obstacles, table and itself
    lowest_centre_m: float  #: lowest obstacle centre over the motion (+inf with none)

    @property
    def goal_clear(self) -> bool:
        """False if the goal configuration touches an obstacle, the table or itself: such a goal
        cannot be reached without contact (flagged, not refused: tests drive into obstacles)."""
        return self.goal_clearance_m >= 0.0


def check_scene(scene: Scene, where: str = "scene") -> SceneCheck:
    """Check that ``scene`` is physically possible before it runs; return what was measured.

    Rules: every obstacle centre lies at or above the table surface (z = 0) at every phase of its
    motion; no obstacle touches the robot's base (``link1``); at time 0 no obstacle touches the arm
    in its start configuration, which is above the table and free of self-collision. Goals are
    reachable by construction (in-limit joints); a goal configuration in contact is reported in
    :attr:`SceneCheck.goal_clear`.

    Raises:
        InvalidInputError: a rule is broken (the message names ``where``, the obstacle and the distance).
    """
    start = np.asarray(scene.start_joints, dtype=float)
    goal = np.asarray(scene.goal_joints, dtype=float)
    table_start = float(table_clearance(start, validate=False))
    if table_start < 0.0:
        raise InvalidInputError(f"{where}: the start configuration reaches {-table_start * 1e3:.1f} mm into the "
                                "table; expected the arm above the table (z >= 0)")
    self_start = float(self_clearance(start, validate=False))
    if self_start < 0.0:
        raise InvalidInputError(f"{where}: the start configuration collides with itself ({-self_start * 1e3:.1f} mm)")
    goal_clearance = min(float(table_clearance(goal, validate=False)), float(self_clearance(goal, validate=False)))
    if not scene.obstacles:
        return SceneCheck(math.inf, math.inf, goal_clearance, math.inf)
    names = [obstacle.name for obstacle in scene.obstacles]
    phases = np.linspace(0.0, 1.0, MOTION_PHASES, endpoint=False)
    lowest = math.inf
    for obstacle in scene.obstacles:
        times = phases * obstacle.motion.period_s if obstacle.motion is not None else np.zeros(1)
        low = float(obstacle.position_at(times)[:, 2].min())
        if low < 0.0:
            raise InvalidInputError(f"{where}: obstacle {obstacle.name!r} has its centre {-low * 1e3:.1f} mm under "
                                    "the table; expected centres at z >= 0")
        lowest = min(lowest, low)
    obstacles = scene.obstacle_set(0.0)
    distances = signed_distances(np.stack([start, goal]), obstacles, validate=False)  # (2, L, M)
    base = float(distances[0, 0].min())
    if base < 0.0:
        name = names[int(distances[0, 0].argmin())]
        raise InvalidInputError(f"{where}: obstacle {name!r} reaches {-base * 1e3:.1f} mm into the robot's base; "
                                "expected obstacles clear of the base")
    start_clearance = float(distances[0].min())
    if start_clearance < 0.0:
        name = names[int(distances[0].min(axis=0).argmin())]
        raise InvalidInputError(f"{where}: obstacle {name!r} overlaps the arm in its start configuration by "
                                f"{-start_clearance * 1e3:.1f} mm; expected the start clear of every obstacle")
    goal_clearance = min(goal_clearance, float(distances[1].min()))
    return SceneCheck(start_clearance, base, goal_clearance, lowest)


@functools.lru_cache(maxsize=256)
def _checked_scene(scene: Scene, where: str) -> Scene:
    check_scene(scene, where)
    return scene


def _checked(scene: Scene, where: str) -> Scene:
    """``scene`` after :func:`check_scene` (remembered, so a fixed scene is checked once)."""
    return _checked_scene(scene, where)


# --------------------------------------------------------------------------------- placement
def _floats(values: np.ndarray) -> tuple:
    return tuple(float(v) for v in values)


def _yaw_quaternions(yaw: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions ``[0, 0, sin(yaw / 2), cos(yaw / 2)]`` of turns by ``yaw`` (...,) rad about z."""
    half = np.asarray(yaw, dtype=float) / 2
    quaternions = np.zeros((*half.shape, 4))
    quaternions[..., 2], quaternions[..., 3] = np.sin(half), np.cos(half)
    return quaternions


@functools.lru_cache(maxsize=64)
def _kind_codes(kinds: tuple[str, ...]) -> np.ndarray:
    """(K,) int64 :data:`~sim.robot.obstacle_kinds.KIND_CODES` of ``kinds`` (read-only, kept per tuple)."""
    codes = np.array([KIND_CODES[kind] for kind in kinds], dtype=np.int64)
    codes.setflags(write=False)
    return codes


def _place(group: ObstacleGroup, index: int, path: np.ndarray | None, ends_centres: np.ndarray,
           spec: ScenarioSpec, rng: np.random.Generator) -> Obstacle | None:
    """One obstacle of ``group`` passing every placement rule, or ``None`` (batched candidates).
    ``path``: (K, 4) the straight joint path (rad; ``None`` if no group is placed on it);
    ``ends_centres``: (2, S, 3) sphere centres of the start and goal configurations (m)."""
    count = _CANDIDATES
    kind_index = rng.integers(len(group.kinds), size=count)
    radius = rng.uniform(*group.radius_m, count)
    half_extents = rng.uniform(*group.half_extent_m, (count, 3))
    half_height = rng.uniform(*group.half_height_m, count)
    codes = _kind_codes(group.kinds)[kind_index]
    is_box, is_cylinder = codes == KIND_CODES["box"], codes == KIND_CODES["cylinder"]
    # Sphere (r, 0, 0), box half extents, cylinder (r, half height, 0): the same values as row by row.
    sizes = np.where(is_box[:, None], half_extents, 0.0)
    sizes[:, 0] = np.where(is_box, sizes[:, 0], radius)
    sizes[:, 1] = np.where(is_cylinder, half_height, sizes[:, 1])
    yaw = rng.uniform(-math.pi, math.pi, count) if group.random_yaw else np.zeros(count)
    if group.placement == "path":
        steps = len(path)
        which = rng.integers(int(0.2 * (steps - 1)), int(0.8 * (steps - 1)) + 1, count)
        link = _AIM_CDF.searchsorted(rng.random(count), side="right")  # rng.choice(7, count, p=weights)
        # Sphere int(u * n) of the link's n spheres (u * n in float64 as for one candidate; truncation = int()).
        offset = (rng.random(count) * _LINK_SPHERE_COUNT[link]).astype(np.int64)
        sphere = _LINK_SPHERES[_LINK_SPHERE_START[link] + offset]
        centres = chosen_sphere_centres(path, which, sphere)  # sphere_centres(path)[which, sphere]
        direction = rng.normal(size=(count, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        centres = centres + direction * group.path_jitter_m * np.cbrt(rng.uniform(0, 1, count))[:, None]
    else:
        centres = spec.region.sample(rng, count)
    heights = np.where(is_box, sizes[:, 2], np.where(is_cylinder, sizes[:, 1], sizes[:, 0]))
    if group.on_table:
        centres[:, 2] = heights
    yaw = np.where(is_box, yaw, 0.0)
    motion_phase = rng.uniform(0, 2 * math.pi, count)
    amplitude = rng.uniform(*group.motion.amplitude_m, count) if group.motion else np.zeros(count)
    period = rng.uniform(*group.motion.period_s, count) if group.motion else np.ones(count)
    axis = rng.normal(size=(count, 3))  # drawn for static groups too: the same draws for every group
    if group.motion is not None:
        if group.on_table:
            axis[:, 2] = 0.0  # obstacles standing on the table slide on it
        axis /= np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-12)
    positions = centres[:, None, :] + _motion_offsets(group, amplitude, motion_phase, axis)  # (C, T, 3)
    horizontal = np.where(is_box, np.hypot(sizes[:, 0], sizes[:, 1]), sizes[:, 0])
    valid = np.all(spec.region.contains(positions), axis=1)
    valid &= np.all(np.hypot(positions[..., 0], positions[..., 1]) - horizontal[:, None] >= MIN_BASE_DISTANCE_M, axis=1)
    if not valid.any():
        return None
    # The candidates in order against the start and goal spheres placed once per scene, at every phase,
    # up to the first that keeps the margin: what signed_distances(ends_q, ObstacleSet.from_list(...))
    # of every candidate decides (the same compiled loop), at the cost of the candidates up to it.
    quaternions = _yaw_quaternions(yaw)
    i = first_clear_obstacle(valid, codes, positions, quaternions, sizes, ends_centres, spec.clearance_margin_m)
    if i < 0:
        return None
    kind = group.kinds[kind_index[i]]
    motion = None
    if group.motion is not None:
        motion = Motion(group.motion.kind, float(amplitude[i]), float(period[i]), float(motion_phase[i]),
                        _floats(axis[i]))
    return Obstacle(f"{kind}_{index}", kind, _floats(sizes[i, : SIZE_LENGTHS[kind]]), _floats(centres[i]),
                    _floats(quaternions[i]), motion)


def _motion_offsets(group: ObstacleGroup, amplitude: np.ndarray, phase: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(C, T, 3) offsets of C candidate motions at :data:`MOTION_PHASES` evenly spaced phases of
    their period (T = 1, zero offset, for static groups); same formulas as :class:`~sim.scene.obstacles.Motion`."""
    if group.motion is None:
        return np.zeros((len(amplitude), 1, 3))
    angle = np.linspace(0.0, 2 * math.pi, MOTION_PHASES, endpoint=False) + phase[:, None]
    if group.motion.kind == "linear":
        return amplitude[:, None, None] * np.sin(angle)[..., None] * axis[:, None, :]
    return amplitude[:, None, None] * np.stack([np.cos(angle), np.sin(angle), np.zeros_like(angle)], -1)


def _arm_plane(goal: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The goal arm's vertical plane: origin (3,) on joint 1's axis at table height, unit
    direction (3,) of its reach, and the end effector's signed reach along it (m)."""
    yaw = float(goal[0])
    direction = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    origin = np.array([JOINT1_XYZ[0], 0.0, 0.0])
    reach = float((forward_kinematics(goal, validate=False)[:3] - origin) @ direction)
    return origin, direction, reach


def _gate(spec: GateSpec, goal: np.ndarray, rng: np.random.Generator) -> list[Obstacle]:
    """Two posts either side of the goal arm's plane, at a fraction of its reach."""
    origin, direction, reach = _arm_plane(goal)
    tangent = np.array([-direction[1], direction[0], 0.0])
    gap, radius = rng.uniform(*spec.gap_m), rng.uniform(*spec.post_radius_m)
    height = rng.uniform(*spec.post_height_m)
    centre = origin + rng.uniform(*spec.reach_fraction) * reach * direction + np.array([0.0, 0.0, height / 2])
    return [
        Obstacle(f"gate_post_{side}", "cylinder", (float(radius), float(height / 2)),
                 _floats(centre + sign * (gap / 2 + radius) * tangent))
        for side, sign in (("left", 1.0), ("right", -1.0))
    ]


def _shelf(spec: ShelfSpec, goal: np.ndarray, rng: np.random.Generator) -> list[Obstacle]:
    """An open box around the goal end effector, its opening facing the base."""
    pose = forward_kinematics(goal, validate=False)
    _, direction, reach = _arm_plane(goal)
    inward = direction * (1.0 if reach >= 0 else -1.0)  # from the base towards the goal
    yaw = math.atan2(inward[1], inward[0])
    width, height = rng.uniform(*spec.inner_half_width_m), rng.uniform(*spec.inner_half_height_m)
    depth, back = rng.uniform(*spec.depth_m), rng.uniform(*spec.back_gap_m)
    t = spec.wall_half_thickness_m
    middle = back - depth / 2
    plates = {  # name: (centre, half extents) in the shelf frame (x into the shelf, z up)
        "bottom": ((middle, 0.0, -(height + t)), (depth / 2 + t, width + 2 * t, t)),
        "top": ((middle, 0.0, height + t), (depth / 2 + t, width + 2 * t, t)),
        "back": ((back + t, 0.0, 0.0), (t, width + 2 * t, height + 2 * t)),
        "left": ((middle, width + t, 0.0), (depth / 2, t, height)),
        "right": ((middle, -(width + t), 0.0), (depth / 2, t, height)),
    }
    rotation = np.array([[math.cos(yaw), -math.sin(yaw), 0.0], [math.sin(yaw), math.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
    quaternion = _floats(_yaw_quaternions(np.array(yaw)))
    return [
        Obstacle(f"shelf_{name}", "box", _floats(half), _floats(pose[:3] + rotation @ np.array(centre)), quaternion)
        for name, (centre, half) in plates.items()
    ]


def _structures_valid(obstacles: list[Obstacle], ends_q: np.ndarray, spec: ScenarioSpec) -> bool:
    """Region, base distance, table and start/goal clearance rules for gate and shelf parts."""
    positions = np.array([obstacle.position for obstacle in obstacles])
    if not np.all(spec.region.contains(positions)):
        return False
    horizontal = np.array([obstacle.horizontal_radius_m() for obstacle in obstacles])
    if np.any(np.hypot(positions[:, 0], positions[:, 1]) - horizontal < MIN_BASE_DISTANCE_M):
        return False
    lowest = positions[:, 2] - np.array([obstacle.size[-1] if obstacle.kind != "sphere" else obstacle.size[0]
                                         for obstacle in obstacles])
    if np.any(lowest < -1e-9):
        return False
    scene_set = ObstacleSet.from_list(
        [obstacle.kind for obstacle in obstacles], positions, [obstacle.padded_size() for obstacle in obstacles],
        [obstacle.orientation for obstacle in obstacles],
    )
    return bool(signed_distances(ends_q, scene_set, validate=False).min() >= spec.clearance_margin_m)


__all__ = [
    "MOTION_PHASES", "PATH_STEP_RAD", "SAMPLE_BATCH_BUDGET", "SceneCheck", "check_scene", "path_clearance",
    "sample_configuration", "sample_scene", "scene_for_episode", "straight_cartesian_path", "straight_joint_path",
    "straight_path_blocked",
]

"""What a scenario samples, as data: :class:`ScenarioSpec` and its parts.

A scenario spec is pure data (frozen dataclasses of numbers, tuples and names), so the same thing
can be written as a TOML file (``scenarios/`` loads and writes them, field for field). Sampling a
:class:`~sim.scene.obstacles.Scene` from it is :func:`sim.scene.scene_sampling.sample_scene`.

Frames and units: the base frame (``link1``, z up, table surface at z = 0), metres, radians,
seconds. Every validation error is an :class:`~sim.errors.InvalidInputError` whose message
starts with the offending field's name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sim.errors import InvalidInputError, invalid_value, show_value
from sim.robot.kinematics import JOINT_LIMITS
from sim.robot.obstacle_kinds import OBSTACLE_KINDS
from sim.scene.obstacles import (
    MAX_OBSTACLE_SIZE_M,
    MAX_OBSTACLE_SPEED_M_S,
    MAX_SCENE_OBSTACLES,
    WORKSPACE_BOUND_M,
    Scene,
    _choice,
    _integer,
    _name,
    _number,
    _range,
    _sequence,
    _vector,
)

_LOWER_LIMITS: tuple[float, ...] = tuple(float(v) for v in JOINT_LIMITS[:, 0])
_UPPER_LIMITS: tuple[float, ...] = tuple(float(v) for v in JOINT_LIMITS[:, 1])
#: Bounds of the numbers a scenario may ask for, so that no scenario can make sampling hang:
#: scene attempts, obstacle groups, fixed scenes, and the length of a description (characters).
MAX_SAMPLE_ATTEMPTS: int = 1000
MAX_OBSTACLE_GROUPS: int = 16
MAX_FIXED_SCENES: int = 1000
MAX_DESCRIPTION_CHARS: int = 500


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class Region:
    """Where obstacle centres may lie: a cylindrical sector around the base's z axis.

    Attributes:
        radius_m: horizontal distance of centres from the z axis, ``(min, max)`` m.
        yaw_rad: azimuth of centres, ``(min, max)`` within ``[-pi, pi]``.
        z_m: height of centres above the table, ``(min, max)`` m; never below the table (z = 0).
    """

    radius_m: tuple[float, float] = (0.1, 0.38)
    yaw_rad: tuple[float, float] = (-math.pi, math.pi)
    z_m: tuple[float, float] = (0.0, 0.35)

    def __post_init__(self) -> None:
        _set(self, "radius_m", _range("region.radius_m", self.radius_m, low=0.0, high=WORKSPACE_BOUND_M))
        _set(self, "yaw_rad", _range("region.yaw_rad", self.yaw_rad, low=-math.pi - 1e-9, high=math.pi + 1e-9))
        _set(self, "z_m", _range("region.z_m", self.z_m, low=0.0, high=WORKSPACE_BOUND_M))

    def contains(self, points: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
        """(...,) bool: which of ``points`` (..., 3) m lie inside the region."""
        points = np.asarray(points, dtype=float)
        radius = np.hypot(points[..., 0], points[..., 1])
        yaw = np.arctan2(points[..., 1], points[..., 0])
        return (
            (radius >= self.radius_m[0] - tolerance) & (radius <= self.radius_m[1] + tolerance)
            & (yaw >= self.yaw_rad[0] - tolerance) & (yaw <= self.yaw_rad[1] + tolerance)
            & (points[..., 2] >= self.z_m[0] - tolerance) & (points[..., 2] <= self.z_m[1] + tolerance)
        )

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """(count, 3) points uniform over the region's area (in radius) and height."""
        radius = np.sqrt(rng.uniform(self.radius_m[0] ** 2, self.radius_m[1] ** 2, count))
        yaw = rng.uniform(*self.yaw_rad, count)
        return np.stack([radius * np.cos(yaw), radius * np.sin(yaw), rng.uniform(*self.z_m, count)], -1)


@dataclass(frozen=True)
class ConfigurationSpec:
    """How a start or goal joint configuration is drawn: uniform in a joint box, then filtered.

    Attributes:
        joint_low, joint_high: (4,) joint range (rad) inside ``JOINT_LIMITS``; equal for a fixed joint.
        pitch_rad: optional end-effector pitch ``q2 + q3 + q4`` range (rad); joint 4 is then
            solved from it, so pitch-constrained goals cost no rejection.
        ee_radius_m: optional horizontal distance of the end effector from the z axis (m).
        ee_z_m: optional end-effector height (m).
    """

    joint_low: tuple[float, float, float, float] = _LOWER_LIMITS  # type: ignore[assignment]
    joint_high: tuple[float, float, float, float] = _UPPER_LIMITS  # type: ignore[assignment]
    pitch_rad: tuple[float, float] | None = None
    ee_radius_m: tuple[float, float] | None = None
    ee_z_m: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        _set(self, "joint_low", _vector("joint_low", self.joint_low, 4))
        _set(self, "joint_high", _vector("joint_high", self.joint_high, 4))
        low, high = np.array(self.joint_low), np.array(self.joint_high)
        if np.any(low > high):
            raise InvalidInputError(f"joint_low {show_value(low)} exceeds joint_high {show_value(high)}")
        if np.any(low < JOINT_LIMITS[:, 0] - 1e-9) or np.any(high > JOINT_LIMITS[:, 1] + 1e-9):
            limits = ", ".join(f"[{lo:.3g}, {hi:.3g}]" for lo, hi in JOINT_LIMITS)
            raise invalid_value("joint_low/joint_high", [show_value(low), show_value(high)],
                                f"values inside the joint limits {limits}")
        bounds = {"pitch_rad": 2 * math.pi, "ee_radius_m": WORKSPACE_BOUND_M, "ee_z_m": WORKSPACE_BOUND_M}
        for name, bound in bounds.items():
            if getattr(self, name) is not None:
                _set(self, name, _range(name, getattr(self, name), low=-bound, high=bound))


@dataclass(frozen=True)
class MotionSpec:
    """Motion of dynamic obstacles: ``linear`` oscillates along a random 3-D direction,
    ``circular`` circles in a horizontal plane; both sinusoidal in time.

    Attributes:
        kind: ``"linear"`` or ``"circular"``.
        amplitude_m: ``(min, max)`` half stroke or circle radius (m).
        period_s: ``(min, max)`` period (s).
    """

    kind: Literal["linear", "circular"] = "linear"
    amplitude_m: tuple[float, float] = (0.03, 0.08)
    period_s: tuple[float, float] = (2.0, 5.0)

    def __post_init__(self) -> None:
        _choice("motion.kind", self.kind, ("linear", "circular"))
        _set(self, "amplitude_m", _range("motion.amplitude_m", self.amplitude_m, low=0.0, high=0.3))
        _set(self, "period_s", _range("motion.period_s", self.period_s, low=1e-3, high=1e4))
        speed = 2 * math.pi * self.amplitude_m[1] / self.period_s[0]
        if speed > MAX_OBSTACLE_SPEED_M_S:
            raise InvalidInputError(f"motion: peak speed 2 pi amplitude_m[1] / period_s[0] = {speed:.3g} m/s; "
                                    f"expected at most {MAX_OBSTACLE_SPEED_M_S} m/s")


@dataclass(frozen=True)
class ObstacleGroup:
    """A number of randomly placed obstacles of the given kinds (each drawn uniformly).

    Attributes:
        kinds: obstacle kinds to draw from.
        count: ``(min, max)`` number of obstacles, inclusive (at most :data:`~sim.scene.obstacles.MAX_SCENE_OBSTACLES`).
        radius_m: sphere and cylinder radius range (m).
        half_extent_m: box half-extent range (m), drawn per axis.
        half_height_m: cylinder half-height range (m); cylinders stand upright.
        placement: ``"path"`` centres the obstacle on the arm's straight joint-space path from
            start to goal (plus jitter), so it blocks that naive path; ``"uniform"`` anywhere in
            the region.
        path_jitter_m: radius of the uniform ball added to path placements (m).
        on_table: stand the obstacle on the table (centre height = its half height).
        random_yaw: turn boxes by a random angle about z.
        motion: optional :class:`MotionSpec` making these obstacles dynamic.
    """

    kinds: tuple[str, ...] = OBSTACLE_KINDS
    count: tuple[int, int] = (1, 1)
    radius_m: tuple[float, float] = (0.02, 0.04)
    half_extent_m: tuple[float, float] = (0.015, 0.035)
    half_height_m: tuple[float, float] = (0.03, 0.08)
    placement: Literal["path", "uniform"] = "path"
    path_jitter_m: float = 0.02
    on_table: bool = False
    random_yaw: bool = True
    motion: MotionSpec | None = None

    def __post_init__(self) -> None:
        kinds = _sequence("kinds", self.kinds, None, "a list of obstacle kinds")
        if not 0 < len(kinds) <= 3 * len(OBSTACLE_KINDS):
            raise invalid_value("kinds", kinds, f"1 to {3 * len(OBSTACLE_KINDS)} of {', '.join(OBSTACLE_KINDS)}")
        for kind in kinds:
            _choice("kinds", kind, OBSTACLE_KINDS)
        _set(self, "kinds", kinds)
        count = _sequence("count", self.count, 2, "two integers [min, max]")
        count = tuple(_integer(f"count[{i}]", c, low=0, high=MAX_SCENE_OBSTACLES) for i, c in enumerate(count))
        if count[0] > count[1]:
            raise InvalidInputError(f"count: min {count[0]} is greater than max {count[1]}")
        _set(self, "count", count)
        for name in ("radius_m", "half_extent_m", "half_height_m"):
            _set(self, name, _range(name, getattr(self, name), low=1e-3, high=MAX_OBSTACLE_SIZE_M))
        _choice("placement", self.placement, ("path", "uniform"))
        _set(self, "path_jitter_m", _number("path_jitter_m", self.path_jitter_m, low=0.0, high=0.2, unit=" m"))
        for name in ("on_table", "random_yaw"):
            if not isinstance(getattr(self, name), bool):
                raise invalid_value(name, getattr(self, name), "true or false")
        if self.motion is not None and not isinstance(self.motion, MotionSpec):
            raise invalid_value("motion", self.motion, "a MotionSpec or None")


@dataclass(frozen=True)
class GateSpec:
    """Two upright posts standing either side of the goal arm's vertical plane: a gap the arm
    must pass through (the ``narrow`` scenario).

    Attributes:
        gap_m: clear width between the posts (m).
        post_radius_m: post (cylinder) radius (m).
        post_height_m: post height above the table (m).
        reach_fraction: where the gate stands, as a fraction of the goal end effector's
            horizontal distance from the base.
    """

    # Sized for the real gripper: the sphere model of ROBOTIS' wrist/gripper rail spans +-71 mm
    # across the arm's plane (the CAD +-64 mm), so 165-185 mm leaves it 12-22 mm each side.
    gap_m: tuple[float, float] = (0.165, 0.185)
    post_radius_m: tuple[float, float] = (0.015, 0.025)
    post_height_m: tuple[float, float] = (0.2, 0.32)
    reach_fraction: tuple[float, float] = (0.5, 0.8)

    def __post_init__(self) -> None:
        _set(self, "gap_m", _range("gate.gap_m", self.gap_m, low=0.02, high=0.4))
        _set(self, "post_radius_m", _range("gate.post_radius_m", self.post_radius_m, low=1e-3,
                                           high=MAX_OBSTACLE_SIZE_M))
        _set(self, "post_height_m", _range("gate.post_height_m", self.post_height_m, low=1e-3,
                                           high=2 * MAX_OBSTACLE_SIZE_M))
        _set(self, "reach_fraction", _range("gate.reach_fraction", self.reach_fraction, low=0.0, high=1.0))


@dataclass(frozen=True)
class ShelfSpec:
    """An open box (bottom, top, back and two sides) around the goal, opening towards the base
    (the ``shelf`` scenario).

    Attributes:
        inner_half_width_m: half of the opening's width (m).
        inner_half_height_m: half of the opening's height (m); the goal is centred vertically.
        depth_m: from the opening to the back wall (m).
        back_gap_m: from the goal to the back wall (m).
        wall_half_thickness_m: half thickness of every plate (m).
    """

    # Sized for the real gripper (ROBOTIS' CAD): its rail is +-64 mm wide, the palms +-29 mm high,
    # and the fingertips reach 21 mm past the end-effector point; plus the scenes' clearance margin.
    inner_half_width_m: tuple[float, float] = (0.09, 0.105)
    inner_half_height_m: tuple[float, float] = (0.065, 0.08)
    depth_m: tuple[float, float] = (0.15, 0.17)
    back_gap_m: tuple[float, float] = (0.04, 0.055)
    wall_half_thickness_m: float = 0.006

    def __post_init__(self) -> None:
        for name in ("inner_half_width_m", "inner_half_height_m", "depth_m", "back_gap_m"):
            _set(self, name, _range(f"shelf.{name}", getattr(self, name), low=1e-3, high=MAX_OBSTACLE_SIZE_M))
        _set(self, "wall_half_thickness_m", _number("shelf.wall_half_thickness_m", self.wall_half_thickness_m,
                                                    low=1e-3, high=0.05, unit=" m"))


@dataclass(frozen=True)
class ScenarioSpec:
    """Everything needed to sample scenes; the same fields as a scenario TOML file.

    Attributes:
        name: the scenario's name.
        description: one line for ``--help`` and reports.
        region: where obstacle centres may lie.
        start, goal: how the start and goal configurations are drawn.
        obstacles: groups of randomly placed obstacles.
        gate, shelf: optional structures placed relative to the goal.
        min_goal_distance_m: least end-effector distance between start and goal (m).
        clearance_margin_m: least capsule clearance of the start and goal configurations to
            every obstacle, at every time for moving ones (m).
        table_margin_m: least height of the moving links' capsules above the table at start and goal (m).
        max_sample_attempts: scene attempts before sampling gives up (at most
            :data:`MAX_SAMPLE_ATTEMPTS`; :func:`~sim.scene.scene_sampling.sample_scene` also stops after a
            fixed amount of work, so no scenario samples for more than a few seconds).
        fixed_scenes: if given, scenes are drawn from these instead of sampled (``benchmark``);
            :func:`~sim.scene.scene_sampling.check_scene` checks them before they run.
    """

    name: str
    description: str = ""
    region: Region = field(default_factory=Region)
    start: ConfigurationSpec = field(default_factory=ConfigurationSpec)
    goal: ConfigurationSpec = field(default_factory=ConfigurationSpec)
    obstacles: tuple[ObstacleGroup, ...] = ()
    gate: GateSpec | None = None
    shelf: ShelfSpec | None = None
    min_goal_distance_m: float = 0.08
    clearance_margin_m: float = 0.015
    table_margin_m: float = 0.01
    max_sample_attempts: int = 400
    fixed_scenes: tuple[Scene, ...] = ()

    def __post_init__(self) -> None:
        _name("name", self.name)
        if not isinstance(self.description, str) or len(self.description) > MAX_DESCRIPTION_CHARS:
            raise invalid_value("description", self.description,
                                f"a text of at most {MAX_DESCRIPTION_CHARS} characters")
        for name, kind in (("region", Region), ("start", ConfigurationSpec), ("goal", ConfigurationSpec)):
            if not isinstance(getattr(self, name), kind):
                raise invalid_value(name, getattr(self, name), f"a {kind.__name__}")
        for name, kind in (("gate", GateSpec), ("shelf", ShelfSpec)):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), kind):
                raise invalid_value(name, getattr(self, name), f"a {kind.__name__} or None")
        groups = _sequence("obstacles", self.obstacles, None, "a list of ObstacleGroup")
        if len(groups) > MAX_OBSTACLE_GROUPS or not all(isinstance(group, ObstacleGroup) for group in groups):
            raise invalid_value("obstacles", groups, f"at most {MAX_OBSTACLE_GROUPS} ObstacleGroup")
        _set(self, "obstacles", groups)
        scenes = _sequence("fixed_scenes", self.fixed_scenes, None, "a list of sim.scene.Scene")
        if len(scenes) > MAX_FIXED_SCENES or not all(isinstance(scene, Scene) for scene in scenes):
            raise invalid_value("fixed_scenes", scenes, f"at most {MAX_FIXED_SCENES} sim.scene.Scene")
        _set(self, "fixed_scenes", scenes)
        for name in ("min_goal_distance_m", "clearance_margin_m", "table_margin_m"):
            _set(self, name, _number(name, getattr(self, name), low=0.0, high=1.0, unit=" m"))
        _integer("max_sample_attempts", self.max_sample_attempts, low=1, high=MAX_SAMPLE_ATTEMPTS)
        if self.max_obstacle_count() > MAX_SCENE_OBSTACLES:
            raise invalid_value("obstacles", self.max_obstacle_count(),
                                f"scenes of at most {MAX_SCENE_OBSTACLES} obstacles (counts summed, gate 2, shelf 5)")

    def max_obstacle_count(self) -> int:
        """Largest number of obstacles a scene of this scenario can hold."""
        if self.fixed_scenes:
            return max(len(scene.obstacles) for scene in self.fixed_scenes)
        return sum(group.count[1] for group in self.obstacles) + 2 * (self.gate is not None) + 5 * (
            self.shelf is not None
        )

    @property
    def is_dynamic(self) -> bool:
        """True if obstacles of this scenario can move."""
        if self.fixed_scenes:
            return any(scene.is_dynamic for scene in self.fixed_scenes)
        return any(group.motion is not None for group in self.obstacles)

__all__ = [
    "ConfigurationSpec", "GateSpec", "MAX_DESCRIPTION_CHARS", "MAX_FIXED_SCENES", "MAX_OBSTACLE_GROUPS",
    "MAX_SAMPLE_ATTEMPTS", "MotionSpec", "ObstacleGroup", "Region", "ScenarioSpec", "ShelfSpec",
]

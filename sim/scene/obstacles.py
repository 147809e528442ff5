"""A sampled obstacle scene as data (:class:`Scene`): obstacles (kind, size, pose, optional
motion), the start and goal joint configurations and the goal pose.

What a scenario samples is :class:`sim.scene.scenario_spec.ScenarioSpec`; sampling lives in
:mod:`sim.scene.scene_sampling`; the built-in catalogue and the TOML format in ``scenarios/``.

Frames and units: the base frame (``link1``, z up, table surface at z = 0), metres, radians,
seconds; quaternions ``[qx, qy, qz, qw]``. Every validation error is an
:class:`~sim.errors.InvalidInputError` whose message starts with the offending field's name.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sim.errors import InvalidInputError, invalid_value, show_value
from sim.robot.collision import ObstacleSet
from sim.robot.kinematics import check_joints, forward_kinematics
from sim.robot.obstacle_kinds import OBSTACLE_KINDS, SIZE_LENGTHS

#: Obstacle surfaces keep at least this horizontal distance from the base's z axis (m).
MIN_BASE_DISTANCE_M: float = 0.08
#: Bounds every obstacle centre must respect (m), so observations have finite bounds.
WORKSPACE_BOUND_M: float = 0.8
MAX_OBSTACLE_SIZE_M: float = 0.3
MAX_OBSTACLE_SPEED_M_S: float = 1.0
#: Most obstacles one scene (or one scenario's scenes) may hold.
MAX_SCENE_OBSTACLES: int = 32
#: Longest obstacle or scenario name (characters).
MAX_NAME_CHARS: int = 64


def _is_number(value: object) -> bool:
    """A real number (not a bool, not a string); NumPy scalars count."""
    return type(value) is float or (isinstance(value, numbers.Real) and not isinstance(value, bool))


def _is_finite(value: object) -> bool:
    """A finite real number; an integer too large for a float is not finite."""
    if type(value) is float:  # the common case, without the ABC checks
        return math.isfinite(value)
    if not _is_number(value):
        return False
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (OverflowError, ValueError):
        return False


def _sequence(name: str, value: object, length: int | None, what: str) -> tuple:
    """``value`` as a tuple (a list, tuple or 1-D array), of ``length`` items if given."""
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1:
        value = value.tolist()  # type: ignore[union-attr]
    if not isinstance(value, (tuple, list)) or (length is not None and len(value) != length):
        raise invalid_value(name, value, what)
    return tuple(value)


def _number(name: str, value: object, *, low: float = -math.inf, high: float = math.inf, unit: str = "") -> float:
    """``value`` as a float: a finite number within ``[low, high]``."""
    if not _is_finite(value) or not low <= float(value) <= high:  # type: ignore[arg-type]
        raise invalid_value(name, value, f"a number within [{low:g}, {high:g}]{unit}")
    return float(value)  # type: ignore[arg-type]


def _integer(name: str, value: object, *, low: int, high: int) -> int:
    """``value`` as an int within ``[low, high]`` (bools and floats are refused)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not low <= int(value) <= high:
        raise invalid_value(name, value, f"an integer within [{low}, {high}]")
    return int(value)


def _range(name: str, value: object, *, low: float = -math.inf, high: float = math.inf) -> tuple[float, float]:
    """Check a ``(min, max)`` pair: two finite numbers, ordered, inside ``[low, high]``; returns it as floats."""
    pair = _sequence(name, value, 2, "two finite numbers [min, max]")
    if not all(_is_finite(v) for v in pair):
        raise invalid_value(name, value, "two finite numbers [min, max]")
    lo, hi = float(pair[0]), float(pair[1])
    if lo > hi:
        raise InvalidInputError(f"{name}: min {show_value(lo)} is greater than max {show_value(hi)}")
    if lo < low or hi > high:
        raise invalid_value(name, [lo, hi], f"[min, max] within [{low:g}, {high:g}]")
    return lo, hi


def _choice(name: str, value: object, valid: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in valid:
        raise InvalidInputError(f"{name}: unknown value {show_value(value)}; valid choices: {', '.join(valid)}")


def _vector(name: str, value: object, length: int) -> tuple[float, ...]:
    """``length`` finite numbers, returned as floats."""
    items = _sequence(name, value, length, f"{length} finite numbers")
    if not all(_is_finite(v) for v in items):
        raise invalid_value(name, value, f"{length} finite numbers")
    return tuple(float(v) for v in items)


def _name(name: str, value: object) -> str:
    """A scenario name: 1 to :data:`MAX_NAME_CHARS` printable characters, no path separator."""
    if (not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_CHARS or not value.isprintable()
            or "/" in value or "\\" in value):
        raise invalid_value(name, value, f"1 to {MAX_NAME_CHARS} printable characters without / or \\")
    return value


_OBSTACLE_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_NAME_CHARS}}}")
#: Body names the world uses itself (markers are ``marker:...``, which the pattern excludes).
_RESERVED_NAMES = ("table",)


def _obstacle_name(value: object) -> str:
    """An obstacle name: letters, digits, ``_.-``, not a name the world uses itself."""
    if not isinstance(value, str) or not _OBSTACLE_NAME.fullmatch(value) or value in _RESERVED_NAMES:
        raise invalid_value("obstacle.name", value, f"1 to {MAX_NAME_CHARS} letters, digits or _.- (not 'table')")
    return value


# --------------------------------------------------------------------------------- the scene
@dataclass(frozen=True)
class Motion:
    """A sampled obstacle motion; offsets from the obstacle's nominal position at time t (s):
    ``linear``: ``A sin(w t + phase) axis``; ``circular``: ``A (cos(w t + phase), sin(w t + phase), 0)``
    with ``w = 2 pi / period_s``."""

    kind: Literal["linear", "circular"]
    amplitude_m: float
    period_s: float
    phase_rad: float = 0.0
    axis: tuple[float, float, float] = (1.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        _choice("motion.kind", self.kind, ("linear", "circular"))
        object.__setattr__(self, "axis", _vector("motion.axis", self.axis, 3))
        object.__setattr__(self, "amplitude_m", _number("motion.amplitude_m", self.amplitude_m, low=0.0, high=0.3))
        object.__setattr__(self, "period_s", _number("motion.period_s", self.period_s, low=1e-3, high=1e4))
        object.__setattr__(self, "phase_rad", _number("motion.phase_rad", self.phase_rad, low=-1e3, high=1e3))
        if abs(float(np.linalg.norm(self.axis)) - 1.0) > 1e-6:
            raise invalid_value("motion.axis", self.axis, "a unit vector")
        if 2 * math.pi * self.amplitude_m / self.period_s > MAX_OBSTACLE_SPEED_M_S + 1e-9:
            raise InvalidInputError(
                f"motion: peak speed 2 pi amplitude_m / period_s exceeds {MAX_OBSTACLE_SPEED_M_S} m/s")

    def offset(self, time_s: np.ndarray | float) -> np.ndarray:
        """(..., 3) displacement (m) at times ``time_s`` (...,) s."""
        angle = 2 * math.pi * np.asarray(time_s, dtype=float) / self.period_s + self.phase_rad
        if self.kind == "linear":
            return self.amplitude_m * np.sin(angle)[..., None] * np.asarray(self.axis)
        return self.amplitude_m * np.stack([np.cos(angle), np.sin(angle), np.zeros_like(angle)], -1)

    def velocity(self, time_s: np.ndarray | float) -> np.ndarray:
        """(..., 3) velocity (m/s) at times ``time_s``."""
        omega = 2 * math.pi / self.period_s
        angle = omega * np.asarray(time_s, dtype=float) + self.phase_rad
        if self.kind == "linear":
            return self.amplitude_m * omega * np.cos(angle)[..., None] * np.asarray(self.axis)
        return self.amplitude_m * omega * np.stack([-np.sin(angle), np.cos(angle), np.zeros_like(angle)], -1)


@dataclass(frozen=True)
class Obstacle:
    """One obstacle of a scene.

    Attributes:
        name: unique within the scene (PyBullet body name, contact reports).
        kind: ``"sphere"``, ``"box"`` or ``"cylinder"``.
        size: sphere ``(radius,)``, box ``(half_x, half_y, half_z)``, cylinder ``(radius, half_height)`` (m).
        position: (3,) nominal centre, base frame (m); moving obstacles oscillate about it.
        orientation: (4,) quaternion ``[qx, qy, qz, qw]``.
        motion: ``None`` for a static obstacle.
    """

    name: str
    kind: str
    size: tuple[float, ...]
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    motion: Motion | None = None

    def __post_init__(self) -> None:
        _obstacle_name(self.name)
        _choice(f"obstacle {self.name!r} kind", self.kind, OBSTACLE_KINDS)
        size = _vector(f"obstacle {self.name!r} size", self.size, SIZE_LENGTHS[self.kind])
        if min(size) <= 0 or max(size) > MAX_OBSTACLE_SIZE_M:
            raise invalid_value(f"obstacle {self.name!r} size", size, f"values within (0, {MAX_OBSTACLE_SIZE_M}] m")
        position = _vector(f"obstacle {self.name!r} position", self.position, 3)
        if max(abs(v) for v in position) > WORKSPACE_BOUND_M:
            raise invalid_value(f"obstacle {self.name!r} position", position, f"values within +-{WORKSPACE_BOUND_M} m")
        orientation = _vector(f"obstacle {self.name!r} orientation", self.orientation, 4)
        if abs(float(np.linalg.norm(orientation)) - 1.0) > 1e-6:
            raise invalid_value(f"obstacle {self.name!r} orientation", orientation,
                                "a unit quaternion [qx, qy, qz, qw]")
        if self.motion is not None and not isinstance(self.motion, Motion):
            raise invalid_value(f"obstacle {self.name!r} motion", self.motion, "a sim.scene.Motion or None")
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "position", position)
        object.__setattr__(self, "orientation", orientation)

    def position_at(self, time_s: np.ndarray | float) -> np.ndarray:
        """(..., 3) centre (m) at times ``time_s`` (...,) s."""
        nominal = np.asarray(self.position, dtype=float)
        if self.motion is None:
            return np.broadcast_to(nominal, np.shape(time_s) + (3,)).copy()
        return nominal + self.motion.offset(time_s)

    def velocity_at(self, time_s: np.ndarray | float) -> np.ndarray:
        """(..., 3) velocity (m/s) at times ``time_s``."""
        if self.motion is None:
            return np.zeros(np.shape(time_s) + (3,))
        return self.motion.velocity(time_s)

    def padded_size(self) -> tuple[float, float, float]:
        """Size padded with zeros to 3 values, as :class:`~sim.robot.collision.ObstacleSet` stores it."""
        return tuple(self.size) + (0.0,) * (3 - len(self.size))  # type: ignore[return-value]

    def horizontal_radius_m(self) -> float:
        """Radius (m) of a vertical cylinder about the centre enclosing the obstacle (any yaw)."""
        if self.kind == "box":
            half_diagonal = math.hypot(self.size[0], self.size[1])
            return math.hypot(half_diagonal, self.size[2]) if self._tilted() else half_diagonal
        return float(self.size[0]) if self.kind == "sphere" or not self._tilted() else math.hypot(*self.size)

    def _tilted(self) -> bool:
        return abs(self.orientation[0]) > 1e-9 or abs(self.orientation[1]) > 1e-9


@dataclass(frozen=True)
class Scene:
    """One sampled scene: obstacles, start and goal (the goal pose follows from the goal joints).

    Attributes:
        obstacles: the scene's obstacles.
        start_joints: (4,) start configuration (rad).
        goal_joints: (4,) goal configuration (rad), inside the joint limits.
        scenario: name of the scenario it came from.
        goal_pose: (7,) ``forward_kinematics(goal_joints)`` ``[x, y, z, qx, qy, qz, qw]`` (derived).
    """

    obstacles: tuple[Obstacle, ...]
    start_joints: tuple[float, float, float, float]
    goal_joints: tuple[float, float, float, float]
    scenario: str = ""
    goal_pose: tuple[float, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        obstacles = _sequence("obstacles", self.obstacles, None, "a sequence of sim.scene.Obstacle")
        if len(obstacles) > MAX_SCENE_OBSTACLES or not all(isinstance(o, Obstacle) for o in obstacles):
            raise invalid_value("obstacles", obstacles, f"at most {MAX_SCENE_OBSTACLES} sim.scene.Obstacle")
        object.__setattr__(self, "obstacles", obstacles)
        if not isinstance(self.scenario, str) or len(self.scenario) > MAX_NAME_CHARS:
            raise invalid_value("scenario", self.scenario, f"a name of at most {MAX_NAME_CHARS} characters")
        for name in ("start_joints", "goal_joints"):
            object.__setattr__(self, name, _vector(name, getattr(self, name), 4))
            try:
                check_joints(np.asarray(getattr(self, name), dtype=float))
            except InvalidInputError as error:
                raise InvalidInputError(f"{name}: {error}") from None
        names = [obstacle.name for obstacle in self.obstacles]
        if len(set(names)) != len(names):
            raise invalid_value("obstacles", names, "unique names")
        pose = forward_kinematics(np.asarray(self.goal_joints, dtype=float))
        object.__setattr__(self, "goal_pose", tuple(float(v) for v in pose))

    @property
    def is_dynamic(self) -> bool:
        return any(obstacle.motion is not None for obstacle in self.obstacles)

    def obstacle_set(self, time_s: float = 0.0) -> ObstacleSet:
        """The obstacles at time ``time_s`` (s) for the sphere model (:mod:`sim.robot.collision`)."""
        return ObstacleSet.from_list(
            [obstacle.kind for obstacle in self.obstacles],
            [obstacle.position_at(time_s) for obstacle in self.obstacles] if self.obstacles else np.zeros((0, 3)),
            [obstacle.padded_size() for obstacle in self.obstacles],
            [obstacle.orientation for obstacle in self.obstacles] if self.obstacles else np.zeros((0, 4)),
        )

    def obstacle_set_over(self, times_s: np.ndarray) -> tuple[ObstacleSet, int]:
        """All obstacles at each of ``times_s`` (T,) in one set, ordered time-major (T * M
        obstacles: index ``t * M + m``); returns the set and M."""
        times = np.asarray(times_s, dtype=float).reshape(-1)
        count = len(self.obstacles)
        positions = np.stack([obstacle.position_at(times) for obstacle in self.obstacles], 1) if count else np.zeros(
            (len(times), 0, 3)
        )
        return ObstacleSet.from_list(
            [obstacle.kind for obstacle in self.obstacles] * len(times),
            positions.reshape(-1, 3),
            [obstacle.padded_size() for obstacle in self.obstacles] * len(times),
            [obstacle.orientation for obstacle in self.obstacles] * len(times) if count else np.zeros((0, 4)),
        ), count

__all__ = [
    "MAX_NAME_CHARS", "MAX_OBSTACLE_SIZE_M", "MAX_OBSTACLE_SPEED_M_S", "MAX_SCENE_OBSTACLES", "MIN_BASE_DISTANCE_M",
    "Motion", "Obstacle", "Scene", "WORKSPACE_BOUND_M",
]

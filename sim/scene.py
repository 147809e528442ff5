"""A sampled obstacle scene as data (:class:`Scene`): obstacles (kind, size, pose, optional
motion), the start and goal joint configurations and the goal pose.

What a scenario samples is :class:`sim.scenario_spec.ScenarioSpec`; sampling lives in
:mod:`sim.scene_sampling`; the built-in catalogue and the TOML format in ``scenarios/``.

Frames and units: the base frame (``link1``, z up, table surface at z = 0), metres, radians,
seconds; quaternions ``[qx, qy, qz, qw]``. Every validation error is an
:class:`~sim.errors.InvalidInputError` whose message starts with the offending field's name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sim.collision import ObstacleSet
from sim.errors import InvalidInputError
from sim.kinematics import check_joints, forward_kinematics

ObstacleKind = Literal["sphere", "box", "cylinder"]
OBSTACLE_KINDS: tuple[str, ...] = ("sphere", "box", "cylinder")
#: Number of size values per kind, as :meth:`sim.world.World.add_obstacle` takes them.
SIZE_LENGTHS: dict[str, int] = {"sphere": 1, "box": 3, "cylinder": 2}
#: Obstacle surfaces keep at least this horizontal distance from the base's z axis (m).
MIN_BASE_DISTANCE_M: float = 0.08
#: Bounds every obstacle centre must respect (m), so observations have finite bounds.
WORKSPACE_BOUND_M: float = 0.8
MAX_OBSTACLE_SIZE_M: float = 0.3
MAX_OBSTACLE_SPEED_M_S: float = 1.0


def _range(name: str, value: tuple, *, low: float = -math.inf, high: float = math.inf) -> None:
    """Check a ``(min, max)`` pair: two finite numbers, ordered, inside ``[low, high]``."""
    if len(value) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value):
        raise InvalidInputError(f"{name}: expected two finite numbers [min, max], got {list(value)}")
    if value[0] > value[1]:
        raise InvalidInputError(f"{name}: min {value[0]} is greater than max {value[1]}")
    if value[0] < low or value[1] > high:
        raise InvalidInputError(f"{name}: {list(value)} must lie within [{low}, {high}]")


def _choice(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise InvalidInputError(f"{name}: unknown value {value!r}; valid choices: {', '.join(valid)}")


def _vector(name: str, value: tuple, length: int) -> None:
    if len(value) != length or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value):
        raise InvalidInputError(f"{name}: expected {length} finite numbers, got {list(value)}")


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
        _vector("motion.axis", self.axis, 3)
        if not (0 <= self.amplitude_m <= 0.3 and self.period_s > 0 and math.isfinite(self.phase_rad)):
            raise InvalidInputError("motion: amplitude_m must lie in [0, 0.3] m and period_s be positive")
        if abs(float(np.linalg.norm(self.axis)) - 1.0) > 1e-6:
            raise InvalidInputError(f"motion.axis: must be a unit vector, got {list(self.axis)}")
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
        _choice("obstacle.kind", self.kind, OBSTACLE_KINDS)
        _vector(f"obstacle {self.name!r} size", self.size, SIZE_LENGTHS[self.kind])
        if min(self.size) <= 0 or max(self.size) > MAX_OBSTACLE_SIZE_M:
            raise InvalidInputError(f"obstacle {self.name!r} size: must lie within (0, {MAX_OBSTACLE_SIZE_M}] m")
        _vector(f"obstacle {self.name!r} position", self.position, 3)
        if max(abs(v) for v in self.position) > WORKSPACE_BOUND_M:
            raise InvalidInputError(f"obstacle {self.name!r} position: must lie within +-{WORKSPACE_BOUND_M} m")
        _vector(f"obstacle {self.name!r} orientation", self.orientation, 4)
        if abs(float(np.linalg.norm(self.orientation)) - 1.0) > 1e-6:
            raise InvalidInputError(f"obstacle {self.name!r} orientation: must be a unit quaternion [qx, qy, qz, qw]")

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
        """Size padded with zeros to 3 values, as :class:`~sim.collision.ObstacleSet` stores it."""
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
        for name in ("start_joints", "goal_joints"):
            _vector(name, getattr(self, name), 4)
            try:
                check_joints(np.asarray(getattr(self, name), dtype=float))
            except InvalidInputError as error:
                raise InvalidInputError(f"{name}: {error}") from None
        names = [obstacle.name for obstacle in self.obstacles]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"obstacles: names must be unique, got {names}")
        pose = forward_kinematics(np.asarray(self.goal_joints, dtype=float))
        object.__setattr__(self, "goal_pose", tuple(float(v) for v in pose))

    @property
    def is_dynamic(self) -> bool:
        return any(obstacle.motion is not None for obstacle in self.obstacles)

    def obstacle_set(self, time_s: float = 0.0) -> ObstacleSet:
        """The obstacles at time ``time_s`` (s) for the sphere model (:mod:`sim.collision`)."""
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

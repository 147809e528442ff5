"""Action mapping, observation layout, spaces and the goal-conditioned reward of the
obstacle-reach env.

Kept apart from :mod:`sim.env.env` so the layout (what each index means) and the reward (a pure,
vectorised function of achieved goal, desired goal and info, as HER needs) can be read and
tested on their own.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

from sim.env.env_arguments import (
    MAX_COLLISION_PENALTY,
    MAX_ORIENTATION_WEIGHT_M_PER_RAD,
    MAX_SUCCESS_DISTANCE_M,
    check_choice,
    check_number,
)
from sim.errors import InvalidInputError, invalid_value
from sim.robot.kinematics import JOINT_LIMITS, MAX_JOINT_VELOCITY_RAD_S
from sim.robot.obstacle_kinds import KIND_CODES
from sim.scene.obstacles import MAX_OBSTACLE_SIZE_M, MAX_OBSTACLE_SPEED_M_S, WORKSPACE_BOUND_M, Scene

RewardType = Literal["dense", "sparse"]
ActionMode = Literal["absolute", "delta"]

#: Features per obstacle slot: presence, kind one-hot (sphere, box, cylinder), centre (3, m),
#: quaternion (4), size padded to 3 (m), velocity (3, m/s).
OBSTACLE_FEATURES: int = 17
ROBOT_FEATURES: int = 22  # joint positions 4, joint velocities 4, end-effector pose 7, goal pose 7
_KIND_COLUMN = {kind: 1 + code for kind, code in KIND_CODES.items()}  # after the presence flag
_MAX_MOTION_M = 0.3

_POSE_LOW = np.array([-0.5, -0.5, -0.4, -1.0, -1.0, -1.0, -1.0])
_POSE_HIGH = np.array([0.5, 0.5, 0.6, 1.0, 1.0, 1.0, 1.0])
_JOINT_MARGIN_RAD = 0.1
_VELOCITY_BOUND = 2.0 * MAX_JOINT_VELOCITY_RAD_S
_OBSTACLE_LOW = np.array([0.0] * 4 + [-(WORKSPACE_BOUND_M + _MAX_MOTION_M)] * 3 + [-1.0] * 4 + [0.0] * 3
                         + [-MAX_OBSTACLE_SPEED_M_S] * 3)
_OBSTACLE_HIGH = np.array([1.0] * 4 + [WORKSPACE_BOUND_M + _MAX_MOTION_M] * 3 + [1.0] * 4 + [MAX_OBSTACLE_SIZE_M] * 3
                          + [MAX_OBSTACLE_SPEED_M_S] * 3)
# The joint limits as Python floats, for the per-step action mapping.
_LOW = tuple(JOINT_LIMITS[:, 0].tolist())
_HIGH = tuple(JOINT_LIMITS[:, 1].tolist())
_SPAN = tuple((JOINT_LIMITS[:, 1] - JOINT_LIMITS[:, 0]).tolist())


def action_to_joint_targets(action: Any, action_mode: ActionMode, joints_now: np.ndarray | None,
                            max_step_rad: float) -> np.ndarray:
    """(4,) joint targets (rad, clipped to the limits) of an action (4,) in [-1, 1] (clipped).

    ``"absolute"`` maps [-1, 1] linearly onto each joint's limits; ``"delta"`` moves the
    current joints ``joints_now`` (4,) by ``action * max_step_rad``.
    """
    return np.array(action_to_joint_target_list(action, action_mode, joints_now, max_step_rad))


def action_to_joint_target_list(action: Any, action_mode: ActionMode, joints_now: np.ndarray | None,
                                max_step_rad: float) -> list[float]:
    """:func:`action_to_joint_targets` as a list of 4 Python floats (rad; a step's hot path)."""
    if type(action) is np.ndarray and action.shape == (4,) and action.dtype in _FLOAT_DTYPES:
        values = action.tolist()  # float32 and float64 convert exactly, as through float64 arrays
    else:
        values = _real_values(action, "action")
    if values is None or not all(math.isfinite(value) for value in values):
        raise invalid_value("action", action, ACTION_EXPECTED)
    # Per joint in Python floats, the arithmetic of
    # clip(low + (clip(action, -1, 1) + 1) * 0.5 * (high - low), low, high) in NumPy, in the same order.
    clipped = [min(max(value, -1.0), 1.0) for value in values]
    if action_mode == "absolute":
        targets = [low + (value + 1.0) * 0.5 * span for value, low, span in zip(clipped, _LOW, _SPAN, strict=True)]
    else:
        now = np.asarray(joints_now, dtype=np.float64).tolist()
        targets = [joint + value * max_step_rad for value, joint in zip(clipped, now, strict=True)]
    return [min(max(target, low), high) for target, low, high in zip(targets, _LOW, _HIGH, strict=True)]


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: What an action must be, as error messages say it.
ACTION_EXPECTED = "4 finite real numbers, shape (4,), within [-1, 1] (farther values are clipped)"


def _real_values(values: Any, what: str, expected: str = ACTION_EXPECTED) -> list[float] | None:
    """``values`` as 4 Python floats (through a float64 array, as NumPy converts them), None if they are
    not 4 of them; strings, mappings, None, bools, complex and non-numeric (object) values are refused."""
    if values is None or isinstance(values, (str, bytes, Mapping)):
        raise invalid_value(what, values, expected)
    try:
        kind = np.asarray(values).dtype.kind
        if kind == "O" and not isinstance(values, np.ndarray) and all(  # Python ints beyond int64
                isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) for value in values):
            kind = "f"
        if kind not in "iuf":  # bool, complex, strings, objects
            raise invalid_value(what, values, expected)
        array = np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError, OverflowError) as error:  # ragged lists, broken array-likes
        if isinstance(error, InvalidInputError):
            raise
        raise invalid_value(what, values, expected) from None
    return array.tolist() if array.shape == (4,) else None


_JOINTS_EXPECTED = "4 finite joint angles (rad), shape (4,)"


def joint_targets_to_action(joints: Any, action_mode: ActionMode, joints_now: np.ndarray | None,
                            max_step_rad: float) -> np.ndarray:
    """(4,) float32 action in [-1, 1] commanding targets ``joints`` (4,) rad: the inverse of
    :func:`action_to_joint_targets` (in delta mode, as far as one step reaches)."""
    values = _real_values(joints, "joints", _JOINTS_EXPECTED)
    if values is None or not all(math.isfinite(value) for value in values):
        raise invalid_value("joints", joints, _JOINTS_EXPECTED)
    joints = np.array(values)
    low, high = JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1]
    if action_mode == "absolute":
        action = 2.0 * (joints - low) / (high - low) - 1.0
    else:
        action = (joints - joints_now) / max_step_rad
    return np.clip(action, -1.0, 1.0).astype(np.float32)


def observation_bounds(max_obstacles: int) -> tuple[np.ndarray, np.ndarray]:
    """Low and high bounds (float64) of the ``observation`` vector with ``max_obstacles`` slots."""
    low = np.concatenate([JOINT_LIMITS[:, 0] - _JOINT_MARGIN_RAD, np.full(4, -_VELOCITY_BOUND), _POSE_LOW, _POSE_LOW,
                          np.tile(_OBSTACLE_LOW, max_obstacles)])
    high = np.concatenate([JOINT_LIMITS[:, 1] + _JOINT_MARGIN_RAD, np.full(4, _VELOCITY_BOUND), _POSE_HIGH, _POSE_HIGH,
                           np.tile(_OBSTACLE_HIGH, max_obstacles)])
    return low, high


def observation_space(max_obstacles: int) -> spaces.Dict:
    """The goal-conditioned Dict space: ``observation``, ``achieved_goal``, ``desired_goal`` (float32)."""
    low, high = observation_bounds(max_obstacles)
    goal = spaces.Box(_POSE_LOW.astype(np.float32), _POSE_HIGH.astype(np.float32), dtype=np.float32)
    return spaces.Dict({
        "observation": spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32),
        "achieved_goal": goal,
        "desired_goal": spaces.Box(goal.low.copy(), goal.high.copy(), dtype=np.float32),
    })


def obstacle_features(scene: Scene, time_s: float, max_obstacles: int) -> np.ndarray:
    """(max_obstacles * 17,) float64 features of the scene's obstacles at ``time_s``, zero-padded."""
    features = np.zeros((max_obstacles, OBSTACLE_FEATURES))
    for row, obstacle in zip(features, scene.obstacles, strict=False):
        row[0] = 1.0
        row[_KIND_COLUMN[obstacle.kind]] = 1.0
        row[4:7] = obstacle.position_at(time_s)
        row[7:11] = obstacle.orientation
        row[11:14] = obstacle.padded_size()
        row[14:17] = obstacle.velocity_at(time_s)
    return features.reshape(-1)


def pack_observation(q: np.ndarray, qd: np.ndarray, ee_pose: np.ndarray, goal_pose: np.ndarray,
                     obstacles: np.ndarray, bounds: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """The observation dict (fresh float32 arrays), clipped into ``bounds`` (from :func:`observation_bounds`)."""
    vector = np.concatenate([q, qd, ee_pose, goal_pose, obstacles])
    vector = np.clip(vector, bounds[0], bounds[1]).astype(np.float32)
    return {
        "observation": vector,
        "achieved_goal": np.clip(ee_pose, _POSE_LOW, _POSE_HIGH).astype(np.float32),
        "desired_goal": np.clip(goal_pose, _POSE_LOW, _POSE_HIGH).astype(np.float32),
    }


class ObservationPacker:
    """Builds the observation dicts of one episode as :func:`pack_observation` does, the same values,
    with the goal and obstacle part of the vector clipped and cast once (:meth:`set_scene`) rather
    than every step.

    Args:
        bounds: from :func:`observation_bounds`.
    """

    def __init__(self, bounds: tuple[np.ndarray, np.ndarray]) -> None:
        self._low, self._high = bounds[0][:_HEAD], bounds[1][:_HEAD]
        self._head = np.empty(_HEAD)  # the per-step part, float64, reused
        self._bounds = bounds
        self._template: np.ndarray | None = None

    def set_scene(self, goal_pose: np.ndarray, obstacles: np.ndarray) -> None:
        """Fix the goal pose (7,) and obstacle features (from :func:`obstacle_features`) until the next call."""
        tail = np.concatenate([np.zeros(_HEAD), goal_pose, obstacles])
        self._template = np.clip(tail, self._bounds[0], self._bounds[1]).astype(np.float32)

    def pack(self, q: np.ndarray, qd: np.ndarray, ee_pose: np.ndarray) -> dict[str, np.ndarray]:
        """The observation dict (fresh float32 arrays) of joints (4,), velocities (4,) and end-effector pose (7,)."""
        if self._template is None:
            raise InvalidInputError("ObservationPacker.set_scene must be called before pack")
        vector = self._template.copy()
        # Clipped in float64 (np.clip's max-then-min, NaN kept), then rounded to float32 on
        # assignment: pack_observation's values exactly.
        head = np.concatenate((q, qd, ee_pose), out=self._head)
        vector[:_HEAD] = np.minimum(np.maximum(head, self._low, out=head), self._high, out=head)
        # The end-effector and goal slots use the goals' bounds, so the goals are those slices.
        return {"observation": vector, "achieved_goal": vector[8:15].copy(), "desired_goal": vector[15:22].copy()}


_HEAD = 15  # joint positions, velocities, end-effector pose: the per-step part of the vector


def goal_errors(achieved_goal: Any, desired_goal: Any) -> tuple[np.ndarray, np.ndarray]:
    """Position error (m) and geodesic orientation error (rad) between ``(..., 7)`` poses.

    Written element-wise (no reductions) so a batch gives bit-identical values to single calls.
    """
    a = np.asarray(achieved_goal, dtype=np.float64)
    d = np.asarray(desired_goal, dtype=np.float64)
    dx, dy, dz = a[..., 0] - d[..., 0], a[..., 1] - d[..., 1], a[..., 2] - d[..., 2]
    position_error = np.sqrt(dx * dx + dy * dy + dz * dz)
    # Squares as products: a NumPy scalar's ``** 2`` calls C's pow, which can differ from x * x
    # (what arrays compute) in the last bit, and single poses must match batches.
    norm_a = np.sqrt(a[..., 3] * a[..., 3] + a[..., 4] * a[..., 4] + a[..., 5] * a[..., 5] + a[..., 6] * a[..., 6])
    norm_d = np.sqrt(d[..., 3] * d[..., 3] + d[..., 4] * d[..., 4] + d[..., 5] * d[..., 5] + d[..., 6] * d[..., 6])
    qa = [a[..., i] / norm_a for i in range(3, 7)]
    qd = [d[..., i] / norm_d for i in range(3, 7)]
    sign = np.where(qa[0] * qd[0] + qa[1] * qd[1] + qa[2] * qd[2] + qa[3] * qd[3] < 0, -1.0, 1.0)
    # The geodesic angle as sim.robot.transforms.quat_angle computes it, 4 atan2(|a - b|, |a + b|):
    # exactly 0 for equal rotations (acos-style forms leave a ~3e-8 rad floor).
    minus = sum((x - sign * y) * (x - sign * y) for x, y in zip(qa, qd, strict=False))
    plus = sum((x + sign * y) * (x + sign * y) for x, y in zip(qa, qd, strict=False))
    angle = 4.0 * np.arctan2(np.sqrt(minus), np.sqrt(plus))
    return position_error, angle


def goal_errors_single(achieved_goal: np.ndarray, desired_goal: np.ndarray) -> tuple[float, float]:
    """:func:`goal_errors` of one pair of (7,) poses, as floats, bit-identical to it (Python floats
    for a step's hot path, the same operations in the same order; NumPy's arctan2, which can
    differ from math.atan2 in the last bit)."""
    return goal_errors_to(achieved_goal, goal_reference(desired_goal))


def goal_reference(desired_goal: np.ndarray) -> tuple[list[float], list[float]]:
    """The part of :func:`goal_errors_single` that depends on the desired (7,) pose alone: its
    values and its unit quaternion (computed once per episode by the env)."""
    d = np.asarray(desired_goal, dtype=np.float64).tolist()
    norm_d = math.sqrt(d[3] * d[3] + d[4] * d[4] + d[5] * d[5] + d[6] * d[6])
    return d, [d[i] / norm_d for i in range(3, 7)]


def goal_errors_to(achieved_goal: np.ndarray, reference: tuple[list[float], list[float]]) -> tuple[float, float]:
    """:func:`goal_errors_single` of an achieved (7,) pose and a desired pose's :func:`goal_reference`:
    position error (m) and geodesic orientation error (rad)."""
    # float32 and float64 values convert exactly to Python floats, as through a float64 array.
    a = achieved_goal.tolist() if type(achieved_goal) is np.ndarray and achieved_goal.dtype in _FLOAT_DTYPES \
        else np.asarray(achieved_goal, dtype=np.float64).tolist()
    d, (qd0, qd1, qd2, qd3) = reference
    dx, dy, dz = a[0] - d[0], a[1] - d[1], a[2] - d[2]
    position_error = math.sqrt(dx * dx + dy * dy + dz * dz)
    norm_a = math.sqrt(a[3] * a[3] + a[4] * a[4] + a[5] * a[5] + a[6] * a[6])
    qa0, qa1, qa2, qa3 = a[3] / norm_a, a[4] / norm_a, a[5] / norm_a, a[6] / norm_a
    sign = -1.0 if qa0 * qd0 + qa1 * qd1 + qa2 * qd2 + qa3 * qd3 < 0 else 1.0
    # The sums goal_errors adds left to right (squares are >= +0, so starting at 0 changes nothing).
    m0, m1, m2, m3 = qa0 - sign * qd0, qa1 - sign * qd1, qa2 - sign * qd2, qa3 - sign * qd3
    p0, p1, p2, p3 = qa0 + sign * qd0, qa1 + sign * qd1, qa2 + sign * qd2, qa3 + sign * qd3
    minus = m0 * m0 + m1 * m1 + m2 * m2 + m3 * m3
    plus = p0 * p0 + p1 * p1 + p2 * p2 + p3 * p3
    angle = 4.0 * float(np.arctan2(math.sqrt(minus), math.sqrt(plus)))
    return position_error, angle


@dataclass(frozen=True)
class RewardSpec:
    """Parameters of the goal-conditioned reward.

    Attributes:
        reward_type: ``"dense"``: ``-(position_error_m + orientation_weight_m_per_rad * angle_rad)``;
            ``"sparse"``: ``0`` on success, ``-1`` otherwise.
        success_distance_m: success needs the position error below this (m) ...
        success_angle_rad: ... and the orientation error below this (rad).
        orientation_weight_m_per_rad: metres of position error one radian of orientation error costs.
        collision_penalty: subtracted from either reward while the robot touches an obstacle or the table.

    Raises:
        InvalidInputError: an unknown reward type, or a value that is not a finite number within its range:
            success distance (0, 1] m, success angle (0, pi] rad, orientation weight [0, 10] m/rad,
            collision penalty [0, 1000] (strings and bools refused; the values are kept as Python floats).
    """

    reward_type: RewardType = "dense"
    success_distance_m: float = 0.01
    success_angle_rad: float = 0.1745
    orientation_weight_m_per_rad: float = 0.05
    collision_penalty: float = 1.0

    def __post_init__(self) -> None:  # each value checked and kept as a Python float (identical arithmetic)
        check_choice("reward type", self.reward_type, ("dense", "sparse"))
        checked = {
            "success_distance_m": check_number("success_distance_m", self.success_distance_m, 0.0,
                                               MAX_SUCCESS_DISTANCE_M, low_open=True, unit="m"),
            "success_angle_rad": check_number("success_angle_rad", self.success_angle_rad, 0.0, math.pi,
                                              low_open=True, unit="rad"),
            "orientation_weight_m_per_rad": check_number("orientation_weight_m_per_rad",
                                                         self.orientation_weight_m_per_rad, 0.0,
                                                         MAX_ORIENTATION_WEIGHT_M_PER_RAD, unit="m/rad"),
            "collision_penalty": check_number("collision_penalty", self.collision_penalty, 0.0, MAX_COLLISION_PENALTY),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def is_success(self, achieved_goal: Any, desired_goal: Any) -> np.ndarray:
        """(...,) bool: position and orientation errors both under their thresholds."""
        position_error, angle = goal_errors(achieved_goal, desired_goal)
        return (position_error < self.success_distance_m) & (angle < self.success_angle_rad)

    def step_reward(self, position_error: float, angle: float, collided: bool) -> float:
        """:meth:`reward_from_errors` of one step's errors (m, rad) and collision flag, in Python floats."""
        if self.reward_type == "dense":
            reward = -(position_error + self.orientation_weight_m_per_rad * angle)
        else:
            reward = -(0.0 if position_error < self.success_distance_m and angle < self.success_angle_rad else 1.0)
        return reward - self.collision_penalty * float(collided)

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> np.ndarray | float:
        """Vectorised reward of ``(..., 7)`` goals; ``info`` is one info dict or an array of them
        (HER passes one per transition), read for ``collided``. Returns a float for single goals."""
        position_error, angle = goal_errors(achieved_goal, desired_goal)
        return self.reward_from_errors(position_error, angle, _collided(info, np.shape(position_error)))

    def reward_from_errors(self, position_error: Any, angle: Any, collided: Any) -> np.ndarray | float:
        """The reward from position errors (m), orientation errors (rad) and collision flags
        (all broadcastable); :meth:`compute_reward` is this after :func:`goal_errors`."""
        position_error, angle = np.asarray(position_error, dtype=np.float64), np.asarray(angle, dtype=np.float64)
        if self.reward_type == "dense":
            reward = -(position_error + self.orientation_weight_m_per_rad * angle)
        else:
            success = (position_error < self.success_distance_m) & (angle < self.success_angle_rad)
            reward = -(~success).astype(np.float64)
        reward = reward - self.collision_penalty * np.asarray(collided, dtype=np.float64)
        return float(reward) if np.ndim(reward) == 0 else reward


def _collided(info: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The ``collided`` flags of one info dict or an array of them, as floats of ``shape``."""
    if info is None:
        return np.zeros(shape)
    if isinstance(info, Mapping):
        return np.full(shape, float(bool(info.get("collided", False))))
    flags = np.array([float(bool(item.get("collided", False))) for item in np.asarray(info, dtype=object).flat])
    return np.broadcast_to(flags.reshape(np.shape(info)), shape) if flags.size != 1 else np.full(shape, flags[0])

__all__ = [
    "ActionMode", "OBSTACLE_FEATURES", "ObservationPacker", "ROBOT_FEATURES", "RewardSpec", "RewardType",
    "action_to_joint_target_list", "action_to_joint_targets", "goal_errors", "goal_errors_single", "goal_errors_to",
    "goal_reference", "joint_targets_to_action", "observation_bounds", "observation_space", "obstacle_features",
    "pack_observation",
]

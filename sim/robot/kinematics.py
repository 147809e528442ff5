"""Exact kinematics of the ROBOTIS OpenManipulator-X: the project's accuracy reference.

Frames follow ``assets/urdf/open_manipulator_x.urdf`` (ROBOTIS' xacro): the base frame is
``link1``'s, z up, metres and radians. Every link frame of this arm has the orientation
``Rz(q1) @ Ry(pitch)`` with ``pitch`` the sum of the pitch joints before it, so forward
kinematics reduces to planar trigonometry in the vertical plane of joint 1 and runs at millions
of poses per second. One implementation serves NumPy arrays and torch tensors (torch results are
differentiable); analytic IK is closed-form and vectorised.

Contract: forward kinematics (:func:`forward_kinematics`, :func:`link_frames`) computes any finite
joint angles, because a real arm's recorded states go past the limits; :data:`JOINT_LIMITS`
(ROBOTIS' published limits) are enforced where a command is given (:func:`check_joints`,
:func:`clamp_to_limits`, the solutions of :func:`analytic_ik`) and reported where a learned
model's raw output breaks them (:func:`within_limits`, :func:`limit_violations`).

Poses are ``[x, y, z, qx, qy, qz, qw]`` with the quaternion's scalar part made non-negative.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np

from sim.errors import InvalidInputError
from sim.robot._backend import is_torch, ops_for

JOINT_NAMES: tuple[str, ...] = ("joint1", "joint2", "joint3", "joint4")
#: Joint limits (rad), one row ``[lower, upper]`` per joint of :data:`JOINT_NAMES`: ROBOTIS'
#: published limits of the OpenManipulator-X. They are limits for *commands* (env actions, policy
#: targets, IK solutions: :func:`check_joints`, :func:`clamp_to_limits`), not for geometry: a
#: real arm under ROBOTIS' controller records states past them (joint1 past pi, joint3 down to
#: -1.8, joint4 -1.79..2.11), and :func:`forward_kinematics` computes any finite angles.
JOINT_LIMITS: np.ndarray = np.array([[-math.pi, math.pi], [-1.5, 1.5], [-1.5, 1.4], [-1.7, 1.97]])
JOINT_LIMITS.setflags(write=False)
_LIMIT_PAIRS: tuple[tuple[float, float], ...] = tuple((float(lower), float(upper)) for lower, upper in JOINT_LIMITS)
MAX_JOINT_VELOCITY_RAD_S: float = 4.8
#: ROBOTIS' home configuration (rad): arm folded up and back, gripper forward and down.
HOME_CONFIGURATION: np.ndarray = np.array([0.0, -1.05, 0.35, 0.70])
HOME_CONFIGURATION.setflags(write=False)
GRIPPER_LIMITS_M: tuple[float, float] = (-0.011, 0.02)

#: Frames returned by :func:`link_frames`, in this order.
LINK_NAMES: tuple[str, ...] = (
    "link1", "link2", "link3", "link4", "link5",
    "end_effector_link", "gripper_left_link", "gripper_right_link",
)
EE_INDEX: int = LINK_NAMES.index("end_effector_link")

# Joint origins of ROBOTIS' open_manipulator_x.urdf.xacro (parent frame, metres), as in assets/urdf.
JOINT1_XYZ = (0.012, 0.0, 0.017)
JOINT2_Z = 0.0595
JOINT3_XZ = (0.024, 0.128)
JOINT4_X = 0.124
END_EFFECTOR_X = 0.126
FINGER_XY = (0.0817, 0.021)

_SHOULDER_Z = JOINT1_XYZ[2] + JOINT2_Z  # height of joint 2's axis
_UPPER_ARM = math.hypot(*JOINT3_XZ)  # joint 2 -> joint 3
_UPPER_ARM_ANGLE = math.atan2(JOINT3_XZ[1], JOINT3_XZ[0])  # its angle above horizontal at q2=0
_TWO_PI = 2.0 * math.pi
#: Reach of the wrist (joint 4) from the shoulder (joint 2), metres.
MAX_WRIST_REACH_M: float = _UPPER_ARM + JOINT4_X
_LIMIT_TOLERANCE = 1e-9
#: How far past full stretch (|cos(elbow bend)| > 1) a pose still counts as reached: float32
#: rounding of a stretched pose's coordinates moves cos(bend) by up to ~1e-6 (the position then
#: lands within 0.1 um).
_STRETCH_TOLERANCE = 1e-5


class LinkFrames(NamedTuple):
    """World poses of the frames of :data:`LINK_NAMES`."""

    positions: Any  #: (..., 8, 3) metres, base frame
    rotations: Any  #: (..., 8, 3, 3) rotation matrices, base frame


class IKSolutions(NamedTuple):
    """Both elbow branches of the analytic IK."""

    joints: np.ndarray  #: (..., 2, 4) radians; branch 0 elbow up, branch 1 elbow down; NaN if invalid
    valid: np.ndarray  #: (..., 2) bool: reachable and inside the joint limits


def as_real_array(values: Any, width: int, what: str = "joint array") -> Any:
    """``values`` as a real floating ``(..., width)`` NumPy array or torch tensor, or a clear error.

    NumPy arrays and torch tensors of a floating dtype pass through unchanged (no copy); integer
    ones become float64 (torch: the default float dtype); lists, tuples and other array-likes of
    numbers are converted with :func:`numpy.asarray`. Finiteness is not checked here.

    Args:
        values: the input to check.
        width: required size of the last axis (4 for joints, 7 for poses).
        what: how error messages name the input.

    Returns:
        The array (NumPy) or tensor (torch), shape ``(..., width)``, floating dtype.

    Raises:
        InvalidInputError: ``None``, a string, complex, boolean or non-numeric (object) values, a
            ragged nested list, or a shape other than ``(..., width)``.
    """
    expected = f"a (..., {width}) array of real numbers"
    if values is None:
        raise InvalidInputError(f"{what} is missing (got None); expected {expected}")
    if isinstance(values, (str, bytes)):
        raise InvalidInputError(f"{what} must be {expected}, got the string {str(values)[:40]!r}")
    if is_torch(values):
        import torch

        if values.is_complex() or values.dtype == torch.bool:
            raise InvalidInputError(f"{what} must be {expected}, got a tensor of dtype {values.dtype}")
        if not values.is_floating_point():
            values = values.to(torch.get_default_dtype())
        array = values
    else:
        try:
            array = np.asarray(values)
        except (TypeError, ValueError) as error:  # ragged nested lists, unconvertible objects
            raise InvalidInputError(
                f"{what} must be {expected}; the {type(values).__name__} could not be converted "
                f"({str(error).split('. ')[0]})"
            ) from None
        kind = array.dtype.kind
        if kind == "c":
            raise InvalidInputError(f"{what} must be {expected}, got complex values (dtype {array.dtype})")
        if kind in "iu":
            array = array.astype(np.float64)
        elif kind != "f":
            described = "non-numeric (object) values" if kind == "O" else f"dtype {array.dtype}"
            raise InvalidInputError(f"{what} must be {expected}, got {type(values).__name__} with {described}")
    shape = tuple(array.shape)
    if len(shape) == 0 or shape[-1] != width:
        label = "[x, y, z, qx, qy, qz, qw]" if width == 7 else ""
        raise InvalidInputError(f"{what} must have shape (..., {width}){' ' + label if label else ''}, got {shape}")
    return array


def _all_finite(values: Any) -> bool:
    """True if every element of a NumPy array or torch tensor is finite."""
    if is_torch(values):
        import torch

        return bool(torch.isfinite(values.detach()).all())
    return bool(np.all(np.isfinite(values)))


def check_joints(q: Any, *, check_limits: bool = True, tolerance: float = 1e-6) -> None:
    """The checker for joint *commands*: raise unless ``q`` is finite ``(..., 4)`` and in limits.

    Use it where a command is given (env actions, policy targets, scene start/goal joints).
    Forward kinematics does not check limits (see :data:`JOINT_LIMITS`); to *report* rather than
    raise, use :func:`within_limits` or :func:`limit_violations`.

    Args:
        q: (..., 4) joint angles (rad): NumPy, torch, or a list/tuple of numbers.
        check_limits: also require every joint inside :data:`JOINT_LIMITS` (ROBOTIS' published
            limits) +- ``tolerance``; False checks type, shape and finiteness only.
        tolerance: slack (rad) on each limit.

    Raises:
        InvalidInputError: not a real (..., 4) array (see :func:`as_real_array`), NaN/inf, or
            (with ``check_limits``) a joint outside its limits; the message names the first one.
    """
    if type(q) is np.ndarray and q.shape == (4,) and q.dtype == np.float64 and check_limits:
        # One configuration (scenes, env commands): the same tests on Python floats; errors below.
        if all(math.isfinite(v) and lower - tolerance <= v <= upper + tolerance
               for v, (lower, upper) in zip(q.tolist(), _LIMIT_PAIRS, strict=True)):
            return
    q = as_real_array(q, 4)
    if not _all_finite(q):
        raise InvalidInputError("joint array holds NaN or infinite values")
    if check_limits and np.prod(q.shape):
        values = q.detach().cpu().numpy() if is_torch(q) else q
        bad = limit_violations(values, tolerance)
        if np.any(bad):
            index = np.argwhere(bad)[0]
            joint = int(index[-1])
            lower, upper = JOINT_LIMITS[joint]
            raise InvalidInputError(
                f"{JOINT_NAMES[joint]} = {values[tuple(index)]:.4f} rad at index {tuple(int(i) for i in index[:-1])} "
                f"is outside its limits [{lower:.4f}, {upper:.4f}] (ROBOTIS' published joint limits)"
            )


def check_poses(pose: Any) -> None:
    """Raise :class:`InvalidInputError` unless ``pose`` is finite ``(..., 7)`` with unit quaternions.

    Args:
        pose: (..., 7) poses ``[x, y, z, qx, qy, qz, qw]`` (m): NumPy, torch or a list of numbers.

    Raises:
        InvalidInputError: not a real (..., 7) array, NaN/inf, or a quaternion norm off by > 1e-2.
    """
    pose = as_real_array(pose, 7, "pose array")
    values = pose.detach().cpu().numpy() if is_torch(pose) else pose
    if not np.all(np.isfinite(values)):
        raise InvalidInputError("pose array holds NaN or infinite values")
    norms = np.linalg.norm(values[..., 3:7], axis=-1)
    if norms.size and np.any(np.abs(norms - 1.0) > 1e-2):
        worst = float(norms.flat[np.argmax(np.abs(norms - 1.0))])
        raise InvalidInputError(
            f"pose quaternions must be unit length [qx, qy, qz, qw]; found norm {worst:.4f}"
        )


def _kinematics_input(q: Any, validate: bool) -> Any:
    """``q`` as a real (..., 4) array/tensor; with ``validate`` also checked finite (no limits)."""
    q = as_real_array(q, 4)
    if validate and not _all_finite(q):
        raise InvalidInputError("joint array holds NaN or infinite values")
    return q


def _check_gripper(gripper_m: Any, batch_shape: tuple[int, ...]) -> None:
    """Raise unless ``gripper_m`` is a finite real scalar or array broadcastable to ``batch_shape``."""
    if is_torch(gripper_m):
        values = gripper_m.detach().cpu().numpy()
    else:
        try:
            values = np.asarray(gripper_m)
        except (TypeError, ValueError):
            values = np.asarray(None)
    if values.dtype.kind not in "iuf":
        raise InvalidInputError(f"gripper_m must be a real number (m), got {type(gripper_m).__name__}")
    if not np.all(np.isfinite(values)):
        raise InvalidInputError("gripper_m holds NaN or infinite values")
    try:
        np.broadcast_shapes(values.shape, batch_shape)
    except ValueError:
        raise InvalidInputError(
            f"gripper_m of shape {values.shape} does not broadcast with the joints' batch shape {batch_shape}"
        ) from None


def link_frames(q: Any, gripper_m: Any = 0.0, *, validate: bool = True) -> LinkFrames:
    """Forward kinematics of every frame in :data:`LINK_NAMES`, for any finite joint angles.

    Joint limits are not checked: they belong to commands (:func:`check_joints`), and a real
    arm's recorded states go past ROBOTIS' published limits (see :data:`JOINT_LIMITS`).

    Args:
        q: (..., 4) joint angles (rad): NumPy or torch (differentiable), or a list/tuple of
            numbers (converted with NumPy; integer input becomes float64).
        gripper_m: finger joint position (m), nominally within :data:`GRIPPER_LIMITS_M`; a
            float or an array broadcastable to ``q.shape[:-1]`` (a torch tensor for torch ``q``).
            Fingers sit at ``y = +-(0.021 + gripper_m)`` in ``link5``.
        validate: check finiteness of ``q`` and ``gripper_m`` (one pass over the data; turn off in
            hot loops). Type, dtype and shape are always checked.

    Returns:
        :class:`LinkFrames` of the input's type (NumPy for lists): positions (..., 8, 3) m and
        rotations (..., 8, 3, 3), base frame.

    Raises:
        InvalidInputError: ``q`` is None, a string, complex/boolean/object values or not
            (..., 4); NaN/inf (with ``validate``).
    """
    q = _kinematics_input(q, validate)
    if validate:
        _check_gripper(gripper_m, tuple(q.shape[:-1]))
    if _is_single(q) and isinstance(gripper_m, (float, int, np.floating, np.integer)):
        return _single_link_frames(q, float(gripper_m))
    ops = ops_for(q)
    q1 = q[..., 0]
    pitch2, pitch3, pitch4, u3, w3, u4, w4, u_ee, w_ee, u_f, w_f, v_f = _frame_plane_coordinates(
        q[..., 1], q[..., 2], q[..., 3], gripper_m, ops.sin, ops.cos)
    zero = q1 * 0.0
    frames_u = [zero, zero, u3, u4, u_ee, u_f, u_f]
    frames_w = [zero + JOINT1_XYZ[2], zero + _SHOULDER_Z, w3, w4, w_ee, w_f, w_f]
    frames_v = [zero, zero, zero, zero, zero, zero + v_f, zero - v_f]
    s1, c1 = ops.sin(q1), ops.cos(q1)
    u, v, w = (ops.stack(coords, -1) for coords in (frames_u, frames_v, frames_w))
    moving = ops.stack(
        [JOINT1_XYZ[0] + u * c1[..., None] - v * s1[..., None], u * s1[..., None] + v * c1[..., None], w], -1
    )
    base = ops.stack([zero, zero, zero], -1)[..., None, :]
    if is_torch(q):
        positions = ops.torch.cat([base, moving], dim=-2)
    else:
        positions = np.concatenate([base, moving], axis=-2)
    pitches = ops.stack([zero, zero, pitch2, pitch3, pitch4, pitch4, pitch4, pitch4], -1)
    yaws = ops.stack([zero] + [q1] * 7, -1)
    return LinkFrames(positions, _yaw_pitch_matrix(yaws, pitches))


def _frame_plane_coordinates(q2: Any, q3: Any, q4: Any, gripper_m: Any, sin: Callable[[Any], Any],
                             cos: Callable[[Any], Any]) -> tuple[Any, ...]:
    """The pitches of links 3-5 and the radial (u) and vertical (w) coordinates of the joint-3, joint-4,
    end-effector and finger frames in joint 1's rotating plane, with the fingers' lateral offset (v):
    ``(pitch2, pitch3, pitch4, u3, w3, u4, w4, u_ee, w_ee, u_f, w_f, v_f)``. One arithmetic for arrays,
    tensors (``sin``/``cos`` of their backend) and Python floats (``math``), so both paths agree bit for bit."""
    pitch2, pitch3, pitch4 = q2, q2 + q3, q2 + q3 + q4
    s2, c2 = sin(pitch2), cos(pitch2)
    s3, c3 = sin(pitch3), cos(pitch3)
    s4, c4 = sin(pitch4), cos(pitch4)
    u3 = JOINT3_XZ[0] * c2 + JOINT3_XZ[1] * s2
    w3 = _SHOULDER_Z - JOINT3_XZ[0] * s2 + JOINT3_XZ[1] * c2
    u4, w4 = u3 + JOINT4_X * c3, w3 - JOINT4_X * s3
    u_ee, w_ee = u4 + END_EFFECTOR_X * c4, w4 - END_EFFECTOR_X * s4
    u_f, w_f = u4 + FINGER_XY[0] * c4, w4 - FINGER_XY[0] * s4
    return pitch2, pitch3, pitch4, u3, w3, u4, w4, u_ee, w_ee, u_f, w_f, FINGER_XY[1] + gripper_m


def _is_single(q: Any) -> bool:
    """True for one float64 NumPy configuration (4,) whose angles and pitch sums are finite: the
    case of every env step, served by the scalar paths below. Anything else (NaN, inf, angles so
    large that their sums overflow) goes the array way, which returns NaN where math.sin raises."""
    if type(q) is not np.ndarray or q.shape != (4,) or q.dtype != np.float64:
        return False
    q1, q2, q3, q4 = q.tolist()
    return math.isfinite(q1) and math.isfinite(q2 + q3 + q4) and math.isfinite(q2 + q3) and math.isfinite(q2)


# The scalar paths: one configuration with Python floats and the math module, which skips NumPy's
# per-operation overhead on 0-d arrays (~25x faster). They share _frame_plane_coordinates with the
# array code and repeat the rest of it operation by operation, in the same order, so results are
# bit-identical (math.sin/cos and NumPy's agree on float64); tests/sim/robot/test_kinematics.py checks that
# on random and out-of-limit angles. sim.robot._sphere_kernel compiles the same two functions with numba
# for the env's per-step measurement.
def _single_link_frames(q: np.ndarray, gripper_m: float) -> LinkFrames:
    """:func:`link_frames` of one (4,) float64 configuration."""
    q1, q2, q3, q4 = q.tolist()
    plane = _frame_plane_coordinates(q2, q3, q4, gripper_m, math.sin, math.cos)
    positions, rotations = _single_frame_values(q1, plane, math.sin, math.cos)
    return LinkFrames(np.array(positions).reshape(8, 3), np.array(rotations).reshape(8, 3, 3))


def _single_frame_values(q1: float, plane: tuple[float, ...], sin: Callable[[float], float],
                         cos: Callable[[float], float]) -> tuple[list[float], list[float]]:
    """The frames of one configuration from joint 1's angle (rad) and the rest's
    :func:`_frame_plane_coordinates`: positions (24 values, 8 frames' x, y, z, m) and rotations
    (72 values, 8 row-major matrices), the array path's operations on Python floats (or, compiled,
    on numba's)."""
    pitch2, pitch3, pitch4, u3, w3, u4, w4, u_ee, w_ee, u_f, w_f, v_f = plane
    zero = q1 * 0.0
    frames_u = (zero, zero, u3, u4, u_ee, u_f, u_f)
    frames_w = (zero + JOINT1_XYZ[2], zero + _SHOULDER_Z, w3, w4, w_ee, w_f, w_f)
    frames_v = (zero, zero, zero, zero, zero, zero + v_f, zero - v_f)
    s1, c1 = sin(q1), cos(q1)
    positions = [zero, zero, zero]
    for frame in range(7):
        u, v = frames_u[frame], frames_v[frame]
        positions.extend((JOINT1_XYZ[0] + u * c1 - v * s1, u * s1 + v * c1, frames_w[frame]))
    # _yaw_pitch_matrix per frame: link1 (yaw 0, pitch 0), link2 (yaw q1, pitch 0), link3-5 (yaw q1
    # and the pitches); end_effector_link and both fingers turn like link5.
    s0, c0 = sin(zero), cos(zero)
    rotations = [c0 * c0, -s0, c0 * s0, s0 * c0, c0, s0 * s0, -s0, zero, c0]
    for frame in range(7):
        pitch = (zero, pitch2, pitch3, pitch4, pitch4, pitch4, pitch4)[frame]
        sp, cp = sin(pitch), cos(pitch)
        rotations.extend((c1 * cp, -s1, c1 * sp, s1 * cp, c1, s1 * sp, -sp, zero, cp))
    return positions, rotations


def _single_forward_kinematics(q: np.ndarray) -> np.ndarray:
    """:func:`forward_kinematics` of one (4,) float64 configuration."""
    q1, q2, q3, q4 = q.tolist()
    pitch2, pitch3, pitch4 = q2, q2 + q3, q2 + q3 + q4
    s2, c2, s3, c3 = math.sin(pitch2), math.cos(pitch2), math.sin(pitch3), math.cos(pitch3)
    s4, c4 = math.sin(pitch4), math.cos(pitch4)
    u = JOINT3_XZ[0] * c2 + JOINT3_XZ[1] * s2 + JOINT4_X * c3 + END_EFFECTOR_X * c4
    w = _SHOULDER_Z - JOINT3_XZ[0] * s2 + JOINT3_XZ[1] * c2 - JOINT4_X * s3 - END_EFFECTOR_X * s4
    s1, c1 = math.sin(q1), math.cos(q1)
    hs1, hc1 = math.sin(q1 / 2), math.cos(q1 / 2)
    hs4, hc4 = math.sin(pitch4 / 2), math.cos(pitch4 / 2)
    one = q1 * 0.0 + 1.0
    sign = -one if hc1 * hc4 < 0 else one
    return np.array([JOINT1_XYZ[0] + u * c1, u * s1, w,
                     -hs1 * hs4 * sign, hc1 * hs4 * sign, hs1 * hc4 * sign, hc1 * hc4 * sign])


def _yaw_pitch_matrix(yaw: Any, pitch: Any) -> Any:
    """Rotation matrices ``Rz(yaw) @ Ry(pitch)``, shape ``yaw.shape + (3, 3)``."""
    ops = ops_for(yaw)
    sy, cy, sp, cp = ops.sin(yaw), ops.cos(yaw), ops.sin(pitch), ops.cos(pitch)
    zero = yaw * 0.0
    rows = [[cy * cp, -sy, cy * sp], [sy * cp, cy, sy * sp], [-sp, zero, cp]]
    return ops.stack([ops.stack(row, -1) for row in rows], -2)


def forward_kinematics(q: Any, *, validate: bool = True) -> Any:
    """End-effector pose of joint configurations, for any finite joint angles.

    Joint limits are not checked: they belong to commands (:func:`check_joints`), and a real
    arm's recorded states go past ROBOTIS' published limits (see :data:`JOINT_LIMITS`); angles
    past +-pi simply wrap.

    Args:
        q: (..., 4) joint angles (rad): NumPy or torch (differentiable), or a list/tuple of
            numbers (converted with NumPy; integer input becomes float64).
        validate: check finiteness first (one pass over the data and, for torch, a device sync;
            turn off in hot loops). Type, dtype and shape are always checked.

    Returns:
        (..., 7) poses ``[x, y, z, qx, qy, qz, qw]`` (m, base frame), scalar part >= 0, of the
        input's type and floating dtype (NumPy for lists).

    Raises:
        InvalidInputError: ``q`` is None, a string, complex/boolean/object values or not
            (..., 4); NaN/inf (with ``validate``).
    """
    q = _kinematics_input(q, validate)
    if _is_single(q):
        return _single_forward_kinematics(q)
    ops = ops_for(q)
    q1 = q[..., 0]
    pitch2, pitch3, pitch4 = q[..., 1], q[..., 1] + q[..., 2], q[..., 1] + q[..., 2] + q[..., 3]
    s2, c2, s3, c3 = ops.sin(pitch2), ops.cos(pitch2), ops.sin(pitch3), ops.cos(pitch3)
    s4, c4 = ops.sin(pitch4), ops.cos(pitch4)
    u = JOINT3_XZ[0] * c2 + JOINT3_XZ[1] * s2 + JOINT4_X * c3 + END_EFFECTOR_X * c4
    w = _SHOULDER_Z - JOINT3_XZ[0] * s2 + JOINT3_XZ[1] * c2 - JOINT4_X * s3 - END_EFFECTOR_X * s4
    s1, c1 = ops.sin(q1), ops.cos(q1)
    hs1, hc1 = ops.sin(q1 / 2), ops.cos(q1 / 2)
    hs4, hc4 = ops.sin(pitch4 / 2), ops.cos(pitch4 / 2)
    one = q1 * 0.0 + 1.0  # keeps the input's dtype (a bare -1.0/1.0 would promote float32)
    sign = ops.where(hc1 * hc4 < 0, -one, one)
    return ops.stack(
        [JOINT1_XYZ[0] + u * c1, u * s1, w,
         -hs1 * hs4 * sign, hc1 * hs4 * sign, hs1 * hc4 * sign, hc1 * hc4 * sign],
        -1,
    )


def within_limits(q: Any, tolerance: float = 1e-9) -> Any:
    """Which configurations a command may use: every joint inside ROBOTIS' published limits.

    Args:
        q: (..., 4) joint angles (rad), NumPy, torch or a list.
        tolerance: slack (rad) on each limit of :data:`JOINT_LIMITS`.

    Returns:
        (...,) bool NumPy array; False for rows holding NaN.
    """
    values = q.detach().cpu().numpy() if is_torch(q) else np.asarray(q)
    return np.all((values >= JOINT_LIMITS[:, 0] - tolerance) & (values <= JOINT_LIMITS[:, 1] + tolerance), -1)


def limit_violations(q: Any, tolerance: float = 1e-9) -> np.ndarray:
    """Which joints lie outside ROBOTIS' published limits: for *reporting*, never raising.

    Meant for a learned model's raw output or a real robot's recorded states, which may break
    :data:`JOINT_LIMITS` (commands are checked by :func:`check_joints` instead).

    Args:
        q: (..., 4) joint angles (rad), NumPy, torch or a list.
        tolerance: slack (rad) on each limit.

    Returns:
        (..., 4) bool NumPy array, True where a joint is below its lower or above its upper limit
        by more than ``tolerance``. NaN entries (no answer) are not violations.
    """
    values = q.detach().cpu().numpy() if is_torch(q) else np.asarray(q)
    return (values < JOINT_LIMITS[:, 0] - tolerance) | (values > JOINT_LIMITS[:, 1] + tolerance)


def clamp_to_limits(q: Any) -> Any:
    """``q`` (..., 4) rad clipped into :data:`JOINT_LIMITS` (ROBOTIS' published limits), as a
    controller would execute a command; NumPy or torch, same type."""
    ops = ops_for(q)
    return ops.clip(q, ops.asarray(JOINT_LIMITS[:, 0], q), ops.asarray(JOINT_LIMITS[:, 1], q))


def analytic_ik_solutions(pose: Any) -> IKSolutions:
    """Closed-form IK for both elbow branches.

    The 4-DOF arm realises orientations ``Rz(yaw) @ Ry(pitch)`` only. Joint 1 comes from the
    target position (of its two readings, the one nearer the orientation's yaw; from the yaw
    alone when the target lies on joint 1's axis); the pitch is the orientation's approach
    direction projected onto the arm's plane. For poses the arm can realise (for instance any
    output of :func:`forward_kinematics`) this is exact; for others the position is reached and
    the orientation is the nearest realisable one.

    Args:
        pose: (..., 7) target poses ``[x, y, z, qx, qy, qz, qw]`` (m, base frame).

    Returns:
        :class:`IKSolutions`: joints (..., 2, 4) with NaN for invalid branches and valid (..., 2).

    Raises:
        InvalidInputError: wrong shape, NaN/inf, or quaternions far from unit length.
    """
    check_poses(pose)
    pose = pose.detach().cpu().numpy() if is_torch(pose) else np.asarray(pose)
    pose = pose.astype(np.float64, copy=False)
    z = pose[..., 2]
    q1, u, pitch = _plane_coordinates(pose)
    # Wrist (joint 4) relative to the shoulder (joint 2) in the arm plane.
    du = u - END_EFFECTOR_X * np.cos(pitch)
    dw = z + END_EFFECTOR_X * np.sin(pitch) - _SHOULDER_Z
    cos_bend = (du * du + dw * dw - _UPPER_ARM**2 - JOINT4_X**2) / (2 * _UPPER_ARM * JOINT4_X)
    reachable = np.abs(cos_bend) <= 1.0 + _STRETCH_TOLERANCE
    bend_magnitude = np.arccos(np.clip(cos_bend, -1.0, 1.0))
    direction = np.arctan2(dw, du)
    branches, valid = [], []
    for bend in (-bend_magnitude, bend_magnitude):  # elbow up, elbow down
        upper = direction - np.arctan2(JOINT4_X * np.sin(bend), _UPPER_ARM + JOINT4_X * np.cos(bend))
        q2 = _wrap(_UPPER_ARM_ANGLE - upper)
        q3 = _wrap(-(upper + bend) - q2)
        low4 = JOINT_LIMITS[3, 0] - _LIMIT_TOLERANCE
        q4 = np.mod(pitch - q2 - q3 - low4, _TWO_PI) + low4
        joints = np.stack([q1, q2, q3, q4], -1)
        ok = reachable & within_limits(joints, _LIMIT_TOLERANCE)
        joints = np.where(ok[..., None], np.clip(joints, JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1]), np.nan)
        branches.append(joints)
        valid.append(ok)
    return IKSolutions(np.stack(branches, -2), np.stack(valid, -1))


def _plane_coordinates(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joint 1 angle, signed radial distance from joint 1's axis and end-effector pitch (rad)
    of (..., 7) poses, as :func:`analytic_ik_solutions` describes."""
    x, y = pose[..., 0] - JOINT1_XYZ[0], pose[..., 1]
    quat = pose[..., 3:7] / np.linalg.norm(pose[..., 3:7], axis=-1, keepdims=True)
    qx, qy, qz, qw = quat[..., 0], quat[..., 1], quat[..., 2], quat[..., 3]
    r00 = 1 - 2 * (qy * qy + qz * qz)
    r10 = 2 * (qx * qy + qz * qw)
    r20 = 2 * (qx * qz - qy * qw)
    r01 = 2 * (qx * qy - qz * qw)
    r11 = 1 - 2 * (qx * qx + qz * qz)
    yaw_orientation = np.arctan2(-r01, r11)
    radial = np.hypot(x, y)
    yaw_position = np.arctan2(y, x)
    flipped = np.abs(_wrap(yaw_position - yaw_orientation)) > math.pi / 2
    on_axis = radial < 1e-12
    q1 = np.where(on_axis, yaw_orientation, np.where(flipped, _wrap(yaw_position + math.pi), yaw_position))
    u = np.where(flipped & ~on_axis, -radial, radial)
    pitch = np.arctan2(-r20, r00 * np.cos(q1) + r10 * np.sin(q1))
    return q1, u, pitch


def realisable_pose(pose: np.ndarray) -> np.ndarray:
    """The nearest pose the 4-DOF arm can realise: same position, orientation ``Rz(q1) Ry(pitch)``
    with joint 1 facing the position and the approach pitch of the given orientation.

    Args:
        pose: (..., 7) poses (m, base frame), e.g. slerp-interpolated waypoints.

    Returns:
        (..., 7) poses whose orientation the arm can reach exactly (where the position is reachable).
    """
    from sim.robot.transforms import yaw_pitch_quat

    check_poses(pose)
    pose = np.asarray(pose, dtype=np.float64)
    q1, _, pitch = _plane_coordinates(pose)
    return np.concatenate([pose[..., :3], yaw_pitch_quat(q1, pitch)], axis=-1)


def analytic_ik(
    pose: Any,
    *,
    branch: Literal["closest", "up", "down"] = "closest",
    return_mask: bool = False,
) -> Any:
    """Closed-form inverse kinematics (see :func:`analytic_ik_solutions` for the method).

    Args:
        pose: (..., 7) target poses ``[x, y, z, qx, qy, qz, qw]`` (m, base frame), NumPy or torch.
        branch: ``"closest"`` picks the valid elbow branch nearest the centre of the joint limits
            (normalised distance); ``"up"`` / ``"down"`` force one branch.
        return_mask: also return the (...,) bool reachability mask.

    Returns:
        (..., 4) joint angles (rad) of the input's type, NaN rows where no in-limit solution
        exists; with ``return_mask``, the tuple ``(joints, mask)``.

    Raises:
        InvalidInputError: wrong shape, NaN/inf, quaternions far from unit length, bad branch.
    """
    if branch not in ("closest", "up", "down"):
        raise InvalidInputError(f"unknown branch {branch!r}; valid choices: closest, up, down")
    solutions = analytic_ik_solutions(pose)
    if branch == "up":
        joints, mask = solutions.joints[..., 0, :], solutions.valid[..., 0]
    elif branch == "down":
        joints, mask = solutions.joints[..., 1, :], solutions.valid[..., 1]
    else:
        centre = JOINT_LIMITS.mean(axis=1)
        half_range = (JOINT_LIMITS[:, 1] - JOINT_LIMITS[:, 0]) / 2
        score = np.sum(((solutions.joints - centre) / half_range) ** 2, axis=-1)
        score = np.where(solutions.valid, score, np.inf)
        pick_down = score[..., 1] < score[..., 0]
        joints = np.where(pick_down[..., None], solutions.joints[..., 1, :], solutions.joints[..., 0, :])
        mask = solutions.valid.any(-1)
    if is_torch(pose):
        joints = ops_for(pose).asarray(joints, pose)
    return (joints, mask) if return_mask else joints


def sample_joints(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` joint configurations (n, 4) drawn uniformly inside :data:`JOINT_LIMITS`."""
    return rng.uniform(JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1], size=(n, 4))


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angles wrapped into ``[-pi, pi)``."""
    return np.mod(angle + math.pi, _TWO_PI) - math.pi

__all__ = [
    "EE_INDEX", "END_EFFECTOR_X", "FINGER_XY", "GRIPPER_LIMITS_M", "HOME_CONFIGURATION", "IKSolutions", "JOINT1_XYZ",
    "JOINT2_Z", "JOINT3_XZ", "JOINT4_X", "JOINT_LIMITS", "JOINT_NAMES", "LINK_NAMES", "LinkFrames",
    "MAX_JOINT_VELOCITY_RAD_S", "MAX_WRIST_REACH_M", "analytic_ik", "analytic_ik_solutions", "as_real_array",
    "check_joints", "check_poses", "clamp_to_limits", "forward_kinematics", "limit_violations", "link_frames",
    "realisable_pose", "sample_joints", "within_limits",
]

"""Quaternion and pose helpers. Quaternions are ``[qx, qy, qz, qw]`` (scalar last, as ROS and
PyBullet write them); poses are ``[x, y, z, qx, qy, qz, qw]`` in metres. Functions accept NumPy
arrays or torch tensors and return the same type (torch results are differentiable): hand-written
for that reason; the NumPy-only ones use SciPy's ``Rotation``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from sim.robot._backend import is_torch, ops_for


def quat_normalize(quaternion: Any) -> Any:
    """Unit quaternions ``(..., 4)`` with a non-negative scalar part (one sign per rotation)."""
    ops = ops_for(quaternion)
    norm = ops.sqrt((quaternion * quaternion).sum(-1, keepdims=True)) if not is_torch(
        quaternion
    ) else ops.sqrt((quaternion * quaternion).sum(-1, keepdim=True))
    unit = quaternion / norm
    sign = ops.where(unit[..., 3:4] < 0, -1.0, 1.0)
    return unit * sign


def _quat_matrix_rows(x: Any, y: Any, z: Any, w: Any) -> tuple:
    """The rows of the rotation matrix of unit quaternion ``[x, y, z, w]``, element by element: the
    arithmetic of :func:`quat_to_matrix`, also compiled by ``sim.robot._sphere_kernel`` (same values)."""
    return (
        (1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)),
        (2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)),
        (2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)),
    )


def quat_to_matrix(quaternion: Any) -> Any:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions ``(..., 4)``."""
    ops = ops_for(quaternion)
    rows = _quat_matrix_rows(*(quaternion[..., i] for i in range(4)))
    return ops.stack([ops.stack(list(row), -1) for row in rows], -2)


def quat_angle(a: Any, b: Any) -> Any:
    """Geodesic angle (rad, in ``[0, pi]``) between the rotations of quaternions ``a`` and ``b``.

    Computed as ``4 atan2(|a - b|, |a + b|)`` on unit quaternions with aligned signs (their 4-D
    angle is half the rotation angle, and the atan2 halves it again): exactly 0
    for equal rotations and well conditioned at every angle (``2 acos(a . b)`` loses half the
    digits near 0).
    """
    ops = ops_for(a)
    keep = "keepdim" if is_torch(a) else "keepdims"
    a = a / ops.sqrt((a * a).sum(-1, **{keep: True}))
    b = b / ops.sqrt((b * b).sum(-1, **{keep: True}))
    b = b * ops.where((a * b).sum(-1, **{keep: True}) < 0, -1.0, 1.0)
    difference, total = a - b, a + b
    return 4.0 * ops.atan2(ops.sqrt((difference * difference).sum(-1)), ops.sqrt((total * total).sum(-1)))


def yaw_pitch_quat(yaw: Any, pitch: Any) -> Any:
    """Quaternions ``(..., 4)`` of ``R = Rz(yaw) @ Ry(pitch)``, scalar part made non-negative."""
    ops = ops_for(yaw)
    s1, c1 = ops.sin(yaw / 2), ops.cos(yaw / 2)
    s2, c2 = ops.sin(pitch / 2), ops.cos(pitch / 2)
    quaternion = ops.stack([-s1 * s2, c1 * s2, s1 * c2, c1 * c2], -1)
    sign = ops.where(c1 * c2 < 0, -1.0, 1.0)
    return quaternion * sign[..., None]


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical linear interpolation between unit quaternions ``q0`` and ``q1`` (NumPy, by SciPy).

    Args:
        q0: ``(..., 4)`` start quaternions.
        q1: ``(..., 4)`` end quaternions, broadcastable with ``q0``.
        t: interpolation parameter(s) in ``[0, 1]``, broadcastable with ``q0[..., 0]``.

    Returns:
        ``(..., 4)`` unit quaternions on the shorter arc, scalar part non-negative.
    """
    q0, q1, t = np.broadcast_arrays(np.asarray(q0, dtype=float), np.asarray(q1, dtype=float),
                                    np.asarray(t, dtype=float)[..., None])
    shape = q0.shape
    start = Rotation.from_quat(q0.reshape(-1, 4))
    # q0 * exp(t log(q0^-1 q1)): SciPy's Slerp for many pairs at once (its as_rotvec takes the short arc).
    step = (start.inv() * Rotation.from_quat(q1.reshape(-1, 4))).as_rotvec()
    between = start * Rotation.from_rotvec(step * t[..., 0].reshape(-1, 1))
    return quat_normalize(between.as_quat().reshape(shape))

__all__ = ["quat_angle", "quat_normalize", "quat_to_matrix", "slerp", "yaw_pitch_quat"]

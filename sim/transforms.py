"""Quaternion and pose helpers. Quaternions are ``[qx, qy, qz, qw]`` (scalar last, as ROS and
PyBullet write them); poses are ``[x, y, z, qx, qy, qz, qw]`` in metres. Functions accept NumPy
arrays or torch tensors and return the same type (torch results are differentiable).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim._backend import is_torch, ops_for


def quat_normalize(quaternion: Any) -> Any:
    """Unit quaternions ``(..., 4)`` with a non-negative scalar part (one sign per rotation)."""
    ops = ops_for(quaternion)
    norm = ops.sqrt((quaternion * quaternion).sum(-1, keepdims=True)) if not is_torch(
        quaternion
    ) else ops.sqrt((quaternion * quaternion).sum(-1, keepdim=True))
    unit = quaternion / norm
    sign = ops.where(unit[..., 3:4] < 0, -1.0, 1.0)
    return unit * sign


def quat_to_matrix(quaternion: Any) -> Any:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions ``(..., 4)``."""
    ops = ops_for(quaternion)
    x, y, z, w = (quaternion[..., i] for i in range(4))
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return ops.stack([ops.stack(row, -1) for row in rows], -2)


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
    """Spherical linear interpolation between unit quaternions ``q0`` and ``q1`` (NumPy).

    Args:
        q0: ``(..., 4)`` start quaternions.
        q1: ``(..., 4)`` end quaternions, broadcastable with ``q0``.
        t: interpolation parameter(s) in ``[0, 1]``, broadcastable with ``q0[..., 0]``.

    Returns:
        ``(..., 4)`` unit quaternions on the shorter arc, scalar part non-negative.
    """
    q0, q1 = np.asarray(q0, dtype=float), np.asarray(q1, dtype=float)
    t = np.asarray(t, dtype=float)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    small = sin_theta < 1e-9
    safe = np.where(small, 1.0, sin_theta)
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(small, t, np.sin(t * theta) / safe)
    return quat_normalize(w0 * q0 + w1 * q1)


def matrix_to_quat(matrix: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` (scalar part non-negative) of rotation matrices (NumPy)."""
    m = np.asarray(matrix, dtype=float)
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    candidates = np.stack(
        [
            np.stack([1 + 2 * m[..., 0, 0] - trace, m[..., 0, 1] + m[..., 1, 0],
                      m[..., 0, 2] + m[..., 2, 0], m[..., 2, 1] - m[..., 1, 2]], -1),
            np.stack([m[..., 0, 1] + m[..., 1, 0], 1 + 2 * m[..., 1, 1] - trace,
                      m[..., 1, 2] + m[..., 2, 1], m[..., 0, 2] - m[..., 2, 0]], -1),
            np.stack([m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1],
                      1 + 2 * m[..., 2, 2] - trace, m[..., 1, 0] - m[..., 0, 1]], -1),
            np.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                      m[..., 1, 0] - m[..., 0, 1], 1 + trace], -1),
        ],
        -2,
    )
    # Use the numerically largest of the four Shepperd candidates.
    best = np.argmax(np.stack([m[..., 0, 0], m[..., 1, 1], m[..., 2, 2], trace], -1), -1)
    chosen = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    return quat_normalize(chosen)

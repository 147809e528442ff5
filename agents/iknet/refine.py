"""Hybrid IK: a network's answer polished by damped least squares on the exact kinematics.

The arm has 4 joints and a 7-D pose is over-determined: its realisable orientations are
``Rz(yaw) @ Ry(pitch)`` with ``yaw = q1`` and ``pitch = q2 + q3 + q4``. The residual therefore
has five rows: the position error (3, metres) and the yaw and pitch errors (2, radians, scaled by
``orientation_weight_m`` metres per radian). For a target made by forward kinematics all five
can be zeroed; small yaw and pitch errors are orthogonal rotation components, so their norm is
the geodesic orientation error. For other targets the yaw is the one of the orientation's
``y`` axis (as :func:`sim.robot.kinematics.analytic_ik` reads it) and the pitch is projected likewise.

The position comes from the differentiable torch forward kinematics and the Jacobian from
automatic differentiation through it (five batched backward passes); each step solves
``(J^T J + damping I) dq = -J^T r`` for all poses at once and clamps the result into the joint
limits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from sim.errors import InvalidInputError
from sim.robot.kinematics import JOINT_LIMITS, check_poses, forward_kinematics
from sim.robot.transforms import quat_to_matrix

DEFAULT_STEPS = 3
DEFAULT_DAMPING = 1e-7
#: Metres of position error weighed equal to one radian of orientation error.
DEFAULT_ORIENTATION_WEIGHT_M = 0.1


def target_yaw_pitch(pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Yaw and pitch (rad) of the realisable orientation nearest each target's quaternion.

    Args:
        pose: (N, 7) target poses ``[x, y, z, qx, qy, qz, qw]``.

    Returns:
        ``(yaw, pitch)``, each (N,) radians, with ``R ~ Rz(yaw) @ Ry(pitch)``.
    """
    rotation = quat_to_matrix(pose[:, 3:7] / pose[:, 3:7].norm(dim=1, keepdim=True))
    yaw = torch.atan2(-rotation[:, 0, 1], rotation[:, 1, 1])
    pitch = torch.atan2(-rotation[:, 2, 0], rotation[:, 0, 0] * torch.cos(yaw) + rotation[:, 1, 0] * torch.sin(yaw))
    return yaw, pitch


def _wrap(angle: torch.Tensor) -> torch.Tensor:
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def pose_residual(
    q: torch.Tensor, pose: torch.Tensor, *, orientation_weight_m: float = DEFAULT_ORIENTATION_WEIGHT_M
) -> torch.Tensor:
    """Five-row residual of joints ``q`` (N, 4) against targets ``pose`` (N, 7).

    Returns:
        (N, 5): position error (m, 3 rows), then yaw and pitch errors (rad, wrapped into
        ``[-pi, pi)``) times ``orientation_weight_m``.
    """
    yaw, pitch = target_yaw_pitch(pose)
    position = forward_kinematics(q, validate=False)[:, :3] - pose[:, :3]
    yaw_error = _wrap(q[:, 0] - yaw)
    pitch_error = _wrap(q[:, 1] + q[:, 2] + q[:, 3] - pitch)
    return torch.cat([position, orientation_weight_m * torch.stack([yaw_error, pitch_error], 1)], 1)


def refine(
    q: Any,
    pose: Any,
    steps: int = DEFAULT_STEPS,
    *,
    damping: float = DEFAULT_DAMPING,
    orientation_weight_m: float = DEFAULT_ORIENTATION_WEIGHT_M,
) -> Any:
    """Damped least-squares refinement of joint guesses towards target poses.

    Args:
        q: (N, 4) initial joint angles (rad), NumPy or torch (e.g. a network's output); values
            outside the limits are clamped first.
        pose: (N, 7) target poses ``[x, y, z, qx, qy, qz, qw]`` (m, base frame).
        steps: number of Gauss-Newton steps (>= 0); 2-3 take a millimetre guess to 1e-5 mm.
        damping: Levenberg damping added to ``J^T J`` (m^2); keeps steps bounded near
            singular (stretched or folded) configurations.
        orientation_weight_m: metres of position error equivalent to one radian of orientation.

    Returns:
        (N, 4) refined joints inside the limits, float64, same array type as ``q``.

    Raises:
        InvalidInputError: shapes differ, non-finite values, or a negative ``steps``/``damping``.
    """
    is_numpy = not isinstance(q, torch.Tensor)
    with torch.inference_mode(False), torch.enable_grad():  # works inside callers' no-grad blocks too
        q_t = torch.tensor(_to_numpy(q), dtype=torch.float64)
        pose_t = torch.tensor(_to_numpy(pose), dtype=torch.float64)
        refined = _refine(q_t, pose_t, steps, damping, orientation_weight_m)
    return refined.numpy() if is_numpy else refined


def _to_numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _refine(q_t: torch.Tensor, pose_t: torch.Tensor, steps: int, damping: float, orientation_weight_m: float
            ) -> torch.Tensor:
    if q_t.ndim != 2 or q_t.shape[1] != 4 or pose_t.shape != (q_t.shape[0], 7):
        raise InvalidInputError(f"refine needs q (N, 4) and pose (N, 7); got {tuple(q_t.shape)} and "
                                f"{tuple(pose_t.shape)}")
    check_poses(pose_t)
    if not torch.isfinite(q_t).all():
        raise InvalidInputError("joint guesses hold NaN or infinite values")
    if steps < 0 or damping < 0:
        raise InvalidInputError(f"steps and damping must be >= 0, got {steps} and {damping}")
    low = torch.tensor(JOINT_LIMITS[:, 0].tolist(), dtype=torch.float64)
    high = torch.tensor(JOINT_LIMITS[:, 1].tolist(), dtype=torch.float64)
    q_t = torch.clamp(q_t, low, high)
    eye = torch.eye(4, dtype=torch.float64)

    def residual(joints: torch.Tensor) -> torch.Tensor:
        return pose_residual(joints, pose_t, orientation_weight_m=orientation_weight_m)

    for _ in range(steps):
        q_var = q_t.detach().requires_grad_(True)
        value = residual(q_var)
        # Residual rows of different poses are independent, so the gradient of a row summed over
        # the batch is that row of every pose's Jacobian: five backward passes in all.
        rows = [torch.autograd.grad(value[:, k].sum(), q_var, retain_graph=k < 4)[0] for k in range(5)]
        jacobian = torch.stack(rows, 1)  # (N, 5, 4)
        value = value.detach()
        jt = jacobian.transpose(1, 2)
        normal = jt @ jacobian + damping * eye
        delta = torch.linalg.solve(normal, -(jt @ value[:, :, None]))[:, :, 0]
        q_t = torch.clamp(q_t + delta, low, high)
    return q_t.detach()

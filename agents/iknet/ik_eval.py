"""Accuracy of any IK solver on a pose set, reported the way IKFlow and cuRobo report it.

A solver is any callable mapping (N, 7) poses ``[x, y, z, qx, qy, qz, qw]`` (m) to (N, 4) joint
angles (rad). Its answers are judged by forward kinematics: position error (mm) and geodesic
orientation error (deg) of the pose the arm would reach. By default that is the answer clamped
into the joint limits (what a controller would execute); the share of raw answers outside the
limits is reported separately. Rows with NaN (no solution) count as failures with infinite error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from sim.errors import InvalidInputError
from sim.robot.kinematics import check_poses, clamp_to_limits, forward_kinematics, within_limits
from sim.robot.transforms import quat_angle

IKSolver = Callable[[np.ndarray], np.ndarray]
_TABLE_COLUMNS = (
    ("solver", "{}"), ("pos med mm", "{:.4g}"), ("pos p95 mm", "{:.4g}"), ("pos max mm", "{:.4g}"),
    ("ori med deg", "{:.3g}"), ("<=1 mm %", "{:.1f}"), ("<=5 mm %", "{:.1f}"), ("out of limits %", "{:.2f}"),
    ("no answer %", "{:.2f}"),
)


@dataclass(frozen=True)
class IKAccuracy:
    """Accuracy summary of one solver on one pose set.

    Attributes:
        name: the solver's label.
        count: number of poses.
        position_error_mm_median / _p95 / _max / _mean: end-effector position error (mm).
        orientation_error_deg_median / _p95 / _max: geodesic orientation error (deg).
        joint_error_deg_median: per joint, median absolute error (deg, wrapped) against reference
            joints, NaN when no reference was given (several joint sets reach the same pose).
        joint_error_deg_p95: per joint, 95th percentile of the same.
        within_1mm_pct / within_5mm_pct: share of poses reached within 1 mm / 5 mm (%).
        out_of_limits_pct: share of raw answers with a joint outside its limits (%).
        failed_pct: share of answers holding NaN or infinity (%).
    """

    name: str
    count: int
    position_error_mm_median: float
    position_error_mm_p95: float
    position_error_mm_max: float
    position_error_mm_mean: float
    orientation_error_deg_median: float
    orientation_error_deg_p95: float
    orientation_error_deg_max: float
    joint_error_deg_median: tuple[float, float, float, float]
    joint_error_deg_p95: tuple[float, float, float, float]
    within_1mm_pct: float
    within_5mm_pct: float
    out_of_limits_pct: float
    failed_pct: float

    @staticmethod
    def table_header() -> str:
        """Markdown header (two lines) matching :meth:`table_row`."""
        names = [name for name, _ in _TABLE_COLUMNS]
        return "| " + " | ".join(names) + " |\n|" + "|".join("---" for _ in names) + "|"

    def table_row(self) -> str:
        """One markdown table row: position median / p95 / max (mm), orientation median (deg),
        share within 1 mm and 5 mm, share out of limits, share without an answer (NaN)."""
        values = (
            self.name, self.position_error_mm_median, self.position_error_mm_p95, self.position_error_mm_max,
            self.orientation_error_deg_median, self.within_1mm_pct, self.within_5mm_pct, self.out_of_limits_pct,
            self.failed_pct,
        )
        cells = (fmt.format(value) for (_, fmt), value in zip(_TABLE_COLUMNS, values, strict=True))
        return "| " + " | ".join(cells) + " |"


def _wrapped_abs(delta: np.ndarray) -> np.ndarray:
    return np.abs(np.mod(delta + math.pi, 2 * math.pi) - math.pi)


def accuracy_of_answers(
    joints: np.ndarray,
    poses: np.ndarray,
    *,
    reference_joints: np.ndarray | None = None,
    name: str = "solver",
    clamp: bool = True,
) -> IKAccuracy:
    """Judge given answers ``joints`` (N, 4) rad against targets ``poses`` (N, 7).

    Args:
        joints: the solver's answers.
        poses: the targets (m, quaternion scalar last).
        reference_joints: (N, 4) ground-truth joints for the per-joint errors, or None.
        name: label of the solver in the table.
        clamp: judge the answers clamped into the joint limits (True) or as given.

    Returns:
        :class:`IKAccuracy`.

    Raises:
        InvalidInputError: shapes do not match, or an empty pose set.
    """
    poses = np.asarray(poses, dtype=np.float64)
    joints = np.asarray(joints, dtype=np.float64)
    check_poses(poses)
    if poses.ndim != 2 or len(poses) == 0 or joints.shape != (len(poses), 4):
        raise InvalidInputError(f"need poses (N, 7), N >= 1, and joints (N, 4); got {poses.shape} and {joints.shape}")
    failed = ~np.all(np.isfinite(joints), axis=1)
    safe = np.where(failed[:, None], 0.0, joints)
    outside = ~within_limits(safe, 1e-6) & ~failed
    executed = clamp_to_limits(safe) if clamp else safe
    reached = forward_kinematics(executed, validate=False)
    position_mm = np.linalg.norm(reached[:, :3] - poses[:, :3], axis=1) * 1000.0
    orientation_deg = np.degrees(quat_angle(reached[:, 3:], poses[:, 3:]))
    position_mm[failed] = np.inf
    orientation_deg[failed] = np.inf
    if reference_joints is not None:
        reference = np.asarray(reference_joints, dtype=np.float64)
        if reference.shape != joints.shape:
            raise InvalidInputError(f"reference joints {reference.shape} do not match answers {joints.shape}")
        joint_deg = np.degrees(_wrapped_abs(executed - reference))
        joint_deg[failed] = np.inf
        joint_median = tuple(float(v) for v in np.median(joint_deg, 0))
        joint_p95 = tuple(float(v) for v in np.percentile(joint_deg, 95, 0))
    else:
        joint_median = joint_p95 = (math.nan,) * 4
    return IKAccuracy(
        name=name,
        count=len(poses),
        position_error_mm_median=float(np.median(position_mm)),
        position_error_mm_p95=float(np.percentile(position_mm, 95)),
        position_error_mm_max=float(position_mm.max()),
        position_error_mm_mean=float(position_mm.mean()),
        orientation_error_deg_median=float(np.median(orientation_deg)),
        orientation_error_deg_p95=float(np.percentile(orientation_deg, 95)),
        orientation_error_deg_max=float(orientation_deg.max()),
        joint_error_deg_median=joint_median,  # type: ignore[arg-type]
        joint_error_deg_p95=joint_p95,  # type: ignore[arg-type]
        within_1mm_pct=float(np.mean(position_mm <= 1.0) * 100),
        within_5mm_pct=float(np.mean(position_mm <= 5.0) * 100),
        out_of_limits_pct=float(np.mean(outside) * 100),
        failed_pct=float(np.mean(failed) * 100),
    )


def evaluate_ik(
    solver: IKSolver,
    poses: np.ndarray,
    *,
    reference_joints: np.ndarray | None = None,
    name: str = "solver",
    clamp: bool = True,
) -> IKAccuracy:
    """Run ``solver`` on ``poses`` (N, 7) and judge its answers (see :func:`accuracy_of_answers`)."""
    poses = np.asarray(poses)
    answers = np.asarray(solver(poses))
    return accuracy_of_answers(answers, poses, reference_joints=reference_joints, name=name, clamp=clamp)


def model_solver(model: torch.nn.Module, *, refine_steps: int = 0, batch_size: int = 65_536) -> IKSolver:
    """Wrap a pose -> joints torch module (eval mode) as a NumPy :data:`IKSolver`.

    Args:
        model: (N, 7) float32 -> (N, 4) rad module, e.g. from :func:`agents.load_model`.
        refine_steps: damped least-squares steps of :func:`agents.iknet.refine.refine` after the network.
        batch_size: poses per forward pass.

    Returns:
        A callable (N, 7) poses -> (N, 4) joints (float64 NumPy, raw network output when
        ``refine_steps == 0``).
    """
    from agents.iknet.refine import refine

    def solve(poses: np.ndarray) -> np.ndarray:
        pose_tensor = torch.as_tensor(np.asarray(poses, dtype=np.float32))
        with torch.inference_mode():
            joints = torch.cat([model(chunk) for chunk in pose_tensor.split(batch_size)]).double().numpy()
        if refine_steps:
            joints = refine(joints, np.asarray(poses, dtype=np.float64), refine_steps)
        return joints

    return solve


__all__ = ["IKAccuracy", "IKSolver", "accuracy_of_answers", "evaluate_ik", "model_solver"]

"""Per-step records and per-episode safety and accuracy metrics (units in every name).

An :class:`EpisodeLog` collects one :class:`StepRecord` per control step and turns them into
:class:`EpisodeMetrics`: goal position and orientation error, minimum clearance (the truth on
ROBOTIS' CAD meshes; the sphere bound and PyBullet beside it), contact steps and collisions (CAD;
the bound's beside them), path length of the end effector and of the joints,
smoothness (RMS joint jerk), success and IK time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.robot.transforms import quat_angle


def _vector(length: int) -> Any:
    """A tuple field spread over ``length`` numbered CSV columns (``name_0`` ...)."""
    return field(metadata={"length": length})


@dataclass(frozen=True)
class StepRecord:
    """What happened at one control step (after the physics advanced)."""

    step: int
    time_s: float
    joints_rad: tuple[float, ...] = _vector(4)  #: (4,) measured joint angles
    target_joints_rad: tuple[float, ...] = _vector(4)  #: (4,) commanded joint targets
    ee_pose: tuple[float, ...] = _vector(7)  #: (7,) end-effector pose, base frame
    goal_pose: tuple[float, ...] = _vector(7)  #: (7,) goal pose
    target_error_m: float
    min_clearance_m: float  #: the truth: CAD meshes to obstacles (sim.robot.cad)
    pybullet_clearance_m: float  #: PyBullet closest points on its collision shapes (the bound)
    self_clearance_m: float  #: CAD: smallest gap between links that may collide (SRDF pairs; +inf beyond 30 mm)
    contact_count: int  #: CAD contact points with obstacles, the table or the arm's own links
    collided: bool  #: a CAD contact
    is_success: bool
    ik_time_s: float  #: time the policy spent in IK during this step (0 when it only followed its plan)
    table_clearance_m: float  #: CAD: lowest point of link2 onwards above the table
    bound_clearance_m: float  #: the sphere bound to obstacles (sim.robot.collision)
    bound_self_clearance_m: float  #: the sphere bound between SRDF pairs
    bound_contact_count: int  #: PyBullet's touching points on the bound

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """The CSV columns of :meth:`to_row`, in order."""
        names: list[str] = []
        for spec in dataclasses.fields(cls):
            length = spec.metadata.get("length")
            names += [f"{spec.name}_{i}" for i in range(length)] if length else [spec.name]
        return tuple(names)

    def to_row(self) -> dict[str, float | int | str]:
        """Flat dict for the steps CSV (vectors spread over numbered columns, see :meth:`columns`)."""
        row: dict[str, float | int | str] = {}
        for name, value in dataclasses.asdict(self).items():
            if isinstance(value, tuple):
                row.update({f"{name}_{i}": float(v) for i, v in enumerate(value)})
            else:
                row[name] = int(value) if isinstance(value, bool) else value
        return row


@dataclass(frozen=True)
class EpisodeMetrics:
    """One finished episode, as one row of ``episodes.csv`` (in this column order)."""

    success: bool
    collided: bool
    target_error_mm: float
    min_clearance_mm: float
    path_length_m: float
    jerk: float  #: RMS joint jerk (rad/s^3)
    steps: int
    orientation_error_deg: float
    min_clearance_pybullet_mm: float
    contact_steps: int
    joint_path_length_rad: float
    duration_s: float
    min_clearance_bound_mm: float  #: the sphere bound's smallest clearance (<= the CAD's + 1.2 mm)
    bound_contact_steps: int  #: steps with a touch of the bound (PyBullet's points on the spheres)


@dataclass
class EpisodeLog:
    """Accumulates :class:`StepRecord` s of one episode."""

    control_dt_s: float
    records: list[StepRecord] = field(default_factory=list)

    def append(self, record: StepRecord) -> None:
        self.records.append(record)

    def metrics(self) -> EpisodeMetrics:
        """Summarise the episode (requires at least one step)."""
        if not self.records:
            raise ValueError("an episode needs at least one step to be summarised")
        final = self.records[-1]
        ee = np.array([r.ee_pose for r in self.records])
        joints = np.array([r.joints_rad for r in self.records])
        orientation_error = float(quat_angle(np.array(final.ee_pose[3:]), np.array(final.goal_pose[3:])))
        collided = any(r.collided for r in self.records)
        return EpisodeMetrics(
            success=bool(final.is_success and not collided),
            collided=collided,
            target_error_mm=1e3 * final.target_error_m,
            orientation_error_deg=float(np.degrees(orientation_error)),
            min_clearance_mm=1e3 * min(r.min_clearance_m for r in self.records),
            min_clearance_pybullet_mm=1e3 * min(r.pybullet_clearance_m for r in self.records),
            contact_steps=sum(r.contact_count > 0 for r in self.records),
            path_length_m=float(np.linalg.norm(np.diff(ee[:, :3], axis=0), axis=-1).sum()),
            joint_path_length_rad=float(np.abs(np.diff(joints, axis=0)).sum()),
            jerk=rms_jerk(joints, self.control_dt_s),
            steps=len(self.records),
            duration_s=len(self.records) * self.control_dt_s,
            min_clearance_bound_mm=1e3 * min(r.bound_clearance_m for r in self.records),
            bound_contact_steps=sum(r.bound_contact_count > 0 for r in self.records),
        )


def rms_jerk(joints: np.ndarray, dt_s: float) -> float:
    """Root-mean-square third time derivative (rad/s^3) of a (T, 4) joint trajectory; 0 if T < 4."""
    if len(joints) < 4:
        return 0.0
    third = np.diff(joints, n=3, axis=0) / dt_s**3
    return float(np.sqrt(np.mean(third**2)))

"""Obstacle-aware Cartesian path planning for IK policies, checked with the arm's collision model.

A path runs from the current end-effector pose to the goal: positions along a straight line or
bent through a via point, orientations slerp-interpolated and projected onto what the 4-DOF arm
can realise. Every waypoint is turned into joints by the policy's own IK solver, so the joint
path inherits that solver's errors, the thing this testbed measures. Candidate paths (the
straight line, then arcs around joint 1's axis lifted and pushed in or out by a grid of via-point
offsets) are densified in joint space and scored with the whole-arm clearance (:mod:`sim.robot.collision`) to the
obstacles and the table. The shortest candidate that keeps the margin wins; if none does, the
one with the most clearance. This is a small sampling-based planner in the space of via points:
it is cheap (one batched clearance query per candidate), deterministic, and explains itself
(each candidate's clearance is recorded).

The safety layer that refines single joint targets is :mod:`agents.ik_policy.safety`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from agents.ik_policy.solvers import IKSolver
from sim.errors import InvalidInputError
from sim.robot.collision import ObstacleSet, overall_clearance
from sim.robot.kinematics import JOINT1_XYZ, clamp_to_limits, forward_kinematics, realisable_pose, within_limits


@dataclass(frozen=True)
class CartesianPlannerConfig:
    """Options of :func:`plan_path` (metres, radians)."""

    waypoints: int = 20
    lifts_m: tuple[float, ...] = (0.0, 0.05, 0.10, 0.15)
    radial_offsets_m: tuple[float, ...] = (-0.06, 0.0, 0.06)
    margin_m: float = 0.015
    check_step_rad: float = 0.03
    straight_only: bool = False


@dataclass(frozen=True)
class PlannedPath:
    """The chosen joint path and how it was chosen."""

    joints: np.ndarray  #: (K, 4) dense joint path (rad), start first, inside the joint limits
    waypoints: np.ndarray  #: (W, 7) Cartesian waypoints the IK solver was given
    candidate: str  #: which candidate won, e.g. "straight" or "arc lift=0.10 radial=+0.06"
    min_clearance_m: float  #: collision-model clearance (obstacles and table) along the dense path
    candidates_tried: int
    limit_violations: int  #: waypoints whose raw IK answer left the joint limits (then clamped)
    unsolved: int  #: waypoints the solver could not answer (NaN) in the chosen candidate


def cartesian_path(start_pose: np.ndarray, goal_pose: np.ndarray, count: int,
                   *, arc: bool = False, lift_m: float = 0.0, radial_m: float = 0.0) -> np.ndarray:
    """``count`` waypoints (count, 7) from ``start_pose`` to ``goal_pose`` (both (7,), m).

    Straight line in Cartesian space, or (``arc``) linear in joint 1's cylindrical coordinates
    (yaw, radius, height) with a smooth ``sin(pi s)`` bump of ``lift_m`` up and ``radial_m`` out.
    Orientation: slerp, projected onto the arm's realisable orientations.
    """
    s = np.linspace(0.0, 1.0, count)
    bump = np.sin(math.pi * s)
    if arc:
        (x0, y0, z0), (x1, y1, z1) = start_pose[:3] - [JOINT1_XYZ[0], 0, 0], goal_pose[:3] - [JOINT1_XYZ[0], 0, 0]
        yaw0, yaw1 = math.atan2(y0, x0), math.atan2(y1, x1)
        turn = (yaw1 - yaw0 + math.pi) % (2 * math.pi) - math.pi
        yaw = yaw0 + s * turn
        radius = np.hypot(x0, y0) + s * (np.hypot(x1, y1) - np.hypot(x0, y0)) + radial_m * bump
        height = z0 + s * (z1 - z0) + lift_m * bump
        positions = np.stack([JOINT1_XYZ[0] + radius * np.cos(yaw), radius * np.sin(yaw), height], -1)
    else:
        positions = start_pose[:3] + s[:, None] * (goal_pose[:3] - start_pose[:3])
    orientations = Slerp([0.0, 1.0], Rotation.from_quat([start_pose[3:], goal_pose[3:]]))(s).as_quat()
    return realisable_pose(np.concatenate([positions, orientations], -1))


def densify(joints: np.ndarray, max_step_rad: float) -> np.ndarray:
    """Linear joint-space interpolation of (W, 4) waypoints so no joint moves more than ``max_step_rad``."""
    pieces = [joints[:1]]
    for a, b in pairwise(joints):
        steps = max(1, int(math.ceil(np.max(np.abs(b - a)) / max_step_rad)))
        pieces.append(a + np.linspace(0.0, 1.0, steps + 1)[1:, None] * (b - a))
    return np.concatenate(pieces)


def configuration_clearance(joints: np.ndarray, obstacles: ObstacleSet) -> np.ndarray:
    """(K,) collision-model clearance (m) of each configuration to the obstacles, the table and
    the arm itself (the link pairs ROBOTIS' SRDF leaves enabled)."""
    return overall_clearance(joints, obstacles)


def _candidates(config: CartesianPlannerConfig) -> list[tuple[str, dict]]:
    found = [("straight", {})]
    if not config.straight_only:
        for lift in config.lifts_m:
            for radial in config.radial_offsets_m:
                options = {"arc": True, "lift_m": lift, "radial_m": radial}
                found.append((f"arc lift={lift:.2f} radial={radial:+.2f}", options))
    return found


def plan_path(start_q: np.ndarray, goal_pose: np.ndarray, obstacles: ObstacleSet, solver: IKSolver,
              config: CartesianPlannerConfig = CartesianPlannerConfig()) -> PlannedPath:
    """Plan a joint path from ``start_q`` (4,) rad to ``goal_pose`` (7,) with ``solver``.

    Raises:
        InvalidInputError: ``start_q`` outside the limits or malformed goal.
    """
    start_q = np.asarray(start_q, dtype=float)
    if start_q.shape != (4,) or not within_limits(start_q, 1e-6):
        raise InvalidInputError(f"start configuration must be (4,) inside the joint limits, got {start_q}")
    start_pose = forward_kinematics(clamp_to_limits(start_q))
    best: tuple | None = None
    candidates = _candidates(config)
    for label, options in candidates:
        waypoints = cartesian_path(start_pose, np.asarray(goal_pose, dtype=float), config.waypoints, **options)
        raw = solver.solve(waypoints[1:], seed_q=start_q)
        unsolved = int(np.isnan(raw).any(-1).sum())
        if unsolved == len(raw):
            continue
        raw = _fill_unsolved(raw)
        violations = int((~within_limits(raw, 1e-9)).sum())
        joints = densify(np.vstack([start_q, clamp_to_limits(raw)]), config.check_step_rad)
        clearance = float(configuration_clearance(joints, obstacles).min())
        length = float(np.abs(np.diff(joints, axis=0)).sum())
        feasible = clearance >= config.margin_m and unsolved == 0
        key = (not feasible, length if feasible else -clearance)
        if best is None or key < best[0]:
            best = (key, PlannedPath(joints, waypoints, label, clearance, len(candidates), violations, unsolved))
        if feasible and label == "straight":
            break  # nothing is shorter than the straight path that keeps the margin
    if best is None:  # the solver answered no waypoint at all: stay put
        joints = start_q[None, :].copy()
        clearance = float(configuration_clearance(joints, obstacles)[0])
        return PlannedPath(joints, np.asarray(goal_pose)[None, :], "none", clearance,
                           len(candidates), 0, config.waypoints - 1)
    return best[1]


def _fill_unsolved(joints: np.ndarray) -> np.ndarray:
    """Replace NaN rows by the nearest earlier solved row (or the first solved one)."""
    joints = joints.copy()
    solved = ~np.isnan(joints).any(-1)
    first = joints[np.argmax(solved)]
    last = first
    for i in range(len(joints)):
        if solved[i]:
            last = joints[i]
        else:
            joints[i] = last
    return joints

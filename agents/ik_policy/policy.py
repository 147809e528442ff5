"""The IK policies and their names.

A policy is reset on a scene and then asked, once per control step, for the four joint targets
(rad) (the interface: :mod:`agents.ik_policy.interface`). The IK policies plan a Cartesian path to
the goal (obstacle-aware, or straight), turn its
waypoints into joints with an IK solver, and follow the joint path no faster than the joint
velocity limit allows; the optional safety layer refines every commanded target to keep a
clearance margin. Dynamic scenes are replanned every few steps.

Names (parsed by :func:`parse_policy`): ``SOLVER[+MODIFIER...]`` with SOLVER one of
``analytic``, ``pybullet-ik`` or ``iknet:MODEL`` and modifiers ``safe`` (clearance layer),
``straight`` (no obstacle-aware planning) and ``refine`` (IKNet only: damped least-squares
refinement of the network's answer). Examples: ``iknet:improved``, ``iknet:improved+safe``,
``analytic+safe``, ``pybullet-ik``, ``iknet:focused+straight``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from agents.ik_policy.interface import PolicyContext
from agents.ik_policy.planning import CartesianPlannerConfig, PlannedPath, plan_path
from agents.ik_policy.safety import SAFETY_MARGIN_M, keep_clearance
from agents.ik_policy.solvers import AnalyticSolver, IKNetSolver, IKSolver, PyBulletSolver
from agents.iknet.checkpoint import load_checkpoint
from agents.iknet.models import MODEL_NAMES
from sim.errors import UnknownNameError
from sim.robot.kinematics import MAX_JOINT_VELOCITY_RAD_S, clamp_to_limits

MODIFIERS: tuple[str, ...] = ("safe", "straight", "refine")
EXAMPLE_POLICIES: tuple[str, ...] = (
    "analytic", "analytic+safe", "analytic+straight", "pybullet-ik",
    "iknet:improved", "iknet:improved+safe", "iknet:improved+refine", "iknet:focused+straight",
)


@dataclass(frozen=True)
class PolicySpec:
    """A parsed policy name."""

    name: str
    solver: str  #: "analytic", "pybullet-ik" or "iknet"
    model: str | None
    safe: bool
    straight: bool
    refine: bool


def solver_names() -> list[str]:
    """Valid SOLVER parts of a policy name."""
    return ["analytic", "pybullet-ik"] + [f"iknet:{name}" for name in MODEL_NAMES]


def parse_policy(name: str) -> PolicySpec:
    """Parse ``SOLVER[+MODIFIER...]`` (see the module docstring).

    Raises:
        UnknownNameError: unknown solver, model or modifier; the message lists the valid ones.
    """
    solver_part, *modifiers = name.strip().split("+")
    valid_solvers = solver_names()
    if solver_part not in valid_solvers and not solver_part.startswith("iknet:"):
        raise UnknownNameError("policy solver", solver_part, valid_solvers + ["iknet:PATH.pt"])
    for modifier in modifiers:
        if modifier not in MODIFIERS:
            raise UnknownNameError("policy modifier", modifier, MODIFIERS)
    solver, model = solver_part, None
    if solver_part.startswith("iknet:"):
        solver, model = "iknet", solver_part.split(":", 1)[1]
        if solver_part not in valid_solvers and not model.endswith(".pt"):
            raise UnknownNameError("policy solver", solver_part, valid_solvers + ["iknet:PATH.pt"])
    if "refine" in modifiers and solver != "iknet":
        raise UnknownNameError("modifier for " + solver, "refine", [m for m in MODIFIERS if m != "refine"])
    return PolicySpec(name, solver, model, "safe" in modifiers, "straight" in modifiers, "refine" in modifiers)


def check_solver_checkpoint(model: str | None) -> None:
    """Load an ``iknet:PATH.pt`` solver's checkpoint once, so a bad file fails before a run starts.

    Raises:
        CheckpointError: the file is missing, unreadable or not an IKNet checkpoint.
    """
    if model is not None and model.endswith(".pt"):
        load_checkpoint(model)


def make_solver(spec: PolicySpec) -> IKSolver:
    """The IK solver a policy spec names."""
    if spec.solver == "analytic":
        return AnalyticSolver()
    if spec.solver == "pybullet-ik":
        return PyBulletSolver()
    return IKNetSolver(spec.model or "", refine_steps=5 if spec.refine else 0)


class IKPolicy:
    """Plan a path with an IK solver, follow it within the velocity limits, optionally keep clearance.

    Args:
        spec: parsed policy name.
        planner: planning options (``straight_only`` is set from the spec).
        safety_margin_m: clearance the safety layer keeps.
        speed_fraction: share of the joint velocity limit used to follow the path.
        replan_every: steps between replans when obstacles move.
    """

    def __init__(self, spec: PolicySpec, *, planner: CartesianPlannerConfig = CartesianPlannerConfig(),
                 safety_margin_m: float = SAFETY_MARGIN_M, speed_fraction: float = 0.6, replan_every: int = 5) -> None:
        self.spec = spec
        self.name = spec.name
        self.solver = make_solver(spec)
        self.planner = replace(planner, straight_only=spec.straight)
        self.safety_margin_m = safety_margin_m
        self.speed_fraction = speed_fraction
        self.replan_every = replan_every
        self.plan: PlannedPath | None = None
        self.plan_time_s = 0.0
        self._context: PolicyContext | None = None

    def reset(self, context: PolicyContext) -> None:
        self._context = context
        self._calls_at_reset = self.solver.stats.calls
        self._step = 0
        self._time_s = 0.0
        self.plan_time_s = 0.0
        self._replan(np.asarray(context.start_q, dtype=float))

    def _replan(self, q_now: np.ndarray) -> None:
        context = self._context
        start = time.perf_counter()
        # Measured joints can overshoot a limit by a few mrad under position control; plan from
        # the nearest commandable configuration.
        q_now = clamp_to_limits(q_now)
        self.plan = plan_path(q_now, context.goal_pose, context.obstacles_at(self._time_s), self.solver, self.planner)
        self.plan_time_s += time.perf_counter() - start
        steps = np.max(np.abs(np.diff(self.plan.joints, axis=0)), axis=-1) if len(self.plan.joints) > 1 else np.zeros(0)
        self._cumulative = np.concatenate([[0.0], np.cumsum(steps)])
        self._arc, self._arc_total = 0.0, float(self._cumulative[-1])

    @property
    def ik_seconds(self) -> float:
        return self.solver.stats.seconds

    def episode_info(self) -> dict[str, float | int | str]:
        return {
            "ik_calls": self.solver.stats.calls - self._calls_at_reset,
            "plan_time_ms": 1e3 * self.plan_time_s,
            "planner_candidate": self.plan.candidate if self.plan else "",
            "limit_violations": self.plan.limit_violations if self.plan else 0,
        }

    @property
    def done(self) -> bool:
        """The whole planned path has been commanded."""
        return self.plan is not None and self._arc >= self._arc_total

    def act(self, observation: Any) -> np.ndarray:
        context = self._context
        if context is None or self.plan is None:
            raise RuntimeError("call reset() before act()")
        if context.dynamic and self._step > 0 and self._step % self.replan_every == 0 and not self.done:
            if context.joints_from_observation is not None:
                self._replan(np.asarray(context.joints_from_observation(observation), dtype=float))
        target = self._advance(self.speed_fraction * MAX_JOINT_VELOCITY_RAD_S * context.control_dt_s)
        self._step += 1
        self._time_s += context.control_dt_s
        if self.spec.safe:
            target = keep_clearance(target, context.obstacles_at(self._time_s), self.safety_margin_m)
        return target

    def _advance(self, max_step_rad: float) -> np.ndarray:
        """Move ``max_step_rad`` further along the path's Chebyshev arc length (the largest joint
        change), so no joint moves more than that in one step; return the new target (4,)."""
        self._arc = min(self._arc + max_step_rad, self._arc_total)
        segment = int(np.searchsorted(self._cumulative, self._arc, side="right") - 1)
        segment = min(max(segment, 0), len(self.plan.joints) - 2) if len(self.plan.joints) > 1 else 0
        if len(self.plan.joints) == 1:
            return self.plan.joints[0].copy()
        length = self._cumulative[segment + 1] - self._cumulative[segment]
        fraction = 0.0 if length <= 0 else (self._arc - self._cumulative[segment]) / length
        a, b = self.plan.joints[segment], self.plan.joints[segment + 1]
        return a + min(max(fraction, 0.0), 1.0) * (b - a)

    def close(self) -> None:
        close = getattr(self.solver, "close", None)
        if close:
            close()

"""The OMPL planner as a policy: ``ompl:PLANNER[:GOAL_SOLVER]`` plans once per episode and plays the path.

The planning itself (state validity, simplification, time parameterisation) lives in
:mod:`agents.baselines.planner`; this module parses policy names, picks goal joints (both analytic elbow
branches, or an IKNet's answer clamped to the limits) and turns a plan into per-step joint
targets for the runner, replanning in dynamic scenes. OMPL is the optional extra ``plan``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from agents.baselines.planner import (
    PLANNERS,
    JointSpacePlanner,
    JointSpacePlannerConfig,
    PlanResult,
    import_ompl,
    time_parameterise,
)
from agents.ik_policy.interface import PolicyContext
from agents.ik_policy.planning import configuration_clearance
from agents.ik_policy.policy import check_solver_checkpoint, make_solver, parse_policy, solver_names
from sim.errors import UnknownNameError
from sim.robot.collision import ObstacleSet
from sim.robot.kinematics import JOINT_LIMITS, MAX_JOINT_VELOCITY_RAD_S, analytic_ik_solutions, check_poses


@dataclass(frozen=True)
class PlannerSpec:
    """A parsed ``ompl:PLANNER[:GOAL_SOLVER]`` name."""

    name: str
    planner: str  #: a key of :data:`PLANNERS`
    goal_solver: str  #: ``"analytic"``, ``"pybullet-ik"``, ``"iknet:MODEL"`` or ``"iknet:PATH.pt"``


def parse_planner_name(name: str) -> PlannerSpec:
    """Parse ``ompl:PLANNER[:GOAL_SOLVER]`` (goal solver ``analytic`` when omitted).

    Raises:
        UnknownNameError: not an ``ompl:`` name, unknown planner or goal solver.
    """
    prefix, _, rest = name.strip().partition(":")
    planner, _, goal_solver = rest.partition(":")
    if prefix != "ompl" or planner not in PLANNERS:
        raise UnknownNameError("OMPL planner policy", name, [f"ompl:{key}" for key in PLANNERS])
    goal_solver = goal_solver or "analytic"
    valid = solver_names()
    if goal_solver not in valid and not (goal_solver.startswith("iknet:") and goal_solver.endswith(".pt")):
        raise UnknownNameError("planner goal solver", goal_solver, valid + ["iknet:PATH.pt"])
    return PlannerSpec(name.strip(), planner, goal_solver)


def validate_name(name: str) -> None:
    """Raise unless ``name`` names a planner policy that can be built here.

    Raises:
        DependencyNotInstalled: OMPL is missing (extra ``plan``).
        UnknownNameError: see :func:`parse_planner_name`.
        CheckpointError: an ``iknet:PATH.pt`` goal solver's file is missing or unreadable.
    """
    import_ompl()
    spec = parse_planner_name(name)
    check_solver_checkpoint(spec.goal_solver.split(":", 1)[1] if spec.goal_solver.startswith("iknet:") else None)


def make_planner_policy(name: str, *, config: JointSpacePlannerConfig | None = None) -> PlannerPolicy:
    """The policy ``name`` describes (see :func:`parse_planner_name`); ``config`` overrides the
    default :class:`JointSpacePlannerConfig` (its ``planner`` field is set from the name)."""
    validate_name(name)
    return PlannerPolicy(parse_planner_name(name), config=config or JointSpacePlannerConfig())


class PlannerPolicy:
    """Plan once per episode with OMPL, then play the timed joint trajectory (the Policy protocol).

    Goal joints come from the spec's goal solver; when obstacles move, the rest of the trajectory
    is checked against their current positions every ``replan_every`` steps and replanned from the
    current joints if it would pass nearer than ``final_margin_m``.

    Args:
        spec: the parsed name.
        config: planner options (``planner`` is taken from ``spec``).
        replan_every: control steps between checks in dynamic scenes.
    """

    def __init__(self, spec: PlannerSpec, *, config: JointSpacePlannerConfig = JointSpacePlannerConfig(),
                 replan_every: int = 5) -> None:
        self.spec = spec
        self.name = spec.name
        self.planner = JointSpacePlanner(replace(config, planner=spec.planner))
        self.replan_every = replan_every
        self.solver: Any = None
        if spec.goal_solver != "analytic":
            self.solver = make_solver(parse_policy(spec.goal_solver))
        self.result: PlanResult | None = None
        self.plan_time_s = 0.0
        self._ik_seconds = 0.0
        self._limit_violations = 0
        self._context: PolicyContext | None = None
        self._trajectory = np.zeros((0, 4))
        self._index = 0
        self._step = 0
        self._goals = np.zeros((0, 4))

    def goal_candidates(self, goal_pose: np.ndarray, seed_q: np.ndarray) -> np.ndarray:
        """(G, 4) goal joints (rad) for ``goal_pose`` (7,): both valid analytic elbow branches, or
        the goal solver's answer clamped to the limits (none if it has no answer)."""
        started = time.perf_counter()
        if self.solver is None:
            solutions = analytic_ik_solutions(goal_pose)
            self._ik_seconds += time.perf_counter() - started
            return solutions.joints[solutions.valid]
        raw = self.solver.solve(goal_pose[None], seed_q=seed_q)[0]  # the solver times itself
        self._limit_violations += int(np.any((raw < JOINT_LIMITS[:, 0]) | (raw > JOINT_LIMITS[:, 1])))
        if not np.all(np.isfinite(raw)):
            return np.zeros((0, 4))
        return np.clip(raw, JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1])[None]

    def reset(self, context: PolicyContext) -> None:
        """Compute goal joints and plan from ``context.start_q``."""
        goal_pose = np.asarray(context.goal_pose, dtype=float)
        check_poses(goal_pose)
        self._context = context
        self._step, self._limit_violations, self.plan_time_s = 0, 0, 0.0
        start_q = np.asarray(context.start_q, dtype=float)
        self._goals = self.goal_candidates(goal_pose, start_q)
        self._plan(start_q, context.obstacles_at(0.0))

    def _plan(self, start_q: np.ndarray, obstacles: ObstacleSet) -> None:
        self.result = self.planner.plan(start_q, self._goals, obstacles)
        self.plan_time_s += self.result.plan_time_s
        config = self.planner.config
        self._trajectory = time_parameterise(
            self.result.waypoints, self._context.control_dt_s, config.speed_fraction * MAX_JOINT_VELOCITY_RAD_S,
            config.max_acceleration_rad_s2,
        )
        self._index = 0

    def act(self, observation: Any) -> np.ndarray:
        """(4,) joint target (rad) for the next control step."""
        context = self._context
        if context is None:
            raise RuntimeError("call reset() before act()")
        if context.dynamic and self._step and self._step % self.replan_every == 0 and context.joints_from_observation:
            obstacles = context.obstacles_at(self._step * context.control_dt_s)
            rest = self._trajectory[self._index:]
            if len(rest) and configuration_clearance(rest, obstacles).min() < self.planner.config.final_margin_m:
                now = np.clip(context.joints_from_observation(observation), JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1])
                self._plan(now, obstacles)
        target = self._trajectory[min(self._index, len(self._trajectory) - 1)].copy()
        self._index += 1
        self._step += 1
        return target

    @property
    def done(self) -> bool:
        """The whole trajectory has been commanded."""
        return self.result is not None and self._index >= len(self._trajectory)

    @property
    def ik_seconds(self) -> float:
        """Cumulative goal-IK time (s); planning time is reported by :meth:`episode_info`."""
        return self._ik_seconds + (self.solver.stats.seconds if self.solver is not None else 0.0)

    def episode_info(self) -> dict[str, float | int | str]:
        result = self.result
        candidate = "" if result is None else (
            f"{self.spec.planner} {result.status}: {len(result.waypoints)} waypoints in {result.attempts} run(s)")
        return {"plan_time_ms": 1e3 * self.plan_time_s, "planner_candidate": candidate,
                "limit_violations": self._limit_violations}

    def close(self) -> None:
        self.planner.close()
        if self.solver is not None and hasattr(self.solver, "close"):
            self.solver.close()

"""A sampling-based motion-planning baseline: OMPL's planners in joint space, as a policy.

The planner searches the arm's 4-D joint box (:data:`~sim.robot.kinematics.JOINT_LIMITS`) with an OMPL
planner (RRT-Connect by default). A state is valid when the arm's collision model
(:mod:`sim.robot.collision`) keeps ``margin_m`` from every obstacle and the table; motions are checked
in one batched clearance query per edge, at ``check_step_rad`` joint resolution. The solution is
shortcut with OMPL's path simplifier, then checked twice at the finer ``final_step_rad``: with the
collision model (clearance >= ``final_margin_m``) and, wherever it comes within 3 cm,
with PyBullet's distances on the URDF (no penetration of an obstacle or, for the links that can
reach it, the table); a path failing either is planned again within the budget. Goal joints come
from the analytic solver (both elbow branches are offered as goal states) or from an IKNet (its
answer, clamped to the joint limits). The path is finally timed rest-to-rest per segment with a
trapezoidal profile in the Chebyshev arc length, so no joint exceeds ``speed_fraction`` of the
joint velocity limit nor ``max_acceleration_rad_s2``.

Policy names (see :func:`agents.baselines.planner_policy.parse_planner_name`): ``ompl:PLANNER[:GOAL_SOLVER]``,
e.g. ``ompl:rrtconnect``,
``ompl:rrtstar``, ``ompl:rrtconnect:iknet:improved``. OMPL is an optional dependency (extra
``plan``); without it every entry point raises :class:`~sim.errors.DependencyNotInstalled`.

Determinism: each query seeds OMPL's global RNG (``ompl.util.RNG.setSeed``) from the config's
``seed`` and the query itself (start and goal), so a query answered within its time budget gives
the same path on every run. The optimising planners (RRT*, BIT*...), which search until the budget
ends, and queries that hit the budget depend on the machine's speed and are not reproducible.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from agents.ik_policy.planning import configuration_clearance, densify
from sim.errors import DependencyNotInstalled, InvalidInputError, UnknownNameError
from sim.robot.collision import ObstacleSet
from sim.robot.kinematics import JOINT_LIMITS, check_joints
from sim.robot.obstacle_kinds import OBSTACLE_KINDS, SIZE_LENGTHS

#: Planner names -> OMPL geometric planner classes. RRT*, informed RRT*, PRM*, BIT*, AORRTC and FMT
#: use their whole search budget (they optimise path length); the others stop at the first path.
PLANNERS: dict[str, str] = {
    "rrtconnect": "RRTConnect", "rrt": "RRT", "kpiece": "KPIECE1", "bkpiece": "BKPIECE1", "lbkpiece": "LBKPIECE1",
    "prm": "PRM", "rrtstar": "RRTstar", "informedrrtstar": "InformedRRTstar", "prmstar": "PRMstar",
    "bitstar": "BITstar", "aorrtc": "AORRTC", "fmt": "FMT",
}
_KIND_NAMES = dict(enumerate(OBSTACLE_KINDS))  #: ObstacleSet kind code -> name
#: Links that can never touch the table (the base and the yaw link), skipped in the table check.
_FIXED_LINKS = ("link1", "link2", "world", "base")


def import_ompl() -> tuple[Any, Any, Any]:
    """``(ompl.base, ompl.geometric, ompl.util)`` with OMPL's console output limited to errors.

    Raises:
        DependencyNotInstalled: OMPL's Python bindings are missing (extra ``plan``).
    """
    try:
        from ompl import base, geometric, util
    except ImportError:
        raise DependencyNotInstalled("ompl", "plan") from None
    util.setLogLevel(util.LOG_ERROR)
    return base, geometric, util


@dataclass(frozen=True)
class JointSpacePlannerConfig:
    """Options of :class:`JointSpacePlanner` (metres, radians, seconds)."""

    planner: str = "rrtconnect"
    time_budget_s: float = 5.0  #: wall time per query: search, simplification and checks
    #: collision-model clearance every planned state keeps (obstacles and table). 2 mm, chosen on CAD contact and
    #: success by ``benchmarks/planner_margin_sweep.py``: no margin of 2-24 mm touched the CAD; at 8 mm 92.6%
    #: success, the failures planning timeouts in ``shelf``.
    margin_m: float = 0.002
    final_margin_m: float = 0.002  #: collision-model clearance the densified final path keeps
    check_step_rad: float = 0.02  #: largest joint change between checked states of an edge
    final_step_rad: float = 0.005  #: resolution of the final model and PyBullet checks
    simplify: bool = True
    pybullet_check: bool = True
    pybullet_check_below_m: float = 0.03  #: PyBullet checks the states with less model clearance
    speed_fraction: float = 0.6  #: share of the joint velocity limit
    max_acceleration_rad_s2: float = 20.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.planner not in PLANNERS:
            raise UnknownNameError("OMPL planner", self.planner, PLANNERS)
        for name in ("time_budget_s", "check_step_rad", "final_step_rad", "speed_fraction", "max_acceleration_rad_s2"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise InvalidInputError(f"{name} must be positive, got {getattr(self, name)}")
        if not (0 <= self.final_margin_m <= self.margin_m and self.speed_fraction <= 1):
            raise InvalidInputError("options must satisfy 0 <= final_margin_m <= margin_m and speed_fraction <= 1")


@dataclass(frozen=True)
class PlanResult:
    """One planning query's answer.

    Attributes:
        waypoints: (K, 4) simplified joint path (rad), start first; just the start when ``not solved``.
        solved: a path to a goal state passed every check.
        status: ``"exact"``, or why not: ``"invalid_start"``, ``"invalid_goal"``, ``"timeout"``, ``"rejected"``.
        plan_time_s: wall time of the whole query.
        attempts: planner runs (a run whose path fails a final check is repeated within the budget).
        min_clearance_m: collision-model clearance along the densified path (obstacles and table).
        pybullet_clearance_m: PyBullet's smallest signed distance along it (NaN if not checked).
    """

    waypoints: np.ndarray
    solved: bool
    status: str
    plan_time_s: float
    attempts: int
    min_clearance_m: float
    pybullet_clearance_m: float


def query_seed(base_seed: int, start_q: np.ndarray, goals: np.ndarray) -> int:
    """A positive 31-bit seed for OMPL's RNG, fixed by ``base_seed`` and the query's joints."""
    digest = zlib.crc32(np.round(np.concatenate([start_q.ravel(), goals.ravel()]), 9).tobytes())
    return (digest ^ (base_seed * 2654435761)) % (2**31 - 2) + 1


class JointSpacePlanner:
    """OMPL in the joint box, the collision model as validity checker, PyBullet as the final check.

    Args:
        config: planner options.
    """

    def __init__(self, config: JointSpacePlannerConfig = JointSpacePlannerConfig()) -> None:
        self.config = config
        self._ompl = import_ompl()
        self._world: Any = None
        # Warm up (load the compiled distance kernel, open the checking world) so that one-time
        # costs are not charged to the first query's time budget.
        warm = ObstacleSet.from_list(["sphere"], [[0.3, 0.0, 0.3]], [[0.01]])
        configuration_clearance(np.zeros((1, 4)), warm)
        if config.pybullet_check:
            self._world_with(warm)

    def plan(self, start_q: np.ndarray, goal_candidates: np.ndarray, obstacles: ObstacleSet) -> PlanResult:
        """Plan from ``start_q`` (4,) to any of ``goal_candidates`` (G, 4), rad.

        Raises:
            InvalidInputError: joints malformed or outside the limits.
        """
        started = time.perf_counter()
        start_q = np.asarray(start_q, dtype=float)
        goals = np.asarray(goal_candidates, dtype=float).reshape(-1, 4)
        check_joints(start_q.reshape(1, 4))
        check_joints(goals)
        config = self.config
        margin = config.margin_m
        start_clearance = float(configuration_clearance(start_q[None], obstacles)[0])
        goal_clearance = configuration_clearance(goals, obstacles) if len(goals) else np.zeros(0)

        def failed(status: str, attempts: int = 0) -> PlanResult:
            return PlanResult(start_q[None].copy(), False, status, time.perf_counter() - started, attempts,
                              start_clearance, math.nan)

        if start_clearance < config.final_margin_m:
            return failed("invalid_start")
        keep = goal_clearance >= config.final_margin_m
        goals, goal_clearance = goals[keep], goal_clearance[keep]
        if not len(goals):
            return failed("invalid_goal")
        # Start or goal nearer than the margin (e.g. a replan beside an obstacle): shrink it.
        margin = max(min(margin, 0.9 * min(start_clearance, float(goal_clearance.min()))), config.final_margin_m)
        util = self._ompl[2]
        previous_level = util.getLogLevel()
        util.setLogLevel(util.LOG_NONE)  # re-seeding logs a (harmless) error after the first query
        util.RNG.setSeed(query_seed(config.seed, start_q, goals))
        util.setLogLevel(previous_level)
        attempts, status = 0, "timeout"
        while time.perf_counter() - started < config.time_budget_s:
            attempts += 1
            remaining = config.time_budget_s - (time.perf_counter() - started)
            waypoints = self._search(start_q, goals, obstacles, margin, remaining)
            if waypoints is None:
                break
            dense = densify(waypoints, config.final_step_rad)
            clearances = configuration_clearance(dense, obstacles)
            clearance = float(clearances.min())
            exact = math.nan
            if config.pybullet_check:  # where the model comes near; elsewhere both models agree it is clear
                exact = self.pybullet_clearance(dense[clearances < config.pybullet_check_below_m], obstacles)
            if clearance >= config.final_margin_m and not exact < 0.0:
                return PlanResult(waypoints, True, "exact", time.perf_counter() - started, attempts, clearance, exact)
            status = "rejected"
        return failed(status, attempts)

    def _search(self, start_q: np.ndarray, goals: np.ndarray, obstacles: ObstacleSet, margin_m: float,
                budget_s: float) -> np.ndarray | None:
        """One OMPL run; the simplified (K, 4) path, or ``None`` without an exact solution."""
        base, geometric, _ = self._ompl
        space = base.RealVectorStateSpace(4)
        bounds = base.RealVectorBounds(4)
        for joint, (low, high) in enumerate(JOINT_LIMITS):
            bounds.setLow(joint, float(low))
            bounds.setHigh(joint, float(high))
        space.setBounds(bounds)
        info = base.SpaceInformation(space)
        step = self.config.check_step_rad

        def valid(state: Any) -> bool:
            return bool(configuration_clearance(np.array(state[0:4])[None], obstacles)[0] >= margin_m)

        def motion_valid(a: Any, b: Any) -> bool:
            qa, qb = np.array(a[0:4]), np.array(b[0:4])
            count = max(1, int(math.ceil(np.max(np.abs(qb - qa)) / step)))
            states = qa + np.linspace(1.0 / count, 1.0, count)[:, None] * (qb - qa)
            return bool(configuration_clearance(states, obstacles).min() >= margin_m)

        class BatchedMotionValidator(base.MotionValidator):
            def checkMotion(self, a: Any, b: Any) -> bool:  # noqa: N802 (OMPL's name)
                return motion_valid(a, b)

        info.setStateValidityChecker(valid)
        validator = BatchedMotionValidator(info)
        info.setMotionValidator(validator)
        info.setup()

        allocate = info.allocState

        def state(q: np.ndarray) -> Any:
            allocated = allocate()
            allocated[0:4] = [float(v) for v in q]
            return allocated

        problem = base.ProblemDefinition(info)
        problem.addStartState(state(start_q))
        goal = base.GoalStates(info)
        for q in goals:
            goal.addState(state(q))
        problem.setGoal(goal)
        planner = getattr(geometric, PLANNERS[self.config.planner])(info)
        planner.setProblemDefinition(problem)
        planner.setup()
        # Keep a fifth of the budget for simplification and the final checks; non-optimising planners
        # stop at their first solution.
        planner.solve(base.timedPlannerTerminationCondition(0.8 * budget_s))
        if not problem.hasExactSolution():
            return None
        path = problem.getSolutionPath()
        if self.config.simplify and len(path.getStates()) > 2:
            simplifier = geometric.PathSimplifier(info)
            simplifier.simplifyMax(path)
        waypoints = np.array([vertex[0:4] for vertex in path.getStates()], dtype=float)
        planner.clear()
        del planner, problem, goal, validator, info
        return waypoints

    def pybullet_clearance(self, joints: np.ndarray, obstacles: ObstacleSet) -> float:
        """PyBullet's smallest signed distance (m) of the arm at each of ``joints`` (K, 4) to the
        obstacles and (links beyond ``link2``) the table; 0.05 m if nothing is nearer."""
        world = self._world_with(obstacles)
        smallest = 0.05
        for q in joints:
            world.reset_joints(q)
            for point in world.closest_points(0.05, include_table=True):
                if point.body == "table" and point.link in _FIXED_LINKS:
                    continue
                smallest = min(smallest, point.distance_m)
        return smallest

    def _world_with(self, obstacles: ObstacleSet) -> Any:
        """The checking world holding ``obstacles`` (reloaded only when they change)."""
        if self._world is None:
            from sim.env.world import World

            self._world, self._loaded = World(), None
        world = self._world
        key = tuple(np.concatenate([a.ravel() for a in (obstacles.kinds, obstacles.positions, obstacles.rotations,
                                                        obstacles.sizes)]))
        if key == self._loaded:
            return world
        self._loaded = key
        world.clear_obstacles()
        quaternions = Rotation.from_matrix(obstacles.rotations).as_quat() if len(obstacles) else np.zeros((0, 4))
        placed = zip(obstacles.kinds, obstacles.positions, obstacles.sizes, strict=True)
        for index, (kind, position, size) in enumerate(placed):
            name = _KIND_NAMES[int(kind)]
            world.add_obstacle(f"obstacle{index}", name, size[:SIZE_LENGTHS[name]], position, quaternions[index])
        return world

    def close(self) -> None:
        """Close the PyBullet world of the final check (idempotent)."""
        if self._world is not None:
            self._world.close()
            self._world = None

    def __enter__(self) -> JointSpacePlanner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def time_parameterise(waypoints: np.ndarray, control_dt_s: float, max_velocity_rad_s: float,
                      max_acceleration_rad_s2: float) -> np.ndarray:
    """Sample a rest-to-rest trapezoidal timing of the piecewise-linear path at the control rate.

    Each segment is timed along its Chebyshev length (the largest joint change), so every joint's
    speed stays within ``max_velocity_rad_s`` and its acceleration within ``max_acceleration_rad_s2``.

    Args:
        waypoints: (K, 4) joint path (rad).
        control_dt_s: control period (s).

    Returns:
        (T, 4) joint targets at times ``dt, 2 dt, ...``; the last row is the last waypoint.
    """
    waypoints = np.asarray(waypoints, dtype=float).reshape(-1, 4)
    velocity, acceleration = max_velocity_rad_s, max_acceleration_rad_s2
    samples = [waypoints[:1]]
    carry_s = 0.0  # time already elapsed into the next segment at its first sample
    for a, b in pairwise(waypoints):
        length = float(np.max(np.abs(b - a)))
        if length <= 1e-12:
            continue
        peak = min(velocity, math.sqrt(length * acceleration))
        ramp_s = peak / acceleration
        duration = length / peak + ramp_s
        times = np.arange(control_dt_s - carry_s, duration + 1e-12, control_dt_s)
        arc = np.where(times < ramp_s, 0.5 * acceleration * times**2,
                       np.where(times > duration - ramp_s, length - 0.5 * acceleration * (duration - times) ** 2,
                                peak * (times - 0.5 * ramp_s)))
        samples.append(a + (np.clip(arc, 0.0, length) / length)[:, None] * (b - a))
        carry_s = duration - (times[-1] if len(times) else -carry_s)
    trajectory = np.concatenate(samples)[1:]
    if not len(trajectory) or np.any(trajectory[-1] != waypoints[-1]):
        trajectory = np.vstack([trajectory, waypoints[-1:]])
    return trajectory

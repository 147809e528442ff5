"""The policy interface: what every controller implements and what it is told of an episode.

A policy is reset on a :class:`PolicyContext` and then asked, once per control step, for the four
joint targets (rad). IK policies (:mod:`agents.ik_policy.policy`), the RL agents and the OMPL
planner (:mod:`agents.baselines`) all implement :class:`Policy`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sim.robot.collision import ObstacleSet

#: What :meth:`Policy.episode_info` may report: IK calls, planning time (ms), how the plan was chosen,
#: and ``limit_violations``: IK answers (raw, before clamping) outside the joint limits.
EPISODE_INFO_KEYS: tuple[str, ...] = ("ik_calls", "plan_time_ms", "planner_candidate", "limit_violations")


def observed_joints(observation: Any) -> np.ndarray:
    """(4,) joint angles (rad) in an ``ObstacleReachEnv`` Dict observation (its first four values)."""
    return np.asarray(observation["observation"][:4], dtype=float)


@dataclass(frozen=True)
class PolicyContext:
    """What a policy knows of an episode when it is reset (no PyBullet inside)."""

    start_q: np.ndarray  #: (4,) joint angles (rad)
    goal_pose: np.ndarray  #: (7,) goal ``[x, y, z, qx, qy, qz, qw]`` (m, base frame)
    obstacles_at: Callable[[float], ObstacleSet]  #: obstacles at time t (s)
    control_dt_s: float
    dynamic: bool = False  #: obstacles move during the episode
    joints_from_observation: Callable[[Any], np.ndarray] | None = None

    @staticmethod
    def from_env(env: Any) -> PolicyContext:
        """The context of the current episode of an ``ObstacleReachEnv`` (pass ``env.unwrapped``)."""
        scene = env.scene
        return PolicyContext(
            start_q=env.joint_positions(),
            goal_pose=env.goal_pose,
            obstacles_at=scene.obstacle_set,
            control_dt_s=env.control_period_s,
            dynamic=scene.is_dynamic,
            joints_from_observation=observed_joints,
        )


class Policy(Protocol):
    """The interface of every controller in the testbed (IK policies, RL agents, planners)."""

    name: str

    def reset(self, context: PolicyContext) -> None:
        """Start an episode (plan, if the policy plans)."""
        ...

    def act(self, observation: Any) -> np.ndarray:
        """(4,) joint targets (rad) for the next control step."""
        ...

    @property
    def done(self) -> bool:
        """The policy has nothing more to command (the runner then lets the arm settle)."""
        ...

    @property
    def ik_seconds(self) -> float:
        """Cumulative time spent in IK / inference since construction (s)."""
        ...

    def episode_info(self) -> dict[str, float | int | str]:
        """Extra per-episode figures, keys from :data:`EPISODE_INFO_KEYS` (a policy may leave some out)."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...



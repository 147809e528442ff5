"""A trained stable-baselines3 agent as a policy: ``rl:ALGORITHM:PATH`` in ``run_sim.py``.

Training, saving and loading live in :mod:`agents.baselines.rl`; this module parses policy names and turns
the agent's action (absolute or delta, as it was trained) into the joint targets the runner
commands. stable-baselines3 is the optional extra ``rl``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from agents.baselines.rl import ALGORITHMS, import_sb3, load_agent
from agents.ik_policy.interface import PolicyContext, observed_joints
from sim.errors import CheckpointError, UnknownNameError
from sim.robot.kinematics import JOINT_LIMITS, MAX_JOINT_VELOCITY_RAD_S


def parse_rl_name(name: str) -> tuple[str, Path]:
    """``rl:ALGORITHM:PATH`` -> ``(algorithm, path of the .zip)``.

    Raises:
        UnknownNameError: not of that form, or an unknown algorithm.
    """
    parts = name.strip().split(":", 2)
    if len(parts) != 3 or parts[0] != "rl" or parts[1] not in ALGORITHMS or not parts[2]:
        raise UnknownNameError("RL policy", name, [f"rl:{algorithm}:PATH.zip" for algorithm in ALGORITHMS])
    path = Path(parts[2])
    return parts[1], path if path.suffix == ".zip" else path.with_suffix(".zip")


def validate_name(name: str) -> None:
    """Raise unless ``name`` (``rl:ALGORITHM:PATH``) names an agent that loads here: the archive is
    read as :func:`~agents.baselines.rl.load_agent` reads it (nothing unpickled), so a file a run
    would refuse is refused before the run starts.

    Raises:
        DependencyNotInstalled: stable-baselines3 is missing (extra ``rl``).
        UnknownNameError: malformed name; CheckpointError: no such agent file, or one that does
            not load (another algorithm, pickled code, weights that do not fit).
    """
    make_rl_policy(name).close()


def make_rl_policy(name: str) -> RLPolicy:
    """The policy ``rl:ALGORITHM:PATH`` names (see :class:`RLPolicy`)."""
    import_sb3()
    algorithm, path = parse_rl_name(name)
    return RLPolicy(name, path, algorithm)


class RLPolicy:
    """A trained agent as a policy: observation -> action -> joint targets (rad), every step.

    Args:
        name: the policy name shown in reports.
        path: the agent's ``.zip``.
        algorithm: the algorithm the name promised; a different one in the file is an error.

    Raises:
        CheckpointError: the file holds another algorithm or cannot be loaded.
    """

    def __init__(self, name: str, path: Path, algorithm: str) -> None:
        self.name = name
        self.model, self.config = load_agent(path)
        if self.config.algorithm != algorithm:
            raise CheckpointError(f"{str(path)!r} holds a {self.config.algorithm} agent, not {algorithm}")
        self._context: PolicyContext | None = None
        self._seconds = 0.0

    def reset(self, context: PolicyContext) -> None:
        """Start an episode (nothing is planned)."""
        self._context = context

    def act(self, observation: Any) -> np.ndarray:
        """(4,) joint targets (rad) from the env's Dict observation.

        Raises:
            CheckpointError: the observation does not match the agent's observation space.
        """
        if self._context is None:
            raise RuntimeError("call reset() before act()")
        expected = self.model.observation_space["observation"].shape
        if np.shape(observation["observation"]) != expected:
            raise CheckpointError(f"the agent expects observations of shape {expected}, the env gives "
                                  f"{np.shape(observation['observation'])} (different max_obstacles?)")
        started = time.perf_counter()
        action, _ = self.model.predict(observation, deterministic=True)
        self._seconds += time.perf_counter() - started
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(4), -1.0, 1.0)
        low, high = JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1]
        if self.config.action_mode == "absolute":  # mirrors ObstacleReachEnv.action_to_joint_targets
            return low + (action + 1.0) * 0.5 * (high - low)
        from_observation = self._context.joints_from_observation or observed_joints
        joints = np.asarray(from_observation(observation), dtype=np.float64)
        return np.clip(joints + action * MAX_JOINT_VELOCITY_RAD_S * self._context.control_dt_s, low, high)

    @property
    def done(self) -> bool:
        """Never: the agent acts until the episode ends (success or time-out)."""
        return False

    @property
    def ik_seconds(self) -> float:
        """Cumulative inference time (s)."""
        return self._seconds

    def episode_info(self) -> dict[str, float | int | str]:
        return {"plan_time_ms": 0.0, "planner_candidate": f"{self.config.algorithm} policy", "limit_violations": 0}

    def close(self) -> None:
        """Nothing to release."""

"""IK solvers behind one interface, so policies can swap them: analytic, PyBullet, IKNet.

Each solver maps (N, 7) poses ``[x, y, z, qx, qy, qz, qw]`` (m, base frame) to (N, 4) joint
angles (rad), returns NaN rows where it has no answer, and times itself (``stats``). Answers are
*raw*: a network or PyBullet may leave the joint limits; the policy clamps and counts that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sim.robot.kinematics import JOINT_LIMITS, analytic_ik


@dataclass
class SolverStats:
    """Accumulated call count, solved poses and wall time of one solver."""

    calls: int = 0
    poses: int = 0
    seconds: float = 0.0


class IKSolver(Protocol):
    """What a policy needs of an IK solver."""

    name: str
    stats: SolverStats

    def solve(self, poses: np.ndarray, seed_q: np.ndarray | None = None) -> np.ndarray:
        """(N, 7) poses -> (N, 4) joint angles (rad), NaN rows where unsolved."""
        ...


@dataclass
class _Timed:
    name: str
    stats: SolverStats = field(default_factory=SolverStats)

    def solve(self, poses: np.ndarray, seed_q: np.ndarray | None = None) -> np.ndarray:
        poses = np.atleast_2d(np.asarray(poses, dtype=np.float64))
        start = time.perf_counter()
        joints = self._solve(poses, seed_q)
        self.stats.seconds += time.perf_counter() - start
        self.stats.calls += 1
        self.stats.poses += len(poses)
        return joints

    def _solve(self, poses: np.ndarray, seed_q: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (PyBullet clients); idempotent."""


class AnalyticSolver(_Timed):
    """The closed-form solver of :mod:`sim.robot.kinematics` (exact; NaN where unreachable)."""

    def __init__(self) -> None:
        super().__init__("analytic")

    def _solve(self, poses: np.ndarray, seed_q: np.ndarray | None) -> np.ndarray:
        return analytic_ik(poses)


class PyBulletSolver(_Timed):
    """PyBullet's ``calculateInverseKinematics`` in a private obstacle-free world.

    Settings: joint damping 1e-3, 100 iterations, residual threshold 1e-6, seeded from
    ``seed_q`` (the previous waypoint) when given; answers may break the joint limits.
    """

    def __init__(self) -> None:
        super().__init__("pybullet-ik")
        from sim.env.world import World

        self._world = World(table=False)

    def _solve(self, poses: np.ndarray, seed_q: np.ndarray | None) -> np.ndarray:
        joints = np.empty((len(poses), 4))
        previous = None if seed_q is None else np.asarray(seed_q, dtype=float).reshape(-1, 4)[0]
        for i, pose in enumerate(poses):
            joints[i] = self._world.inverse_kinematics(pose, previous)
            previous = np.clip(joints[i], JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1])
        return joints

    def close(self) -> None:
        self._world.close()


class IKNetSolver(_Timed):
    """A shipped (or user) IKNet checkpoint, optionally followed by damped least-squares refinement."""

    def __init__(self, model: str, *, refine_steps: int = 0) -> None:
        super().__init__(f"iknet:{model}" + ("+refine" if refine_steps else ""))
        import torch

        from agents.iknet.checkpoint import load_model

        self._torch = torch
        self.model = load_model(model)
        self.refine_steps = refine_steps

    def _solve(self, poses: np.ndarray, seed_q: np.ndarray | None) -> np.ndarray:
        torch = self._torch
        with torch.no_grad():
            joints = self.model(torch.as_tensor(poses, dtype=torch.float32)).double().numpy()
        if self.refine_steps:
            from agents.iknet.refine import refine

            joints = np.asarray(refine(joints, poses, steps=self.refine_steps), dtype=np.float64)
        return joints


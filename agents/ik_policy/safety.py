"""The safety layer of the IK policies: refine one joint target to keep a clearance margin.

:func:`keep_clearance` projects a commanded target onto ``distance >= margin`` (obstacles and the
table) with the differentiable sphere-set distances of :mod:`sim.collision`, within joint limits.
"""

from __future__ import annotations

import numpy as np

from sim.collision import ObstacleSet, signed_distances, table_clearance
from sim.kinematics import JOINT_LIMITS


def keep_clearance(q: np.ndarray, obstacles: ObstacleSet, margin_m: float, *, iterations: int = 8) -> np.ndarray:
    """Nearest joint target to ``q`` (4,) keeping ``margin_m`` from obstacles and table (Gauss-Newton projection).

    Each iteration moves ``q`` along the gradient of the summed squared margin violations by the
    step that zeroes them to first order, then clamps to the joint limits. Returns ``q``
    unchanged when it already keeps the margin.
    """
    import torch

    current = torch.tensor(np.asarray(q, dtype=float))
    low, high = torch.tensor(JOINT_LIMITS[:, 0]), torch.tensor(JOINT_LIMITS[:, 1])
    for _ in range(iterations):
        current = current.detach().requires_grad_(True)
        distances = table_clearance(current, validate=False)[None]
        if len(obstacles):
            distances = torch.cat([distances, signed_distances(current, obstacles, validate=False).reshape(-1)])
        violation = torch.clamp(margin_m - distances, min=0.0)
        loss = (violation * violation).sum()
        if float(loss.detach()) <= 0.0:
            break
        (gradient,) = torch.autograd.grad(loss, current)
        norm_sq = float((gradient * gradient).sum())
        if norm_sq < 1e-18:
            break
        current = torch.clamp(current - 2.0 * loss.detach() / norm_sq * gradient, low, high)
    return current.detach().numpy()

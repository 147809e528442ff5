"""Global views of Shapley attributions: importance, attribution balance, partial dependence.

Global importance is the mean absolute attribution per pose feature and joint. Attribution
balance condenses it over the 7 pose features, per joint and overall (importance summed over
joints, all in radians): the normalised Shannon entropy (1 = every feature matters equally,
0 = one feature carries everything), the normalised Gini coefficient (0 = equal, 1 = one
feature carries everything) and the position share (x, y, z) against the orientation share
(qx, qy, qz, qw). An all-zero importance vector counts as uniform (entropy 1, Gini 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from evaluation.explain.core import (
    DEFAULT_BATCH_ROWS,
    FEATURE_NAMES,
    NUM_FEATURES,
    POSITION_FEATURES,
    as_poses,
    check_model,
    eval_mode,
    forward_batched,
)
from sim.errors import InvalidInputError
from sim.robot.kinematics import JOINT_NAMES


def check_attributions(values: Any, ndim: int, what: str) -> np.ndarray:
    """``values`` as finite float64 of shape (n, 7, D) (``ndim`` 3) or (7, D) (``ndim`` 2)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != ndim or array.shape[ndim - 2] != NUM_FEATURES:
        expected = "(n, 7, D)" if ndim == 3 else "(7, D)"
        raise InvalidInputError(f"{what} must have shape {expected}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{what} holds NaN or infinite values")
    return array


def global_importance(values: Any) -> np.ndarray:
    """Mean absolute attribution.

    Args:
        values: (n, 7, D) attributions (rad), n >= 1.

    Returns:
        (7, D) float64 mean ``|phi|`` per pose feature and joint (rad).
    """
    array = check_attributions(values, 3, "values")
    if array.shape[0] == 0:
        raise InvalidInputError("global importance needs at least one explained pose")
    return np.abs(array).mean(0)


def _shares(weights: np.ndarray) -> np.ndarray:
    """(..., 7) non-negative -> shares summing to 1 along the last axis (uniform where all zero)."""
    total = weights.sum(-1, keepdims=True)
    uniform = np.full_like(weights, 1.0 / weights.shape[-1])
    return np.where(total > 0, weights / np.where(total > 0, total, 1.0), uniform)


def normalised_entropy(weights: Any) -> np.ndarray:
    """Shannon entropy of ``weights / sum`` over the last axis divided by ``log(len)``, in [0, 1].

    Args:
        weights: (..., F) non-negative numbers, F >= 2.

    Returns:
        (...,) float64; 1 for uniform weights, 0 for one non-zero weight.
    """
    shares = _shares(np.asarray(weights, dtype=np.float64))
    logs = np.log(np.where(shares > 0, shares, 1.0))
    return np.clip(-(shares * logs).sum(-1) / np.log(shares.shape[-1]), 0.0, 1.0)


def normalised_gini(weights: Any) -> np.ndarray:
    """Gini coefficient over the last axis scaled by ``F / (F - 1)`` so it spans [0, 1].

    Args:
        weights: (..., F) non-negative numbers, F >= 2.

    Returns:
        (...,) float64; 0 for uniform weights, 1 for one non-zero weight.
    """
    shares = _shares(np.asarray(weights, dtype=np.float64))
    count = shares.shape[-1]
    pairwise = np.abs(shares[..., :, None] - shares[..., None, :]).sum((-2, -1))
    return np.clip(pairwise / (2.0 * count) * count / (count - 1), 0.0, 1.0)  # mean share is 1 / count


@dataclass(frozen=True)
class AttributionBalance:
    """How evenly the 7 pose features share the attribution, per joint and overall.

    Attributes:
        entropy: (D,) normalised entropy per joint, in [0, 1] (1 = uniform).
        gini: (D,) normalised Gini per joint, in [0, 1] (0 = uniform).
        position_share: (D,) share of importance owed to x, y, z per joint, in [0, 1].
        entropy_overall: normalised entropy of the importance summed over joints.
        gini_overall: normalised Gini of the importance summed over joints.
        position_share_overall: position share of the importance summed over joints.
        joint_names: names of the D joints.
    """

    entropy: tuple[float, ...]
    gini: tuple[float, ...]
    position_share: tuple[float, ...]
    entropy_overall: float
    gini_overall: float
    position_share_overall: float
    joint_names: tuple[str, ...]

    @property
    def orientation_share(self) -> tuple[float, ...]:
        """(D,) share owed to qx, qy, qz, qw per joint."""
        return tuple(1.0 - share for share in self.position_share)

    @property
    def orientation_share_overall(self) -> float:
        """Share of the summed importance owed to qx, qy, qz, qw."""
        return 1.0 - self.position_share_overall

    def to_dict(self) -> dict[str, dict[str, float]]:
        """JSON-ready ``{metric: {joint name or "overall": value}}`` for summary.json."""
        table = {
            "entropy": (self.entropy, self.entropy_overall),
            "gini": (self.gini, self.gini_overall),
            "position_share": (self.position_share, self.position_share_overall),
            "orientation_share": (self.orientation_share, self.orientation_share_overall),
        }
        return {
            metric: {**dict(zip(self.joint_names, map(float, per_joint), strict=True)), "overall": float(overall)}
            for metric, (per_joint, overall) in table.items()
        }


def attribution_balance(importance: Any, joint_names: tuple[str, ...] | None = None) -> AttributionBalance:
    """Balance of a global importance table.

    Args:
        importance: (7, D) non-negative mean ``|phi|`` per pose feature and joint (rad).
        joint_names: D names; ``joint1..joint4`` (or ``output1..``) by default.

    Returns:
        The per-joint and overall entropy, Gini and position share.
    """
    table = check_attributions(importance, 2, "importance")
    if np.any(table < 0):
        raise InvalidInputError("importance must be non-negative (mean |phi|)")
    outputs = table.shape[1]
    if joint_names is None:
        joint_names = JOINT_NAMES if outputs == len(JOINT_NAMES) else tuple(f"output{k + 1}" for k in range(outputs))
    if len(joint_names) != outputs:
        raise InvalidInputError(f"expected {outputs} joint names, got {len(joint_names)}")
    per_joint, overall = table.T, table.sum(1)  # (D, 7), (7,)
    position = list(POSITION_FEATURES)
    return AttributionBalance(
        entropy=tuple(float(v) for v in normalised_entropy(per_joint)),
        gini=tuple(float(v) for v in normalised_gini(per_joint)),
        position_share=tuple(float(v) for v in _shares(per_joint)[:, position].sum(1)),
        entropy_overall=float(normalised_entropy(overall)),
        gini_overall=float(normalised_gini(overall)),
        position_share_overall=float(_shares(overall)[position].sum()),
        joint_names=tuple(joint_names),
    )


@dataclass(frozen=True)
class PartialDependence:
    """Mean model output as one pose feature sweeps a grid, the others kept at their data values.

    Attributes:
        grid: (7, G) feature values (m for x, y, z; quaternion components otherwise).
        values: (7, G, D) mean output (rad) with feature j set to ``grid[j, g]`` in every pose.
        feature_names: the 7 feature names.
    """

    grid: np.ndarray
    values: np.ndarray
    feature_names: tuple[str, ...] = FEATURE_NAMES


def partial_dependence(model: nn.Module, poses: Any, *, grid_size: int = 20,
                       quantiles: tuple[float, float] = (0.05, 0.95),
                       batch_rows: int = DEFAULT_BATCH_ROWS) -> PartialDependence:
    """Partial dependence of every output on every pose feature (model in eval mode, mode restored).

    Like Shapley's hybrid poses, the swept poses are interventional: a quaternion component is
    set without re-normalising the others.

    Args:
        model: (N, 7) poses -> (N, D) outputs.
        poses: (n, 7) data poses ``[x, y, z, qx, qy, qz, qw]`` (m); the grid spans their quantiles.
        grid_size: points per feature, >= 2.
        quantiles: lower and upper quantile of each feature's grid, 0 <= low < high <= 1.
        batch_rows: model rows per forward pass.

    Returns:
        Grid (7, G) and mean outputs (7, G, D).
    """
    model, data = check_model(model), as_poses(poses, "poses", allow_single=False)
    if data.shape[0] == 0:
        raise InvalidInputError("partial dependence needs at least one pose")
    if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 2:
        raise InvalidInputError(f"grid_size must be an integer >= 2, got {grid_size!r}")
    low, high = quantiles
    if not 0.0 <= low < high <= 1.0:
        raise InvalidInputError(f"quantiles must satisfy 0 <= low < high <= 1, got {quantiles}")
    grid = np.linspace(np.quantile(data, low, axis=0), np.quantile(data, high, axis=0), grid_size).T  # (7, G)
    swept = np.broadcast_to(data, (NUM_FEATURES, grid_size) + data.shape).copy()  # (7, G, n, 7)
    for feature in range(NUM_FEATURES):
        swept[feature, :, :, feature] = grid[feature][:, None]
    with eval_mode(model):
        outputs = forward_batched(model, torch.from_numpy(swept.reshape(-1, NUM_FEATURES)), batch_rows)
    values = outputs.numpy().reshape(NUM_FEATURES, grid_size, data.shape[0], -1).mean(2)
    for array in (grid, values):
        array.setflags(write=False)
    return PartialDependence(grid, values)

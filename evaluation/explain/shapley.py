"""Shapley attributions of an IK network's 4 joint outputs to its 7 pose inputs.

Three methods, one registry (:data:`SHAPLEY_METHODS`):

- ``"exact"``: interventional Shapley values over all ``2**7 = 128`` coalitions, batched in torch.
  For a pose ``x`` and background rows ``b`` (weights ``w``) the value of a coalition ``S`` is
  ``v(S) = sum_b w_b f(x_S, b_~S)``; ``phi_i = sum_{S not containing i} |S|!(7-|S|-1)!/7!
  (v(S + i) - v(S))``, applied as one (128 x 7) weight matrix. The empty coalition (the
  background's outputs) is evaluated once for all poses and the full one once per pose, so a pose
  costs ``126 * len(background)`` model rows, the count Kernel SHAP needs too.
- ``"kernel"``: SHAP's ``KernelExplainer`` with ``l1_reg=False`` and, by default, all 126
  non-trivial coalitions enumerated, which makes it equal to ``"exact"`` (the reference).
- ``"gradient"``: SHAP's ``DeepExplainer`` (DeepLIFT rescale rule averaged over the background).
  Its values also sum to ``f(x) - E[f(background)]``, but they are *not* interventional Shapley
  values: on the IKNet architectures they differ from ``"exact"`` by a third to a half of the
  attribution mass (sum |gradient - exact| / sum |exact| of 0.32-0.50 on the four shipped
  checkpoints, 0.15-0.32 on untrained weights, published setup; ``benchmarks/shap_speed.py``
  prints it). Use it
  for speed, not as a Shapley estimate. It needs every non-linearity to be its own,
  never reused ``nn.ReLU`` module (not ``F.relu``); a model breaking this fails the additivity
  check here with :class:`UnsupportedModelError`.

Every call puts the model in eval mode and restores each submodule's previous mode afterwards.
Poses are ``[x, y, z, qx, qy, qz, qw]`` (m, base frame); attributions are in the model output's
unit (radians for IKNet). Nothing is seeded globally; sampling takes a seed or a Generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from evaluation.explain.core import (
    DEFAULT_BATCH_ROWS,
    FEATURE_NAMES,
    NUM_FEATURES,
    POSITION_FEATURES,
    as_poses,
    as_weights,
    check_count,
    check_model,
    eval_mode,
    forward_batched,
    model_tensor_kind,
    predict,
)
from evaluation.explain.shap_explainers import deep_shap_values, kernel_shap_values, kmeans_summary
from sim.errors import InvalidInputError, ProjectError, UnknownNameError

#: The configuration of the IKNet paper's SHAP analysis (background rows, explained poses).
PUBLISHED_BACKGROUND_SIZE = 50
PUBLISHED_EXPLAINED_SIZE = 20
#: Coalition rows built at once (bounds memory: about 6 MB of inputs and outputs).
_ROWS_PER_CHUNK = 1 << 17
_ALL_COALITIONS = 2**NUM_FEATURES - 2  # every coalition but the empty and the full one

__all__ = [
    "FEATURE_NAMES", "POSITION_FEATURES", "PUBLISHED_BACKGROUND_SIZE", "PUBLISHED_EXPLAINED_SIZE", "SHAPLEY_METHODS",
    "ShapleyMethod", "ShapleyMethodName", "ShapleyResult", "TraceExplainer", "UnsupportedModelError",
    "coalition_masks", "eval_mode", "explain", "predict", "published_setup", "shapley_values",
    "shapley_weight_matrix", "summarise_background",
]

ShapleyMethodName = Literal["exact", "kernel", "gradient"]
SummaryName = Literal["kmeans", "sample"]


class UnsupportedModelError(ProjectError, ValueError):
    """A model cannot be explained by the chosen method (e.g. DeepExplainer's additivity fails)."""


@dataclass(frozen=True)
class ShapleyResult:
    """Attributions of a batch of poses (arrays are read-only).

    Attributes:
        values: (n, 7, D) float64 attribution of output k to pose feature j, output units (rad).
        base_values: (D,) weighted mean model output over the background (rad).
        outputs: (n, D) model outputs at the explained poses (rad).
        method: the method name (a key of :data:`SHAPLEY_METHODS`).
        background_size: number of background rows used.
    """

    values: np.ndarray
    base_values: np.ndarray
    outputs: np.ndarray
    method: str
    background_size: int

    def additivity_error(self) -> float:
        """Largest ``|sum_j values[:, j] - (outputs - base_values)|`` (rad); 0.0 for no poses."""
        if self.values.shape[0] == 0:
            return 0.0
        return float(np.max(np.abs(self.values.sum(1) - (self.outputs - self.base_values))))


@dataclass(frozen=True)
class ShapleyMethod:
    """One entry of :data:`SHAPLEY_METHODS`.

    Attributes:
        compute: ``(model, poses (n, 7), background (m, 7), weights (m,), kernel_samples,
            batch_rows) -> (n, 7, D)`` float64 attributions.
        interventional: True when the values are interventional Shapley values.
        description: one line for reports.
    """

    compute: Callable[..., np.ndarray]
    interventional: bool
    description: str


# -- exact ---------------------------------------------------------------------------------------


def coalition_masks(num_features: int = NUM_FEATURES) -> np.ndarray:
    """(2**d, d) bool: row ``s`` holds the features of coalition ``s`` (bit j of s is feature j)."""
    return (np.arange(2**num_features)[:, None] >> np.arange(num_features)) & 1 == 1


def shapley_weight_matrix(num_features: int = NUM_FEATURES) -> np.ndarray:
    """(2**d, d) float64 ``W`` with ``phi = W.T @ v`` for coalition values ``v`` (2**d,).

    ``W[S, i] = (|S|-1)!(d-|S|)!/d!`` if ``i`` is in ``S``, else ``-|S|!(d-|S|-1)!/d!``.
    """
    masks = coalition_masks(num_features)
    sizes = masks.sum(1, keepdims=True)

    def weight(size: np.ndarray) -> np.ndarray:
        size = np.clip(size, 0, num_features - 1)
        factorial = np.vectorize(math.factorial)
        return factorial(size) * factorial(num_features - size - 1) / math.factorial(num_features)

    return np.where(masks, weight(sizes - 1), -weight(sizes))


_MASKS = torch.from_numpy(coalition_masks())
_MIDDLE_MASKS = _MASKS[1:-1][None, :, None, :]  # (1, 126, 1, 7)
_WEIGHTS = torch.from_numpy(shapley_weight_matrix())  # (128, 7)


def _exact_core(model: nn.Module, poses: torch.Tensor, background: torch.Tensor, weights: torch.Tensor,
                batch_rows: int) -> torch.Tensor:
    """(n, 7) poses, (m, 7) background, (m,) weights summing to 1 -> (n, 7, D) float64; eval mode is the caller's.

    The background rows (empty coalition) and the poses (full coalition) ride along with the
    first chunk of hybrid rows, so one pose costs a single forward pass.
    """
    count, size = poses.shape[0], background.shape[0]
    chunk = max(1, _ROWS_PER_CHUNK // (_ALL_COALITIONS * size))
    results, base = [], None
    for start in range(0, max(count, 1), chunk):
        x = poses[start:start + chunk]
        hybrid = torch.where(_MIDDLE_MASKS, x[:, None, None, :], background[None, None, :, :])  # (c, 126, m, 7)
        parts = [x, hybrid.reshape(-1, NUM_FEATURES)]
        outputs = forward_batched(model, torch.cat([background] + parts if base is None else parts), batch_rows)
        if base is None:
            base, outputs = weights @ outputs[:size], outputs[size:]  # v(empty), (D,)
        middle = outputs[len(x):].reshape(len(x), _ALL_COALITIONS, size, base.shape[0])
        values = torch.cat([base.expand(len(x), 1, -1), torch.einsum("csmk,m->csk", middle, weights),
                            outputs[:len(x), None, :]], dim=1)  # v over all 128 coalitions, (c, 128, D)
        results.append(torch.einsum("sj,csk->cjk", _WEIGHTS, values))
    return torch.cat(results)


def _exact(model: nn.Module, poses: np.ndarray, background: np.ndarray, weights: np.ndarray,
           kernel_samples: int, batch_rows: int) -> np.ndarray:
    dtype, _ = model_tensor_kind(model)
    values = _exact_core(model, torch.from_numpy(poses).to(dtype), torch.from_numpy(background).to(dtype),
                         torch.from_numpy(weights), batch_rows)
    return values.numpy()


# -- SHAP's explainers (evaluation.explain.shap_explainers) ---------------------------------------------------


def _kernel(model: nn.Module, poses: np.ndarray, background: np.ndarray, weights: np.ndarray,
            kernel_samples: int, batch_rows: int) -> np.ndarray:
    dtype, _ = model_tensor_kind(model)

    def function(rows: np.ndarray) -> np.ndarray:
        return forward_batched(model, torch.from_numpy(np.asarray(rows)).to(dtype), batch_rows).numpy()

    return kernel_shap_values(function, poses, background, weights, FEATURE_NAMES, kernel_samples)


def _gradient(model: nn.Module, poses: np.ndarray, background: np.ndarray, weights: np.ndarray,
              kernel_samples: int, batch_rows: int) -> np.ndarray:
    if not np.allclose(weights, weights[0], rtol=1e-9, atol=0.0):
        raise InvalidInputError("method 'gradient' (DeepExplainer) needs a uniformly weighted background")
    dtype, device = model_tensor_kind(model)
    return deep_shap_values(model, torch.from_numpy(poses).to(device=device, dtype=dtype),
                            torch.from_numpy(background).to(device=device, dtype=dtype))


SHAPLEY_METHODS: dict[str, ShapleyMethod] = {
    "exact": ShapleyMethod(_exact, True, "interventional Shapley values, all 128 coalitions, batched torch"),
    "kernel": ShapleyMethod(_kernel, True, "SHAP KernelExplainer, l1_reg=False, all coalitions by default"),
    "gradient": ShapleyMethod(_gradient, False,
                              "SHAP DeepExplainer (DeepLIFT), fast, NOT interventional Shapley (~25% apart)"),
}


# -- public entry points -------------------------------------------------------------------------


def explain(model: nn.Module, X: Any, background: Any, method: ShapleyMethodName = "exact", *,
            background_weights: Any = None, kernel_samples: int = _ALL_COALITIONS,
            batch_rows: int = DEFAULT_BATCH_ROWS) -> ShapleyResult:
    """Attributions of each model output to each pose feature, with base values and outputs.

    Args:
        model: torch module, (N, 7) poses -> (N, D) outputs (IKNet: D = 4 joints, rad).
        X: (n, 7) or (7,) poses to explain ``[x, y, z, qx, qy, qz, qw]`` (m, base frame).
        background: (m, 7) reference poses that stand in for absent features.
        method: a key of :data:`SHAPLEY_METHODS`.
        background_weights: (m,) non-negative weights (e.g. k-means cluster sizes); uniform if None.
            Not supported by ``"gradient"``.
        kernel_samples: coalitions KernelExplainer evaluates per pose. The default 126 enumerates
            them all (deterministic, equal to ``"exact"``); fewer makes shap sample the rest from
            NumPy's global random state, which this project does not seed.
        batch_rows: model rows per forward pass.

    Returns:
        The attributions (n, 7, D) float64, base values (D,) and outputs (n, D).

    Raises:
        UnknownNameError: ``method`` is not in :data:`SHAPLEY_METHODS`.
        InvalidInputError: wrong shapes, NaN or infinite values, bad weights or model outputs.
        UnsupportedModelError: ``"gradient"`` attributions fail the additivity check.
    """
    if method not in SHAPLEY_METHODS:
        raise UnknownNameError("Shapley method", method, SHAPLEY_METHODS)
    check_count(batch_rows, "batch_rows")
    check_count(kernel_samples, "kernel_samples")
    model = check_model(model)
    poses = as_poses(X, "X", allow_single=True)
    reference = as_poses(background, "background", allow_single=False)
    if reference.shape[0] == 0:
        raise InvalidInputError("background needs at least one row")
    weights = as_weights(background_weights, reference.shape[0])
    with eval_mode(model):
        base = weights @ forward_batched(model, torch.from_numpy(reference), batch_rows).numpy()
        if poses.shape[0] == 0:
            outputs, values = np.zeros((0, base.shape[0])), np.zeros((0, NUM_FEATURES, base.shape[0]))
        else:
            outputs = forward_batched(model, torch.from_numpy(poses), batch_rows).numpy()
            values = SHAPLEY_METHODS[method].compute(model, poses, reference, weights, kernel_samples, batch_rows)
    result = ShapleyResult(values, base, outputs, method, reference.shape[0])
    for array in (values, base, outputs):
        array.setflags(write=False)
    tolerance = 1e-3 * max(1.0, float(np.max(np.abs(outputs - base), initial=0.0)))
    if method == "gradient" and result.additivity_error() > tolerance:
        raise UnsupportedModelError(
            f"DeepExplainer attributions miss f(x) - E[f] by {result.additivity_error():.2e}: every non-linearity "
            "must be its own nn.ReLU module (no F.relu, no reuse); use method 'exact'"
        )
    return result


def shapley_values(model: nn.Module, X: Any, background: Any, method: ShapleyMethodName = "exact", *,
                   background_weights: Any = None, kernel_samples: int = _ALL_COALITIONS,
                   batch_rows: int = DEFAULT_BATCH_ROWS) -> np.ndarray:
    """(n, 7) poses -> (n, 7, D) float64 attributions (rad); see :func:`explain` for every argument.

    ``values[i, j, k]`` is the share of output ``k`` (joint k+1 for IKNet) at pose ``i`` owed to
    pose feature ``j`` (:data:`FEATURE_NAMES`); ``values[i].sum(0) = f(X[i]) - E[f(background)]``.
    ``"exact"`` and ``"kernel"`` give interventional Shapley values; ``"gradient"`` gives DeepLIFT
    attributions, a different quantity (a third to a half of the attribution mass apart on the
    shipped IKNet models; see the module docstring).
    """
    return np.array(explain(model, X, background, method, background_weights=background_weights,
                            kernel_samples=kernel_samples, batch_rows=batch_rows).values)


def published_setup(poses: Any, *, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """The IKNet paper's SHAP configuration: 20 poses to explain and 50 disjoint background poses.

    Args:
        poses: (N, 7) pool with N >= 70.
        seed: seed or Generator for the draw.

    Returns:
        (explained (20, 7), background (50, 7)) float64.
    """
    pool = as_poses(poses, "poses", allow_single=False)
    needed = PUBLISHED_EXPLAINED_SIZE + PUBLISHED_BACKGROUND_SIZE
    if pool.shape[0] < needed:
        raise InvalidInputError(f"the published setup needs at least {needed} poses, got {pool.shape[0]}")
    order = np.random.default_rng(seed).permutation(pool.shape[0])[:needed]
    return pool[order[:PUBLISHED_EXPLAINED_SIZE]], pool[order[PUBLISHED_EXPLAINED_SIZE:]]


def summarise_background(background: Any, size: int, summary: SummaryName = "kmeans", *,
                         seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small background standing in for a large one.

    Args:
        background: (m, 7) reference poses.
        size: rows to keep (the whole background if it has no more rows).
        summary: ``"kmeans"``: ``shap.kmeans`` centres weighted by cluster size, clustered on
            standardised features (so metres and quaternion components count alike) and mapped
            back; deterministic; fewer distinct rows than ``size`` are kept as they are, weighted
            by multiplicity. ``"sample"``: a seeded uniform sample without replacement.
        seed: seed or Generator for ``"sample"``.

    Returns:
        (rows (k, 7) float64, weights (k,) summing to 1).
    """
    rows = as_poses(background, "background", allow_single=False)
    check_count(size, "size")
    if summary not in ("kmeans", "sample"):
        raise UnknownNameError("background summary", summary, ("kmeans", "sample"))
    if rows.shape[0] == 0:
        raise InvalidInputError("background needs at least one row")
    if rows.shape[0] <= size:
        return rows, np.full(rows.shape[0], 1.0 / rows.shape[0])
    if summary == "sample":
        chosen = np.random.default_rng(seed).choice(rows.shape[0], size, replace=False)
        return rows[np.sort(chosen)], np.full(size, 1.0 / size)
    distinct, counts = np.unique(rows, axis=0, return_counts=True)
    if distinct.shape[0] <= size:
        return distinct, counts / counts.sum()
    mean, scale = rows.mean(0), np.maximum(rows.std(0), 1e-12)
    centres, weights = kmeans_summary((rows - mean) / scale, size)
    return centres * scale + mean, weights


class TraceExplainer:
    """Cheap per-step attributions along an episode against a small, fixed background.

    Args:
        model: (N, 7) poses -> (N, D) outputs.
        background: (m, 7) reference poses, summarised once to ``size`` rows.
        method: a key of :data:`SHAPLEY_METHODS`.
        size: background rows kept. ``"exact"`` costs ``126 * size + size + 1`` model rows per pose;
            on the shipped IKNet models, 16 k-means rows differ from a 400-row background by 13-15%
            (sum |error| / sum |phi| over 50 fresh poses), 12 rows by 17-19%, 8 rows by 22-23%.
        summary: ``"kmeans"`` or ``"sample"`` (see :func:`summarise_background`); None picks
            ``"kmeans"``, or ``"sample"`` for ``"gradient"``, which needs uniform weights.
        seed: seed or Generator for ``"sample"``.
        batch_rows: model rows per forward pass.
    """

    def __init__(self, model: nn.Module, background: Any, method: ShapleyMethodName = "exact", *, size: int = 16,
                 summary: SummaryName | None = None, seed: int | np.random.Generator = 0,
                 batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        if method not in SHAPLEY_METHODS:
            raise UnknownNameError("Shapley method", method, SHAPLEY_METHODS)
        if summary is None:
            summary = "sample" if method == "gradient" else "kmeans"
        check_count(batch_rows, "batch_rows")
        self.model, self.method, self.batch_rows = check_model(model), method, batch_rows
        self.background, self.weights = summarise_background(background, size, summary, seed=seed)
        for array in (self.background, self.weights):
            array.setflags(write=False)
        dtype, _ = model_tensor_kind(self.model)
        self._background = torch.from_numpy(np.array(self.background)).to(dtype)
        self._weights = torch.from_numpy(np.array(self.weights))

    def explain(self, poses: Any) -> np.ndarray:
        """(n, 7) or (7,) poses -> (n, 7, D) float64 attributions (rad) against the small background."""
        if self.method != "exact":
            return shapley_values(self.model, poses, self.background, self.method,
                                  background_weights=self.weights, batch_rows=self.batch_rows)
        values = as_poses(poses, "poses", allow_single=True)
        dtype, _ = model_tensor_kind(self.model)
        with eval_mode(self.model):
            return _exact_core(self.model, torch.from_numpy(values).to(dtype), self._background, self._weights,
                               self.batch_rows).numpy()

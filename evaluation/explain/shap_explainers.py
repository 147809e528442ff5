"""Thin adapters over the ``shap`` library: KernelExplainer, DeepExplainer and k-means summaries.

:mod:`evaluation.explain` registers these as its ``"kernel"`` and ``"gradient"`` methods; here
live only the parts that touch shap's API, imported lazily (importing shap takes seconds).
Two shap behaviours are handled on purpose:

- importing shap makes matplotlib emit ``PendingDeprecationWarning: The set_bad/set_over/set_under
  function will be deprecated`` from ``shap/plots/colors/_colors.py``; :func:`import_shap` hides
  exactly those messages during the import, nothing else.
- ``DeepExplainer`` zeroes the model's gradients and leaves ``x`` / ``y`` ``nn.Parameter``
  attributes on the leaf modules under non-container parents (e.g. the ReLUs inside IKNet's
  ``ResidualBlock`` and ``FocusedBody``), which would change ``state_dict()`` and break checkpoint
  loading; :func:`deep_shap_values` restores gradients and removes those parameters.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn


def import_shap() -> Any:
    """The ``shap`` module, imported with matplotlib's colour-map pending deprecations silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"The set_(bad|over|under) function will be deprecated",
                                category=PendingDeprecationWarning)
        import shap
    return shap


def kernel_shap_values(function: Callable[[np.ndarray], np.ndarray], poses: np.ndarray, background: np.ndarray,
                       weights: np.ndarray, feature_names: Sequence[str], nsamples: int) -> np.ndarray:
    """KernelExplainer with ``l1_reg=False`` against a weighted background.

    Args:
        function: (N, F) float64 -> (N, D) float64 model outputs.
        poses: (n, F) inputs to explain, n >= 1.
        background: (m, F) reference rows.
        weights: (m,) non-negative background weights.
        feature_names: F names.
        nsamples: coalitions to evaluate per input (``2**F - 2`` enumerates them all).

    Returns:
        (n, F, D) float64 attributions.
    """
    shap = import_shap()
    from shap.utils._legacy import DenseData  # KernelExplainer's weighted-background type

    data = DenseData(background, list(feature_names), None, np.array(weights, dtype=np.float64))
    explainer = shap.KernelExplainer(function, data)
    values = np.asarray(explainer.shap_values(poses, nsamples=nsamples, l1_reg=False, silent=True))
    return values.reshape(poses.shape[0], poses.shape[1], -1).astype(np.float64)


def deep_shap_values(model: nn.Module, poses: torch.Tensor, background: torch.Tensor) -> np.ndarray:
    """DeepExplainer (DeepLIFT rescale rule averaged over a uniform background), model left as found.

    Args:
        model: eval-mode module, every non-linearity its own ``nn.ReLU`` (or other supported) module.
        poses: (n, F) inputs in the model's dtype and device, n >= 1.
        background: (m, F) reference rows, same dtype and device.

    Returns:
        (n, F, D) float64 attributions, unchecked (shap's own additivity check is off).
    """
    shap = import_shap()
    parameters = dict(model.named_parameters())
    gradients = {name: parameter.grad for name, parameter in parameters.items()}
    try:
        with torch.inference_mode(False), torch.enable_grad():
            explainer = shap.DeepExplainer(model, background)
            values = explainer.shap_values(poses, check_additivity=False)
    finally:
        for name, module in model.named_modules():
            for attribute in ("x", "y"):
                full_name = f"{name}.{attribute}" if name else attribute
                if attribute in module._parameters and full_name not in parameters:
                    del module._parameters[attribute]
        for name, parameter in parameters.items():
            parameter.grad = gradients[name]
    return np.asarray(values, dtype=np.float64).reshape(poses.shape[0], poses.shape[1], -1)


def kmeans_summary(rows: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``shap.kmeans`` centres (no rounding to data values) and their cluster-size weights.

    Args:
        rows: (m, F) data, m > size.
        size: number of centres.

    Returns:
        (centres (size, F) float64, weights (size,) summing to 1). Deterministic (k-means seed 0).
    """
    data = import_shap().kmeans(rows, size, round_values=False)
    weights = np.asarray(data.weights, dtype=np.float64)
    return np.asarray(data.data, dtype=np.float64), weights / weights.sum()

"""Shapley attributions of an IK network's 4 joint outputs to its 7 pose inputs, and what is made of them.

    >>> from evaluation.explain import shapley_values
    >>> # shapley_values(model, X, background, method="exact")  # (n, 7) -> (n, 7, 4) attributions

Modules: :mod:`~evaluation.explain.shapley` (exact, Kernel SHAP and gradient methods, one
registry; per-step traces), :mod:`~evaluation.explain.core` (input checks, batched forward
passes), :mod:`~evaluation.explain.shap_explainers` (SHAP's explainers behind the methods),
:mod:`~evaluation.explain.balance` (global importance, attribution balance, partial dependence),
:mod:`~evaluation.explain.plots` (figures) and :mod:`~evaluation.explain.study` (``run_sim.py
--shap``: attributions of a run's networks and the safety-attribution study).
"""

from evaluation.explain.shapley import (
    FEATURE_NAMES,
    POSITION_FEATURES,
    PUBLISHED_BACKGROUND_SIZE,
    PUBLISHED_EXPLAINED_SIZE,
    SHAPLEY_METHODS,
    ShapleyMethod,
    ShapleyMethodName,
    ShapleyResult,
    TraceExplainer,
    UnsupportedModelError,
    coalition_masks,
    eval_mode,
    explain,
    predict,
    published_setup,
    shapley_values,
    shapley_weight_matrix,
    summarise_background,
)

__all__ = [
    "FEATURE_NAMES", "POSITION_FEATURES", "PUBLISHED_BACKGROUND_SIZE", "PUBLISHED_EXPLAINED_SIZE", "SHAPLEY_METHODS",
    "ShapleyMethod", "ShapleyMethodName", "ShapleyResult", "TraceExplainer", "UnsupportedModelError",
    "coalition_masks", "eval_mode", "explain", "predict", "published_setup", "shapley_values",
    "shapley_weight_matrix", "summarise_background",
]

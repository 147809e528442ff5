"""Shapley attributions: oracles, exact = full-enumeration Kernel SHAP, plots, balance, traces.

Tolerances, measured and justified:
- exact vs kernel: 1e-4 rad required; both evaluate the same float32 model on the same hybrid
  rows, so they differ only by float32 batching noise and Kernel SHAP's least-squares solve
  (observed worst about 1e-7 rad).
- efficiency of "exact": 1e-5 rad; the Shapley weights telescope exactly in float64, what is left
  is float32 noise between two forward passes of f(x) (observed < 1e-6 rad).
- linear oracles run a float64 model and hold to 1e-10.
- "gradient" (DeepExplainer) is DeepLIFT, not interventional Shapley: exact on linear models,
  but on ReLU networks its attributions differ from "exact" by sum|g - e| / sum|e| of 0.18-0.45
  on the four untrained IKNet architectures used here (the issue reports about 0.25 on trained ones).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.image import imread
from torch import nn

from agents.iknet import MODEL_NAMES, build_model
from evaluation.explain import (
    FEATURE_NAMES,
    SHAPLEY_METHODS,
    TraceExplainer,
    UnsupportedModelError,
    coalition_masks,
    explain,
    predict,
    published_setup,
    shapley_values,
    shapley_weight_matrix,
    summarise_background,
)
from evaluation.explain.balance import (
    attribution_balance,
    global_importance,
    normalised_entropy,
    normalised_gini,
    partial_dependence,
)
from evaluation.explain.plots import (
    plot_attribution_trace,
    plot_balance,
    plot_importance_comparison,
    plot_importance_heatmap,
    plot_local_explanation,
    plot_partial_dependence,
)
from sim.errors import InvalidInputError, UnknownNameError
from sim.robot.kinematics import forward_kinematics, sample_joints

AGREEMENT_RAD = 1e-4
EFFICIENCY_RAD = 1e-5


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One intra-op thread while these tests run: on a shared 2-core machine two OpenMP threads
    spin against other jobs and run 5-10x slower (measured); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def poses() -> np.ndarray:
    """(400, 7) reachable end-effector poses from uniformly drawn joints."""
    return forward_kinematics(sample_joints(np.random.default_rng(2024), 400))


def mlp(seed: int, *, batch_norm: bool = False, residual: bool = False) -> nn.Module:
    """A small ReLU network of our own (7 -> 32 -> 32 -> 4), optionally with BatchNorm / skip."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(7, 32), nn.ReLU(), *([nn.BatchNorm1d(32)] if batch_norm else []))
            self.block = nn.Sequential(nn.Linear(32, 32), nn.ReLU())
            self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, 4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            hidden = self.inner(x * 4.0)
            return self.head(hidden + self.block(hidden) if residual else self.block(hidden))

    torch_generator = torch.Generator().manual_seed(seed)
    net = Net()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=torch_generator) * 0.5)
        if batch_norm:
            net.inner[2].running_mean.copy_(torch.randn(32, generator=torch_generator) * 0.1)
            net.inner[2].running_var.copy_(torch.rand(32, generator=torch_generator) + 0.5)
    return net.eval()


def own_models() -> dict[str, nn.Module]:
    return {"mlp": mlp(1), "mlp_batchnorm": mlp(2, batch_norm=True), "mlp_residual": mlp(3, residual=True)}


def iknet_models() -> dict[str, nn.Module]:
    """The four project architectures with seeded (untrained) weights and unit normalisation."""
    return {name: build_model(name, seed=7).eval() for name in MODEL_NAMES}


def linear_model(weight: np.ndarray, bias: np.ndarray) -> nn.Module:
    layer = nn.Linear(7, weight.shape[0]).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(bias))
    return layer.eval()


def assert_exact_matches_kernel(model: nn.Module, X: np.ndarray, background: np.ndarray) -> None:
    exact = explain(model, X, background, "exact")
    kernel = shapley_values(model, X, background, "kernel")
    assert exact.values.shape == kernel.shape == (len(X), 7, 4)
    np.testing.assert_allclose(kernel, exact.values, rtol=0, atol=AGREEMENT_RAD)
    expected = predict(model, X) - predict(model, background).mean(0)
    np.testing.assert_allclose(exact.values.sum(1), expected, rtol=0, atol=EFFICIENCY_RAD)


# -- oracles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["exact", "kernel", "gradient"])
def test_linear_model_gets_weight_times_offset(method, poses):
    rng = np.random.default_rng(0)
    weight, bias = rng.normal(size=(4, 7)), rng.normal(size=4)
    X, background = poses[:5], poses[100:130]
    values = shapley_values(linear_model(weight, bias), X, background, method)
    expected = weight.T[None] * (X - background.mean(0))[:, :, None]  # (n, 7, 4)
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", ["exact", "kernel"])
def test_weighted_background_is_a_weighted_mean(method, poses):
    rng = np.random.default_rng(1)
    weight, weights = rng.normal(size=(4, 7)), rng.uniform(0.1, 3.0, size=12)
    X, background = poses[:3], poses[200:212]
    values = shapley_values(linear_model(weight, np.zeros(4)), X, background, method, background_weights=weights)
    mean = weights @ background / weights.sum()
    np.testing.assert_allclose(values, weight.T[None] * (X - mean)[:, :, None], rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", ["exact", "kernel", "gradient"])
def test_an_ignored_feature_gets_zero(method, poses):
    model = mlp(4)
    with torch.no_grad():
        model.inner[0].weight[:, 5] = 0.0  # qy never reaches the network
    values = shapley_values(model, poses[:4], poses[50:70], method)
    # float32 noise only: identical rows at other batch positions may round differently (seen 3e-7)
    np.testing.assert_allclose(values[:, 5, :], 0.0, rtol=0, atol=1e-6)
    assert np.abs(values[:, [0, 1, 2, 3, 4, 6], :]).max() > 1e-3  # the others do matter


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=2**31 - 1))
def test_weight_matrix_is_the_shapley_formula(num_features, seed):
    """Against the textbook sum over coalitions without i, for a random set function."""
    from math import factorial

    values = np.random.default_rng(seed).normal(size=2**num_features)
    masks = coalition_masks(num_features)
    index = {tuple(mask): s for s, mask in enumerate(masks)}
    phi = shapley_weight_matrix(num_features).T @ values
    for i in range(num_features):
        total = 0.0
        for s, mask in enumerate(masks):
            if not mask[i]:
                size = int(mask.sum())
                weight = factorial(size) * factorial(num_features - size - 1) / factorial(num_features)
                joined = mask.copy()
                joined[i] = True
                total += weight * (values[index[tuple(joined)]] - values[s])
        assert phi[i] == pytest.approx(total, abs=1e-12)
    assert phi.sum() == pytest.approx(values[-1] - values[0], abs=1e-12)


# -- exact = Kernel SHAP with every coalition ----------------------------------------------------


@pytest.mark.parametrize("name", list(own_models()))
def test_exact_matches_kernel_on_own_models(name, poses):
    assert_exact_matches_kernel(own_models()[name], poses[:6], poses[300:330])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_exact_matches_kernel_on_iknet_architectures(name, poses):
    assert_exact_matches_kernel(iknet_models()[name], poses[:6], poses[300:330])


def test_published_setup_draws_disjoint_sets(poses):
    X, background = published_setup(poses, seed=3)
    assert X.shape == (20, 7) and background.shape == (50, 7)
    assert not (set(map(tuple, X)) & set(map(tuple, background)))
    np.testing.assert_array_equal(published_setup(poses, seed=3)[0], X)


# -- gradient -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gradient_is_additive_but_not_shapley(name, poses):
    """DeepExplainer: right shape, sums to f(x) - E[f], yet 10-60% of the attribution mass away
    from exact Shapley values (measured 0.18-0.45 on these untrained architectures)."""
    model = iknet_models()[name]
    X, background = poses[:8], poses[200:240]
    exact = shapley_values(model, X, background, "exact")
    gradient = explain(model, X, background, "gradient")
    assert gradient.values.shape == (8, 7, 4)
    assert gradient.additivity_error() < EFFICIENCY_RAD
    gap = np.abs(gradient.values - exact).sum() / np.abs(exact).sum()
    assert 0.1 < gap < 0.6, f"gradient vs exact relative gap {gap:.3f}"


def test_gradient_leaves_the_model_as_it_was(poses):
    model = build_model("improved", seed=1).eval()
    keys = list(model.state_dict())
    model.body[0].weight.grad = torch.ones_like(model.body[0].weight)
    shapley_values(model, poses[:2], poses[10:20], "gradient")
    assert list(model.state_dict()) == keys  # SHAP leaves x / y parameters on custom modules otherwise
    assert torch.equal(model.body[0].weight.grad, torch.ones_like(model.body[0].weight))


def test_gradient_refuses_a_functional_relu(poses):
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first, self.second = nn.Linear(7, 16), nn.Linear(16, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.second(torch.nn.functional.relu(self.first(x * 5.0)))

    model, generator = Functional(), torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    with pytest.raises(UnsupportedModelError, match="nn.ReLU"):
        shapley_values(model, poses[:4], poses[10:30], "gradient")


# -- validation and side effects -----------------------------------------------------------------


def test_unknown_method_lists_the_valid_ones(poses):
    with pytest.raises(UnknownNameError, match="exact, gradient, kernel") as info:
        shapley_values(mlp(0), poses[:2], poses[2:4], "exakt")
    assert "Did you mean 'exact'" in str(info.value)
    assert set(SHAPLEY_METHODS) == {"exact", "kernel", "gradient"}


@pytest.mark.parametrize(
    "X, background",
    [
        (np.zeros((3, 6)), np.zeros((4, 7))),
        (np.zeros((3, 7)), np.zeros((4, 8))),
        (np.zeros((2, 3, 7)), np.zeros((4, 7))),
        (np.full((3, 7), np.nan), np.zeros((4, 7))),
        (np.zeros((3, 7)), np.array([[0, 0, 0, 0, 0, 0, np.inf]])),
        (np.zeros((3, 7)), np.zeros((0, 7))),
    ],
)
def test_bad_shapes_and_values_are_rejected(X, background):
    with pytest.raises(InvalidInputError):
        shapley_values(mlp(0), X, background)


def test_bad_weights_and_models_are_rejected(poses):
    with pytest.raises(InvalidInputError, match="background_weights"):
        shapley_values(mlp(0), poses[:2], poses[2:5], background_weights=[1.0, -1.0, 1.0])
    with pytest.raises(InvalidInputError, match="nn.Module"):
        shapley_values(lambda x: x, poses[:2], poses[2:5])
    with pytest.raises(InvalidInputError, match="uniformly weighted"):
        shapley_values(mlp(0), poses[:2], poses[2:5], "gradient", background_weights=[1.0, 2.0, 3.0])


@pytest.mark.parametrize("method", ["exact", "kernel", "gradient"])
def test_train_mode_is_restored_and_dropout_is_off(method, poses):
    model = mlp(5, batch_norm=True).train()
    model.head.eval()  # a mixed state must come back as it was
    first = shapley_values(model, poses[:3], poses[10:20], method)
    assert model.training and model.inner.training and not model.head.training and not model.head[0].training
    np.testing.assert_array_equal(shapley_values(model, poses[:3], poses[10:20], method), first)


def test_single_pose_and_empty_batch(poses):
    model = mlp(6)
    single = shapley_values(model, poses[0], poses[10:20])
    assert single.shape == (1, 7, 4)
    np.testing.assert_array_equal(single, shapley_values(model, poses[:1], poses[10:20]))
    assert shapley_values(model, np.zeros((0, 7)), poses[10:20]).shape == (0, 7, 4)


# -- traces --------------------------------------------------------------------------------------


def test_trace_explainer_is_exact_against_its_small_background(poses):
    model = build_model("focused", seed=2).eval()
    tracer = TraceExplainer(model, poses, size=16, summary="sample", seed=5)
    assert tracer.background.shape == (16, 7)
    np.testing.assert_allclose(tracer.explain(poses[:5]), shapley_values(model, poses[:5], tracer.background),
                               rtol=0, atol=1e-12)
    kmeans = TraceExplainer(model, poses, size=16)
    assert kmeans.weights.shape == (16,) and kmeans.weights.sum() == pytest.approx(1.0)
    values = kmeans.explain(poses[7])
    base = kmeans.weights @ predict(model, kmeans.background)
    np.testing.assert_allclose(values.sum(1), predict(model, poses[7:8]) - base, rtol=0, atol=EFFICIENCY_RAD)
    gradient = TraceExplainer(model, poses, method="gradient", size=16)
    assert gradient.explain(poses[:2]).shape == (2, 7, 4)


def test_summaries_are_seeded_and_bounded(poses):
    first = summarise_background(poses, 8, "sample", seed=np.random.default_rng(9))
    second = summarise_background(poses, 8, "sample", seed=np.random.default_rng(9))
    np.testing.assert_array_equal(first[0], second[0])
    small, weights = summarise_background(poses[:5], 16)
    np.testing.assert_array_equal(small, poses[:5])
    np.testing.assert_allclose(weights, 0.2)
    repeated = np.repeat(poses[:3], [5, 3, 2], axis=0)  # 10 rows, 3 distinct
    distinct, counts = summarise_background(repeated, 4)
    order = [np.flatnonzero((distinct == row).all(1))[0] for row in poses[:3]]
    np.testing.assert_allclose(counts[order], [0.5, 0.3, 0.2])
    centres, weights = summarise_background(poses, 8)
    assert centres.shape == (8, 7) and np.all(weights > 0) and weights.sum() == pytest.approx(1.0)
    assert np.all((centres >= poses.min(0) - 1e-12) & (centres <= poses.max(0) + 1e-12))
    with pytest.raises(UnknownNameError):
        summarise_background(poses, 8, "median")


# -- global views, balance, figures --------------------------------------------------------------


def assert_png_has_content(path, min_colours: int = 8) -> None:
    """The PNG is not blank: a visible share of non-white pixels and several distinct colours."""
    image = imread(path)[..., :3]
    non_white = np.mean(np.any(image < 0.95, axis=-1))
    packed = (image * 255).astype(np.int32) @ np.array([1 << 16, 1 << 8, 1])
    colours = len(np.unique(packed))
    assert non_white > 0.05, f"{path.name}: only {non_white:.1%} non-white pixels"
    assert colours >= min_colours and image.std() > 0.05


def test_heatmaps_for_all_four_models(poses, tmp_path):
    importances, balances = {}, {}
    for name, model in iknet_models().items():
        importance = global_importance(shapley_values(model, poses[:10], poses[100:116]))
        assert importance.shape == (7, 4) and np.all(importance >= 0) and importance.max() > 0
        importances[name], balances[name] = importance, attribution_balance(importance)
        assert_png_has_content(plot_importance_heatmap(importance, tmp_path / f"importance_{name}.png"), 30)
    assert_png_has_content(plot_importance_comparison(importances, tmp_path / "importance_all.png"), 30)
    assert_png_has_content(plot_balance(balances, tmp_path / "balance.png"))
    for balance in balances.values():
        for value in (*balance.entropy, *balance.gini, *balance.position_share,
                      balance.entropy_overall, balance.gini_overall, balance.position_share_overall):
            assert 0.0 <= value <= 1.0
        json.dumps(balance.to_dict())


def test_balance_of_known_tables():
    uniform = attribution_balance(np.ones((7, 4)))
    assert uniform.entropy == pytest.approx((1.0,) * 4) and uniform.entropy_overall == pytest.approx(1.0)
    assert uniform.gini == pytest.approx((0.0,) * 4, abs=1e-12) and uniform.gini_overall == pytest.approx(0.0)
    assert uniform.position_share_overall == pytest.approx(3 / 7)
    focused = np.zeros((7, 4))
    focused[2] = 1.0  # z drives every joint
    balance = attribution_balance(focused)
    assert balance.entropy == pytest.approx((0.0,) * 4, abs=1e-12) and balance.gini == pytest.approx((1.0,) * 4)
    assert balance.position_share == pytest.approx((1.0,) * 4) and balance.orientation_share_overall == 0.0
    summary = balance.to_dict()
    assert set(summary) == {"entropy", "gini", "position_share", "orientation_share"}
    assert list(summary["gini"]) == ["joint1", "joint2", "joint3", "joint4", "overall"]
    rng = np.random.default_rng(3)
    table = rng.exponential(size=(50, 7))
    assert np.all((normalised_entropy(table) >= 0) & (normalised_entropy(table) <= 1))
    assert np.all((normalised_gini(table) >= 0) & (normalised_gini(table) <= 1))
    with pytest.raises(InvalidInputError):
        attribution_balance(-np.ones((7, 4)))


def test_local_partial_dependence_and_trace_figures(poses, tmp_path):
    model = build_model("improved", seed=3).eval()
    result = explain(model, poses[:1], poses[100:120])
    path = plot_local_explanation(result.values[0], tmp_path / "local.png", base_values=result.base_values,
                                  pose=poses[0])
    assert_png_has_content(path)
    dependence = partial_dependence(model, poses[:40], grid_size=8)
    assert dependence.grid.shape == (7, 8) and dependence.values.shape == (7, 8, 4)
    swept = np.array(poses[:40])
    swept[:, 0] = dependence.grid[0, 3]
    np.testing.assert_allclose(dependence.values[0, 3], predict(model, swept).mean(0), atol=1e-6)
    assert_png_has_content(plot_partial_dependence(dependence, tmp_path / "pd.png"))
    trace = TraceExplainer(model, poses[200:], size=16).explain(poses[:30])
    assert_png_has_content(plot_attribution_trace(trace, tmp_path / "trace.png", times_s=np.arange(30) * 0.05))
    assert FEATURE_NAMES == ("x", "y", "z", "qx", "qy", "qz", "qw")


# ---------------------------------------------------------------- the shipped checkpoints
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_exact_matches_kernel_on_shipped_models(name, poses):
    from agents import load_model

    assert_exact_matches_kernel(load_model(name), poses[:6], poses[300:330])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gradient_gap_on_shipped_models(name, poses):
    from agents import load_model

    model = load_model(name)
    X, background = poses[:8], poses[200:240]
    exact = shapley_values(model, X, background, "exact")
    gradient = explain(model, X, background, "gradient")
    assert gradient.values.shape == (8, 7, 4) and gradient.additivity_error() < EFFICIENCY_RAD
    gap = np.abs(gradient.values - exact).sum() / np.abs(exact).sum()
    # DeepLIFT attributions are a different quantity from interventional Shapley values.
    assert 0.02 < gap < 0.6, f"gradient vs exact relative gap {gap:.3f}"


def test_heatmaps_for_shipped_models(poses, tmp_path):
    from agents import load_model

    importances = {}
    for name in MODEL_NAMES:
        importances[name] = global_importance(shapley_values(load_model(name), poses[:10], poses[100:116]))
        assert_png_has_content(plot_importance_heatmap(importances[name], tmp_path / f"{name}.png"), 30)
        balance = attribution_balance(importances[name])
        assert all(0.0 <= v <= 1.0 for v in (*balance.entropy, *balance.gini, balance.entropy_overall))
    assert_png_has_content(plot_importance_comparison(importances, tmp_path / "all.png"), 30)

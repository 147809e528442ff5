"""The attribution-balance regulariser: known answers on linear models, and it raises balance in training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from agents.iknet.balance import attribution_mass, balance_penalty, gradient_balance, normalised_entropy
from agents.iknet.dataset import make_splits
from agents.iknet.training import TrainConfig, train
from evaluation.explain.balance import attribution_balance, global_importance
from evaluation.explain.shapley import explain
from sim.errors import InvalidInputError


class Linear(nn.Module):
    def __init__(self, weights: torch.Tensor) -> None:
        super().__init__()
        self.layer = nn.Linear(7, 4, bias=False)
        with torch.no_grad():
            self.layer.weight.copy_(weights)
        self.register_buffer("input_mean", torch.zeros(7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def test_linear_model_mass_is_weight_times_mean_abs_input():
    weights = torch.arange(28, dtype=torch.float32).reshape(4, 7) - 10
    poses = torch.randn(64, 7, generator=torch.Generator().manual_seed(0))
    mass = attribution_mass(Linear(weights), poses)
    expected = weights.abs().T * poses.abs().mean(0)[:, None]
    torch.testing.assert_close(mass, expected, rtol=1e-5, atol=1e-6)


def test_penalty_is_zero_for_uniform_and_one_for_a_single_feature():
    poses = torch.ones(8, 7)
    assert float(balance_penalty(Linear(torch.ones(4, 7)), poses).detach()) == pytest.approx(0.0, abs=1e-6)
    single = torch.zeros(4, 7)
    single[:, 5] = 1.0
    assert float(balance_penalty(Linear(single), poses).detach()) == pytest.approx(1.0, abs=1e-6)
    entropy = normalised_entropy(torch.tensor([[1.0], [1.0], [0.0], [0.0], [0.0], [0.0], [0.0]]))
    assert float(entropy) == pytest.approx(np.log(2) / np.log(7), abs=1e-6)


def test_penalty_has_parameter_gradients_and_restores_train_mode():
    model = Linear(torch.randn(4, 7, generator=torch.Generator().manual_seed(1)))
    model.train()
    balance_penalty(model, torch.randn(16, 7)).backward()
    assert model.training
    assert model.layer.weight.grad is not None and float(model.layer.weight.grad.abs().sum()) > 0


def test_bad_poses_are_rejected():
    with pytest.raises(InvalidInputError):
        attribution_mass(Linear(torch.ones(4, 7)), torch.ones(3, 6))


def test_balance_weight_option_validated():
    with pytest.raises(InvalidInputError):
        TrainConfig(balance_weight=-1.0).validate()
    assert TrainConfig().balance_weight == 0.0  # default: the paper's recipe, unchanged


def test_positive_weight_raises_measured_balance():
    """A small training run with weight 10 ends more balanced (exact Shapley and gradient x input) than weight 0."""
    splits = make_splits(6000, 3)
    test_poses = splits.test.poses[:200]
    background = splits.validation.poses[:24]
    measured = {}
    for weight in (0.0, 10.0):
        config = TrainConfig(model="improved", data_size=6000, data_seed=3, seed=3, epochs=4, batch_size=128,
                             balance_weight=weight, balance_samples=64)
        model = train(config, splits, progress=False).model
        importance = global_importance(explain(model, test_poses[:40], background, "exact").values)
        measured[weight] = (float(np.mean(attribution_balance(importance).entropy)),
                            gradient_balance(model, torch.from_numpy(test_poses)))
    assert measured[10.0][0] > measured[0.0][0] + 0.01
    assert measured[10.0][1] > measured[0.0][1] + 0.01

"""The IKNet model family: one registry of architectures, checkpoints that carry normalisation.

Every model maps (N, 7) float32 poses ``[x, y, z, qx, qy, qz, qw]`` (m, base frame) to (N, 4)
joint angles in radians. The pose is normalised inside the module with the training split's
statistics (buffers saved in the checkpoint), and the raw output is scaled from roughly
``[-1, 1]`` to each joint's range (fixed buffers), so callers never normalise anything.

Every non-linearity is its own ``nn.ReLU`` module (never ``F.relu``, never one instance used
twice) so SHAP's ``DeepExplainer`` can attach its hooks; everything else is linear in eval mode.

Architectures (:data:`ARCHITECTURES`, names in :data:`MODEL_NAMES`):

- ``original``: 7 -> 400 -> 300 -> 200 -> 100 -> 50 -> 4, ReLU and Dropout 0.1 after each hidden
  layer (the published IKNet).
- ``improved``: 7 -> 128, :data:`IMPROVED_BLOCKS` residual block(s) of (Linear-ReLU-BatchNorm)
  x 2 plus identity, 128 -> 64, Dropout 0.1, 64 -> 4; Kaiming initialisation.
- ``improved_noresidual``: ``improved`` with the skip connections removed (same parameters).
- ``focused``: position branch 3 -> 64 and orientation branch 4 -> 64, concatenated to 128,
  then 128 -> 64, Dropout 0.05, 64 -> 4.

In ``improved`` and ``focused`` the one Dropout sits before the linear output layer, where its
train/eval mismatch is smallest (dropout between the hidden layers costs millimetres of accuracy
on this precise regression; see :mod:`agents.iknet.training` for the dropout schedule).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
import torch
from torch import nn

from sim.errors import InvalidInputError, UnknownNameError
from sim.robot.kinematics import JOINT_LIMITS

#: Residual blocks of ``improved`` / ``improved_noresidual`` (one keeps batched inference fast;
#: ``benchmarks/ik_accuracy_speed.py`` prints the throughput on the machine at hand).
IMPROVED_BLOCKS = 1


def _hidden_layer(n_in: int, n_out: int, dropout: float) -> list[nn.Module]:
    return [nn.Linear(n_in, n_out), nn.ReLU(), nn.Dropout(dropout)]


class ResidualBlock(nn.Module):
    """``x + (Linear-ReLU-BatchNorm) x 2 (x)``, or without ``x +`` when ``residual`` is False.

    Args:
        width: feature size in and out.
        residual: keep the identity skip connection (False gives the ablation).
    """

    def __init__(self, width: int, *, residual: bool = True) -> None:
        super().__init__()
        self.residual = residual
        self.body = nn.Sequential(
            nn.Linear(width, width), nn.ReLU(), nn.BatchNorm1d(width),
            nn.Linear(width, width), nn.ReLU(), nn.BatchNorm1d(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, width) -> (N, width)."""
        out = self.body(x)
        return x + out if self.residual else out


class FocusedBody(nn.Module):
    """Separate position (3 -> 64) and orientation (4 -> 64) branches, then 128 -> 64 -> 4."""

    def __init__(self) -> None:
        super().__init__()
        self.position_branch = nn.Sequential(nn.Linear(3, 64), nn.ReLU())
        self.orientation_branch = nn.Sequential(nn.Linear(4, 64), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.05), nn.Linear(64, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 7) normalised poses -> (N, 4) scaled joints."""
        features = torch.cat([self.position_branch(x[:, :3]), self.orientation_branch(x[:, 3:])], dim=1)
        return self.head(features)


def _original() -> nn.Module:
    sizes = (7, 400, 300, 200, 100, 50)
    layers: list[nn.Module] = []
    for n_in, n_out in pairwise(sizes):
        layers += _hidden_layer(n_in, n_out, 0.1)
    return nn.Sequential(*layers, nn.Linear(50, 4))


def _improved(residual: bool = True) -> nn.Module:
    blocks = [ResidualBlock(128, residual=residual) for _ in range(IMPROVED_BLOCKS)]
    return nn.Sequential(
        nn.Linear(7, 128), nn.ReLU(), *blocks, nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 4)
    )


#: Architecture name -> (builder of the body, Kaiming initialisation?).
ARCHITECTURES: dict[str, tuple[Callable[[], nn.Module], bool]] = {
    "original": (_original, False),
    "improved": (_improved, True),
    "improved_noresidual": (lambda: _improved(residual=False), True),
    "focused": (FocusedBody, False),
}
MODEL_NAMES: tuple[str, ...] = tuple(ARCHITECTURES)


class IKNet(nn.Module):
    """Pose -> joints network with its normalisation inside.

    Args:
        architecture: a key of :data:`ARCHITECTURES`.
        input_mean: (7,) mean pose of the training data.
        input_std: (7,) standard deviation of the training data.

    Input (N, 7) float32 poses, output (N, 4) joint angles (rad): ``centre + half_range * body(
    (pose - mean) / std)`` with ``centre`` / ``half_range`` those of the joint limits.
    """

    def __init__(self, architecture: str, input_mean: Any = None, input_std: Any = None) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise UnknownNameError("architecture", architecture, MODEL_NAMES)
        self.architecture = architecture
        mean = np.zeros(7) if input_mean is None else np.asarray(input_mean, dtype=np.float64)
        std = np.ones(7) if input_std is None else np.asarray(input_std, dtype=np.float64)
        if mean.shape != (7,) or std.shape != (7,) or not np.all(np.isfinite(mean)) or not np.all(std > 0):
            raise InvalidInputError("normalisation needs a finite (7,) mean and a positive (7,) std")
        self.register_buffer("input_mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("input_std", torch.as_tensor(std, dtype=torch.float32))
        self.register_buffer("joint_centre", torch.as_tensor(JOINT_LIMITS.mean(1), dtype=torch.float32))
        self.register_buffer(
            "joint_half_range", torch.as_tensor((JOINT_LIMITS[:, 1] - JOINT_LIMITS[:, 0]) / 2, dtype=torch.float32)
        )
        with torch.random.fork_rng(devices=[]):  # default init is replaced below; leave the global RNG alone
            self.body = ARCHITECTURES[architecture][0]()

    def forward(self, pose: torch.Tensor) -> torch.Tensor:
        """(N, 7) poses (m, quaternion scalar last) -> (N, 4) joint angles (rad)."""
        return self.joint_centre + self.joint_half_range * self.body((pose - self.input_mean) / self.input_std)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """Re-initialise every layer from ``generator`` (Kaiming-normal for the improved family,
        PyTorch's default uniform fan-in bounds otherwise; BatchNorm to identity; biases zero)."""
        kaiming = ARCHITECTURES[self.architecture][1]
        linears = [m for m in self.body.modules() if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for index, layer in enumerate(linears):
                fan_in = layer.in_features
                if kaiming and index < len(linears) - 1:
                    layer.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)
                else:
                    bound = 1.0 / math.sqrt(fan_in)
                    layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.zero_()
            for module in self.body.modules():
                if isinstance(module, nn.BatchNorm1d):
                    module.reset_parameters()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build_model(architecture: str, input_mean: Any = None, input_std: Any = None, *, seed: int = 0) -> IKNet:
    """A freshly initialised :class:`IKNet` (train mode), weights drawn from ``seed`` only."""
    model = IKNet(architecture, input_mean, input_std)
    model.reset_parameters(torch.Generator().manual_seed(seed))
    return model

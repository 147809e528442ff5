"""An attribution-balance regulariser: penalise networks whose joints hang on few pose features.

The attribution of joint ``j`` to pose feature ``i`` at pose ``x`` is approximated by
gradient x input against the data mean, ``a_ij(x) = |d q_j / d x_i| * |x_i - mean_i|`` (rad: the
first-order share of the joint's change owed to that feature, the quantity exact Shapley values
measure without the linearisation). Its mass per joint over a batch, ``m_ij = mean_x a_ij(x)``, is
a global importance table like :func:`evaluation.explain.balance.global_importance`. The penalty
is one minus the normalised Shannon entropy of ``m_.j`` over the 7 features, averaged over the 4
joints: 0 when every feature carries equal mass, 1 when one feature carries it all.

The penalty is computed with the network in eval mode (BatchNorm on running statistics, no
dropout) so each pose's gradient involves that pose only, and the caller's mode is restored;
gradients flow to the parameters through a double backward (``create_graph=True``).

Used by :mod:`agents.iknet.training` as ``loss + balance_weight * balance_penalty(model, poses)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sim.errors import InvalidInputError

NUM_FEATURES, NUM_JOINTS = 7, 4


def attribution_mass(model: nn.Module, poses: torch.Tensor, *, create_graph: bool = False) -> torch.Tensor:
    """Gradient x input attribution mass per pose feature and joint.

    Args:
        model: (N, 7) poses -> (N, 4) joints (rad); an :class:`~agents.iknet.models.IKNet` (its
            ``input_mean`` buffer is the reference point; zeros otherwise). Evaluated in eval mode.
        poses: (N, 7) poses ``[x, y, z, qx, qy, qz, qw]`` (m), N >= 1.
        create_graph: keep the graph so the result can be differentiated (training).

    Returns:
        (7, 4) mean ``|d q_j / d x_i| * |x_i - mean_i|`` over the batch (rad).
    """
    if poses.ndim != 2 or poses.shape[1] != NUM_FEATURES or len(poses) == 0:
        raise InvalidInputError(f"poses must have shape (N, 7) with N >= 1, got {tuple(poses.shape)}")
    reference = getattr(model, "input_mean", torch.zeros(NUM_FEATURES))
    was_training = model.training
    model.eval()
    try:
        inputs = poses.detach().clone().requires_grad_(True)
        joints = model(inputs)
        columns = []
        for joint in range(joints.shape[1]):
            (gradient,) = torch.autograd.grad(joints[:, joint].sum(), inputs, create_graph=create_graph,
                                              retain_graph=True)
            columns.append((gradient.abs() * (inputs - reference).abs()).mean(0))
        return torch.stack(columns, dim=1)
    finally:
        model.train(was_training)


def normalised_entropy(mass: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """(7, D) non-negative mass -> (D,) entropy of each column's shares over the 7 rows / log 7, in [0, 1]."""
    shares = mass / (mass.sum(0, keepdim=True) + eps)
    return -(shares * torch.log(shares + eps)).sum(0) / math.log(mass.shape[0])


def balance_penalty(model: nn.Module, poses: torch.Tensor) -> torch.Tensor:
    """Scalar ``1 - mean_j H_j`` (differentiable in the parameters) of :func:`attribution_mass` at ``poses``."""
    mass = attribution_mass(model, poses, create_graph=True)
    return 1.0 - normalised_entropy(mass).mean()


def gradient_balance(model: nn.Module, poses: torch.Tensor) -> float:
    """The measured (not trained) value: mean per-joint normalised entropy of gradient x input mass."""
    return float(normalised_entropy(attribution_mass(model, poses).detach()).mean())

"""Validation of pose arrays and batched, mode-safe evaluation of torch models on them.

Shared by :mod:`evaluation.explain` (Shapley values) and :mod:`evaluation.explain.balance`
(partial dependence). Poses are ``[x, y, z, qx, qy, qz, qw]`` (m, base frame); outputs are the
model's (radians for IKNet), returned as float64.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from sim.errors import InvalidInputError

FEATURE_NAMES: tuple[str, ...] = ("x", "y", "z", "qx", "qy", "qz", "qw")
POSITION_FEATURES: tuple[int, ...] = (0, 1, 2)
NUM_FEATURES = len(FEATURE_NAMES)
#: Model rows per forward pass: small enough for the activations to stay in the CPU cache (larger
#: batches were slower per row on CPU; ``benchmarks/shap_speed.py`` measures the forward-pass floor).
DEFAULT_BATCH_ROWS = 1024


def as_poses(array: Any, what: str, *, allow_single: bool) -> np.ndarray:
    """``array`` as finite (n, 7) float64 poses (a (7,) pose becomes (1, 7) if ``allow_single``).

    Raises:
        InvalidInputError: another shape, or NaN, infinite or non-numeric entries (named ``what``).
    """
    values = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    if allow_single and values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] != NUM_FEATURES:
        raise InvalidInputError(f"{what} must have shape (n, 7) [x, y, z, qx, qy, qz, qw], got {values.shape}")
    if not np.issubdtype(values.dtype, np.number) or not np.all(np.isfinite(values)):
        raise InvalidInputError(f"{what} holds NaN, infinite or non-numeric values")
    return values.astype(np.float64)


def as_weights(weights: Any, count: int) -> np.ndarray:
    """(count,) background weights normalised to sum 1 (uniform if None)."""
    if weights is None:
        return np.full(count, 1.0 / count)
    values = np.asarray(weights, dtype=np.float64)
    if values.shape != (count,) or not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
        raise InvalidInputError(
            f"background_weights must be {count} finite non-negative numbers with a positive sum, got {values.shape}"
        )
    return values / values.sum()


def check_count(value: Any, name: str) -> None:
    """Raise :class:`InvalidInputError` unless ``value`` is a positive ``int`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")


def check_model(model: Any) -> nn.Module:
    """``model`` if it is a ``torch.nn.Module``, else :class:`InvalidInputError`."""
    if not isinstance(model, nn.Module):
        raise InvalidInputError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Context manager: ``model`` in eval mode inside, every submodule's own mode restored after."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def model_tensor_kind(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    """Dtype and device of the model's first floating parameter (float32 on CPU if none)."""
    parameter = next(iter(model.parameters()), None)
    if parameter is None or not parameter.is_floating_point():
        return torch.float32, torch.device("cpu")
    return parameter.dtype, parameter.device


def forward_batched(model: nn.Module, inputs: torch.Tensor, batch_rows: int) -> torch.Tensor:
    """(N, 7) -> (N, D) float64 model outputs in batches of ``batch_rows``; eval mode is the caller's."""
    dtype, device = model_tensor_kind(model)
    pieces = []
    with torch.inference_mode():
        for chunk in torch.split(inputs, batch_rows):
            out = model(chunk.to(device=device, dtype=dtype))
            if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != chunk.shape[0]:
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise InvalidInputError(f"model must map (N, 7) poses to an (N, D) tensor, got {shape}")
            pieces.append(out.to(device="cpu", dtype=torch.float64))
    outputs = torch.cat(pieces) if pieces else torch.zeros((0, 0), dtype=torch.float64)
    if not bool(torch.isfinite(outputs).all()):
        raise InvalidInputError("model produced NaN or infinite outputs")
    return outputs


def predict(model: nn.Module, poses: Any, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> np.ndarray:
    """Model outputs in eval mode (the previous mode is restored).

    Args:
        model: (N, 7) poses -> (N, D) outputs.
        poses: (n, 7) or (7,) ``[x, y, z, qx, qy, qz, qw]`` (m, base frame).
        batch_rows: rows per forward pass.

    Returns:
        (n, D) float64 outputs (rad for IKNet).
    """
    model, values = check_model(model), as_poses(poses, "poses", allow_single=True)
    with eval_mode(model):
        return forward_batched(model, torch.from_numpy(values), batch_rows).numpy()

"""Array-backend shim so one kinematics implementation serves NumPy arrays and torch tensors.

Only the handful of operations the geometry code needs are wrapped; torch is imported lazily so
NumPy-only users do not pay its import time.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def is_torch(x: Any) -> bool:
    """True if ``x`` is a torch tensor (checked without importing torch)."""
    return type(x).__module__.startswith("torch")


class NumpyOps:
    """The NumPy flavour of the backend operations."""

    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    sqrt = staticmethod(np.sqrt)
    atan2 = staticmethod(np.arctan2)
    where = staticmethod(np.where)
    abs = staticmethod(np.abs)

    maximum = staticmethod(np.maximum)

    @staticmethod
    def relu(x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0.0)

    @staticmethod
    def negative_part(x: np.ndarray) -> np.ndarray:
        return np.minimum(x, 0.0)

    @staticmethod
    def stack(xs: list, axis: int) -> np.ndarray:
        return np.stack(xs, axis=axis)

    @staticmethod
    def full_like(x: np.ndarray, value: float) -> np.ndarray:
        return np.full_like(x, value)

    @staticmethod
    def clip(x: np.ndarray, low: Any, high: Any) -> np.ndarray:
        return np.clip(x, low, high)

    @staticmethod
    def asarray(x: Any, like: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=like.dtype)


class TorchOps:
    """The torch flavour of the backend operations (differentiable)."""

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.sin, self.cos, self.sqrt = torch.sin, torch.cos, torch.sqrt
        self.atan2, self.where, self.abs = torch.atan2, torch.where, torch.abs
        self.maximum = torch.maximum

    def relu(self, x: Any) -> Any:
        return self.torch.clamp(x, min=0.0)

    def negative_part(self, x: Any) -> Any:
        return self.torch.clamp(x, max=0.0)

    def stack(self, xs: list, axis: int) -> Any:
        return self.torch.stack(xs, dim=axis)

    def full_like(self, x: Any, value: float) -> Any:
        return self.torch.full_like(x, value)

    def clip(self, x: Any, low: Any, high: Any) -> Any:
        return self.torch.clamp(x, low, high)

    def asarray(self, x: Any, like: Any) -> Any:
        if is_torch(x):
            return x.to(dtype=like.dtype, device=like.device)
        # np.array copies, so read-only constants (e.g. JOINT_LIMITS) never alias a tensor.
        return self.torch.from_numpy(np.array(x)).to(dtype=like.dtype, device=like.device)


_NUMPY = NumpyOps()
_TORCH: TorchOps | None = None


def ops_for(x: Any) -> NumpyOps | TorchOps:
    """The backend matching ``x``'s type."""
    global _TORCH
    if is_torch(x):
        if _TORCH is None:
            _TORCH = TorchOps()
        return _TORCH
    return _NUMPY

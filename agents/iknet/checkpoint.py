"""IKNet checkpoints: save, load with checks, and the name-or-path entry point :func:`load_model`.

A checkpoint is a ``torch.save`` dict with a format marker, the architecture name, the weights
(normalisation buffers included) and JSON-like training metadata; it loads with
``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from agents.iknet.models import ARCHITECTURES, MODEL_NAMES, IKNet
from sim.errors import CheckpointError, UnknownNameError

CHECKPOINT_FORMAT = "iknet-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(model: IKNet, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (architecture, weights, normalisation buffers, metadata) to ``path``.

    Args:
        model: the network to save.
        path: destination file (parent folders are created).
        metadata: JSON-like facts about training (numbers, strings, lists, dicts).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "architecture": model.architecture,
        "state_dict": {key: value.detach().clone() for key, value in model.state_dict().items()},
        "metadata": dict(metadata or {}),
    }
    torch.save(payload, path)
    return path


def load_checkpoint(path: str | Path, *, architecture: str | None = None) -> IKNet:
    """Load a checkpoint written by :func:`save_checkpoint` into an eval-mode :class:`IKNet`.

    Args:
        path: the ``.pt`` file.
        architecture: if given, the architecture the checkpoint must hold.

    Returns:
        The model in eval mode, float32, gradients enabled on its parameters.

    Raises:
        CheckpointError: missing or unreadable file, foreign format, unknown or unexpected
            architecture, or weights whose names or shapes do not fit the architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or foreign files
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {type(error).__name__}") from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{str(path)!r} is not an IKNet checkpoint (no {CHECKPOINT_FORMAT!r} marker)")
    found = payload.get("architecture")
    if found not in ARCHITECTURES:
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds unknown architecture {found!r}; valid: {', '.join(MODEL_NAMES)}"
        )
    if architecture is not None and found != architecture:
        raise CheckpointError(f"checkpoint {str(path)!r} holds architecture {found!r}, expected {architecture!r}")
    model = IKNet(found)
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} has no state_dict")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{key} {tuple(state[key].shape)} != {tuple(expected[key].shape)}"
        for key in expected
        if key in state and tuple(state[key].shape) != tuple(expected[key].shape)
    ]
    if missing or unexpected or wrong:
        details = "; ".join(
            part for part in (
                f"missing {', '.join(missing[:3])}" if missing else "",
                f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
                f"shape mismatch {', '.join(wrong[:3])}" if wrong else "",
            ) if part
        )
        raise CheckpointError(f"checkpoint {str(path)!r} does not fit architecture {found!r}: {details}")
    model.load_state_dict(state)
    model.checkpoint_metadata = payload.get("metadata", {})
    return model.eval()


def load_model(name_or_path: str | Path) -> IKNet:
    """A shipped model by name (see :data:`MODEL_NAMES`) or any checkpoint by path.

    Args:
        name_or_path: a built-in name, or the path of a ``.pt`` checkpoint.

    Returns:
        Eval-mode module: (N, 7) float32 poses -> (N, 4) joint angles (rad).

    Raises:
        UnknownNameError: neither a built-in name nor an existing file.
        CheckpointError: the checkpoint is missing, corrupt or does not match its architecture.
    """
    import assets

    name = str(name_or_path)
    if name in ARCHITECTURES:
        return load_checkpoint(assets.checkpoint_path(name), architecture=name)
    path = Path(name_or_path)
    if path.suffix == ".pt" or path.exists():
        return load_checkpoint(path)
    raise UnknownNameError("model", name, MODEL_NAMES)

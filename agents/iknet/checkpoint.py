"""IKNet checkpoints: save, load with checks, and the name-or-path entry point :func:`load_model`.

A checkpoint is a ``torch.save`` dict with a format marker, the architecture name, the weights
(normalisation buffers included) and JSON-like training metadata; it loads with
``weights_only=True``.

Loading checks what a network would otherwise turn into silent nonsense: every tensor has the
architecture's name, shape and kind of number, every floating weight is finite and at most
:data:`MAX_WEIGHT_MAGNITUDE` in size, the input scale is positive, BatchNorm variances are
non-negative, the fixed joint-range buffers equal the joint limits, and a manifest next to the
checkpoint (``manifest.json``, as :mod:`agents.iknet.train` writes it) that lists the file names the
same architecture and parameter count. A file larger than :data:`MAX_CHECKPOINT_BYTES` or not a
regular file is refused before it is read.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import torch

from agents.iknet.models import ARCHITECTURES, MODEL_NAMES, IKNet, count_parameters
from sim.errors import CheckpointError, UnknownNameError, show_value

CHECKPOINT_FORMAT = "iknet-checkpoint"
CHECKPOINT_VERSION = 1
#: Largest magnitude a floating weight or buffer may hold (trained IKNets stay below ~10; the
#: BatchNorm batch counters are integers and exempt).
MAX_WEIGHT_MAGNITUDE: float = 1e4
#: Largest checkpoint file read (bytes); the shipped ones take 40-700 kB.
MAX_CHECKPOINT_BYTES: int = 64_000_000
#: The manifest file that sits next to shipped checkpoints.
MANIFEST_NAME = "manifest.json"


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
        CheckpointError: missing, oversized or unreadable file, foreign format, unknown or unexpected
            architecture, weights whose names, shapes or dtypes do not fit the architecture, weights
            that are not finite or implausibly large, or a manifest entry that disagrees.
    """
    path = Path(path)
    try:
        info = path.stat()
    except (OSError, ValueError):
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(f"checkpoint {str(path)!r} is not a regular file")
    if info.st_size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint {str(path)!r} has {info.st_size} bytes; expected at most "
                              f"{MAX_CHECKPOINT_BYTES}")
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
    _check_values(path, state, expected)
    _check_manifest(path, found, count_parameters(model))
    model.load_state_dict(state)
    metadata = payload.get("metadata", {})
    model.checkpoint_metadata = metadata if isinstance(metadata, dict) else {}
    return model.eval()


def _check_values(path: Path, state: dict[str, Any], expected: dict[str, torch.Tensor]) -> None:
    """Kinds of number, finiteness and magnitude of every tensor of ``state`` (names and shapes already fit)."""
    for key, reference in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor) or value.is_complex() or (
                value.is_floating_point() != reference.is_floating_point()):
            kind = type(value).__name__ if not isinstance(value, torch.Tensor) else str(value.dtype)
            raise CheckpointError(f"checkpoint {str(path)!r}: {key} holds {kind}; expected {reference.dtype}")
        if not value.is_floating_point():
            if value.numel() and int(value.min()) < 0:
                raise CheckpointError(f"checkpoint {str(path)!r}: {key} is negative; expected a count")
            continue
        values = value.detach().double()
        if not bool(torch.isfinite(values).all()):
            bad = int((~torch.isfinite(values)).sum())
            raise CheckpointError(f"checkpoint {str(path)!r}: {key} holds {bad} NaN or infinite value(s); "
                                  "expected finite weights")
        largest = float(values.abs().max()) if values.numel() else 0.0
        if largest > MAX_WEIGHT_MAGNITUDE:
            raise CheckpointError(f"checkpoint {str(path)!r}: {key} holds a weight of magnitude "
                                  f"{show_value(largest)}; expected at most {MAX_WEIGHT_MAGNITUDE:g}")
        variance = key.endswith("running_var")
        if (variance or key == "input_std") and float(values.min()) < (0.0 if variance else 1e-12):
            expected_text = "non-negative variances" if variance else "a positive scale"
            raise CheckpointError(f"checkpoint {str(path)!r}: {key} has a value {show_value(float(values.min()))}; "
                                  f"expected {expected_text}")
        if key in ("joint_centre", "joint_half_range") and not torch.allclose(values, reference.double(), atol=1e-5):
            raise CheckpointError(f"checkpoint {str(path)!r}: {key} is {show_value(values)}; expected the joint "
                                  f"limits' {show_value(reference)}")


def _check_manifest(path: Path, architecture: str, parameters: int) -> None:
    """If a manifest beside ``path`` lists it, its architecture and parameter count must match."""
    manifest_path = path.parent / MANIFEST_NAME
    if not manifest_path.is_file():
        return
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise CheckpointError(f"manifest {str(manifest_path)!r} cannot be read: {type(error).__name__}") from None
    models = manifest.get("models") if isinstance(manifest, dict) else None
    if not isinstance(models, dict):
        raise CheckpointError(f"manifest {str(manifest_path)!r} has no 'models' table")
    for name, entry in models.items():
        if not isinstance(entry, dict) or entry.get("checkpoint") != path.name:
            continue
        if entry.get("architecture") != architecture:
            raise CheckpointError(f"checkpoint {str(path)!r} holds architecture {architecture!r}; its manifest entry "
                                  f"{name!r} says {show_value(entry.get('architecture'))}")
        listed = entry.get("parameter_count")
        if listed is not None and listed != parameters:
            raise CheckpointError(f"checkpoint {str(path)!r} has {parameters} parameters; its manifest entry "
                                  f"{name!r} says {show_value(listed)}")


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

    if not isinstance(name_or_path, (str, Path)):
        raise UnknownNameError("model", show_value(name_or_path), MODEL_NAMES)
    name = str(name_or_path)
    if name in ARCHITECTURES:
        return load_checkpoint(assets.checkpoint_path(name), architecture=name)
    path = Path(name_or_path)
    if path.suffix == ".pt" or path.exists():
        return load_checkpoint(path)
    raise UnknownNameError("model", name, MODEL_NAMES)

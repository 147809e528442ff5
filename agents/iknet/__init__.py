"""The IKNet family: architectures, checkpoints, synthetic data, training, refinement, accuracy.

Modules: :mod:`~agents.iknet.models` (architectures, one registry), :mod:`~agents.iknet.checkpoint`
(save, load with checks, :func:`load_model`), :mod:`~agents.iknet.dataset` (pose-joint pairs),
:mod:`~agents.iknet.training` (the recipe), :mod:`~agents.iknet.train` (``python -m agents.iknet.train``),
:mod:`~agents.iknet.refine` (damped least squares after the network) and :mod:`~agents.iknet.ik_eval`
(accuracy figures).
"""

from agents.iknet.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, load_checkpoint, load_model, save_checkpoint
from agents.iknet.models import ARCHITECTURES, MODEL_NAMES, IKNet, build_model, count_parameters

__all__ = [
    "ARCHITECTURES",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "MODEL_NAMES",
    "IKNet",
    "build_model",
    "count_parameters",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
]

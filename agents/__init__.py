"""Everything that decides joint targets: the IKNet family, its data, training and refinement.

    >>> from agents import load_model, MODEL_NAMES
    >>> model = load_model("improved")  # eval mode, (N, 7) float32 poses -> (N, 4) radians
"""

from agents.iknet import MODEL_NAMES, load_model

__all__ = ["MODEL_NAMES", "load_model"]

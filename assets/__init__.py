"""Data shipped with the project: the robot's URDF and trained checkpoints (no code but paths)."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
CHECKPOINT_DIR = ASSETS_DIR / "checkpoints"
MANIFEST_PATH = CHECKPOINT_DIR / "manifest.json"
#: The shipped stable-baselines3 agent (``python -m agents.rl``), its training record and curve.
RL_AGENT_PATH = ASSETS_DIR / "rl" / "sac_single.zip"


def urdf_path() -> Path:
    """Path of the OpenManipulator-X URDF (primitive shapes, no meshes)."""
    return ASSETS_DIR / "urdf" / "open_manipulator_x.urdf"


def checkpoint_path(name: str) -> Path:
    """Path of the shipped checkpoint of model ``name`` (it may not exist)."""
    return CHECKPOINT_DIR / f"{name}.pt"

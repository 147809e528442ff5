"""Data shipped with the project: the robot's URDF, ROBOTIS' meshes, collision spheres and trained
checkpoints (no code but paths)."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
CHECKPOINT_DIR = ASSETS_DIR / "checkpoints"
MANIFEST_PATH = CHECKPOINT_DIR / "manifest.json"
#: The shipped stable-baselines3 agent (``python -m agents.baselines.rl``), its training record and curve.
RL_AGENT_PATH = ASSETS_DIR / "rl" / "sac_single.zip"
#: ROBOTIS' CAD data (Apache-2.0, see ``robotis/NOTICE``): STL meshes and the MoveIt SRDF.
ROBOTIS_DIR = ASSETS_DIR / "robotis"
ROBOTIS_MESH_DIR = ROBOTIS_DIR / "meshes"
ROBOTIS_SRDF_PATH = ROBOTIS_DIR / "open_manipulator_x.srdf"
#: The collision spheres fitted to the meshes (``python -m sim.robot.geometry_fit``).
COLLISION_SPHERES_PATH = ASSETS_DIR / "collision_spheres.json"


def urdf_path(rigid_fingers: bool = False) -> Path:
    """Path of the OpenManipulator-X URDF (ROBOTIS' meshes as visuals, fitted spheres as collision
    shapes); with ``rigid_fingers``, its twin whose finger joints are fixed (closed)."""
    name = "open_manipulator_x_rigid_fingers.urdf" if rigid_fingers else "open_manipulator_x.urdf"
    return ASSETS_DIR / "urdf" / name


def checkpoint_path(name: str) -> Path:
    """Path of the shipped checkpoint of model ``name`` (it may not exist)."""
    return CHECKPOINT_DIR / f"{name}.pt"

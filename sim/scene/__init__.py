"""Obstacle scenes as data, one room: obstacles and scenes (:mod:`sim.scene.obstacles`), the scenario spec a
scene is sampled from (:mod:`sim.scene.scenario_spec`) and the seeded sampling (:mod:`sim.scene.scene_sampling`).

Imports :mod:`sim.robot` (kinematics and the sphere bound check the scenes) and nothing of :mod:`sim.env`.

The package offers the names of :mod:`sim.scene.obstacles`, which ``sim.scene`` held when it was one module, so
``from sim.scene import Obstacle, Scene`` keeps working; code inside the project imports the module itself.
"""

from __future__ import annotations

from sim.scene.obstacles import (
    MAX_NAME_CHARS,
    MAX_OBSTACLE_SIZE_M,
    MAX_OBSTACLE_SPEED_M_S,
    MAX_SCENE_OBSTACLES,
    MIN_BASE_DISTANCE_M,
    WORKSPACE_BOUND_M,
    Motion,
    Obstacle,
    Scene,
)

__all__ = [
    "MAX_NAME_CHARS", "MAX_OBSTACLE_SIZE_M", "MAX_OBSTACLE_SPEED_M_S", "MAX_SCENE_OBSTACLES", "MIN_BASE_DISTANCE_M",
    "Motion", "Obstacle", "Scene", "WORKSPACE_BOUND_M",
]

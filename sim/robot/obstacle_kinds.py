"""The obstacle vocabulary: the kinds of solid an obstacle can be and the size values each takes.

The one owner of these facts: the scene, the world (PyBullet), the sphere model's distance kernels,
the observation encoding and the planners import them from here.
"""

from __future__ import annotations

from typing import Literal

ObstacleKind = Literal["sphere", "box", "cylinder"]
#: Size values per kind, in the order :meth:`sim.env.world.World.add_obstacle` takes them (metres).
SIZE_FIELDS: dict[str, tuple[str, ...]] = {
    "sphere": ("radius",),
    "box": ("half_x", "half_y", "half_z"),
    "cylinder": ("radius", "half_height"),  # axis along the body's z
}
OBSTACLE_KINDS: tuple[str, ...] = tuple(SIZE_FIELDS)
#: Number of size values per kind.
SIZE_LENGTHS: dict[str, int] = {kind: len(fields) for kind, fields in SIZE_FIELDS.items()}
#: Integer code of each kind in array form (:class:`sim.robot.collision.ObstacleSet`, the numba kernels).
KIND_CODES: dict[str, int] = {kind: code for code, kind in enumerate(OBSTACLE_KINDS)}

__all__ = ["KIND_CODES", "OBSTACLE_KINDS", "SIZE_FIELDS", "SIZE_LENGTHS", "ObstacleKind"]

"""Obstacles are drawn from their collision shapes (cheaper to create): the frames equal those of
bodies given a visual shape of the same geometry and colour, the way obstacles were made before."""

from __future__ import annotations

import numpy as np
import pybullet
import pytest

from sim.env.world import World

OBSTACLES = (("ball", "sphere", (0.04,), (0.2, 0.05, 0.1)), ("post", "cylinder", (0.03, 0.08), (0.15, -0.12, 0.08)),
             ("crate", "box", (0.03, 0.04, 0.05), (0.25, 0.15, 0.05)))
RED = (0.85, 0.25, 0.2, 1.0)
SHAPE_TYPES = {"sphere": pybullet.GEOM_SPHERE, "box": pybullet.GEOM_BOX, "cylinder": pybullet.GEOM_CYLINDER}


def with_visual_shapes(world: World) -> None:
    """The obstacles made with an explicit visual shape each (what World did before)."""
    p = world.client
    for _, kind, size, position in OBSTACLES:
        if kind == "sphere":
            collision, visual = {"radius": size[0]}, {"radius": size[0]}
        elif kind == "box":
            collision, visual = {"halfExtents": size}, {"halfExtents": size}
        else:
            collision, visual = {"radius": size[0], "height": 2 * size[1]}, {"radius": size[0], "length": 2 * size[1]}
        shape_type = SHAPE_TYPES[kind]
        body = p.createMultiBody(baseMass=0.0, baseCollisionShapeIndex=p.createCollisionShape(shape_type, **collision),
                                 baseVisualShapeIndex=p.createVisualShape(shape_type, rgbaColor=list(RED), **visual),
                                 basePosition=list(position))
        p.changeDynamics(body, -1, collisionMargin=0.0)


@pytest.mark.parametrize("renderer", ["tiny", "egl"])
def test_obstacles_look_as_with_visual_shapes(renderer):
    try:
        worlds = [World(renderer=renderer), World(renderer=renderer)]
    except Exception as error:  # noqa: BLE001  (no EGL device here)
        pytest.skip(f"renderer {renderer} unavailable: {error}")
    try:
        for name, kind, size, position in OBSTACLES:
            worlds[0].add_obstacle(name, kind, size, position, rgba=RED)
        with_visual_shapes(worlds[1])
        frames = [world.render(240, 180, "front") for world in worlds]
        assert np.array_equal(frames[0], frames[1])
        red = (frames[0][..., 0] > 150) & (frames[0][..., 1] < 110) & (frames[0][..., 2] < 110)
        assert red.sum() > 500, "the obstacles must be in the frame, in their colour"
    finally:
        for world in worlds:
            world.close()

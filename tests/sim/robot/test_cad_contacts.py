"""The contacts of a control step (:func:`sim.robot.cad.step_contacts`): the substeps it skips are
proven clear, and its verdicts are the CAD's at every substep."""

from __future__ import annotations

import numpy as np
import pytest

from sim.robot.cad import (
    cad_model,
    frames,
    joint_reach,
    link_joint_reach,
    link_obstacle_distance,
    link_pair_gap,
    step_contacts,
    table_heights,
)
from sim.robot.collision import ObstacleSet
from sim.robot.kinematics import JOINT_LIMITS
from sim.robot.robot_geometry import COLLISION_LINKS, TABLE_CHECKED_LINKS, self_collision_pairs

SUBSTEPS = 12
KINDS = (("sphere", 1), ("box", 3), ("cylinder", 2))


def random_step(rng: np.random.Generator, spread: float) -> tuple[np.ndarray, np.ndarray, ObstacleSet]:
    """12 substeps of a joint motion (up to 0.02 rad per substep per joint, the velocity limit, times
    ``spread`` <= 1) among 3 obstacles placed on the arm's path (farther with a smaller ``spread``),
    one of them moving."""
    limits = np.array(JOINT_LIMITS)
    start = rng.uniform(limits[:, 0] + 0.2, limits[:, 1] - 0.2)
    rate = rng.uniform(-0.02, 0.02, 4) * spread
    q_steps = start + np.arange(1, SUBSTEPS + 1)[:, None] * rate
    kinds, sizes, centres = [], [], []
    for _ in range(3):
        kind, count = KINDS[rng.integers(3)]
        state = q_steps[rng.integers(SUBSTEPS)]
        positions, rotations = frames(state)
        link = rng.integers(1, len(COLLISION_LINKS))
        frame = cad_model().frames[link]
        centre = positions[frame] + rotations[frame] @ (rng.uniform(-0.03, 0.06, 3) / spread)
        kinds.append(kind)
        sizes.append(rng.uniform(0.01, 0.03, count))
        centres.append(centre)
    quaternions = rng.normal(size=(3, 4))
    quaternions /= np.linalg.norm(quaternions, axis=1, keepdims=True)
    obstacles = ObstacleSet.from_list(kinds, centres, sizes, quaternions)
    origins = np.broadcast_to(obstacles.positions, (SUBSTEPS, 3, 3)).copy()
    origins[:, 0] += np.linspace(0.0, 0.03, SUBSTEPS)[:, None] * rng.normal(size=3)  # obstacle 0 moves
    return q_steps, origins, obstacles


def touching_every_substep(q_steps: np.ndarray, origins: np.ndarray, obstacles: ObstacleSet) -> set:
    """The (link, column) pairs whose CAD touches at some substep, each substep measured in full."""
    model = cad_model()
    found = set()
    count = len(obstacles)
    table_links = [COLLISION_LINKS.index(link) for link in TABLE_CHECKED_LINKS]
    for q, centres in zip(q_steps, origins, strict=True):
        positions, rotations = frames(q)
        for link in range(len(COLLISION_LINKS)):
            for slot in range(count):
                value, _ = link_obstacle_distance(model, positions, rotations, link, int(obstacles.kinds[slot]),
                                                  centres[slot], obstacles.rotations[slot], obstacles.sizes[slot])
                if value <= 0.0:
                    found.add((link, slot))
        heights = table_heights(model, positions, rotations)
        found.update((link, count) for link in table_links if heights[link] <= 0.0)
        for index, (first, second) in enumerate(self_collision_pairs()):
            a, b = COLLISION_LINKS.index(first), COLLISION_LINKS.index(second)
            if link_pair_gap(model, positions, rotations, a, b, 1e-3) <= 0.0:
                found.add((a, count + 1 + index))
    return found


def test_step_contacts_are_the_cads_at_every_substep_and_skips_are_proven_clear():
    rng = np.random.default_rng(5)
    touched = skipped = 0
    for index in range(60):
        q_steps, origins, obstacles = random_step(rng, 1.0 if index % 2 else 0.3)
        result = step_contacts(q_steps, origins, obstacles)
        reported = {tuple(index) for index in np.argwhere(np.isfinite(result.cad_m)).tolist()}
        assert reported == touching_every_substep(q_steps, origins, obstacles)
        assert np.all(result.cad_m[np.isfinite(result.cad_m)] <= 0.0)
        touched += bool(reported)
        skipped += SUBSTEPS - result.checks
    assert touched >= 20  # the steps touch often enough for the comparison to mean something
    assert skipped > 0  # and some substeps were proven clear rather than measured


def test_the_reach_bounds_how_far_a_joint_moves_each_link():
    """No point of a link's mesh or spheres moves farther than sum(|dq| * reach[:, link]) between two
    configurations; a joint moves no link before it; the arm's reach is the largest of its links'."""
    from sim.robot.collision import SPHERE_LINK, sphere_centres

    rng = np.random.default_rng(8)
    limits = np.array(JOINT_LIMITS)
    model = cad_model()
    reach = link_joint_reach()
    vertices = [model.triangles[model.start[root]:model.start[root] + model.count[root]].reshape(-1, 3)[::7]
                for root in model.roots]

    def mesh_points(q: np.ndarray, link: int) -> np.ndarray:
        positions, rotations = frames(q)
        frame = model.frames[link]
        return positions[frame] + vertices[link] @ rotations[frame].T

    for index in range(500):
        q = rng.uniform(limits[:, 0], limits[:, 1])
        moved = q + rng.uniform(-0.3, 0.3, 4) * (rng.random(4) < 0.6)
        spheres = np.linalg.norm(sphere_centres(moved) - sphere_centres(q), axis=-1)
        for link in range(len(COLLISION_LINKS)):
            allowed = np.abs(moved - q) @ reach[:, link] + 1e-12
            assert spheres[SPHERE_LINK == link].max() <= allowed
            if index < 100:
                assert np.linalg.norm(mesh_points(moved, link) - mesh_points(q, link), axis=-1).max() <= allowed
    assert np.all(reach[:, 0] == 0.0)  # the base link moves with no joint
    assert np.all(np.diff(np.count_nonzero(reach, axis=1)) < 0)  # each joint moves fewer links than the one before
    assert np.array_equal(joint_reach(), reach.max(axis=1))
    assert joint_reach()[0] > joint_reach()[1] > joint_reach()[2] > joint_reach()[3] > 0.1


@pytest.mark.parametrize("still", [True, False])
def test_a_far_still_arm_is_checked_once(still):
    obstacles = ObstacleSet.from_list(["sphere"], [[0.3, 0.3, 0.4]], [[0.02]])
    q_steps = np.tile([0.0, -0.5, 0.5, 0.0], (SUBSTEPS, 1))
    if not still:
        q_steps = q_steps + np.linspace(0.0, 0.24, SUBSTEPS)[:, None]
    result = step_contacts(q_steps, np.broadcast_to(obstacles.positions, (SUBSTEPS, 1, 3)), obstacles)
    assert not np.isfinite(result.cad_m).any() and result.queries == 0
    assert (result.checks == 1) if still else (1 < result.checks <= SUBSTEPS)

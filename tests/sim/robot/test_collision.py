"""The sphere model of the real arm: it encloses ROBOTIS' meshes, PyBullet measures the same solid,
torch and NumPy agree, gradients are right, self-collision and table follow the SRDF and the plane.

Tolerances, measured and justified:
- spheres and boxes: 1e-6 m. The solids are identical (URDF spheres, obstacle collision margin
  set to 0) and both sides are exact up to Bullet's single-precision-like contact output.
- cylinders: 5e-5 m. Bullet finds sphere-cylinder distances by GJK, an iterative method on the
  curved surface; its residual is the only difference.
- penetration: Bullet reports EPA's separating distance, the sphere model the signed distance
  field at the centre; both are negative together, magnitudes differ by design.
- enclosure: every mesh vertex at most 0.5 mm outside the spheres (the issue's bound; the fit
  encloses every vertex exactly, rounding to 0.1 um aside).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
import torch

import assets
from sim.errors import InvalidInputError
from sim.robot.collision import (
    COLLISION_LINKS,
    SPHERE_LINK,
    SPHERE_RADII_M,
    ObstacleSet,
    min_clearance,
    self_clearance,
    signed_distances,
    sphere_centres,
    sphere_distances,
    table_clearance,
)
from sim.robot.kinematics import GRIPPER_LIMITS_M, HOME_CONFIGURATION, LINK_NAMES, link_frames, sample_joints
from sim.robot.robot_geometry import mesh, self_collision_pairs, sphere_model, srdf_disabled_pairs
from sim.robot.transforms import quat_normalize

TOLERANCE_M = {"sphere": 1e-6, "box": 1e-6, "cylinder": 5e-5}
SIZES = {"sphere": (0.03,), "box": (0.03, 0.05, 0.02), "cylinder": (0.025, 0.05)}
ENCLOSURE_M = 0.5e-3


def random_obstacle(rng, kind):
    position = rng.uniform([0.05, -0.25, 0.02], [0.33, 0.25, 0.3])
    quaternion = quat_normalize(rng.normal(size=4))
    size = tuple(np.array(SIZES[kind]) * rng.uniform(0.5, 1.5))
    return position, quaternion, size


def vertices_outside_m(q: np.ndarray, gripper_m: float) -> dict[str, float]:
    """Per link, the largest distance (m) by which a mesh vertex lies outside that link's spheres."""
    frames = link_frames(q, gripper_m)
    centres = sphere_centres(q, gripper_m)
    worst = {}
    for index, link in enumerate(COLLISION_LINKS):
        vertices = mesh(link)[0]
        frame = LINK_NAMES.index(link)
        world_vertices = vertices @ frames.rotations[frame].T + frames.positions[frame]
        mine = SPHERE_LINK == index
        depth = np.linalg.norm(world_vertices[:, None, :] - centres[mine][None], axis=-1) - SPHERE_RADII_M[mine]
        worst[link] = float(depth.min(1).max())
    return worst


def test_spheres_enclose_every_mesh_vertex_in_any_configuration(rng):
    configurations = [(q, 0.0) for q in sample_joints(rng, 20)]
    configurations += [(HOME_CONFIGURATION, GRIPPER_LIMITS_M[0]), (HOME_CONFIGURATION, GRIPPER_LIMITS_M[1])]
    for q, gripper_m in configurations:
        worst = vertices_outside_m(np.asarray(q), gripper_m)
        assert max(worst.values()) <= ENCLOSURE_M, (q, gripper_m, worst)


def test_the_fit_is_tight_the_union_stays_near_the_convex_hulls():
    record = sphere_model().fit["links"]
    assert set(record) == set(COLLISION_LINKS)
    for link, figures in record.items():
        assert figures["ratio"] <= 1.55, (link, figures)  # the issue: at most ~1.5x the hull
    total_union = sum(figures["union_cm3"] for figures in record.values())
    total_hull = sum(figures["hull_cm3"] for figures in record.values())
    assert total_union <= 1.3 * total_hull


def test_urdf_collision_shapes_are_the_fitted_spheres():
    root = ElementTree.parse(assets.urdf_path()).getroot()
    for link in COLLISION_LINKS:
        element = root.find(f"link[@name='{link}']")
        rows = []
        for collision in element.findall("collision"):
            xyz = [float(v) for v in collision.find("origin").get("xyz").split()]
            rows.append(xyz + [float(collision.find("geometry/sphere").get("radius"))])
        centres, radii = sphere_model().of_link(link)
        np.testing.assert_allclose(np.array(rows), np.column_stack([centres, radii]), atol=1e-6)
        assert element.find("visual/geometry/mesh") is not None  # ROBOTIS' mesh is the visual


def test_pybullet_finds_every_worst_vertex_inside_the_collision_shapes(world, rng):
    """PyBullet's closest points on the URDF's collision shapes agree: a probe at a mesh vertex
    (the worst-enclosed ones) is inside (or within 0.5 mm of) its link's collision solid."""
    probe_radius_m = 1e-4
    for q in sample_joints(rng, 4):
        world.reset_joints(q)
        frames = link_frames(q)
        for link in ("link3", "link5", "gripper_left_link"):
            vertices = mesh(link)[0]
            frame = LINK_NAMES.index(link)
            world_vertices = vertices @ frames.rotations[frame].T + frames.positions[frame]
            centres = sphere_centres(q)[SPHERE_LINK == COLLISION_LINKS.index(link)]
            radii = sphere_model().of_link(link)[1]
            depth = (np.linalg.norm(world_vertices[:, None, :] - centres[None], axis=-1) - radii).min(1)
            for vertex in world_vertices[np.argsort(depth)[-3:]]:
                world.clear_obstacles()
                world.add_obstacle("probe", "sphere", (probe_radius_m,), vertex)
                distances = [p.distance_m for p in world.closest_points(0.05) if p.link == link]
                assert distances and min(distances) + probe_radius_m <= ENCLOSURE_M, (link, vertex, distances)


@pytest.mark.parametrize("kind", ["sphere", "box", "cylinder"])
def test_sphere_model_distances_match_pybullet_closest_points(world, rng, kind):
    compared = 0
    for _ in range(120):
        position, quaternion, size = random_obstacle(rng, kind)
        world.clear_obstacles()
        world.add_obstacle("obstacle", kind, size, position, quaternion)
        obstacles = ObstacleSet.from_list([kind], [position], [size], [quaternion])
        q = sample_joints(rng, 1)[0]
        world.reset_joints(q)
        distances = signed_distances(q, obstacles)
        for point in world.closest_points(1.0):
            ours = distances[COLLISION_LINKS.index(point.link), 0]
            if ours > 0:
                assert abs(point.distance_m - ours) < TOLERANCE_M[kind], (point, ours)
            elif ours < -1e-4:
                assert point.distance_m < 0, (point, ours)
            compared += 1
    assert compared > 400


def test_self_clearance_matches_pybullet_and_follows_the_srdf(world, rng):
    pairs = self_collision_pairs()
    disabled = srdf_disabled_pairs()
    assert len(pairs) == 21 - len(disabled) == 11
    assert ("link3", "link5") in pairs and ("link3", "link4") not in pairs  # link3/link4 are adjacent
    compared = touching = 0
    for q in sample_joints(rng, 150):
        world.reset_joints(q)
        ours = float(self_clearance(q))
        points = world.self_closest_points(1.0)
        theirs = min(point.distance_m for point in points)
        if ours > 0:
            assert abs(theirs - ours) < 1e-6, (q, ours, theirs)
        elif ours < -1e-4:
            assert theirs < 0
            touching += 1
        compared += 1
    assert touching > 3  # the arm can fold into itself inside its limits: both models see it


def test_self_contacts_are_reported_as_contacts(world):
    folded = np.array([0.0, 1.4, 1.4, 1.9])  # within limits, the gripper folds back onto the base
    assert self_clearance(folded) < 0
    world.reset_joints(folded)
    world.detect_collisions()
    bodies = {contact.body for contact in world.contacts()}
    assert any(body.startswith("robot:") for body in bodies), bodies


def test_table_clearance_matches_pybullet_and_honours_table_z(world, rng):
    for q in sample_joints(rng, 60):
        world.reset_joints(q)
        ours = float(table_clearance(q))
        table_points = [p.distance_m for p in world.closest_points(1.0, include_table=True)
                        if p.body == "table" and p.link not in ("link1",)]
        if ours > 0:
            assert min(table_points) == pytest.approx(ours, abs=1e-6)
        np.testing.assert_allclose(table_clearance(q, table_z_m=0.05), ours - 0.05, atol=1e-12)
    assert float(table_clearance(np.zeros(4))) > 0.02  # standing upright, link2 is ~36 mm above the table


def test_torch_and_numpy_agree_and_gradients_match_finite_differences(rng):
    kinds = ["sphere", "box", "cylinder"]
    placed = [random_obstacle(rng, kind) for kind in kinds]
    obstacles = ObstacleSet.from_list(kinds, [p for p, _, _ in placed], [s for _, _, s in placed],
                                      [r for _, r, _ in placed])
    q_np = sample_joints(rng, 20) * 0.9
    for function in (lambda q: signed_distances(q, obstacles).sum((-1, -2)), table_clearance, self_clearance):
        q = torch.tensor(q_np, requires_grad=True)
        values = function(q)
        np.testing.assert_allclose(values.detach().numpy(), function(q_np), atol=1e-12)
        values.sum().backward()
        step = 1e-6
        numeric = np.zeros((20, 4))
        for joint in range(4):
            shift = np.zeros(4)
            shift[joint] = step
            numeric[:, joint] = (function(q_np + shift) - function(q_np - shift)) / (2 * step)
        np.testing.assert_allclose(q.grad.numpy(), numeric, atol=1e-5)


def test_per_link_distances_are_minima_over_that_links_spheres(rng):
    obstacles = ObstacleSet.from_list(["box", "sphere"], [[0.2, 0.0, 0.1], [0.1, 0.2, 0.2]],
                                      [[0.03, 0.02, 0.05], [0.04]])
    q = sample_joints(rng, 30)
    per_sphere = sphere_distances(q, obstacles)
    per_link = signed_distances(q, obstacles)
    for index in range(len(COLLISION_LINKS)):
        np.testing.assert_allclose(per_link[:, index], per_sphere[:, SPHERE_LINK == index].min(1), atol=1e-12)


def test_min_clearance_names_the_closest_pair():
    obstacles = ObstacleSet.from_list(["sphere", "box"], [[0.5, 0.5, 0.5], [0.3, 0.0, 0.2]],
                                      [[0.02], [0.02, 0.02, 0.02]])
    q = np.array([0.0, 0.5, 0.2, 0.0])
    clearance = min_clearance(q, obstacles)
    distances = signed_distances(q, obstacles)
    assert clearance.distance_m == pytest.approx(distances.min())
    assert clearance.obstacle == 1
    assert distances[clearance.link, clearance.obstacle] == distances.min()
    batch = min_clearance(np.stack([q, HOME_CONFIGURATION]), obstacles)
    assert batch.distance_m.shape == (2,) and batch.link.shape == (2,)


def test_penetration_is_negative_and_empty_set_is_infinite():
    q = np.array([0.0, 0.0, 0.0, 0.0])
    from sim.robot.kinematics import forward_kinematics

    tip = forward_kinematics(q)[:3]
    inside = ObstacleSet.from_list(["box"], [tip], [[0.04, 0.04, 0.04]])
    assert min_clearance(q, inside).distance_m < -0.02
    empty = ObstacleSet.from_list([], [], [])
    assert signed_distances(q, empty).shape == (len(COLLISION_LINKS), 0)
    assert min_clearance(q, empty).distance_m == np.inf


def test_bad_input_is_rejected():
    with pytest.raises(InvalidInputError, match="kind"):
        ObstacleSet.from_list(["cone"], [[0, 0, 0]], [[0.1]])
    with pytest.raises(InvalidInputError, match="shape"):
        signed_distances(np.zeros(3), ObstacleSet.from_list(["sphere"], [[0, 0, 0]], [[0.1]]))

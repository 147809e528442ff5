"""Replays logged episodes against ROBOTIS' meshes themselves (surface points, not the fitted
spheres): an episode the project marks contact-free must not touch with the real arm's CAD, and
the replay must see the touches of episodes the project marks as collided (so it can fail).

Mesh vertices are thinned to one per 1.5 mm voxel (about 14k points for the arm): a penetration
deeper than ~1 mm cannot hide between them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.config import RunConfig
from evaluation.runner import run
from evaluation.schema import read_episodes, read_steps
from scenarios.catalogue import BUILTIN_SCENARIOS
from sim.robot.collision import point_distances
from sim.robot.kinematics import LINK_NAMES, link_frames
from sim.robot.robot_geometry import COLLISION_LINKS, TABLE_CHECKED_LINKS, mesh

VOXEL_M = 0.0015


def thinned_vertices(link: str) -> np.ndarray:
    vertices = mesh(link)[0]
    _, first = np.unique(np.floor(vertices / VOXEL_M).astype(np.int64), axis=0, return_index=True)
    return vertices[np.sort(first)]


def mesh_clearance(joints: np.ndarray, scene) -> tuple[np.ndarray, np.ndarray]:
    """Per step: smallest signed distance (m) of the mesh points to the obstacles, and their
    lowest height above the table (links from link2 on)."""
    frames = link_frames(joints)
    obstacles = scene.obstacle_set()
    clearance = np.full(len(joints), np.inf)
    table = np.full(len(joints), np.inf)
    for link in COLLISION_LINKS:
        points = thinned_vertices(link)
        frame = LINK_NAMES.index(link)
        world = np.einsum("nij,pj->npi", frames.rotations[:, frame], points) + frames.positions[:, frame, None, :]
        clearance = np.minimum(clearance, point_distances(world, obstacles).min((1, 2)))
        if link in TABLE_CHECKED_LINKS:
            table = np.minimum(table, world[..., 2].min(1))
    return clearance, table


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("replay") / "run"
    policies = ("iknet:improved+straight", "iknet:improved+safe", "analytic+safe")
    config = RunConfig(scenario="benchmark", policies=policies, episodes=10, seed=0, out_dir=out, progress=False)
    run(config)
    return out


def test_contact_free_episodes_do_not_touch_with_the_cad_meshes(logged_run):
    scenes = BUILTIN_SCENARIOS["benchmark"].fixed_scenes
    episodes = read_episodes(logged_run)
    steps = read_steps(logged_run)
    touching_collided = free_checked = 0
    for row in episodes:
        mine = [s for s in steps if s["model"] == row["model"] and int(s["episode"]) == int(row["episode"])]
        joints = np.array([[float(s[f"joints_rad_{j}"]) for j in range(4)] for s in mine])
        clearance, table = mesh_clearance(joints, scenes[int(row["episode"]) % len(scenes)])
        if str(row["collided"]) in ("False", "0"):
            free_checked += 1
            assert clearance.min() >= 0.0 and table.min() >= 0.0, (row["model"], row["episode"], clearance.min())
        elif clearance.min() < 0.0:
            touching_collided += 1
    assert free_checked >= 10
    assert touching_collided >= 1  # the replay sees real touches: it can fail

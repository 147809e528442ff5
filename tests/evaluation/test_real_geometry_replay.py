"""Replays logged episodes on ROBOTIS' meshes themselves, in both directions (issue #23's replay):
an episode the testbed marks contact-free must not touch with the real arm's CAD deeper than 1 mm,
and an episode it marks contact must come within 1 mm of touching it.

The replay is independent of the project's distance code: each mesh is sampled on a 0.5 mm grid
and the obstacles' signed distance fields are written out in the test
(:mod:`tests.sim.robot.cad_reference`). Scenes are rebuilt from their seeds as the runner drew
them; the joints are the logged ones of every control step (contacts are found at every physics
substep, so a graze between two logged steps is measured at the nearest logged state).
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import sim
from evaluation.config import RunConfig
from evaluation.runner import run
from evaluation.schema import read_episodes, read_steps
from sim.robot.kinematics import LINK_NAMES, link_frames
from sim.robot.robot_geometry import COLLISION_LINKS, TABLE_CHECKED_LINKS, mesh, self_collision_pairs
from sim.robot.transforms import quat_to_matrix
from tests.sim.robot.cad_reference import LinkSample, lowest_point, obstacle_minimum, pair_minimum, surface_sample

#: The verdicts' tolerance (m): the issue's 1 mm.
TOLERANCE_M = 1e-3
#: The reference measures up to this far (m); beyond it a step is clear.
REACH_M = 0.005
POLICIES = ("iknet:original", "iknet:improved+safe", "analytic+safe", "analytic+straight")


@pytest.fixture(scope="module")
def samples() -> dict[str, LinkSample]:
    return {link: LinkSample.of(surface_sample(*mesh(link))) for link in COLLISION_LINKS}


def reference_clearance(joints: np.ndarray, scene, samples: dict[str, LinkSample]) -> np.ndarray:
    """Per logged state (N, 4): the smallest of the arm's signed distance to every obstacle, its
    lowest point above the table and the gap of every SRDF link pair, on the 0.5 mm sample (m;
    +REACH_M where all are farther)."""
    frames = link_frames(joints)
    obstacles = scene.obstacles
    out = np.full(len(joints), REACH_M)
    index = {link: LINK_NAMES.index(link) for link in COLLISION_LINKS}
    for n in range(len(joints)):
        positions, rotations = frames.positions[n], frames.rotations[n]
        for link in COLLISION_LINKS:
            position, rotation = positions[index[link]], rotations[index[link]]
            for obstacle in obstacles:
                value, _ = obstacle_minimum(samples[link], position, rotation, obstacle.kind,
                                            np.array(obstacle.position), quat_to_matrix(np.array(obstacle.orientation)),
                                            np.array(obstacle.size, dtype=float), REACH_M)
                out[n] = min(out[n], value)
            if link in TABLE_CHECKED_LINKS:
                out[n] = min(out[n], lowest_point(samples[link], position, rotation))
        for first, second in self_collision_pairs():
            ra, rb = rotations[index[first]], rotations[index[second]]
            rotation = ra.T @ rb
            offset = ra.T @ (positions[index[second]] - positions[index[first]])
            out[n] = min(out[n], pair_minimum(samples[first], samples[second], rotation, offset, REACH_M))
    return out


@pytest.fixture(scope="module")
def logged_runs(tmp_path_factory) -> list[tuple[str, Path]]:
    runs = []
    for scenario, episodes in (("benchmark", 10), ("cluttered", 8)):
        out = tmp_path_factory.mktemp("replay") / scenario
        run(RunConfig(scenario=scenario, policies=POLICIES, episodes=episodes, seed=0, out_dir=out, progress=False))
        runs.append((scenario, out))
    return runs


def test_logged_verdicts_hold_on_the_cad_meshes_both_ways(logged_runs, samples):
    free = touching = 0
    for scenario, out in logged_runs:
        env = gym.make(sim.ENV_IDS[0], scenario=scenario).unwrapped
        fixed = len(env.scenario.fixed_scenes)
        steps = read_steps(out)
        for row in read_episodes(out):
            episode = int(row["episode"])
            env.reset(seed=int(row["seed"]) + episode, options={"scene_index": episode % fixed} if fixed else None)
            mine = [s for s in steps if s["model"] == row["model"] and int(s["episode"]) == episode]
            joints = np.array([[float(s[f"joints_rad_{j}"]) for j in range(4)] for s in mine])
            nearest = reference_clearance(joints, env.scene, samples).min()
            label = (scenario, row["model"], episode, f"{1e3 * nearest:.2f} mm")
            if str(row["collided"]) in ("False", "0"):
                free += 1
                assert nearest >= -TOLERANCE_M, ("contact-free but touching", *label)
            else:
                touching += 1
                assert nearest <= TOLERANCE_M, ("marked contact but clear", *label)
        env.close()
    print(f"replayed {free} contact-free and {touching} contact episodes")
    assert free >= 20 and touching >= 5  # both directions are exercised

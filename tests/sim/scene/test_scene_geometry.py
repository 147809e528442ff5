"""No episode starts in contact with the real arm's geometry (issue 13, item 7): the start (and
goal) configuration of every sampled scene clears obstacles by the scenario's margin, the table by
its margin and the arm itself, and PyBullet finds no contact after the reset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import sim
from scenarios import get_scenario, scenario_names
from sim.robot.collision import self_clearance, signed_distances, table_clearance

EPISODES = 12


@pytest.mark.parametrize("name", scenario_names())
def test_no_episode_starts_in_contact(name):
    spec = get_scenario(name)
    env = gym.make(sim.ENV_IDS[0], scenario=name)
    for seed in range(EPISODES):
        _, info = env.reset(seed=seed)
        scene = env.unwrapped.scene
        ends = np.array([scene.start_joints, scene.goal_joints])
        assert not info["collided"], (name, seed, info["contacts"])
        assert np.all(self_clearance(ends) > 0.0), (name, seed)
        assert np.all(table_clearance(ends) >= spec.table_margin_m - 1e-9), (name, seed)
        if scene.obstacles and not scene.is_dynamic:
            assert signed_distances(ends, scene.obstacle_set()).min() >= spec.clearance_margin_m - 1e-9, (name, seed)
    env.close()

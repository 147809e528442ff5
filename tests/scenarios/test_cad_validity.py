"""Scenes are sampled on the sphere bound; measured on ROBOTIS' CAD meshes (the truth), no built-in
scenario starts or ends in contact with an obstacle, the table or the arm itself."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios import get_scenario, scenario_names
from sim.robot.cad import measure
from sim.scene.scene_sampling import sample_scene


@pytest.mark.parametrize("name", scenario_names())
def test_no_built_in_scenario_starts_or_ends_in_cad_contact(name):
    spec = get_scenario(name)
    rng = np.random.default_rng(11)
    scenes = list(spec.fixed_scenes) or [sample_scene(spec, rng) for _ in range(25)]
    for scene in scenes:
        obstacles = scene.obstacle_set(0.0)
        for q in (scene.start_joints, scene.goal_joints):
            result = measure(np.asarray(q, dtype=float), obstacles)
            assert result.obstacle_m > 0.0 and result.table_m > 0.0 and result.self_m > 0.0, (name, q, result)

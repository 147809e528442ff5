"""The scenario catalogue and the TOML format: names, example file, malformed files, round trips."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from scenarios import (
    BUILTIN_SCENARIOS,
    EXAMPLES_DIR,
    ObstacleGroup,
    Region,
    ScenarioSpec,
    get_scenario,
    load_scenario_file,
    scenario_from_dict,
    scenario_names,
    scenario_to_toml,
)
from sim.errors import InvalidInputError, ProjectError, SceneFileError, UnknownNameError
from sim.scene.scene_sampling import sample_scene

EXAMPLE = EXAMPLES_DIR / "desk_clutter.toml"


def test_builtin_names_are_the_documented_ones():
    assert scenario_names() == ["empty", "single", "cluttered", "narrow", "shelf", "dynamic", "benchmark"]
    for name in scenario_names():
        assert get_scenario(name).name == name


def test_unknown_scenario_name_lists_the_valid_ones():
    with pytest.raises(UnknownNameError) as caught:
        get_scenario("clutered")
    message = str(caught.value)
    assert all(name in message for name in scenario_names())
    assert "Did you mean 'cluttered'?" in message
    assert isinstance(caught.value, ProjectError)


def test_the_example_file_loads_and_samples():
    assert EXAMPLE.is_file()
    spec = get_scenario(str(EXAMPLE))
    assert spec.name == "desk_clutter" and len(spec.obstacles) == 3
    assert spec.obstacles[2].motion is not None and spec.goal.pitch_rad == (0.3, 1.3)
    assert get_scenario(EXAMPLE) == spec  # a Path works too
    scene = sample_scene(spec, np.random.default_rng(3))
    assert 4 <= len(scene.obstacles) <= 5 and scene.scenario == "desk_clutter"


@pytest.mark.parametrize("name", scenario_names())
def test_every_builtin_survives_a_toml_round_trip(name):
    spec = get_scenario(name)
    text = scenario_to_toml(spec)
    assert scenario_from_dict(tomllib.loads(text), source=f"{name}.toml") == spec


MALFORMED = {
    # file body -> the field the error must name
    'name = "x"\n[region]\nradius_m = [0.3, 0.1]\n': "radius_m",
    'name = "x"\n[region]\nradius_m = "far"\n': "region.radius_m",
    'name = "x"\n[[obstacles]]\nkinds = ["cone"]\n': "kinds",
    'name = "x"\n[[obstacles]]\ncount = [1.5, 2]\n': "obstacles[0].count[0]",
    'name = "x"\n[[obstacles]]\nplacement = "random"\n': "obstacles[0].placement",
    'name = "x"\n[[obstacles]]\nsize_m = [0.1, 0.2]\n': "obstacles[0].size_m",
    'name = "x"\nclearance_margin_m = -0.1\n': "clearance_margin_m",
    'name = "x"\n[goal]\njoint_low = [0, 0, 0]\n': "goal.joint_low",
    'name = "x"\n[goal]\njoint_high = [0, 0, 0, 9]\n': "joint_high",
    'name = "x"\n[[obstacles]]\n[obstacles.motion]\nperiod_s = [0, 1]\n': "motion.period_s",
    'name = "x"\n[[scenes]]\nstart_joints = [0, 0, 0, 0]\ngoal_joints = [0, 0, 0, 0]\n'
    '[[scenes.obstacles]]\nname = "b"\nkind = "box"\nsize = [0.1]\nposition = [0.2, 0, 0.1]\n': "size",
    'name = "x"\n[[scenes]]\nstart_joints = [0, 0, 0, 0]\n': "goal_joints",
    'name = "x"\nregion = 3\n': "region",
}


@pytest.mark.parametrize(("body", "field"), list(MALFORMED.items()))
def test_a_malformed_file_fails_naming_the_field(tmp_path, body, field):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(SceneFileError) as caught:
        get_scenario(str(path))
    assert field in str(caught.value) and "bad.toml" in str(caught.value)


def test_unreadable_files_fail_with_a_scene_file_error(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    with pytest.raises(SceneFileError, match="not valid TOML"):
        load_scenario_file(broken)
    with pytest.raises(SceneFileError, match="not found"):
        get_scenario(tmp_path / "missing.toml")


def test_a_file_without_a_name_is_rejected_with_the_field_named(tmp_path):
    nameless = tmp_path / "nameless.toml"
    nameless.write_text('[[obstacles]]\nkinds = ["sphere"]\ncount = [1, 2]\n')
    with pytest.raises(SceneFileError, match="nameless.toml: missing required field.*'name'"):
        load_scenario_file(nameless)
    path = tmp_path / "my_scene.toml"
    path.write_text('name = "my_scene"\n[[obstacles]]\nkinds = ["sphere"]\ncount = [1, 2]\n')
    spec = load_scenario_file(path)
    assert spec.name == "my_scene" and spec.obstacles == (ObstacleGroup(kinds=("sphere",), count=(1, 2)),)


def test_specs_validate_programmatic_input_with_the_field_name():
    with pytest.raises(InvalidInputError, match="region.z_m"):
        Region(z_m=(0.3, 0.1))
    with pytest.raises(InvalidInputError, match="count"):
        ObstacleGroup(count=(3, 1))
    with pytest.raises(InvalidInputError, match="name"):
        ScenarioSpec(name="")
    assert replace(BUILTIN_SCENARIOS["single"], name="copy").max_obstacle_count() == 1


def test_the_benchmark_scenario_is_ten_fixed_scenes_with_two_to_five_obstacles():
    spec = get_scenario("benchmark")
    counts = [len(scene.obstacles) for scene in spec.fixed_scenes]
    assert len(counts) == 10 and min(counts) == 2 and max(counts) == 5
    rng = np.random.default_rng(0)
    drawn = {sample_scene(spec, rng) for _ in range(200)}
    assert drawn == set(spec.fixed_scenes)  # every draw is one of the ten, and all ten occur


def test_examples_are_shipped_as_package_data():
    # pyproject.toml ships scenarios/examples/*.toml only; keep examples there, as .toml files.
    assert all(path.suffix == ".toml" for path in Path(EXAMPLES_DIR).iterdir())


def test_the_documented_example_runs():
    import doctest

    import scenarios

    result = doctest.testmod(scenarios)
    assert result.attempted > 0 and result.failed == 0

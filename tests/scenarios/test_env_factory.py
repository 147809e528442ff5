"""The env factory above sim: names, files and specs all reach the env as a resolved spec."""

from __future__ import annotations

import pytest

from scenarios import BUILTIN_SCENARIOS, EXAMPLES_DIR, get_scenario
from scenarios.env_factory import make_obstacle_reach_env
from sim.errors import UnknownNameError


@pytest.mark.parametrize("scenario", ["single", EXAMPLES_DIR / "desk_clutter.toml", BUILTIN_SCENARIOS["narrow"]])
def test_a_name_a_file_or_a_spec_gives_the_env_that_spec(scenario):
    env = make_obstacle_reach_env(scenario, max_episode_steps=5)
    try:
        assert env.scenario == get_scenario(scenario)
        observation, info = env.reset(seed=0)
        assert env.observation_space.contains(observation)
    finally:
        env.close()


def test_an_unknown_name_is_named_with_the_choices():
    with pytest.raises(UnknownNameError, match="cluttered"):
        make_obstacle_reach_env("clutterd")

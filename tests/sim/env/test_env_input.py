"""The env refuses bad input the way ``run_sim.py`` does (issue 25): its keyword arguments (through
``gymnasium.make``, ``make_vec`` and the factory too), ``reset``'s seed and options and ``step``'s action, each
with the project's one-line :class:`~sim.errors.InvalidInputError`; and a refused call changes nothing, so the
env goes on, also through ``gymnasium.make``'s wrappers."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

import sim
from scenarios import get_scenario
from scenarios.env_factory import ENV_ARGUMENTS, make_obstacle_reach_env
from sim.env.camera import Camera
from sim.env.env import ObstacleReachEnv
from sim.errors import MAX_MESSAGE_CHARS, InvalidInputError, UnknownNameError

ENV_ID = sim.ENV_IDS[0]


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message.isprintable() and len(message) <= MAX_MESSAGE_CHARS, message
    return message


@pytest.mark.parametrize("make", [
    lambda **kwargs: gym.make(ENV_ID, scenario="empty", **kwargs),
    lambda **kwargs: make_obstacle_reach_env("empty", **kwargs),
    lambda **kwargs: gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync", scenario="empty", **kwargs),
], ids=["gym.make", "factory", "make_vec"])
@pytest.mark.parametrize(("keyword", "closest"), [("max_obstacle", "max_obstacles"), ("rendermode", "render_mode"),
                                                  ("terminate_on_colision", "terminate_on_collision")])
def test_a_misspelled_keyword_is_refused_with_the_closest(make, keyword, closest):
    with pytest.raises(UnknownNameError) as error:
        make(**{keyword: 1})
    message = one_line(error)
    assert f"unknown env keyword argument {keyword!r}" in message and f"Did you mean {closest!r}?" in message
    assert error.value.valid == sorted(ENV_ARGUMENTS)  # every valid keyword, also those the line had to shorten


@pytest.mark.parametrize(("keyword", "value"), [
    ("terminate_on_success", "false"), ("terminate_on_collision", "True"), ("terminate_on_success", 0),
    ("terminate_on_collision", None), ("control_frequency_hz", "20"), ("render_width", "480"),
    ("success_distance_m", "0.01"), ("collision_penalty", "1"), ("max_obstacles", True), ("render_height", False),
    ("control_frequency_hz", True),
])
def test_a_string_or_bool_is_never_taken_for_a_flag_or_a_number(keyword, value):
    with pytest.raises(InvalidInputError, match=keyword) as error:
        make_obstacle_reach_env("empty", **{keyword: value})
    one_line(error)


@pytest.mark.parametrize(("keyword", "value"), [
    ("render_width", 480.5), ("render_height", 360.0), ("max_obstacles", np.float64(8.0)),
])
def test_a_fractional_count_is_refused_not_truncated(keyword, value):
    with pytest.raises(InvalidInputError, match=f"{keyword}: expected an integer") as error:
        make_obstacle_reach_env("empty", **{keyword: value})
    one_line(error)


@pytest.mark.parametrize(("keyword", "value"), [
    ("success_distance_m", -0.01), ("success_distance_m", 0.0), ("success_distance_m", math.inf),
    ("success_angle_rad", math.nan), ("success_angle_rad", -0.1), ("success_angle_rad", 7.0),
    ("orientation_weight_m_per_rad", -0.05), ("collision_penalty", math.inf), ("collision_penalty", -1.0),
    ("render_width", 0), ("render_height", 10**6), ("max_obstacles", 1000), ("max_episode_steps", 10**12),
    ("camera", Camera(distance_m=math.nan)), ("camera", Camera(fov_deg=0.0)), ("camera", "nowhere"),
    ("camera", 3),
])
def test_impossible_or_unbounded_values_are_refused(keyword, value):
    with pytest.raises(InvalidInputError, match="camera" if keyword == "camera" else keyword) as error:
        ObstacleReachEnv(get_scenario("empty"), **{keyword: value})
    one_line(error)


def test_valid_values_of_other_types_are_taken_and_normalised():
    """NumPy numbers and flags are what they say; an integer where a number belongs is that number."""
    env = make_obstacle_reach_env("empty", terminate_on_success=np.bool_(False), render_width=np.int64(64),
                                  success_distance_m=np.float32(0.02), collision_penalty=2, max_episode_steps=7)
    try:
        assert env.terminate_on_success is False and type(env.render_width) is int and env.render_width == 64
        assert type(env.reward_spec.success_distance_m) is float and env.reward_spec.collision_penalty == 2.0
        assert env.max_episode_steps == 7
    finally:
        env.close()


@pytest.fixture
def env():
    environment = gym.make(ENV_ID, scenario="empty", terminate_on_success=False)
    yield environment
    environment.close()


@pytest.mark.parametrize("options", [{"bogus": 1}, {1: 2, "x": 3}, {"scene_index": 0, "scene": None}, ["scene"],
                                     "scene_index"])
def test_bad_reset_options_are_refused_before_anything_changes(options):
    """A refused reset does not even reseed: the next unseeded reset draws what it would have drawn."""
    refused, untouched = gym.make(ENV_ID, scenario="cluttered"), gym.make(ENV_ID, scenario="cluttered")
    try:
        refused.reset(seed=1)
        untouched.reset(seed=1)
        with pytest.raises(InvalidInputError) as error:
            refused.reset(seed=5, options=options)
        one_line(error)
        assert refused.unwrapped.scene == untouched.unwrapped.scene  # the episode goes on
        assert data_equivalence(refused.reset(), untouched.reset(), exact=True)
    finally:
        refused.close()
        untouched.close()


BAD_ACTIONS = {
    "string": "0.1, 0.2, 0.3, 0.4", "dict": {"joint1": 0.1}, "None": None, "list with a string": [0.1, 0.2, 0.3, "x"],
    "object array": np.array([0.1, 0.2, object(), 0.4], dtype=object), "complex": np.full(4, 0.5 + 0.5j),
    "bools": np.array([True, False, True, False]), "short": np.zeros(3), "2-D": np.zeros((1, 4)),
    "nan": [0.0, math.nan, 0.0, 0.0], "inf": np.array([0.0, 0.0, -math.inf, 0.0], dtype=np.float32),
    "ragged": [[0.1], 0.2, 0.3, 0.4], "scalar": 0.5,
}


@pytest.mark.parametrize("name", BAD_ACTIONS)
def test_a_bad_action_is_refused_in_one_line_and_changes_nothing(env, name):
    other = gym.make(ENV_ID, scenario="empty", terminate_on_success=False)
    try:
        env.reset(seed=3)
        other.reset(seed=3)
        action = np.array([0.3, -0.2, 0.4, 0.1], dtype=np.float32)
        env.step(action)
        other.step(action)
        with pytest.raises(InvalidInputError) as error:
            env.step(BAD_ACTIONS[name])
        message = one_line(error)
        assert message.startswith("action: expected 4 finite real numbers, shape (4,), within [-1, 1]"), message
        assert data_equivalence(env.step(-action), other.step(-action), exact=True)  # as if never refused
    finally:
        other.close()


@pytest.mark.parametrize("first", ["seed", "options", "step"])
def test_the_env_goes_on_after_a_refusal_through_gym_makes_wrappers(env, first):
    """The very first call refused (Gymnasium's PassiveEnvChecker used to crash on the next step after a
    refused first reset), then a valid reset and steps, through OrderEnforcing and TimeLimit."""
    if first == "step":
        env.reset(seed=0)
        with pytest.raises(InvalidInputError):
            env.step("forward")
    else:
        with pytest.raises(InvalidInputError):
            env.reset(seed=-1) if first == "seed" else env.reset(seed=0, options={"scene_idx": 1})
    observation, _ = env.reset(seed=0)
    assert observation["observation"].shape == (158,)
    flags = [env.step(np.zeros(4, dtype=np.float32))[2:4] for _ in range(100)]
    assert flags[-1] == (False, True) and not any(any(pair) for pair in flags[:-1])  # TimeLimit counted valid steps

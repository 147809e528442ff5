"""The SB3 VecEnv over HybridVectorEnv: DummyVecEnv's transitions exactly, and an SB3 agent trains on it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="the 'rl' extra (stable-baselines3) is not installed")

from stable_baselines3 import PPO  # noqa: E402 (after the skip)
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

import sim  # noqa: E402
from agents.baselines.vec_env import hybrid_vec_env  # noqa: E402
from sim.errors import InvalidInputError  # noqa: E402


class Make:
    """Picklable env factory: short episodes, collisions end them, so sub-environments reset at different steps."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self) -> gym.Env:
        return gym.make(sim.ENV_IDS[0], scenario="cluttered", max_episode_steps=12 + 3 * self.index,
                        terminate_on_collision=True)


def equal(a, b) -> bool:
    """Exact equality of SB3 results: arrays by dtype, shape and bits; dicts (as mappings: a terminal
    observation lists its keys in the observation space's order) and lists recursively."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and a.tobytes() == b.tobytes())
    if isinstance(a, dict):
        return isinstance(b, dict) and set(a) == set(b) and all(equal(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and (a == b or (a != a and b != b))  # NaN equals NaN


def record(envs, steps: int) -> list:
    envs.seed(11)
    records = [envs.reset(), [dict(info) for info in envs.reset_infos]]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        envs.step_async(rng.uniform(-1.0, 1.0, (envs.num_envs, 4)).astype(np.float32))
        records.append(envs.step_wait())
        records.append([dict(info) for info in envs.reset_infos])
    envs.close()
    return records


def test_the_same_transitions_as_dummyvecenv_through_episode_ends():
    fns = [Make(index) for index in range(3)]
    expected = record(DummyVecEnv(fns), 45)
    got = record(hybrid_vec_env(fns, num_processes=2), 45)
    for index, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert equal(a, b), f"record {index} differs"
    dones = np.array([record[2] for record in expected[2::2]])
    assert dones.sum(axis=0).min() >= 2, "every sub-environment must end episodes within the compared steps"
    assert any("terminal_observation" in info for record in expected[2::2] for info in record[3])


def test_the_vecenv_interface():
    envs = hybrid_vec_env([lambda: Monitor(Make(0)())] * 4, num_processes=2)
    try:
        assert envs.num_envs == 4 and envs.venv.process_groups == (range(0, 2), range(2, 4))
        assert envs.get_attr("max_obstacles", indices=[1, 3]) == [8, 8]
        envs.set_attr("marker_test", 5, indices=2)
        assert envs.get_attr("marker_test") == [None, None, 5, None]
        with pytest.raises(InvalidInputError, match="reset"):
            envs.env_method("joint_positions", indices=[0])  # no world before reset: the env says so
        assert envs.env_is_wrapped(Monitor) == [True] * 4 and envs.env_is_wrapped(DummyVecEnv, indices=1) == [False]
        envs.reset()
        assert [q.shape for q in envs.env_method("joint_positions", indices=[0, 3])] == [(4,), (4,)]
    finally:
        envs.close()


def test_ppo_learns_on_it():
    envs = hybrid_vec_env([Make(0)] * 4, num_processes=2)
    try:
        model = PPO("MultiInputPolicy", envs, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
        model.learn(total_timesteps=256)
        assert model.num_timesteps == 256
        action, _ = model.predict(envs.reset(), deterministic=True)
        assert action.shape == (4, 4)
    finally:
        envs.close()

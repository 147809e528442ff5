"""HybridVectorEnv: Gymnasium's vector API, and the same episodes as SyncVectorEnv for the same seeds."""

from __future__ import annotations

import os
import pickle

import gymnasium as gym
import numpy as np
import pytest

import sim
from sim.env.vector import SPIN_S, HybridVectorEnv
from sim.errors import InvalidInputError

ENV_ID = sim.ENV_IDS[0]


class Make:
    """Picklable env factory (workers may be spawned)."""

    def __init__(self, scenario: str = "cluttered", **kwargs) -> None:
        self.scenario, self.kwargs = scenario, kwargs

    def __call__(self) -> gym.Env:
        return gym.make(ENV_ID, scenario=self.scenario, **self.kwargs)


class Failing(gym.Wrapper):
    """Raises from step number ``when`` on."""

    def __init__(self, env: gym.Env, when: int) -> None:
        super().__init__(env)
        self.when, self.steps = when, 0

    def step(self, action):
        self.steps += 1
        if self.steps >= self.when:
            raise ValueError(f"failing on purpose at step {self.steps}")
        return self.env.step(action)


class Pid(gym.Wrapper):
    """Passes everything through; ``pid()`` tells the process the sub-environment runs in."""

    def pid(self) -> int:
        return os.getpid()


class MakeWithPid(Make):
    def __call__(self) -> gym.Env:
        return Pid(super().__call__())


def same(a, b) -> bool:
    """Exact equality of results: types, key order, dtypes, shapes and bits (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype == object:
            return all(same(x, y) for x, y in zip(a.flat, b.flat, strict=True))
        return a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return pickle.dumps(a) == pickle.dumps(b)  # bit for bit, NaN included
    return a == b


def run(vector_class, fns, seed, steps: int, action_seed: int = 0, **kwargs) -> list:
    envs = vector_class(fns, **kwargs)
    try:
        rng = np.random.default_rng(action_seed)
        records = [envs.reset(seed=seed)]
        for step in range(steps):
            actions = rng.uniform(-1.0, 1.0, (envs.num_envs, 4))  # float64 on odd steps: pickled to the workers
            records.append(envs.step(actions.astype(np.float32) if step % 2 == 0 else actions))
        records.append(envs.reset(seed=[None if i == 1 else seed + 10 * (i + 1) for i in range(envs.num_envs)]))
        for _ in range(5):
            records.append(envs.step(np.zeros((envs.num_envs, 4), dtype=np.float32)))
        return records
    finally:
        envs.close()


@pytest.mark.parametrize(("scenario", "count", "processes"),
                         [("cluttered", 2, None), ("dynamic", 3, None), ("cluttered", 5, 2), ("single", 3, 1)])
def test_same_seeds_give_syncvectorenvs_episodes_exactly_through_autoresets(scenario, count, processes):
    """Short episodes (TimeLimit 15, collisions terminate) so sub-environments autoreset at
    different steps; observations, rewards, flags and merged infos are bit-identical, with one
    sub-environment per process or several (5 over 2 processes: groups of 3 and 2; all in this one)."""
    fns = [Make(scenario, max_episode_steps=15 + 4 * i, terminate_on_collision=True) for i in range(count)]
    expected = run(gym.vector.SyncVectorEnv, fns, seed=7, steps=60)
    got = run(HybridVectorEnv, fns, seed=7, steps=60, num_processes=processes)
    assert len(got) == len(expected)
    for index, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert same(a, b), f"record {index} differs"
    flags = np.array([np.logical_or(record[2], record[3]) for record in expected[1:61]])
    assert flags.any(axis=0).all(), "every sub-environment must end an episode within the compared steps"
    assert any(record[-1]["collided"].any() for record in expected[1:61]), "the compared steps must include contacts"


def test_the_vector_api_as_gymnasium_defines_it():
    envs = HybridVectorEnv([Make("single")] * 2)
    reference = gym.vector.SyncVectorEnv([Make("single")] * 2)
    try:
        assert envs.num_envs == 2 and envs.observation_space == reference.observation_space
        assert envs.action_space == reference.action_space
        assert envs.single_observation_space == reference.single_observation_space
        assert envs.single_action_space == reference.single_action_space
        assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
        observations, infos = envs.reset(seed=[4, 9])
        assert observations in envs.observation_space
        assert envs.np_random_seed == (4, 9)
        assert envs.get_attr("max_obstacles") == (8, 8)
        assert envs.call("joint_positions")[1].shape == (4,)
        envs.set_attr("collision_penalty_test", [1, 2])
        assert envs.get_attr("collision_penalty_test") == (1, 2)
        envs.action_space.seed(0)
        result = envs.step(envs.action_space.sample())
        assert [type(item) for item in result] == [dict, np.ndarray, np.ndarray, np.ndarray, dict]
        assert result[1].dtype == np.float64 and result[2].dtype == result[3].dtype == np.bool_
        with pytest.raises(ValueError, match="num_envs=2"):
            envs.reset(seed=[1, 2, 3])
        with pytest.raises(ValueError, match="2 sub-environments"):
            envs.step(np.zeros((3, 4), dtype=np.float32))
        envs.step(np.zeros((2, 4), dtype=np.float32))  # the protocol is still in step after the refusals
    finally:
        envs.close()
        reference.close()
    envs.close()  # idempotent
    with pytest.raises(InvalidInputError, match="closed"):
        envs.step(np.zeros((2, 4), dtype=np.float32))
    assert all(not process.is_alive() for process in envs._processes)


@pytest.mark.parametrize(("processes", "mask"), [(None, [False, True]), (2, [False, True, True, False])])
def test_reset_mask_resets_only_the_chosen_sub_environments(processes, mask):
    """One sub-environment per process, and a mask reaching into both groups of two."""
    count = len(mask)
    fns = [Make("single")] * count
    got, expected = HybridVectorEnv(fns, num_processes=processes), gym.vector.SyncVectorEnv(fns)
    try:
        for envs in (got, expected):
            envs.reset(seed=1)
            envs.step(np.full((count, 4), 0.3, dtype=np.float32))
        options = {"reset_mask": np.array(mask)}
        assert same(got.reset(seed=5, options=dict(options)), expected.reset(seed=5, options=dict(options)))
        action = np.full((count, 4), -0.2, dtype=np.float32)
        assert same(got.step(action), expected.step(action))
    finally:
        got.close()
        expected.close()


@pytest.mark.parametrize(("count", "processes"), [(2, None), (4, 2)])
def test_a_workers_exception_is_raised_here_and_close_still_works(count, processes):
    fns = [Make("single")] * (count - 1) + [lambda: Failing(gym.make(ENV_ID, scenario="single"), when=2)]
    envs = HybridVectorEnv(fns, num_processes=processes)
    envs.reset(seed=0)
    envs.step(np.zeros((count, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="failing on purpose at step 2"):
        envs.step(np.zeros((count, 4), dtype=np.float32))
    envs.close()
    assert all(not process.is_alive() for process in envs._processes)


def test_spawned_workers_and_other_spaces_refused():
    envs = HybridVectorEnv([Make("empty")] * 2, context="spawn")
    try:
        observations, _ = envs.reset(seed=2)
        reference, _ = gym.vector.SyncVectorEnv([Make("empty")] * 2).reset(seed=2)
        assert same(observations, reference)
    finally:
        envs.close()
    with pytest.raises(InvalidInputError, match="other observation or action spaces"):
        HybridVectorEnv([Make("empty"), Make("empty", max_obstacles=4)])


def test_gymnasiums_vector_wrappers_see_the_same_episodes():
    fns = [Make("single", max_episode_steps=5)] * 2
    statistics = []
    for vector_class in (HybridVectorEnv, gym.vector.SyncVectorEnv):
        envs = gym.wrappers.vector.RecordEpisodeStatistics(vector_class(fns))
        envs.reset(seed=3)
        returns = []
        for _ in range(12):
            *_, info = envs.step(np.full((2, 4), 0.1, dtype=np.float32))
            if "episode" in info:
                returns.append(info["episode"]["r"].tolist())
        envs.close()
        statistics.append(returns)
    assert statistics[0] == statistics[1] and len(statistics[0]) == 2


def test_sub_environments_grouped_over_processes():
    """Four sub-environments over two processes: two each, this process the first two; the vector API
    addresses every sub-environment."""
    envs = HybridVectorEnv([MakeWithPid("single")] * 4, num_processes=2)
    try:
        assert envs.process_groups == (range(0, 2), range(2, 4)) and len(envs._processes) == 1
        envs.reset(seed=[3, 4, 5, 6])
        assert envs.np_random_seed == (3, 4, 5, 6)
        envs.set_attr("marker_test", [10, 11, 12, 13])
        assert envs.get_attr("marker_test") == (10, 11, 12, 13)
        pids = envs.call("pid")
        assert pids[0] == pids[1] == os.getpid() and pids[2] == pids[3] != os.getpid()
    finally:
        envs.close()
    assert all(not process.is_alive() for process in envs._processes)


@pytest.mark.parametrize("processes", [0, 3, -1, 1.5, True, "2"])
def test_a_bad_process_count_is_refused_in_one_line(processes):
    with pytest.raises(InvalidInputError, match=r"num_processes must be an integer in 1\.\.2"):
        HybridVectorEnv([Make("empty")] * 2, num_processes=processes)


@pytest.mark.parametrize("spin", [-0.1, 1.0, "0.1", True, float("nan")])
def test_a_bad_spin_is_refused_in_one_line(spin):
    with pytest.raises(InvalidInputError, match=r"spin_s must be seconds in \[0, 1\)"):
        HybridVectorEnv([Make("empty")] * 2, spin_s=spin)


def test_processes_poll_only_when_each_has_a_core():
    cores = len(os.sched_getaffinity(0))
    envs = HybridVectorEnv([Make("empty")] * (cores + 1))  # a process per sub-environment: more than the cores
    try:
        assert envs.spin_s == 0.0
    finally:
        envs.close()
    envs = HybridVectorEnv([Make("empty")] * (cores + 1), num_processes=cores)
    try:
        assert envs.spin_s == SPIN_S > 0.0
        envs.reset(seed=0)
        envs.step(np.zeros((cores + 1, 4), dtype=np.float32))
    finally:
        envs.close()


def test_gym_make_vec_builds_it_over_the_cores_with_syncs_episodes():
    kwargs = {"num_envs": 3, "scenario": "single", "max_episode_steps": 6}
    envs = gym.make_vec(ENV_ID, **kwargs)
    reference = gym.make_vec(ENV_ID, vectorization_mode="sync", **kwargs)
    try:
        assert isinstance(envs, HybridVectorEnv)
        assert envs.num_processes == min(3, len(os.sched_getaffinity(0)))
        assert same(envs.reset(seed=2), reference.reset(seed=2))
        for step in range(8):  # through the TimeLimit's autoreset
            action = np.full((3, 4), 0.1 * (step % 3) - 0.1, dtype=np.float32)
            assert same(envs.step(action), reference.step(action)), f"step {step} differs"
    finally:
        envs.close()
        reference.close()
    with pytest.raises(InvalidInputError, match="num_envs must be a positive integer"):
        gym.make_vec(ENV_ID, num_envs=0, scenario="single")


def test_a_failing_env_fn_here_closes_the_sub_environments_already_made():
    closed = []

    class Closing(gym.Wrapper):
        def close(self):
            closed.append(True)
            super().close()

    def failing():
        raise ValueError("cannot make this one")

    with pytest.raises(ValueError, match="cannot make this one"):
        HybridVectorEnv([lambda: Closing(gym.make(ENV_ID, scenario="empty")), failing, Make("empty")], num_processes=2)
    assert closed == [True]


def test_an_exception_here_or_in_a_worker_leaves_the_protocol_in_step():
    """Every worker's answer is read before an error is raised: the next command gets its own answer."""
    envs = HybridVectorEnv([Make("empty")] * 4, num_processes=2)
    try:
        for _ in range(2):
            with pytest.raises(AttributeError, match="no_such_attribute"):
                envs.get_attr("no_such_attribute")  # raised here and in the worker
        assert envs.get_attr("max_obstacles") == (8, 8, 8, 8)
        with pytest.raises(InvalidInputError, match="reset"):
            envs.call("joint_positions")  # no world before reset: raised in both processes
        envs.reset(seed=1)
        assert [q.shape for q in envs.call("joint_positions")] == [(4,)] * 4
    finally:
        envs.close()

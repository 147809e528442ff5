"""The RL baseline: short SAC (+HER) and PPO runs train, save, reload and act through the policy
interface; HER relabels with the env's compute_reward; a missing extra is one clear line."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sim.errors import CheckpointError, DependencyNotInstalled, UnknownNameError

REPO = Path(__file__).resolve().parents[3]


def _missing_sb3(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [name for name in sys.modules if name.split(".")[0] == "stable_baselines3"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # makes ``import stable_baselines3`` raise


def test_missing_sb3_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from agents.baselines import rl, rl_policy
    from agents.policies import make_policy, validate_policy_name

    _missing_sb3(monkeypatch)
    name = f"rl:sac:{tmp_path / 'agent.zip'}"
    for call in (validate_policy_name, make_policy, rl_policy.validate_name):
        with pytest.raises(DependencyNotInstalled, match=r"pip install '\.\[rl\]'"):
            call(name)
    assert rl.main(["train", "--steps", "10", "--out", str(tmp_path / "agent")]) == 2


pytest.importorskip("stable_baselines3", reason="the 'rl' extra (stable-baselines3) is not installed")

from agents.baselines.rl import TrainConfig, build_model, load_agent, make_env, train  # noqa: E402 (after the skip)
from agents.baselines.rl_policy import RLPolicy, make_rl_policy, parse_rl_name, validate_name  # noqa: E402

TINY = {"net_arch": (32, 32), "batch_size": 32, "max_episode_steps": 20, "eval_every": 0, "eval_episodes": 2}


@pytest.fixture(scope="module")
def sac_agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SAC+HER agent after a 240-step run (the first 80 steps random)."""
    out = tmp_path_factory.mktemp("sac") / "agent"
    result = train(TrainConfig(algorithm="sac", total_steps=240, learning_starts=80, **TINY), out, progress=False)
    return result.model_path


def test_sac_her_training_saves_a_loadable_agent(sac_agent: Path) -> None:
    assert sac_agent.is_file() and sac_agent.with_suffix(".json").is_file()
    assert sac_agent.stat().st_size < 2_000_000
    model, config = load_agent(sac_agent)
    assert type(model).__name__ == "SAC" and config.her and config.action_mode == "delta"
    assert set(model.observation_space.spaces) == {"observation", "achieved_goal", "desired_goal"}


@pytest.mark.parametrize("reward_type", ["sparse", "dense"])
def test_her_relabels_with_compute_reward(reward_type: str) -> None:
    from stable_baselines3 import HerReplayBuffer

    config = TrainConfig(algorithm="sac", total_steps=60, learning_starts=60, reward_type=reward_type, **TINY)
    env = make_env(config)
    model = build_model(config, env)
    try:
        assert isinstance(model.replay_buffer, HerReplayBuffer)
        model.learn(60)
        batch = model.replay_buffer.sample(512)
        achieved = batch.next_observations["achieved_goal"].numpy()
        desired = batch.observations["desired_goal"].numpy()
        rewards = batch.rewards.numpy().ravel()
        # Relabelled goals: many sampled transitions succeed although a random policy almost never does.
        assert env.unwrapped.reward_spec.is_success(achieved, desired).mean() > 0.05
        # The stored reward is compute_reward's, minus the collision penalty where the arm touched
        # (relabelled transitions keep it too: HER stores each transition's collided flag).
        expected = env.unwrapped.compute_reward(achieved, desired, None)
        penalty = config.collision_penalty
        assert np.all(np.isclose(rewards, expected, atol=1e-5) | np.isclose(rewards, expected - penalty, atol=1e-5))
    finally:
        env.close()


def test_ppo_training_saves_reloads_and_acts(tmp_path: Path) -> None:
    config = TrainConfig(algorithm="ppo", total_steps=64, ppo_rollout_steps=64, **TINY)
    result = train(config, tmp_path / "ppo", progress=False)
    policy = make_rl_policy(f"rl:ppo:{result.model_path}")
    _act_through_the_env(policy)


@pytest.mark.parametrize("algorithm", ["sac", "ppo"])
def test_training_on_several_sub_environments_over_processes(tmp_path: Path, algorithm: str) -> None:
    """num_envs 3 (HybridVectorEnv over the cores, HER's infos kept slim): steps and evaluations count
    over all sub-environments, the agent saves, reloads and acts."""
    config = TrainConfig(algorithm=algorithm, total_steps=150, learning_starts=75, ppo_rollout_steps=96, num_envs=3,
                         **{**TINY, "eval_every": 50})  # HER samples once every sub-environment ended an episode
    result = train(config, tmp_path / algorithm, progress=False)
    assert [point.step for point in result.curve][:2] == [51, 102]  # evaluations although 50 is no multiple of 3
    assert result.steps == (150 if algorithm == "sac" else 192)  # PPO: whole rollouts of 32 x 3 steps
    model, loaded = load_agent(result.model_path)
    assert loaded.num_envs == 3
    _act_through_the_env(make_rl_policy(f"rl:{algorithm}:{result.model_path}"))


def test_policy_actions_match_the_env_mapping(sac_agent: Path) -> None:
    from agents.ik_policy.interface import PolicyContext

    policy = make_rl_policy(f"rl:sac:{sac_agent}")
    _act_through_the_env(policy)
    env = make_env(policy.config)  # delta actions, as trained
    try:
        observation, _ = env.reset(seed=3)
        policy.reset(PolicyContext.from_env(env.unwrapped))
        for _ in range(5):
            action, _ = policy.model.predict(observation, deterministic=True)
            target = policy.act(observation)
            np.testing.assert_allclose(target, env.unwrapped.action_to_joint_targets(action), atol=1e-6)
            observation, *_ = env.step(action)
        assert policy.ik_seconds > 0.0
    finally:
        env.close()


def _act_through_the_env(policy: RLPolicy) -> None:
    """Drive the default (absolute-action) env, as run_sim.py does, for a few steps."""
    import gymnasium as gym

    import sim
    from agents.ik_policy.interface import PolicyContext

    env = gym.make(sim.ENV_IDS[0], scenario="single", max_episode_steps=10)
    try:
        observation, _ = env.reset(seed=0)
        base = env.unwrapped
        policy.reset(PolicyContext.from_env(base))
        for _ in range(10):
            target = policy.act(observation)
            assert target.shape == (4,) and np.all(np.isfinite(target))
            observation, _, terminated, truncated, _ = env.step(base.joint_targets_to_action(target))
            if terminated or truncated:
                break
        assert not policy.done and policy.episode_info()["planner_candidate"].endswith("policy")
    finally:
        env.close()
        policy.close()


def test_runner_evaluates_the_agent(sac_agent: Path) -> None:
    from evaluation.runner import EpisodeWorker

    worker = EpisodeWorker()
    try:
        row = worker.run("single", f"rl:sac:{sac_agent}", 0, 0, 20).row
    finally:
        worker.close()
    assert row["ik_time_ms"] > 0 and row["steps"] >= 1


def test_bad_names_and_files(tmp_path: Path) -> None:
    assert parse_rl_name("rl:sac:some/agent") == ("sac", Path("some/agent.zip"))
    for name in ("rl:dqn:agent.zip", "rl:sac", "rl::agent.zip"):
        with pytest.raises(UnknownNameError, match="valid choices"):
            validate_name(name)
    with pytest.raises(CheckpointError, match="does not exist"):
        validate_name(f"rl:sac:{tmp_path / 'missing.zip'}")
    bogus = tmp_path / "bogus.zip"
    with zipfile.ZipFile(bogus, "w") as archive:
        archive.writestr("hello.txt", "not an agent")
    with pytest.raises(CheckpointError, match="not a stable-baselines3"):
        make_rl_policy(f"rl:sac:{bogus}")


def test_shipped_agent_reaches_fresh_goals_on_single() -> None:
    """The shipped SAC agent on 30 episodes of seeds it was neither trained nor evaluated on
    (94% over 100 evaluation episodes when shipped; 70% leaves room for sampling noise)."""
    import gymnasium as gym

    import assets
    import sim

    model, config = load_agent(assets.RL_AGENT_PATH)
    env = gym.make(sim.ENV_IDS[0], max_episode_steps=config.max_episode_steps, **config.env_kwargs())
    reached = []
    try:
        for episode in range(30):
            observation, _ = env.reset(seed=5_000_000 + episode)
            success, done = False, False
            while not (done or success):
                action, _ = model.predict(observation, deterministic=True)
                observation, _, terminated, truncated, info = env.step(action)
                success, done = bool(info["is_success"]), terminated or truncated
            reached.append(success)
    finally:
        env.close()
    assert np.mean(reached) >= 0.7, np.mean(reached)

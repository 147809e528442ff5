"""The Gymnasium environment: API checkers, determinism, collisions and clearances, resources,
rendering, wrappers, vector envs, goal-conditioned reward."""

from __future__ import annotations

import doctest
import math
import pickle
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pybullet
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import sim
import sim.env.env
from scenarios import get_scenario, scenario_names
from sim.env.env import CLEARANCE_HORIZON_M
from sim.errors import InvalidInputError, UnknownNameError
from sim.robot.cad import BOUND_SLACK_M
from sim.robot.kinematics import JOINT_LIMITS, forward_kinematics
from sim.scene.obstacles import Obstacle, Scene

ENV_ID = sim.ENV_IDS[0]
ROBOT_LINKS = {"link1", "link2", "link3", "link4", "link5", "end_effector_link", "gripper_left_link",
               "gripper_right_link"}


def make(scenario: str = "cluttered", **kwargs) -> gym.Env:
    return gym.make(ENV_ID, scenario=scenario, **kwargs)


def test_the_env_is_registered_by_string_entry_point():
    assert sim.ENV_IDS == ("OpenManipulatorX-ObstacleReach-v0",)
    spec = gym.spec(ENV_ID)
    assert spec.entry_point == "scenarios.env_factory:make_obstacle_reach_env" and spec.max_episode_steps == 100


@pytest.mark.parametrize("scenario", scenario_names())
def test_both_env_checkers_pass(scenario):
    env = make(scenario, render_mode="rgb_array")
    try:
        check_env(env.unwrapped)  # rendering included: every declared render mode is created and rendered
        sb3_check_env(env.unwrapped)
    finally:
        env.close()


def run_episode(seed: int, scenario: str, steps: int = 200) -> list[tuple]:
    env = make(scenario, max_episode_steps=steps, terminate_on_success=False)
    env.action_space.seed(seed)
    records = [env.reset(seed=seed)]
    for _ in range(steps):
        records.append(env.step(env.action_space.sample()))
    env.close()
    return records


@pytest.mark.parametrize("scenario", ["cluttered", "dynamic"])
def test_same_seed_same_episode_exactly(scenario):
    first, second = run_episode(11, scenario), run_episode(11, scenario)
    assert len(first) == len(second) == 201
    for a, b in zip(first, second, strict=False):
        assert data_equivalence(a, b, exact=True)
    contacts = [record[-1]["contacts"] for record in first[1:]]
    assert any(contacts), "the compared episode must include contacts"
    assert first[-1][2] is False and first[-1][3] is True  # truncated by TimeLimit at 200, not terminated


def episode_records(env: gym.Env, seed: int, steps: int = 100) -> list[tuple]:
    env.action_space.seed(seed)
    return [env.reset(seed=seed)] + [env.step(env.action_space.sample()) for _ in range(steps)]


def test_a_seed_fixes_the_episode_whatever_ran_before(monkeypatch):
    """One env runs other episodes first (its client kept, then renewed): the same seed and
    actions give exactly a fresh env's episode. (Without sorted overlapping pairs in the reused
    client, episode 13 after episodes 1 and 2 differs.)"""
    monkeypatch.setattr(sim.env.env, "EPISODES_PER_CLIENT", 3)
    expected = {}
    for seed in (13, 15):
        fresh = make("cluttered", max_episode_steps=100, terminate_on_success=False)
        expected[seed] = episode_records(fresh, seed)
        fresh.close()
    env = make("cluttered", max_episode_steps=100, terminate_on_success=False)
    worlds = []
    for seed in (1, 2, 13, 4, 15):  # 13: third episode of the first client; 15: second of the next one
        records = episode_records(env, seed)
        worlds.append(env.unwrapped.world)
        if seed in expected:
            assert data_equivalence(records, expected[seed], exact=True), f"episode {seed} depends on the history"
            assert any(record[-1]["contacts"] for record in records[1:]), "the compared episode must include contacts"
    env.close()
    assert worlds[0] is worlds[1] is worlds[2] and worlds[3] is worlds[4] and worlds[2] is not worlds[3]


def test_a_reset_frees_the_previous_episodes_snapshots():
    env = make("single").unwrapped
    env.reset(seed=0)
    state = env.save_state()
    world = env.world
    env.reset(seed=1)
    assert env.world is world
    with pytest.raises(pybullet.error):
        world.restore_state(state)
    env.close()


def test_the_per_step_fast_paths_compute_the_reference_formulas(rng):
    """Observation packing, goal errors, reward and action mapping of one step (Python floats)
    against the vectorised functions they replace, bit for bit."""
    from sim.env.env_spaces import (
        ObservationPacker,
        RewardSpec,
        action_to_joint_targets,
        goal_errors,
        goal_errors_single,
        observation_bounds,
        pack_observation,
    )

    bounds = observation_bounds(8)
    packer = ObservationPacker(bounds)
    for _ in range(200):
        q, qd, ee, goal = rng.normal(size=4) * 2, rng.normal(size=4) * 6, rng.normal(size=7), rng.normal(size=7)
        features = rng.normal(size=8 * 17)
        packer.set_scene(goal, features)
        assert data_equivalence(packer.pack(q, qd, ee), pack_observation(q, qd, ee, goal, features, bounds),
                                exact=True)
        achieved, desired = rng.normal(size=7).astype(np.float32), rng.normal(size=7).astype(np.float32)
        if rng.random() < 0.3:
            desired[3:] = -achieved[3:]  # the same rotation, negated quaternion
        position_error, angle = goal_errors(achieved, desired)
        assert goal_errors_single(achieved, desired) == (float(position_error), float(angle))
        for spec in (RewardSpec("dense"), RewardSpec("sparse", success_distance_m=1.0, success_angle_rad=3.0)):
            for collided in (False, True):
                assert spec.step_reward(float(position_error), float(angle), collided) == float(
                    spec.reward_from_errors(position_error, angle, float(collided)))
        action = rng.uniform(-1.5, 1.5, 4)
        low, high = JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1]
        clipped = np.clip(action, -1.0, 1.0)
        np.testing.assert_array_equal(action_to_joint_targets(action, "absolute", None, 0.24),
                                      np.clip(low + (clipped + 1.0) * 0.5 * (high - low), low, high))
        np.testing.assert_array_equal(action_to_joint_targets(action, "delta", q, 0.24),
                                      np.clip(q + clipped * 0.24, low, high))


def test_different_seeds_give_different_scenes():
    env = make("cluttered")
    scenes = set()
    for seed in range(10):
        env.reset(seed=seed)
        scenes.add(env.unwrapped.scene)
    env.close()
    assert len(scenes) == 10


def collision_scene(kind: str) -> tuple[Scene, np.ndarray]:
    """A scene with one obstacle of ``kind`` where the gripper will be, and the joints to drive to."""
    start, target = np.array([0.0, -0.6, 0.2, 0.3]), np.array([0.0, 0.3, 0.2, 0.3])
    size = {"sphere": (0.03,), "box": (0.03, 0.06, 0.03), "cylinder": (0.03, 0.05)}[kind]
    obstacle = Obstacle("block", kind, size, tuple(forward_kinematics(target)[:3]))
    return Scene((obstacle,), tuple(start), tuple(target), "test"), target


@pytest.mark.parametrize("physics", ["none", "bound"])
@pytest.mark.parametrize("kind", ["sphere", "box", "cylinder"])
def test_driving_into_an_obstacle_reports_the_collision(kind, physics):
    scene, target = collision_scene(kind)
    env = make("empty", terminate_on_success=False, contact_physics=physics)
    _, info = env.reset(seed=0, options={"scene": scene})
    assert not info["collided"] and info["contacts"] == ()
    action = env.unwrapped.joint_targets_to_action(target)
    infos = [env.step(action)[-1] for _ in range(30)]
    reached = env.unwrapped.joint_positions()
    env.close()
    touching = [info for info in infos if info["collided"]]
    assert touching, "driving the gripper into the obstacle must collide"
    contacts = [contact for info in touching for contact in info["contacts"]]
    assert {contact.body for contact in contacts} == {"block"}
    assert {contact.link for contact in contacts} <= ROBOT_LINKS
    if physics == "bound":  # the spheres push: the arm is stopped short of its target
        assert max(contact.normal_force_n for contact in contacts) > 0
        assert np.abs(reached - target).max() > 0.01
    else:  # nothing pushes: the arm reaches its target through the obstacle; the CAD's points lie in it
        assert all(contact.normal_force_n == 0.0 for contact in contacts)
        assert np.abs(reached - target).max() < 1e-3
        centre = np.array(scene.obstacles[0].position)
        for contact in contacts:
            offset = np.array(contact.position) - centre
            assert np.linalg.norm(contact.normal) == pytest.approx(1.0)
            assert np.linalg.norm(offset) <= max(scene.obstacles[0].size) * 1.8 + 1e-3  # within the obstacle's reach
    # Contacts are the CAD's: PyBullet's points on the bound, measured again on the meshes.
    assert all(contact.distance_m <= 0.0 for contact in contacts)
    assert all(info["bound_contacts"] for info in touching)  # the bound encloses the meshes
    # Before contact, the sphere bound and PyBullet (on the same spheres) agree (collision.py:
    # 1e-6 m for spheres and boxes, ~3e-5 m for cylinders); the CAD lies beyond the bound.
    tolerance = 5e-5 if kind == "cylinder" else 2e-6
    for info in infos[: infos.index(touching[0])]:
        if info["bound_clearance_m"] < CLEARANCE_HORIZON_M:  # PyBullet is asked only about pairs this near
            assert abs(info["bound_clearance_m"] - info["pybullet_clearance_m"]) < tolerance
        assert info["min_clearance_m"] >= info["bound_clearance_m"] - BOUND_SLACK_M
        assert info["closest_obstacle"] == "block" and info["closest_link"] in ROBOT_LINKS


def test_terminate_on_collision_ends_the_episode():
    scene, target = collision_scene("box")
    env = make("empty", terminate_on_collision=True, terminate_on_success=False)
    env.reset(seed=0, options={"scene": scene})
    action = env.unwrapped.joint_targets_to_action(target)
    for _ in range(30):
        _, reward, terminated, _, info = env.step(action)
        if info["collided"]:
            break
    env.close()
    assert terminated and info["collided"] and reward <= -1.0  # the collision penalty applies


def test_sphere_model_and_pybullet_clearances_agree_along_random_episodes():
    env = make("cluttered", max_episode_steps=150, terminate_on_success=False)
    compared = 0
    for seed in range(3):
        env.reset(seed=seed)
        env.action_space.seed(seed)
        for _ in range(150):
            *_, info = env.step(env.action_space.sample())
            spheres, bullet = info["bound_clearance_m"], info["pybullet_clearance_m"]
            assert info["min_clearance_m"] >= spheres - BOUND_SLACK_M  # the bound encloses the CAD
            if spheres >= CLEARANCE_HORIZON_M:  # PyBullet is asked only about pairs within the horizon
                assert bullet == math.inf
            elif spheres > 1e-3:  # penetration depths are defined differently; compare clearances
                assert abs(spheres - bullet) < 5e-5, (spheres, bullet)
                compared += 1
            if info["min_clearance_m"] < -1e-4:
                assert info["collided"], "overlapping solids must be reported as a collision"
            if info["collided"]:
                assert info["bound_contacts"], "a CAD contact is a contact of the bound that encloses it"
    env.close()
    assert compared > 200


@pytest.mark.parametrize("mode", ["numpy", "pybullet"])
def test_clearance_modes_measure_what_they_say(mode):
    both, single = make("cluttered", max_episode_steps=20), make("cluttered", max_episode_steps=20, clearance=mode)
    for env in (both, single):
        env.reset(seed=3)
        env.action_space.seed(3)
    for _ in range(20):
        action = both.action_space.sample()
        *_, reference = both.step(action)
        *_, info = single.step(action)
        assert info["collided"] == reference["collided"]  # contacts always come from PyBullet and the CAD
        if mode == "numpy":
            assert info["min_clearance_m"] == reference["min_clearance_m"] and math.isnan(info["pybullet_clearance_m"])
        else:
            assert math.isnan(info["min_clearance_m"]) and math.isnan(info["bound_clearance_m"])
            assert info["closest_link"] == ""
            if reference["pybullet_clearance_m"] < math.inf:
                assert info["pybullet_clearance_m"] == pytest.approx(reference["pybullet_clearance_m"], abs=1e-9)
    both.close()
    single.close()
    with pytest.raises(UnknownNameError, match="clearance mode"):
        make("empty", clearance="exact")


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 1e6


def connected_clients() -> int:
    return sum(pybullet.getConnectionInfo(client)["isConnected"] for client in range(64))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_resets_and_steps_do_not_grow_memory_or_clients():
    env = make("narrow")  # obstacles every episode, the cheapest scenario to sample
    for seed in range(100):  # warm-up: allocator pools, numba, caches
        env.reset(seed=seed)
        env.step(env.action_space.sample())
    before, clients = rss_mb(), connected_clients()
    for seed in range(2000):
        env.reset(seed=seed)
        env.step(env.action_space.sample())
    assert connected_clients() == clients == 1
    env.close()
    assert connected_clients() == 0
    assert rss_mb() - before < 15.0, f"memory grew by {rss_mb() - before:.1f} MB over 2000 resets"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_creating_and_closing_many_envs_frees_everything():
    def cycle() -> None:
        env = make("single")
        env.reset(seed=0)
        env.step(env.action_space.sample())
        env.close()

    for _ in range(20):
        cycle()
    before = rss_mb()
    for _ in range(200):
        cycle()
    assert connected_clients() == 0
    assert rss_mb() - before < 10.0, f"memory grew by {rss_mb() - before:.1f} MB over 200 envs"
    env = make("single")
    env.close()
    env.close()  # closing twice is allowed; closing before reset too


def test_rgb_frames_have_the_declared_shape_show_the_arm_and_follow_it():
    env = make("single", render_mode="rgb_array", render_width=160, render_height=120,
               terminate_on_success=False)
    env.reset(seed=3)
    first = env.render()
    assert first.shape == (120, 160, 3) and first.dtype == np.uint8
    assert first.std() > 10, "the frame must not be blank"
    start = env.unwrapped.joint_positions()
    away = np.clip(start + np.array([1.5, 0.6, -0.6, 0.5]), JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1])
    for _ in range(10):
        env.step(env.unwrapped.joint_targets_to_action(away))
    second = env.render()
    env.close()
    assert np.mean(np.any(first != second, axis=-1)) > 0.01, "the frame must change when the arm moves"
    assert make("single").unwrapped.render() is None  # no render mode: nothing to draw


def test_human_mode_without_a_display_fails_cleanly(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(InvalidInputError, match="display"):
        make("empty", render_mode="human")


def test_gymnasium_wrappers_work(tmp_path):
    env = gym.wrappers.FlattenObservation(make("cluttered", max_episode_steps=5, terminate_on_success=False))
    observation, _ = env.reset(seed=0)
    assert observation.shape == (158 + 7 + 7,) and observation in env.observation_space
    for step in range(5):  # noqa: B007  (step is checked after the loop)
        observation, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert observation in env.observation_space and not terminated
    assert truncated and step == 4  # TimeLimit from gymnasium.make
    env.close()
    pytest.importorskip("moviepy", reason="RecordVideo needs moviepy (pip install moviepy)")
    folder = tmp_path / "videos"
    env = gym.wrappers.RecordVideo(make("single", render_mode="rgb_array", render_width=96, render_height=64,
                                        max_episode_steps=8), str(folder), disable_logger=True)
    env.reset(seed=0)
    for _ in range(8):
        env.step(env.action_space.sample())
    env.close()
    assert [path.suffix for path in folder.iterdir()] == [".mp4"]


@pytest.mark.parametrize("vector", [gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv])
def test_vector_envs_work_and_match_single_envs(vector):
    envs = vector([lambda: make("dynamic")] * 2)
    observations, infos = envs.reset(seed=5)
    assert observations["observation"].shape == (2, 158)
    single = make("dynamic")
    expected, _ = single.reset(seed=5)
    assert data_equivalence({key: value[0] for key, value in observations.items()}, expected, exact=True)
    actions = np.tile(single.unwrapped.joint_targets_to_action(np.zeros(4)), (2, 1))
    for _ in range(3):
        observations, rewards, _, _, infos = envs.step(actions)
        expected, reward, *_ = single.step(actions[0])
    assert rewards[0] == reward and observations["observation"][0].tolist() == expected["observation"].tolist()
    assert infos["collided"].shape == (2,) and infos["min_clearance_m"].shape == (2,)
    envs.close()
    single.close()


def test_compute_reward_is_vectorised_and_goal_relabelling_works():
    env = make("cluttered").unwrapped
    observation, info = env.reset(seed=2)
    observation, reward, *_, info = env.step(env.action_space.sample())
    achieved, desired = observation["achieved_goal"], observation["desired_goal"]
    assert env.compute_reward(achieved, desired, info) == reward
    batch = env.compute_reward(np.stack([achieved, desired]), np.stack([desired, desired]), np.array([info, info]))
    assert batch.shape == (2,) and batch[0] == reward
    assert batch[1] == -1.0 * info["collided"]  # a relabelled goal the arm achieved costs only collisions
    quiet = {**info, "collided": False}
    assert env.compute_reward(achieved, achieved, quiet) == 0.0
    sparse = make("cluttered", reward_type="sparse").unwrapped
    assert sparse.compute_reward(achieved, achieved, quiet) == 0.0
    assert sparse.compute_reward(achieved, achieved + np.float32(0.05), quiet) == -1.0
    env.close()


def test_her_trains_on_the_env():
    stable_baselines3 = pytest.importorskip("stable_baselines3")
    env = make("single", max_episode_steps=10)
    model = stable_baselines3.SAC(
        "MultiInputPolicy", env, replay_buffer_class=stable_baselines3.HerReplayBuffer,
        replay_buffer_kwargs={"n_sampled_goal": 2, "goal_selection_strategy": "future"},
        learning_starts=40, batch_size=16, policy_kwargs={"net_arch": [16]}, seed=0, device="cpu",
    )
    model.learn(total_timesteps=60)
    env.close()


def test_action_conversion_round_trips():
    env = make("empty").unwrapped
    env.reset(seed=0)
    joints = np.array([0.4, -0.3, 0.2, 1.0])
    np.testing.assert_allclose(env.action_to_joint_targets(env.joint_targets_to_action(joints)), joints, atol=1e-6)
    np.testing.assert_allclose(env.action_to_joint_targets(-np.ones(4)), JOINT_LIMITS[:, 0])
    np.testing.assert_allclose(env.action_to_joint_targets(2 * np.ones(4)), JOINT_LIMITS[:, 1])  # clipped
    with pytest.raises(InvalidInputError, match="4 finite"):
        env.action_to_joint_targets([0.0, math.nan, 0.0, 0.0])
    env.close()
    delta = make("empty", action_mode="delta").unwrapped
    delta.reset(seed=0)
    now = delta.joint_positions()
    step_rad = 4.8 * delta.control_period_s
    np.testing.assert_allclose(delta.action_to_joint_targets(np.array([1.0, -1.0, 0.5, 0.0])),
                               now + step_rad * np.array([1.0, -1.0, 0.5, 0.0]))
    np.testing.assert_allclose(delta.joint_targets_to_action(now + 0.5 * step_rad), np.full(4, 0.5), atol=1e-6)
    delta.close()


def test_the_scene_is_public_for_policies():
    env = make("dynamic").unwrapped
    env.reset(seed=4)
    scene = env.scene
    np.testing.assert_allclose(env.goal_pose, forward_kinematics(np.array(scene.goal_joints)))
    np.testing.assert_allclose(env.joint_positions(), scene.start_joints, atol=1e-9)
    for _ in range(4):
        env.step(env.action_space.sample())
    assert env.time_s == pytest.approx(4 * env.control_period_s)
    np.testing.assert_allclose(env.obstacle_set().positions, scene.obstacle_set(env.time_s).positions)
    env.close()


def test_fixed_scenes_can_be_chosen_by_index():
    env = make("benchmark")
    env.reset(options={"scene_index": 7})
    assert env.unwrapped.scene == get_scenario("benchmark").fixed_scenes[7]
    with pytest.raises(InvalidInputError, match="scene_index"):
        env.reset(options={"scene_index": 10})
    with pytest.raises(UnknownNameError, match="scene_index"):
        env.reset(options={"seen": 1})
    env.close()


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True, [1]])
def test_bad_seeds_raise_the_projects_input_error(seed):
    env = make("empty")
    with pytest.raises(InvalidInputError, match="seed must be a non-negative integer"):
        env.reset(seed=seed)
    observation, _ = env.reset(seed=np.int64(3))  # NumPy integers are taken (Gymnasium wants Python ints)
    assert data_equivalence(observation, env.reset(seed=3)[0], exact=True)
    env.close()


def test_bad_arguments_fail_with_the_valid_choices():
    with pytest.raises(UnknownNameError, match="benchmark, cluttered"):
        make("clutter")
    with pytest.raises(UnknownNameError, match="absolute, delta"):
        make(action_mode="joint")
    with pytest.raises(UnknownNameError, match="dense, sparse"):
        make(reward_type="shaped")
    with pytest.raises(InvalidInputError, match="divide 240"):
        make(control_frequency_hz=7)
    with pytest.raises(InvalidInputError, match="max_obstacles"):
        make("shelf", max_obstacles=3)


def test_pickle_and_state_round_trips():
    env = make("empty", terminate_on_success=False)
    copy = pickle.loads(pickle.dumps(env))
    assert data_equivalence(env.reset(seed=3), copy.reset(seed=3), exact=True)
    copy.close()
    unwrapped = env.unwrapped
    actions = [unwrapped.joint_targets_to_action(np.array([0.3 * i, 0.2, -0.1, 0.4])) for i in range(5)]
    for action in actions:
        env.step(action)
    state = unwrapped.save_state()
    first = [env.step(action) for action in actions]
    unwrapped.restore_state(state)
    assert data_equivalence([env.step(action) for action in actions], first, exact=True)
    unwrapped.remove_state(state)
    env.reset(seed=4)
    with pytest.raises(InvalidInputError, match="no saved state"):
        unwrapped.restore_state(state)
    env.close()


def test_sim_alone_makes_the_env_from_a_spec_without_the_scenarios_package():
    code = (
        "import sys, pickle\n"
        "from sim.env.env import ObstacleReachEnv\n"
        "from sim.scene.scenario_spec import ScenarioSpec\n"
        "env = ObstacleReachEnv(ScenarioSpec(name='bare'))\n"
        "env.reset(seed=0); env.step(env.action_space.sample())\n"
        "copy = pickle.loads(pickle.dumps(env)); copy.reset(seed=0); copy.close(); env.close()\n"
        "assert 'scenarios' not in sys.modules, 'sim imported scenarios'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_the_env_class_refuses_a_name_and_points_to_the_factory():
    from sim.env.env import ObstacleReachEnv

    with pytest.raises(InvalidInputError, match=r"takes a ScenarioSpec.*gymnasium.make"):
        ObstacleReachEnv("cluttered")
    spec_env = gym.make(ENV_ID, scenario=get_scenario("single"))  # a spec passes through the factory
    assert spec_env.unwrapped.scenario.name == "single"
    spec_env.close()


def test_the_documented_example_runs():
    result = doctest.testmod(sim.env.env, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_an_env_draws_only_when_frames_are_asked_for():
    """No render mode: the world has no renderer (cheaper resets) and says how to get one;
    renderer='tiny' draws env.world with the user's own cameras while render_mode is None."""
    quiet, drawing = make("single"), make("single", renderer="tiny")
    try:
        for env in (quiet, drawing):
            env.reset(seed=4)
        assert quiet.unwrapped.renderer == "none"
        assert make("single", render_mode="rgb_array").unwrapped.renderer == "tiny"
        with pytest.raises(InvalidInputError, match="render_mode='rgb_array' or renderer='tiny'"):
            quiet.unwrapped.world.render(32, 24)
        frame = drawing.unwrapped.world.render(32, 24)
        assert frame.shape == (24, 32, 3) and frame.std() > 0
        with pytest.raises(UnknownNameError, match="valid choices: egl, none, tiny"):
            make("single", renderer="vulkan")
    finally:
        quiet.close()
        drawing.close()

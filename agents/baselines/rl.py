"""A reinforcement-learning baseline: stable-baselines3 agents trained on the obstacle-reach env.

SAC learns from the goal-conditioned ``Dict`` observation with hindsight experience replay (HER
relabels goals with ``env.compute_reward``; with ``her_collisions`` each stored transition keeps
its ``collided`` flag, so relabelled rewards keep the collision penalty); PPO is the on-policy
reference. Agents act in the env's ``delta`` action mode (each step moves the joints by at most
4.8 rad/s x the control period), which suits closed-loop control; the policy adapter turns an
agent's action back into the joint targets the runner commands, so an agent runs through
``run_sim.py`` like every other policy. ``goal_features`` puts the ``GoalFeatures`` extractor of
:mod:`agents.baselines.rl_features` in front of the networks (the goal error scaled to make centimetres
visible, the goal copy that HER does not relabel and the scenario's empty obstacle slots dropped).

Train (one CPU thread, progress bar; writes ``PATH.zip``, the training curve ``PATH.json`` and
``PATH.png``). The shipped agent ``assets/rl/sac_single`` (sparse reward, collision penalty 2,
goal features, tau 0.05, batch 128; most of a training step's time is SAC's gradient step) came
from::

    python -m agents.baselines.rl train --algorithm sac --scenario single --steps 400000 \
        --reward-type sparse --collision-penalty 2 --goal-features --tau 0.05 --batch-size 128 \
        --eval-every 10000 --eval-episodes 30 --time-limit-min 95 --out assets/rl/sac_single

``--num-envs N`` steps N sub-environments at once over one process per core, this one included
(:mod:`agents.baselines.vec_env`); steps, evaluations and PPO's rollout count over all of them.

The defaults are that configuration; the earlier dense-reward setup (``--reward-type dense
--no-goal-features --tau 0.005 --collision-penalty 1``) reached 13% success after 120k steps.

Evaluate a saved agent, or run it beside others::

    python -m agents.baselines.rl evaluate assets/rl/sac_single.zip --scenario single --episodes 100
    python run_sim.py --scenario single --models rl:sac:assets/rl/sac_single.zip,ompl:rrtconnect,analytic+safe

stable-baselines3 is an optional dependency (extra ``rl``); without it every entry point raises
:class:`~sim.errors.DependencyNotInstalled`. Training is seeded (SB3 seeds Python, NumPy and
torch globally from ``--seed``; the env from the same seed) but PyTorch on CPU is not bit-for-bit
deterministic across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agents.baselines.rl_features import import_sb3
from sim.errors import CheckpointError, InvalidInputError, ProjectError, UnknownNameError, show_value

Algorithm = Literal["sac", "ppo"]
ALGORITHMS: tuple[str, ...] = ("sac", "ppo")
#: Seeds of the fixed evaluation episodes are ``EVAL_SEED_OFFSET + k`` (disjoint from training).
EVAL_SEED_OFFSET = 1_000_000


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved beside the agent as ``PATH.json``)."""

    algorithm: Algorithm = "sac"
    scenario: str = "single"
    total_steps: int = 400_000
    seed: int = 0
    max_episode_steps: int = 50  #: 2.5 s at the env's 20 Hz
    action_mode: Literal["absolute", "delta"] = "delta"
    reward_type: Literal["dense", "sparse"] = "sparse"
    collision_penalty: float = 2.0  #: reward lost per step in contact (the env's default is 1)
    her: bool = True  #: SAC only: hindsight experience replay ("future" strategy)
    her_goals: int = 4
    net_arch: tuple[int, ...] = (128, 128)
    learning_rate: float = 1e-3
    batch_size: int = 128
    gamma: float = 0.95
    learning_starts: int = 1_000
    tau: float = 0.05  #: SAC: soft target-update rate
    train_freq: int = 1  #: SAC: env steps between updates ...
    gradient_steps: int = 1  #: ... and gradient steps per update
    her_collisions: bool = True  #: HER: relabelled rewards keep the stored transition's collision penalty
    goal_features: bool = True  #: SAC/PPO: the GoalFeatures extractor (scaled goal error, no stale goal copy)
    ppo_rollout_steps: int = 1024  #: PPO: env steps per update
    eval_every: int = 10_000  #: steps between evaluations on the fixed episodes (0: none)
    eval_episodes: int = 30
    time_limit_s: float | None = None  #: stop training after this wall time
    threads: int = 1  #: torch CPU threads
    #: sub-environments stepped at once (> 1: over one process per core, this one included, through
    #: :func:`agents.baselines.vec_env.hybrid_vec_env`); steps count over all of them
    num_envs: int = 1

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise UnknownNameError("RL algorithm", self.algorithm, ALGORITHMS)
        for name in ("total_steps", "max_episode_steps", "batch_size", "threads", "her_goals", "train_freq",
                     "gradient_steps", "num_envs"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be a positive integer, got {getattr(self, name)}")

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the training env (and of :func:`make_env` for evaluation); episodes
        run on after success, so the agent learns to hold the goal (HER's usual setting)."""
        return {"scenario": self.scenario, "action_mode": self.action_mode, "reward_type": self.reward_type,
                "collision_penalty": self.collision_penalty, "terminate_on_success": False}


def make_env(config: TrainConfig, *, max_episode_steps: int | None = None) -> Any:
    """The training env of ``config`` through ``gymnasium.make`` (time limit included)."""
    import gymnasium as gym

    import sim

    return gym.make(sim.ENV_IDS[0], max_episode_steps=max_episode_steps or config.max_episode_steps,
                    **config.env_kwargs())


class TrainingEnv:
    """Picklable factory of one training env of ``config``: :func:`make_env` keeping only the info
    keys HER stores (:func:`~agents.baselines.rl_features.slim_info_wrapper`)."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    def __call__(self) -> Any:
        from agents.baselines.rl_features import slim_info_wrapper

        return slim_info_wrapper()(make_env(self.config))


def make_training_env(config: TrainConfig) -> Any:
    """The env agents train on: one Gymnasium env, or with ``config.num_envs`` > 1 an SB3 ``VecEnv``
    of that many over one process per core (episode statistics by SB3's ``VecMonitor``)."""
    if config.num_envs == 1:
        return TrainingEnv(config)()
    from stable_baselines3.common.vec_env import VecMonitor

    from agents.baselines.rl_features import StoredInfo
    from agents.baselines.vec_env import hybrid_vec_env

    return VecMonitor(hybrid_vec_env([TrainingEnv(config)] * config.num_envs, info_type=StoredInfo))


@dataclass(frozen=True)
class EvalPoint:
    """One point of the training curve (fixed evaluation episodes, deterministic actions)."""

    step: int
    wall_time_s: float
    success_rate: float
    collision_rate: float  #: episodes with any contact
    median_final_error_mm: float


def evaluate(model: Any, config: TrainConfig, episodes: int, *, env: Any = None) -> tuple[float, float, float]:
    """Success rate, collision rate and median final position error (mm) over ``episodes``
    fixed episodes (seeds ``EVAL_SEED_OFFSET + k``) with deterministic actions; an episode
    succeeds if the goal is reached at any step (``run_sim.py``'s env stops there)."""
    own = env is None
    env = make_env(config) if own else env
    successes, collisions, errors = [], [], []
    try:
        for episode in range(episodes):
            observation, info = env.reset(seed=EVAL_SEED_OFFSET + episode)
            collided, reached, done = False, False, False
            while not done:
                action, _ = model.predict(observation, deterministic=True)
                observation, _, terminated, truncated, info = env.step(action)
                collided |= bool(info["collided"])
                reached |= bool(info["is_success"])
                done = terminated or truncated or reached
            successes.append(reached)
            collisions.append(collided)
            errors.append(1e3 * float(info["target_error_m"]))
    finally:
        if own:
            env.close()
    return float(np.mean(successes)), float(np.mean(collisions)), float(np.median(errors))


def _callback(config: TrainConfig, curve: list[EvalPoint], started: float, progress: bool) -> Any:
    """An SB3 callback: tqdm progress bar, periodic evaluation, optional wall-time limit."""
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm import tqdm

    class Progress(BaseCallback):
        def _on_training_start(self) -> None:
            self.bar = tqdm(total=config.total_steps, unit="step", desc=f"{config.algorithm} {config.scenario}",
                            dynamic_ncols=True, mininterval=2.0, disable=not progress)
            self.eval_env = make_env(config)
            self.next_eval = config.eval_every  # steps grow by num_envs at a time

        def _on_step(self) -> bool:
            self.bar.update(self.training_env.num_envs)
            steps = self.num_timesteps
            if config.eval_every and steps >= self.next_eval:
                self.next_eval += config.eval_every
                success, collision, error = evaluate(self.model, config, config.eval_episodes, env=self.eval_env)
                curve.append(EvalPoint(steps, time.perf_counter() - started, success, collision, error))
                self.bar.set_postfix_str(f"success {success:.0%} collisions {collision:.0%} error {error:.0f} mm")
            return config.time_limit_s is None or time.perf_counter() - started < config.time_limit_s

        def _on_training_end(self) -> None:
            self.bar.close()
            self.eval_env.close()

    return Progress()


def policy_kwargs(config: TrainConfig, obstacle_slots: int | None) -> dict[str, Any]:
    """The networks' settings of ``config``: hidden widths and, with goal features, the
    ``GoalFeatures`` extractor keeping ``obstacle_slots`` obstacle slots."""
    kwargs: dict[str, Any] = {"net_arch": list(config.net_arch)}
    if config.goal_features:
        from agents.baselines.rl_features import goal_features_class

        kwargs |= {"features_extractor_class": goal_features_class(),
                   "features_extractor_kwargs": {"obstacle_slots": obstacle_slots}}
    return kwargs


def algorithm_kwargs(config: TrainConfig, *, acting: bool = False) -> dict[str, Any]:
    """The SB3 algorithm's settings of ``config`` (besides policy, env, seed and device).

    With ``acting`` (a loaded agent that only predicts) SAC gets a one-slot plain replay buffer
    instead of HER's, which needs the env.
    """
    if config.algorithm == "sac":
        her: dict[str, Any] = {}
        if config.her and not acting:
            from stable_baselines3 import HerReplayBuffer

            her = {"replay_buffer_class": HerReplayBuffer,
                   "replay_buffer_kwargs": {"n_sampled_goal": config.her_goals, "goal_selection_strategy": "future",
                                            "copy_info_dict": config.her_collisions}}
        return {"learning_rate": config.learning_rate, "batch_size": config.batch_size,
                "buffer_size": 1 if acting else min(1_000_000, config.total_steps), "tau": config.tau,
                "train_freq": config.train_freq, "gradient_steps": config.gradient_steps, "gamma": config.gamma,
                "learning_starts": config.learning_starts, **her}
    # PPO: on-policy, no HER; its usual learning rate is about a third of SAC's.
    # ppo_rollout_steps counts over all sub-environments (SB3's n_steps is per sub-environment).
    rollout = max(1, config.ppo_rollout_steps // config.num_envs)
    return {"learning_rate": config.learning_rate / 3, "n_steps": rollout,
            "batch_size": min(config.batch_size, rollout * config.num_envs), "gamma": config.gamma}


def build_model(config: TrainConfig, env: Any) -> Any:
    """A fresh SB3 agent for ``config`` on ``env``."""
    sb3 = import_sb3()
    slots = None
    if config.goal_features:
        from stable_baselines3.common.vec_env import VecEnv

        scenario = env.get_attr("scenario")[0] if isinstance(env, VecEnv) else env.unwrapped.scenario
        slots = scenario.max_obstacle_count()
    algorithm = sb3.SAC if config.algorithm == "sac" else sb3.PPO
    return algorithm("MultiInputPolicy", env, policy_kwargs=policy_kwargs(config, slots), seed=config.seed,
                     device="cpu", verbose=0, **algorithm_kwargs(config))


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` wrote and measured."""

    model_path: Path
    curve: list[EvalPoint] = field(repr=False)
    steps: int
    wall_time_s: float


def train(config: TrainConfig, out: str | Path, *, progress: bool = True) -> TrainResult:
    """Train an agent and save ``out.zip`` (SB3 format) and ``out.json`` (config and curve).

    Raises:
        DependencyNotInstalled: stable-baselines3 is missing.
        InvalidInputError: the output folder cannot be written.
    """
    import_sb3()
    import torch

    torch.set_num_threads(config.threads)
    out = Path(out).with_suffix("")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInputError(f"cannot write to {out.parent}: {error.strerror or error}") from None
    env = make_training_env(config)
    curve: list[EvalPoint] = []
    started = time.perf_counter()
    try:
        model = build_model(config, env)
        callback = _callback(config, curve, started, progress)
        model.learn(total_timesteps=config.total_steps, callback=callback)
        wall = time.perf_counter() - started
        if not curve or curve[-1].step != model.num_timesteps:
            success, collision, error = evaluate(model, config, config.eval_episodes)
            curve.append(EvalPoint(model.num_timesteps, time.perf_counter() - started, success, collision, error))
        model.save(out.with_suffix(".zip"))
    finally:
        env.close()
    metadata = {"format": "neural-ik-testbed rl agent", "config": asdict(config), "steps": int(model.num_timesteps),
                "wall_time_s": wall, "curve": [asdict(point) for point in curve]}
    out.with_suffix(".json").write_text(json.dumps(metadata, indent=2))
    return TrainResult(out.with_suffix(".zip"), curve, int(model.num_timesteps), wall)


#: Largest training record (``PATH.json``, bytes).
MAX_RECORD_BYTES = 16 * 2**20


def read_training_record(path: Path) -> TrainConfig:
    """The :class:`TrainConfig` saved in a training record ``PATH.json`` (plain JSON).

    Raises:
        CheckpointError: not a regular UTF-8 JSON file of at most :data:`MAX_RECORD_BYTES`, or
            not a training record (unknown or mistyped fields).
    """
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise CheckpointError(f"{str(path)!r} has more than {MAX_RECORD_BYTES} bytes; not a training record")
        saved = json.loads(path.read_bytes().decode("utf-8"))["config"]
        saved["net_arch"] = tuple(saved["net_arch"])
        config = TrainConfig(**saved)
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise CheckpointError(f"{str(path)!r} is not a training record: {type(error).__name__}: "
                              f"{str(error)[:120]}") from None
    if config.action_mode not in ("absolute", "delta") or not isinstance(config.goal_features, bool) or \
            not all(isinstance(width, int) and not isinstance(width, bool) for width in config.net_arch):
        raise CheckpointError(f"{str(path)!r} is not a training record: action_mode {show_value(config.action_mode)} "
                              f"(valid: absolute, delta), goal_features {show_value(config.goal_features)}, "
                              f"net_arch {show_value(config.net_arch)}")
    return config


def load_agent(path: str | Path) -> tuple[Any, TrainConfig]:
    """Load ``path`` (an SB3 zip written by :func:`train`) and its training config, unpickling nothing.

    The archive is read by :func:`agents.baselines.rl_archive.read_agent_archive` (plain JSON,
    weights-only tensors; any pickled value it cannot rebuild is refused) and the model is built
    from this project's settings (:func:`algorithm_kwargs`, :func:`policy_kwargs`). Without the
    ``.json`` sidecar the agent is assumed to use the default :class:`TrainConfig` (delta actions);
    the algorithm and the networks' settings are read from the archive.

    Raises:
        DependencyNotInstalled: stable-baselines3 is missing.
        CheckpointError: the file is missing, unreadable or not an SB3 SAC/PPO agent this project
            built, holds pickled code, or disagrees with its training record.
    """
    import_sb3()
    from agents.baselines.rl_archive import build_acting_model, read_agent_archive

    path = Path(path)
    if path.suffix != ".zip":
        path = path.with_suffix(".zip")
    if not path.is_file():
        raise CheckpointError(f"RL agent {str(path)!r} does not exist")
    sidecar = path.with_suffix(".json")
    recorded = read_training_record(sidecar) if sidecar.is_file() else None
    archive = read_agent_archive(path)
    config = recorded or TrainConfig(algorithm=archive.algorithm)
    found = (archive.algorithm, archive.net_arch, archive.goal_features)
    if recorded is not None and (recorded.algorithm, recorded.net_arch, recorded.goal_features) != found:
        raise CheckpointError(f"{str(path)!r} holds a {archive.algorithm} agent with net_arch {list(archive.net_arch)}"
                              f"{' and' if archive.goal_features else ' without'} goal features; its training "
                              f"record {str(sidecar)!r} says {recorded.algorithm}, {list(recorded.net_arch)}, "
                              f"goal_features {recorded.goal_features}")
    config = replace(config, net_arch=archive.net_arch, goal_features=archive.goal_features)
    model = build_acting_model(archive, algorithm_kwargs(config, acting=True),
                               policy_kwargs(config, archive.obstacle_slots))
    return model, config


# --------------------------------------------------------------------------- command line
def plot_curve(record_path: Path) -> Path:
    """Draw the training curve of ``PATH.json`` into ``PATH.png``; returns the image path."""
    from matplotlib.figure import Figure  # the object API: no pyplot state, no backend to choose

    record = json.loads(record_path.read_text())
    curve = record["curve"]
    steps = [point["step"] / 1e3 for point in curve]
    figure = Figure(figsize=(9, 3.2))
    left, right = figure.subplots(1, 2)
    left.plot(steps, [100 * point["success_rate"] for point in curve], "o-", label="success")
    left.plot(steps, [100 * point["collision_rate"] for point in curve], "s--", label="any contact")
    left.set(xlabel="training steps (thousands)", ylabel="% of evaluation episodes", ylim=(-2, 102))
    left.legend()
    right.plot(steps, [point["median_final_error_mm"] for point in curve], "o-")
    right.set(xlabel="training steps (thousands)", ylabel="median final position error (mm)", yscale="log")
    config = record["config"]
    figure.suptitle(f"{config['algorithm'].upper()}{'+HER' if config['her'] and config['algorithm'] == 'sac' else ''}"
                    f" on '{config['scenario']}' ({record['wall_time_s'] / 60:.0f} min, one CPU thread)")
    figure.tight_layout()
    image = record_path.with_suffix(".png")
    figure.savefig(image, dpi=110)
    return image


class _OneLineParser(argparse.ArgumentParser):
    """argparse with error lines folded to one short line (argparse echoes the values it refuses)."""

    def error(self, message: str):  # type: ignore[no-untyped-def]
        from sim.errors import one_line

        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


#: Bounds of the command line's counts and numbers, checked before anything trains: (least, most)
#: and whether the least is excluded. A typo of a few digits ends in one line, not a run that never ends.
CLI_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "steps": (1, 10**9, False), "seed": (0, 2**32 - 1, False), "max_episode_steps": (1, 100_000, False),
    "batch_size": (1, 1_000_000, False), "learning_rate": (0.0, 1.0, True), "gamma": (0.0, 1.0, True),
    "collision_penalty": (0.0, 1e6, False), "tau": (0.0, 1.0, True), "learning_starts": (0, 10**9, False),
    "train_freq": (1, 1_000_000, False), "gradient_steps": (1, 1_000_000, False), "her_goals": (1, 100, False),
    "eval_every": (0, 10**9, False), "eval_episodes": (1, 1_000_000, False), "time_limit_min": (0.0, 1e6, True),
    "threads": (1, 1024, False), "num_envs": (1, 256, False), "episodes": (1, 1_000_000, False),
}
#: Hidden layers of ``--net-arch``: at most this many, each of width [1, MAX_LAYER_WIDTH].
MAX_LAYERS, MAX_LAYER_WIDTH = 8, 4096


def check_cli_values(args: argparse.Namespace) -> None:
    """Refuse, before anything trains or loads, a command-line value outside :data:`CLI_BOUNDS`
    (NaN and infinities included) or a ``--net-arch`` too deep or wide.

    Raises:
        InvalidInputError: the message names the flag, the value and the valid range.
    """
    import math

    from sim.errors import invalid_value

    for name, (least, most, open_least) in CLI_BOUNDS.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        inside = math.isfinite(value) and (least < value if open_least else least <= value) and value <= most
        if not inside:
            bracket = "(" if open_least else "["
            raise invalid_value(f"--{name.replace('_', '-')}", value, f"a value within {bracket}{least:g}, {most:g}]")
    widths = getattr(args, "net_arch", None)
    if widths is not None and (len(widths) > MAX_LAYERS or not all(1 <= w <= MAX_LAYER_WIDTH for w in widths)):
        raise invalid_value("--net-arch", widths, f"at most {MAX_LAYERS} widths within [1, {MAX_LAYER_WIDTH}]")


def check_train_out(out: Path) -> None:
    """Refuse an ``--out`` whose ``PATH.zip``, ``PATH.json`` or ``PATH.png`` is a link or a file this
    project did not write (an existing set is overwritten only if ``PATH.json`` is a training record).

    Raises:
        OutputFolderError: the message names the file.
    """
    from sim.errors import OutputFolderError
    from sim.files import refuse_link

    base = Path(out).with_suffix("")
    if not base.name or base.name in (".", ".."):
        raise OutputFolderError(f"--out: expected an output path without suffix, got {str(out)!r}")
    files = [base.with_suffix(suffix) for suffix in (".zip", ".json", ".png")]
    for path in files:
        refuse_link(path)
    existing = [path for path in files if os.path.lexists(path)]
    if not existing:
        return
    try:
        read_training_record(files[1])
    except CheckpointError:
        raise OutputFolderError(f"--out: {existing[0]} exists and is not from a training run of this project; not "
                                "overwriting it (move it away or choose another --out)") from None
    for path in existing:
        if not path.is_file():
            raise OutputFolderError(f"--out: {path} exists and is not a regular file; not overwriting it")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m agents.baselines.rl", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    train_parser = commands.add_parser("train", help="train an agent and save PATH.zip, PATH.json, PATH.png",
                                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    default = TrainConfig()
    train_parser.add_argument("--algorithm", choices=ALGORITHMS, default=default.algorithm)
    train_parser.add_argument("--scenario", default=default.scenario, help="scenario name or .toml file")
    train_parser.add_argument("--steps", type=int, default=default.total_steps, help="environment steps")
    train_parser.add_argument("--seed", type=int, default=default.seed)
    train_parser.add_argument("--out", type=Path, required=True, help="output path without suffix")
    train_parser.add_argument("--max-episode-steps", type=int, default=default.max_episode_steps)
    train_parser.add_argument("--action-mode", choices=("absolute", "delta"), default=default.action_mode)
    train_parser.add_argument("--reward-type", choices=("dense", "sparse"), default=default.reward_type)
    train_parser.add_argument("--her", action=argparse.BooleanOptionalAction, default=default.her,
                              help="SAC: hindsight experience replay")
    train_parser.add_argument("--net-arch", type=int, nargs="+", default=list(default.net_arch),
                              help="hidden layer widths of actor and critics")
    train_parser.add_argument("--batch-size", type=int, default=default.batch_size)
    train_parser.add_argument("--learning-rate", type=float, default=default.learning_rate,
                              help="SAC's (PPO uses a third of it)")
    train_parser.add_argument("--gamma", type=float, default=default.gamma)
    train_parser.add_argument("--collision-penalty", type=float, default=default.collision_penalty,
                              help="reward lost per step in contact (the env's default is 1)")
    train_parser.add_argument("--tau", type=float, default=default.tau, help="SAC: soft target-update rate")
    train_parser.add_argument("--learning-starts", type=int, default=default.learning_starts,
                              help="SAC: random steps before learning")
    train_parser.add_argument("--train-freq", type=int, default=default.train_freq, help="SAC: env steps per update")
    train_parser.add_argument("--gradient-steps", type=int, default=default.gradient_steps,
                              help="SAC: gradient steps per update")
    train_parser.add_argument("--her-goals", type=int, default=default.her_goals,
                              help="HER: relabelled goals per real one (n_sampled_goal)")
    train_parser.add_argument("--her-collisions", action=argparse.BooleanOptionalAction,
                              default=default.her_collisions,
                              help="HER: relabelled rewards keep the transition's collision penalty")
    train_parser.add_argument("--goal-features", action=argparse.BooleanOptionalAction,
                              default=default.goal_features,
                              help="features: scaled goal error, stale goal copy and padding slots dropped")
    train_parser.add_argument("--eval-every", type=int, default=default.eval_every, help="steps between evaluations")
    train_parser.add_argument("--eval-episodes", type=int, default=default.eval_episodes)
    train_parser.add_argument("--time-limit-min", type=float, default=None, help="stop after this wall time")
    train_parser.add_argument("--threads", type=int, default=default.threads, help="torch CPU threads")
    train_parser.add_argument("--num-envs", type=int, default=default.num_envs,
                              help="sub-environments stepped at once, over one process per core (this one "
                                   "included); --steps and PPO's rollout count over all of them")
    train_parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    eval_parser = commands.add_parser("evaluate", help="success and collision rates of a saved agent",
                                      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    eval_parser.add_argument("path", type=Path)
    eval_parser.add_argument("--scenario", default=None, help="default: the training scenario")
    eval_parser.add_argument("--episodes", type=int, default=50)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_cli_values(args)  # before anything trains or loads
        if getattr(args, "scenario", None):  # the scenario name (or file), through the env's own factory
            import gymnasium as gym

            import sim

            gym.make(sim.ENV_IDS[0], scenario=args.scenario).close()
        if args.command == "train":
            check_train_out(args.out)
            config = TrainConfig(
                algorithm=args.algorithm, scenario=args.scenario, total_steps=args.steps, seed=args.seed,
                max_episode_steps=args.max_episode_steps, reward_type=args.reward_type, action_mode=args.action_mode,
                her=args.her,
                net_arch=tuple(args.net_arch), batch_size=args.batch_size, learning_rate=args.learning_rate,
                gamma=args.gamma, collision_penalty=args.collision_penalty, tau=args.tau,
                learning_starts=args.learning_starts, train_freq=args.train_freq,
                gradient_steps=args.gradient_steps, her_goals=args.her_goals, her_collisions=args.her_collisions,
                goal_features=args.goal_features,
                eval_every=args.eval_every, eval_episodes=args.eval_episodes, threads=args.threads,
                num_envs=args.num_envs,
                time_limit_s=None if args.time_limit_min is None else 60.0 * args.time_limit_min,
            )
            print(f"training {config.algorithm} on {config.scenario!r}, seed {config.seed}, output {args.out}")
            result = train(config, args.out, progress=args.progress)
            image = plot_curve(result.model_path.with_suffix(".json"))
            last = result.curve[-1]
            print(f"saved {result.model_path} after {result.steps} steps in {result.wall_time_s / 60:.1f} min; "
                  f"success {last.success_rate:.0%}, contacts {last.collision_rate:.0%}, "
                  f"median error {last.median_final_error_mm:.1f} mm; curve {image}")
        else:
            model, config = load_agent(args.path)
            if args.scenario:
                config = TrainConfig(**{**asdict(config), "scenario": args.scenario})
            success, collision, error = evaluate(model, config, args.episodes)
            print(f"{args.path} on {config.scenario!r}, {args.episodes} episodes: success {success:.0%}, "
                  f"contacts {collision:.0%}, median final error {error:.1f} mm")
    except ProjectError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

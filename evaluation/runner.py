"""Run policies x scenario x seeds through the environment and log every episode to disk.

One row per finished episode is appended to ``episodes.csv`` (and its per-step log to
``steps.csv``) the moment it finishes, so a crash loses at most the episodes in flight; a run
can be resumed without duplicates; ``workers > 1`` runs episodes in worker processes while the
main process alone writes the files. Episode ``k`` of every policy uses the same scene (seed
``seed + k``; fixed scene ``k mod n`` for scenarios of n fixed scenes, e.g. ``benchmark``), so
policies are compared on identical scenes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.config import RunConfig
from evaluation.metrics import EpisodeLog, StepRecord
from evaluation.results_io import append_rows, filter_csv
from evaluation.schema import (
    EPISODE_COLUMNS,
    EPISODES_FILE,
    KEY_COLUMNS,
    RUN_FILE,
    STEP_COLUMNS,
    STEPS_FILE,
    read_episodes,
)
from sim.errors import InvalidInputError
from sim.kinematics import forward_kinematics

#: An episode ends once the policy has commanded its last target and the arm is still
#: (every joint slower than SETTLED_RAD_S), or SETTLE_STEPS control steps after that.
SETTLED_RAD_S, SETTLE_STEPS = 0.02, 30



@dataclass(frozen=True)
class EpisodeResult:
    """One finished episode: its CSV row and its per-step rows."""

    row: dict[str, Any]
    steps: list[dict[str, Any]] = field(repr=False)


# ------------------------------------------------------------------------------- one episode
class EpisodeWorker:
    """Holds an env per scenario and a policy per name, reused across episodes (one per process)."""

    def __init__(self, *, renderer: str = "tiny") -> None:
        """``renderer``: the camera renderer of the envs' worlds (``sim.world.RENDERERS``)."""
        self.renderer = renderer
        self._envs: dict[tuple[str, int], Any] = {}
        self._policies: dict[str, Any] = {}

    def env(self, scenario: str, max_steps: int) -> Any:
        key = (scenario, max_steps)
        if key not in self._envs:
            import gymnasium as gym

            import sim  # registers the environment

            self._envs[key] = gym.make(sim.ENV_IDS[0], scenario=scenario, max_episode_steps=max_steps,
                                       terminate_on_success=False, renderer=self.renderer)
        return self._envs[key]

    def policy(self, name: str) -> Any:
        if name not in self._policies:
            from agents.policies import make_policy

            self._policies[name] = make_policy(name)
        return self._policies[name]

    def run(self, scenario: str, policy_name: str, seed: int, episode: int, max_steps: int,
            observer: Any = None) -> EpisodeResult:
        """Run one episode to its end and summarise it.

        ``observer(step, env, record)``, if given, is called after the reset (``step=-1``, a
        :class:`StepRecord` of the start state at time 0, its target the start joints) and after
        every control step, e.g. to record video frames.

        The episode runs with one torch thread (the caller's setting is restored after): its
        per-step inference on a handful of poses gains nothing from more threads, and extra
        threads spin-wait for cores that other worker processes are using, which made episodes
        several times slower.
        """
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._run(scenario, policy_name, seed, episode, max_steps, observer)
        finally:
            torch.set_num_threads(threads)

    def _run(self, scenario: str, policy_name: str, seed: int, episode: int, max_steps: int,
             observer: Any) -> EpisodeResult:
        from agents.ik_policy.interface import PolicyContext

        wall_start = time.perf_counter()
        env = self.env(scenario, max_steps)
        policy = self.policy(policy_name)
        base = env.unwrapped
        fixed = len(base.scenario.fixed_scenes)
        # Scenarios of fixed scenes (benchmark) cycle through them: episode k is scene k mod n.
        options = {"scene_index": episode % fixed} if fixed else None
        observation, info = env.reset(seed=seed + episode, options=options)
        ik_seconds = policy.ik_seconds
        policy.reset(PolicyContext.from_env(base))
        log = EpisodeLog(control_dt_s=base.control_period_s)
        if observer is not None:
            observer(-1, base, _record(-1, base, base.joint_positions(), info, 0.0))
        settle = 0
        for step in range(max_steps):
            ik_before = policy.ik_seconds
            target = policy.act(observation)
            ik_time = policy.ik_seconds - ik_before
            observation, _reward, terminated, truncated, info = env.step(base.joint_targets_to_action(target))
            log.append(_record(step, base, target, info, ik_time))
            if observer is not None:
                observer(step, base, log.records[-1])
            settle = settle + 1 if policy.done else 0
            still = float(np.max(np.abs(base.world.joint_velocities()))) < SETTLED_RAD_S
            if terminated or truncated or (settle >= 1 and still) or settle >= SETTLE_STEPS:
                break
        metrics = log.metrics()
        row = {
            "model": policy_name, "scenario": scenario, "seed": seed, "episode": episode,
            **asdict(metrics),
            "ik_time_ms": 1e3 * (policy.ik_seconds - ik_seconds),
            **policy.episode_info(),
            "wall_time_s": time.perf_counter() - wall_start,
        }
        steps = [{"model": policy_name, "episode": episode, **record.to_row()} for record in log.records]
        return EpisodeResult(row, steps)

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        for policy in self._policies.values():
            policy.close()


def _record(step: int, base: Any, target: np.ndarray, info: dict[str, Any], ik_time: float) -> StepRecord:
    joints = base.joint_positions()
    return StepRecord(
        step=step,
        time_s=(step + 1) * base.control_period_s,
        joints_rad=tuple(float(v) for v in joints),
        target_joints_rad=tuple(float(v) for v in target),
        ee_pose=tuple(float(v) for v in forward_kinematics(joints, validate=False)),
        goal_pose=tuple(base.goal_pose),
        target_error_m=float(info["target_error_m"]),
        min_clearance_m=float(info["min_clearance_m"]),
        pybullet_clearance_m=float(info["pybullet_clearance_m"]),
        contact_count=len(info["contacts"]),
        collided=bool(info["collided"]),
        is_success=bool(info["is_success"]),
        ik_time_s=ik_time,
    )


_WORKER: EpisodeWorker | None = None


def _run_in_worker(scenario: str, policy: str, seed: int, episode: int, max_steps: int) -> EpisodeResult:
    global _WORKER
    if _WORKER is None:
        import torch

        torch.set_num_threads(1)  # one process per core: torch's own threads would oversubscribe
        _WORKER = EpisodeWorker()
    return _WORKER.run(scenario, policy, seed, episode, max_steps)


# ------------------------------------------------------------------------------- a whole run
def prepare(config: RunConfig) -> set[tuple[str, str, str, str]]:
    """Create or check the results folder; return the keys of episodes already finished.

    Raises:
        InvalidInputError: the folder cannot be written, holds a different run, or holds a run
            and ``config.resume`` is off.
    """
    out = config.out_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise InvalidInputError(f"cannot write to output folder {out}: {error.strerror or error}") from None
    run_file = out / RUN_FILE
    if run_file.exists():
        if not config.resume:
            raise InvalidInputError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
        previous = json.loads(run_file.read_text())
        for name in ("scenario", "seed", "max_steps"):
            if previous.get(name) != config.to_json()[name]:
                raise InvalidInputError(
                    f"cannot resume: {name} was {previous.get(name)!r} in {run_file}, now {config.to_json()[name]!r}"
                )
    run_file.write_text(json.dumps(config.to_json(), indent=2))
    done = {tuple(row[c] for c in KEY_COLUMNS) for row in read_episodes(out)}
    finished_episodes = {(model, episode) for model, _, _, episode in done}
    # Steps of episodes that never reached episodes.csv are dropped: they will run again.
    filter_csv(out / STEPS_FILE, lambda row: (row["model"], row["episode"]) in finished_episodes)
    return done


def iterate_results(config: RunConfig, pending: list[tuple[str, int]]) -> Iterator[EpisodeResult]:
    """Yield finished episodes as they complete (in worker processes if ``config.workers > 1``)."""
    if config.workers <= 1:
        worker = EpisodeWorker()
        try:
            for policy, episode in pending:
                yield worker.run(config.scenario, policy, config.seed, episode, config.max_steps)
        finally:
            worker.close()
        return
    executor = ProcessPoolExecutor(max_workers=config.workers, mp_context=get_context("spawn"))
    try:
        futures: set[Future] = {
            executor.submit(_run_in_worker, config.scenario, policy, config.seed, episode, config.max_steps)
            for policy, episode in pending
        }
        while futures:
            finished, futures = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def run(config: RunConfig) -> Path:
    """Run (or, with ``config.resume``, resume) ``config``; returns the results folder. Files are
    written as episodes finish."""
    from tqdm import tqdm

    done = prepare(config)
    pending = [
        (policy, episode) for policy, episode in config.tasks()
        if (policy, config.scenario, str(config.seed), str(episode)) not in done
    ]
    bar = tqdm(total=len(config.tasks()), initial=len(config.tasks()) - len(pending), unit="episode",
               desc=f"{config.scenario}", disable=not config.progress, dynamic_ncols=True)
    try:
        for result in iterate_results(config, pending):
            append_rows(config.out_dir / STEPS_FILE, STEP_COLUMNS, result.steps)
            append_rows(config.out_dir / EPISODES_FILE, EPISODE_COLUMNS, [result.row])
            bar.set_postfix_str(f"{result.row['model']} ep {result.row['episode']}", refresh=False)
            bar.update(1)
    finally:
        bar.close()
    return config.out_dir

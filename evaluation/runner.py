"""Run policies x scenarios x seeds through the environment and log every episode to disk.

A run is a list of episode keys (policy, scenario, seed, episode: :meth:`RunConfig.episode_keys`,
one scenario's grid or a whole sweep). A backend (:mod:`evaluation.backends`: in process, a local
process pool, or Ray tasks) runs them in batches of ``episodes_per_task`` and streams the results
back; the driver (:func:`run`) alone appends one row per finished episode to ``episodes.csv`` (and
its per-step log to ``steps.csv``), each fsync'ed the moment it arrives, so a crash or Ctrl-C loses
at most the episodes in flight, a key is never written twice, and a run can be resumed. Episode
``k`` of every policy uses the same scene (seed ``seed + k``; fixed scene ``k mod n`` for
scenarios of n fixed scenes, e.g. ``benchmark``), so policies are compared on identical scenes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.backends import RunResources, build_resources, make_backend
from evaluation.config import RunConfig
from evaluation.metrics import EpisodeLog, StepRecord
from evaluation.results_io import LOCK_FILE, append_rows, filter_csv, locked_folder, open_no_follow, repair_tail
from evaluation.schema import (
    EPISODE_COLUMNS,
    EPISODES_FILE,
    KEY_COLUMNS,
    RUN_FILE,
    STEP_COLUMNS,
    STEPS_FILE,
    check_results_folder,
    read_episodes,
    remove_unstarted_run,
)
from evaluation.sweep import EpisodeKey, make_run_env, reset_episode
from sim.errors import InvalidInputError, OutputFolderError, ProjectError
from sim.robot.kinematics import forward_kinematics

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

    def __init__(self, *, renderer: str | None = None) -> None:
        """``renderer``: the camera renderer of the envs' worlds (``sim.env.camera.RENDERERS``), for
        episodes that are filmed; ``None``: the env's default, no drawing (faster resets)."""
        self.renderer = renderer
        self._envs: dict[tuple[str, int], Any] = {}
        self._policies: dict[str, Any] = {}

    def env(self, scenario: str, max_steps: int, spec: Any = None) -> Any:
        """The env of scenario label ``scenario`` (built from ``spec``, a ``ScenarioSpec``, if given)."""
        key = (scenario, max_steps)
        if key not in self._envs:
            self._envs[key] = make_run_env(scenario if spec is None else spec, max_steps, renderer=self.renderer)
        return self._envs[key]

    def policy(self, name: str) -> Any:
        """The policy ``name`` (a name whose model files may point to local copies: see ``RunResources``)."""
        if name not in self._policies:
            from agents.policies import make_policy

            self._policies[name] = make_policy(name)
        return self._policies[name]

    def run(self, scenario: str, policy_name: str, seed: int, episode: int, max_steps: int,
            observer: Any = None, *, resources: RunResources | None = None) -> EpisodeResult:
        """Run one episode to its end and summarise it.

        ``resources``, if given, supplies the scenario's spec and local copies of the policy's model
        files (what a backend shipped to this worker); the row still names ``scenario`` and
        ``policy_name`` as given.

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
            return self._run(scenario, policy_name, seed, episode, max_steps, observer, resources)
        finally:
            torch.set_num_threads(threads)

    def _run(self, scenario: str, policy_name: str, seed: int, episode: int, max_steps: int,
             observer: Any, resources: RunResources | None) -> EpisodeResult:
        from agents.ik_policy.interface import PolicyContext

        wall_start = time.perf_counter()
        if resources is None:
            env, policy = self.env(scenario, max_steps), self.policy(policy_name)
        else:
            env = self.env(scenario, max_steps, resources.scenario(scenario))
            policy = self.policy(resources.policy_source(policy_name))
        base = env.unwrapped
        observation, info = reset_episode(env, seed, episode)
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
        key = {"model": policy_name, "scenario": scenario, "seed": seed, "episode": episode}
        steps = [{**key, **record.to_row()} for record in log.records]
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
        self_clearance_m=float(info["self_clearance_m"]),
        contact_count=len(info["contacts"]),
        collided=bool(info["collided"]),
        is_success=bool(info["is_success"]),
        ik_time_s=ik_time,
        table_clearance_m=float(info["table_clearance_m"]),
        bound_clearance_m=float(info["bound_clearance_m"]),
        bound_self_clearance_m=float(info["bound_self_clearance_m"]),
        bound_contact_count=len(info["bound_contacts"]),
    )


@dataclass(frozen=True)
class EpisodeBatch:
    """One backend task: episodes to run one after another in one worker."""

    keys: tuple[EpisodeKey, ...]
    max_steps: int


_WORKER: EpisodeWorker | None = None


def run_episode_batch(resources: RunResources, batch: EpisodeBatch) -> list[EpisodeResult]:
    """The worker side of every backend: run ``batch`` with this process's :class:`EpisodeWorker`
    (created on first use and kept, so envs and policies are reused across tasks)."""
    global _WORKER
    if _WORKER is None:
        _WORKER = EpisodeWorker()
    return [_WORKER.run(key.scenario, key.policy, key.seed, key.episode, batch.max_steps, resources=resources)
            for key in batch.keys]


def close_episode_worker() -> None:
    """Close this process's :class:`EpisodeWorker` (its envs' physics clients), if any."""
    global _WORKER
    if _WORKER is not None:
        _WORKER.close()
        _WORKER = None


# ------------------------------------------------------------------------------- a whole run
def check_output_folder(config: RunConfig, *, cli: bool = False) -> None:
    """Refuse, before anything is written, a results folder ``config`` must not write into: the one
    check of :func:`evaluation.schema.check_results_folder`, for ``run_sim.py`` and library callers
    alike (a file, a folder of someone else's files, a run of another configuration or with an
    edited scenario file, CSV files of another version).

    Args:
        config: the run.
        cli: ``run_sim.py``'s stricter reading: ``--resume`` of a missing or empty folder is refused
            (a mistyped ``--out``), and a resumed run must have the same policies and episode count.
            The library starts a resumed run whose folder is missing or empty (what a study that
            resumes every folder needs) and lets a run grow by policies or episodes.

    Raises:
        OutputFolderError: the folder is refused (the message names why and what to do).
        UnknownNameError, SceneFileError: a scenario cannot be resolved (for its digest).
    """
    resume = config.resume
    if resume and not cli:
        try:
            resume = any(entry.name != LOCK_FILE for entry in config.out_dir.iterdir())  # our lock: empty
        except OSError:  # missing (a new run), or not a folder (refused below)
            resume = config.out_dir.exists()
    check_results_folder(config.out_dir, config.to_json(), resume=resume,
                         compare=config.resume_fields(same_episodes=cli))


def prepare(config: RunConfig) -> set[tuple[str, str, str, str]]:
    """Check (:func:`check_output_folder`) and create the results folder, drop malformed last rows of
    its CSV files (one line on stderr says so); return the keys of episodes already finished (as
    strings). The caller holds the folder's lock (:func:`~evaluation.results_io.locked_folder`).

    Raises:
        OutputFolderError: the folder cannot be written, :func:`check_output_folder` refuses it, or a
            CSV file has a malformed row before a complete one.
        UnknownNameError, SceneFileError: a scenario cannot be resolved.
    """
    check_output_folder(config)
    out = config.out_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        os.close(open_no_follow(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
        probe.unlink()
    except OSError as error:
        raise OutputFolderError(f"cannot write to output folder {out}: {error.strerror or error}") from None
    # A writer killed mid-row (or a damaged disk) leaves malformed rows at the end: drop them, keep the rest.
    for name in (EPISODES_FILE, STEPS_FILE):
        dropped = repair_tail(out / name)
        if dropped:
            print(f"repaired {out / name}: dropped {dropped} incomplete last row{'s' if dropped > 1 else ''}, "
                  "kept every complete row", file=sys.stderr, flush=True)
    descriptor = open_no_follow(out / RUN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(config.to_json(), indent=2))
    done = {tuple(row[c] for c in KEY_COLUMNS) for row in read_episodes(out)}
    # Steps of episodes that never reached episodes.csv are dropped: they will run again.
    steps = out / STEPS_FILE
    if steps.exists():
        with open(steps, newline="") as handle:
            header = handle.readline().strip().split(",")
        if header != [""] and not set(KEY_COLUMNS) <= set(header):
            raise InvalidInputError(f"{steps} was written by another version: no column scenario/seed")
    filter_csv(steps, lambda row: tuple(row[c] for c in KEY_COLUMNS) in done)
    return done


def batches(keys: Sequence[EpisodeKey], max_steps: int, size: int) -> list[EpisodeBatch]:
    """``keys`` in order, cut into tasks of ``size`` episodes."""
    return [EpisodeBatch(tuple(keys[i:i + size]), max_steps) for i in range(0, len(keys), size)]


def iterate_results(config: RunConfig, pending: Sequence[EpisodeKey | tuple[str, int]]) -> Iterator[EpisodeResult]:
    """Yield finished episodes as they complete, on ``config``'s backend.

    ``pending`` holds episode keys, or ``(policy, episode)`` pairs of ``config``'s scenario and seed.
    Closing the iterator cancels what has not finished.

    Raises:
        BackendError: no Ray cluster, or tasks lost after every retry (after the others finished).
        DependencyNotInstalled: the ray backend without Ray.
    """
    keys = [key if isinstance(key, EpisodeKey) else EpisodeKey(key[0], config.scenario, config.seed, key[1])
            for key in pending]
    if not keys:
        return
    # Ray workers may be other machines: ship the scenario specs and the model files themselves.
    resources = build_resources((key.scenario for key in keys), (key.policy for key in keys),
                                ship_files=config.backend == "ray")
    with make_backend(config.backend, workers=config.workers, ray_address=config.ray_address,
                      max_retries=config.max_retries) as backend:
        size = 1 if backend.runs_in_driver else config.episodes_per_task
        try:
            with closing(backend.run(run_episode_batch, resources, batches(keys, config.max_steps, size))) as stream:
                for _batch, results in stream:
                    yield from results
        finally:
            if backend.runs_in_driver:
                close_episode_worker()


def run(config: RunConfig, *, rerun: bool | None = None) -> Path:
    """Run (or, with ``config.resume``, resume) ``config``; returns the results folder. Files are
    written as episodes finish, by this process only; one progress bar shows episodes/s and the ETA.

    With ``rerun`` (default: ``config.rerun``), a Rerun recording of every scene is then written
    into ``recordings/`` from the logs (:func:`evaluation.rerun_recording.record_results`; what
    ``python -m evaluation.replay`` writes afterwards).

    A start that fails before its first episode finishes takes back what it wrote (its ``run.json``,
    and the folder if it made it), so the same call can be made again. One process at a time writes
    a folder: the run holds its lock (:func:`~evaluation.results_io.locked_folder`) throughout.

    Raises:
        FolderLockedError: another process is writing ``config.out_dir`` (nothing is touched).
        InvalidInputError: see :func:`prepare`.
        BackendError, DependencyNotInstalled: see :func:`iterate_results`; ``rerun`` without
            rerun-sdk (before anything is written).
    """
    record = config.rerun if rerun is None else rerun
    if record:
        from evaluation.rerun_recording import import_rerun

        import_rerun()
    check_output_folder(config)  # before the lock creates the folder: a file or a foreign folder is refused as is
    with locked_folder(config.out_dir) as created:
        out = _run_locked(config, created)
        if record:
            from evaluation.rerun_recording import record_results

            record_results(out, progress=config.progress)
        return out


def _run_locked(config: RunConfig, created: bool) -> Path:
    from tqdm import tqdm

    done = prepare(config)
    keys = config.episode_keys()
    pending = [key for key in keys if key.as_strings() not in done]
    label = f"sweep {config.sweep.name}" if config.sweep is not None else config.scenario
    bar = tqdm(total=len(keys), initial=len(keys) - len(pending), unit="episode", desc=label,
               disable=not config.progress, dynamic_ncols=True, smoothing=0.1)
    written = set(done)
    try:
        with closing(iterate_results(config, pending)) as results:
            for result in results:
                key = tuple(str(result.row[column]) for column in KEY_COLUMNS)
                if key in written:  # never twice, whatever a backend delivers
                    continue
                append_rows(config.out_dir / STEPS_FILE, STEP_COLUMNS, result.steps)
                append_rows(config.out_dir / EPISODES_FILE, EPISODE_COLUMNS, [result.row])
                written.add(key)
                bar.set_postfix_str(f"{result.row['model']} {result.row['scenario']} ep {result.row['episode']}",
                                    refresh=False)
                bar.update(1)
    except ProjectError:
        if created or not config.resume:  # a start that failed before its first episode leaves no run behind
            remove_unstarted_run(config.out_dir, created=created)
        raise
    finally:
        bar.close()
    return config.out_dir

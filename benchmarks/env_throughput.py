"""Environment throughput: steps per second of ``OpenManipulatorX-ObstacleReach-v0`` next to
panda-gym's ``PandaReach-v3`` and ``PandaPush-v3``, measured in the same run, with ratios.

Every env takes seeded uniformly random actions and resets when an episode ends (resets count
in the time, as in training). Ours measures, every step, the sphere-model clearance (obstacles,
self, table), PyBullet's closest points of the pairs it finds near (``clearance="both"``, the
default) and the contact list; the ``clearance="numpy"`` row skips PyBullet's closest points, as
training may. Each env is measured in one process, and in a ``gymnasium.vector.AsyncVectorEnv``
of 2 worker processes (steps counted over both sub-environments; ``SyncVectorEnv`` of 2 for
reference). The floor row is bare physics: our robot stepped at 240 Hz, 12 substeps per control
step, with nothing else (no obstacles, no measurement), against PandaReach's full step.

The machine's other load moves all rates alike, so read the ratios: cases are interleaved and the
best of ``--repeats`` rounds is kept. Because a busy machine leaves a second process no core of its
own, CPU time per step is printed too (one process; for AsyncVectorEnv the main process's and the
workers'), which other load hardly moves, with the speed-up two idle cores would allow at most:
``2 c1 / (c_worker + c_main)``, the main process's share being serial with the workers' (pipe
latency not counted).

Run: ``python benchmarks/env_throughput.py [--steps 3000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import numpy as np

import sim

OUR_ID = sim.ENV_IDS[0]
PEER_ID = "PandaReach-v3"
OTHER_PEER_ID = "PandaPush-v3"
SINGLE, ASYNC, SYNC = "1 process", "AsyncVectorEnv x2", "SyncVectorEnv x2"


class CpuClock(gym.Wrapper):
    """Passes everything through; ``process_time()`` reads the CPU clock of the process the env runs
    in (``AsyncVectorEnv.call("process_time")`` reads each worker's)."""

    def process_time(self) -> float:
        return time.process_time()


class Ours:
    """Picklable env factory (AsyncVectorEnv workers are started with fork or spawn)."""

    def __init__(self, scenario: str, clearance: str = "both") -> None:
        self.scenario, self.clearance = scenario, clearance

    def __call__(self) -> gym.Env:
        return CpuClock(gym.make(OUR_ID, scenario=self.scenario, clearance=self.clearance))


class Panda:
    """Picklable factory of a panda-gym env (both need ``render_mode="rgb_array"`` to be created)."""

    def __init__(self, env_id: str) -> None:
        self.env_id = env_id

    def __call__(self) -> gym.Env:
        try:
            import panda_gym  # noqa: F401  (registers the Panda envs)
        except ImportError as error:
            raise SystemExit("this benchmark compares with panda-gym: pip install panda-gym") from error
        return CpuClock(gym.make(self.env_id, render_mode="rgb_array"))


class Rate(NamedTuple):
    """One measurement: wall-clock rate and CPU time per environment step."""

    steps_per_s: float
    main_cpu_us: float  #: CPU of the calling process per env step
    worker_cpu_us: float = 0.0  #: CPU of the worker processes per env step (AsyncVectorEnv)


def single_rate(make: Callable[[], gym.Env], steps: int, seed: int = 0) -> Rate:
    """Environment steps per second of one env in this process."""
    env = make()
    env.reset(seed=seed)
    env.action_space.seed(seed)
    env.step(env.action_space.sample())  # warm-up (numba, first contact queries)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    env.close()
    return Rate(steps / elapsed, 1e6 * cpu / steps)


def vector_rate(make: Callable[[], gym.Env], steps: int, vector: type, workers: int = 2, seed: int = 0) -> Rate:
    """Environment steps per second summed over a vector env of ``workers`` sub-environments
    (sub-environments reset themselves when an episode ends)."""
    envs = vector([make] * workers)
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    for _ in range(3):  # warm-up: worker start, numba, first contact queries
        envs.step(envs.action_space.sample())
    worker_cpu = sum(envs.call("process_time")) if vector is gym.vector.AsyncVectorEnv else 0.0
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps // workers):
        envs.step(envs.action_space.sample())
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if vector is gym.vector.AsyncVectorEnv:
        worker_cpu = sum(envs.call("process_time")) - worker_cpu
    envs.close()
    done = (steps // workers) * workers
    return Rate(done / elapsed, 1e6 * cpu / done, 1e6 * worker_cpu / done)


def physics_floor_rate(steps: int) -> Rate:
    """Control steps per second of our robot's bare physics: 12 substeps of 1/240 s, position
    targets set once per step, no obstacles and nothing measured."""
    from sim.world import World

    rng = np.random.default_rng(0)
    targets = rng.uniform(-1.0, 1.0, (steps, 4)) * np.array([3.0, 1.4, 1.4, 1.6])
    with World() as world:
        world.step(12)
        start, cpu = time.perf_counter(), time.process_time()
        for target in targets:
            world.set_position_targets(target)
            world.step(12)
        return Rate(steps / (time.perf_counter() - start), 1e6 * (time.process_time() - cpu) / steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="steps per measurement (default 3000)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many interleaved rounds (default 3)")
    parser.add_argument("--no-sync", action="store_true", help="skip the SyncVectorEnv rows")
    args = parser.parse_args()
    if args.steps < 10 or args.repeats < 1:
        parser.error("--steps must be >= 10 and --repeats >= 1")
    envs: dict[str, Callable[[], gym.Env]] = {
        PEER_ID: Panda(PEER_ID), OTHER_PEER_ID: Panda(OTHER_PEER_ID),
        "ours empty": Ours("empty"), "ours single": Ours("single"), "ours cluttered": Ours("cluttered"),
        "ours cluttered, clearance=numpy": Ours("cluttered", "numpy"),
    }
    modes: dict[str, Callable[[Callable[[], gym.Env]], Rate]] = {
        SINGLE: lambda make: single_rate(make, args.steps),
        ASYNC: lambda make: vector_rate(make, args.steps, gym.vector.AsyncVectorEnv),
    }
    if not args.no_sync:
        modes[SYNC] = lambda make: vector_rate(make, args.steps, gym.vector.SyncVectorEnv)
    best: dict[tuple[str, str], Rate] = {}  # the fastest round's rate, the least CPU time of any round

    def keep(key: tuple[str, str], rate: Rate) -> None:
        kept = best.get(key)
        if kept is None:
            best[key] = rate
        else:
            best[key] = Rate(max(kept.steps_per_s, rate.steps_per_s),
                             *(min(a, b) if b else a for a, b in zip(kept[1:], rate[1:], strict=True)))

    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        for name, make in envs.items():
            for mode, measure in modes.items():
                keep((name, mode), measure(make))
        keep(("floor", SINGLE), physics_floor_rate(args.steps))
    load_after = os.getloadavg()[0]

    print(f"steps/s, best of {args.repeats} interleaved rounds x {args.steps} steps, random actions, resets "
          f"included; {os.cpu_count()} cores, load average {load_before:.1f} -> {load_after:.1f}\n")
    print(f"| {'environment':32s} | {'mode':17s} | {'steps/s':>8s} | {'vs ' + PEER_ID:>16s} | {'vs 1 process':>12s} "
          f"| {'CPU us/step':>11s} | {'CPU vs ' + PEER_ID:>20s} | {'idle-core bound':>15s} |")
    print(f"|{'-' * 34}|{'-' * 19}|{'-' * 10}|{'-' * 18}|{'-' * 14}|{'-' * 13}|{'-' * 22}|{'-' * 17}|")
    for name in envs:
        for mode in modes:
            rate = best[(name, mode)]
            peer = rate.steps_per_s / best[(PEER_ID, mode)].steps_per_s
            scaling = "" if mode == SINGLE else f"{rate.steps_per_s / best[(name, SINGLE)].steps_per_s:.2f}x"
            cpu = rate.main_cpu_us + rate.worker_cpu_us
            if mode == SINGLE:
                cpu_text, cpu_peer = f"{cpu:.0f}", f"{best[(PEER_ID, SINGLE)].main_cpu_us / cpu:.2f}x"
            elif mode == ASYNC:
                cpu_text, cpu_peer = f"{rate.main_cpu_us:.0f} + {rate.worker_cpu_us:.0f}", ""
            else:
                cpu_text, cpu_peer = f"{cpu:.0f}", ""
            # Two idle cores: per vector step the workers run in parallel (c_worker each) and the
            # main process's work (2 c_main) follows serially.
            bound = ""
            if mode == ASYNC and rate.worker_cpu_us:
                bound = f"{2 * best[(name, SINGLE)].main_cpu_us / (rate.worker_cpu_us + 2 * rate.main_cpu_us):.2f}x"
            print(f"| {name:32s} | {mode:17s} | {rate.steps_per_s:8.0f} | {peer:15.2f}x | {scaling:>12s} "
                  f"| {cpu_text:>11s} | {cpu_peer:>20s} | {bound:>15s} |")
    floor = best[("floor", SINGLE)]
    print(f"| {'floor: our bare physics':32s} | {SINGLE:17s} | {floor.steps_per_s:8.0f} | "
          f"{floor.steps_per_s / best[(PEER_ID, SINGLE)].steps_per_s:15.2f}x | {'':>12s} | {floor.main_cpu_us:11.0f} "
          f"| {best[(PEER_ID, SINGLE)].main_cpu_us / floor.main_cpu_us:19.2f}x | {'':>15s} |")
    cluttered = best[("ours cluttered", SINGLE)].steps_per_s / best[(PEER_ID, SINGLE)].steps_per_s
    scaling = best[("ours cluttered", ASYNC)].steps_per_s / best[("ours cluttered", SINGLE)].steps_per_s
    print(f"\ntargets: cluttered >= 2.0x {PEER_ID} in one process: {cluttered:.2f}x "
          f"({'met' if cluttered >= 2.0 else 'not met'}); AsyncVectorEnv x2 >= 1.7x one process: {scaling:.2f}x "
          f"({'met' if scaling >= 1.7 else 'not met'})")
    print("CPU us/step: one process's CPU time per env step; AsyncVectorEnv: main process + workers per env step. "
          "CPU vs PandaReach-v3: its CPU time per step over ours (higher is faster).")
    print("Ours measures every step: sphere-model clearance (obstacles, self, table), PyBullet closest points of "
          "near pairs (clearance='both'), contacts.")
    print(f"numpy {np.__version__}, gymnasium {gym.__version__}")


if __name__ == "__main__":
    main()

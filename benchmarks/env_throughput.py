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
best of ``--repeats`` rounds is kept.

Run: ``python benchmarks/env_throughput.py [--steps 3000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

import sim

OUR_ID = sim.ENV_IDS[0]
PEER_ID = "PandaReach-v3"
OTHER_PEER_ID = "PandaPush-v3"
SINGLE, ASYNC, SYNC = "1 process", "AsyncVectorEnv x2", "SyncVectorEnv x2"


class Ours:
    """Picklable env factory (AsyncVectorEnv workers are started with fork or spawn)."""

    def __init__(self, scenario: str, clearance: str = "both") -> None:
        self.scenario, self.clearance = scenario, clearance

    def __call__(self) -> gym.Env:
        return gym.make(OUR_ID, scenario=self.scenario, clearance=self.clearance)


class Panda:
    """Picklable factory of a panda-gym env (both need ``render_mode="rgb_array"`` to be created)."""

    def __init__(self, env_id: str) -> None:
        self.env_id = env_id

    def __call__(self) -> gym.Env:
        try:
            import panda_gym  # noqa: F401  (registers the Panda envs)
        except ImportError as error:
            raise SystemExit("this benchmark compares with panda-gym: pip install panda-gym") from error
        return gym.make(self.env_id, render_mode="rgb_array")


def single_rate(make: Callable[[], gym.Env], steps: int, seed: int = 0) -> float:
    """Environment steps per second of one env in this process."""
    env = make()
    env.reset(seed=seed)
    env.action_space.seed(seed)
    env.step(env.action_space.sample())  # warm-up (numba, first contact queries)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def vector_rate(make: Callable[[], gym.Env], steps: int, vector: type, workers: int = 2, seed: int = 0) -> float:
    """Environment steps per second summed over a vector env of ``workers`` sub-environments
    (sub-environments reset themselves when an episode ends)."""
    envs = vector([make] * workers)
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    for _ in range(3):  # warm-up: worker start, numba, first contact queries
        envs.step(envs.action_space.sample())
    start = time.perf_counter()
    for _ in range(steps // workers):
        envs.step(envs.action_space.sample())
    elapsed = time.perf_counter() - start
    envs.close()
    return (steps // workers) * workers / elapsed


def physics_floor_rate(steps: int) -> float:
    """Control steps per second of our robot's bare physics: 12 substeps of 1/240 s, position
    targets set once per step, no obstacles and nothing measured."""
    from sim.world import World

    rng = np.random.default_rng(0)
    targets = rng.uniform(-1.0, 1.0, (steps, 4)) * np.array([3.0, 1.4, 1.4, 1.6])
    with World() as world:
        world.step(12)
        start = time.perf_counter()
        for target in targets:
            world.set_position_targets(target)
            world.step(12)
        return steps / (time.perf_counter() - start)


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
    modes: dict[str, Callable[[Callable[[], gym.Env]], float]] = {
        SINGLE: lambda make: single_rate(make, args.steps),
        ASYNC: lambda make: vector_rate(make, args.steps, gym.vector.AsyncVectorEnv),
    }
    if not args.no_sync:
        modes[SYNC] = lambda make: vector_rate(make, args.steps, gym.vector.SyncVectorEnv)
    best: dict[tuple[str, str], float] = {}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        for name, make in envs.items():
            for mode, measure in modes.items():
                best[(name, mode)] = max(best.get((name, mode), 0.0), measure(make))
        best[("floor", SINGLE)] = max(best.get(("floor", SINGLE), 0.0), physics_floor_rate(args.steps))
    load_after = os.getloadavg()[0]

    print(f"steps/s, best of {args.repeats} interleaved rounds x {args.steps} steps, random actions, resets "
          f"included; {os.cpu_count()} cores, load average {load_before:.1f} -> {load_after:.1f}\n")
    print(f"| {'environment':32s} | {'mode':17s} | {'steps/s':>8s} | {'vs ' + PEER_ID:>16s} | {'vs 1 process':>12s} |")
    print(f"|{'-' * 34}|{'-' * 19}|{'-' * 10}|{'-' * 18}|{'-' * 14}|")
    for name in envs:
        for mode in modes:
            rate = best[(name, mode)]
            peer = rate / best[(PEER_ID, mode)]
            scaling = "" if mode == SINGLE else f"{rate / best[(name, SINGLE)]:.2f}x"
            print(f"| {name:32s} | {mode:17s} | {rate:8.0f} | {peer:15.2f}x | {scaling:>12s} |")
    floor = best[("floor", SINGLE)]
    print(f"| {'floor: our bare physics':32s} | {SINGLE:17s} | {floor:8.0f} | "
          f"{floor / best[(PEER_ID, SINGLE)]:15.2f}x | {'':>12s} |")
    cluttered = best[("ours cluttered", SINGLE)] / best[(PEER_ID, SINGLE)]
    scaling = best[("ours cluttered", ASYNC)] / best[("ours cluttered", SINGLE)]
    print(f"\ntargets: cluttered >= 2.0x {PEER_ID} in one process: {cluttered:.2f}x "
          f"({'met' if cluttered >= 2.0 else 'not met'}); AsyncVectorEnv x2 >= 1.7x one process: {scaling:.2f}x "
          f"({'met' if scaling >= 1.7 else 'not met'})")
    print("Ours measures every step: sphere-model clearance (obstacles, self, table), PyBullet closest points of "
          "near pairs (clearance='both'), contacts.")
    print(f"numpy {np.__version__}, gymnasium {gym.__version__}")


if __name__ == "__main__":
    main()

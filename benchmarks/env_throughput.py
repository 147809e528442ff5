"""Environment throughput: steps per second of ``OpenManipulatorX-ObstacleReach-v0`` next to
panda-gym's ``PandaReach-v3``, measured in the same run, with ratios.

Every env takes seeded uniformly random actions and resets when an episode ends (resets count
in the time, as in training). Ours computes the capsule clearance, PyBullet's closest points
and the contact list on every step. Measured in one process and in an ``AsyncVectorEnv`` of 2
(steps counted over both sub-environments). The machine's other load moves all rates alike, so
read the ratios; the runs are interleaved and the best of ``--repeats`` is kept to damp noise.

Run: ``python benchmarks/env_throughput.py [--steps 3000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

import sim

OUR_ID = sim.ENV_IDS[0]
PEER_ID = "PandaReach-v3"


def ours(scenario: str) -> Callable[[], gym.Env]:
    return lambda: gym.make(OUR_ID, scenario=scenario)


def panda() -> gym.Env:
    import panda_gym  # noqa: F401  (registers PandaReach-v3)

    return gym.make(PEER_ID, render_mode="rgb_array")


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


def async_rate(make: Callable[[], gym.Env], steps: int, workers: int = 2, seed: int = 0) -> float:
    """Environment steps per second summed over an AsyncVectorEnv of ``workers`` envs."""
    envs = gym.vector.AsyncVectorEnv([make] * workers)
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    envs.step(envs.action_space.sample())
    start = time.perf_counter()
    for _ in range(steps // workers):
        envs.step(envs.action_space.sample())
    elapsed = time.perf_counter() - start
    envs.close()
    return (steps // workers) * workers / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many interleaved runs")
    args = parser.parse_args()
    if args.steps < 10 or args.repeats < 1:
        parser.error("--steps must be >= 10 and --repeats >= 1")
    cases: dict[tuple[str, str], Callable[[], float]] = {}
    peers = ((PEER_ID, panda), (f"{OUR_ID} empty", ours("empty")), (f"{OUR_ID} cluttered", ours("cluttered")))
    for name, make in peers:
        cases[(name, "1 process")] = lambda make=make: single_rate(make, args.steps)
        cases[(name, "AsyncVectorEnv x2")] = lambda make=make: async_rate(make, args.steps)
    best = {key: 0.0 for key in cases}
    for _ in range(args.repeats):
        for key, measure in cases.items():
            best[key] = max(best[key], measure())
    print(f"steps/s, best of {args.repeats} x {args.steps} steps, random actions, resets included\n")
    print(f"| {'environment':45s} | {'mode':17s} | {'steps/s':>8s} | {'vs ' + PEER_ID:>16s} |")
    print(f"|{'-' * 47}|{'-' * 19}|{'-' * 10}|{'-' * 18}|")
    for (name, mode), rate in best.items():
        ratio = rate / best[(PEER_ID, mode)]
        print(f"| {name:45s} | {mode:17s} | {rate:8.0f} | {ratio:15.2f}x |")
    print("\nOurs computes every step: capsule min clearance, PyBullet closest points (1 m horizon), contacts.")
    print(f"numpy {np.__version__}, gymnasium {gym.__version__}")


if __name__ == "__main__":
    main()

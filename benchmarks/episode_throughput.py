"""Episode throughput per policy on a scenario, with 1 and 2 workers, and where the time goes.

Prints episodes per second for each policy with one worker (in process) and with two worker
processes, and the share of one-worker time spent in IK (the solver's own calls), planning
(path candidates and their clearance checks, IK excluded), the safety layer, physics (PyBullet stepping), and
clearance (capsule and PyBullet distance queries of the environment), measured with cProfile's
cumulative times in the same run.

Run: ``python benchmarks/episode_throughput.py [--scenario cluttered] [--episodes 6]``
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from evaluation.config import RunConfig
from evaluation.runner import EpisodeWorker, iterate_results

DEFAULT_POLICIES = "iknet:improved,iknet:improved+safe,analytic,analytic+safe,pybullet-ik"


def _time_of(stats: pstats.Stats, file_suffix: str, name: str, caller_files: tuple[str, ...] | None = None) -> float:
    """Cumulative seconds in function ``name`` of a file ending ``file_suffix`` (only the calls
    made from files ending in one of ``caller_files``, if given)."""
    total = 0.0
    for (filename, _, function), (_, _, _, cumulative, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if function != name or not filename.endswith(file_suffix):
            continue
        if caller_files is None:
            total += cumulative
        else:
            total += sum(v[3] for c, v in callers.items() if c[0].endswith(caller_files))
    return total


def profile_policy(policy: str, scenario: str, episodes: int, seed: int) -> tuple[float, dict[str, float]]:
    """Seconds for ``episodes`` in-process episodes and the time shares by activity."""
    worker = EpisodeWorker()
    worker.run(scenario, policy, seed, 0, 150)  # warm-up: model loading, numba, env creation
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for episode in range(episodes):
        worker.run(scenario, policy, seed, episode, 150)
    profiler.disable()
    elapsed = time.perf_counter() - start
    worker.close()
    stats = pstats.Stats(profiler)
    total = max(sum(v[2] for v in stats.stats.values()), 1e-12)  # type: ignore[attr-defined]
    ik = _time_of(stats, "solvers.py", "solve")
    planning = _time_of(stats, "planning.py", "plan_path") - _time_of(stats, "solvers.py", "solve", ("planning.py",))
    physics = _time_of(stats, "world.py", "step")
    env_files = ("env.py",)
    clearance = (_time_of(stats, "collision.py", "min_clearance", env_files)
                 + _time_of(stats, "world.py", "closest_points") + _time_of(stats, "world.py", "contacts"))
    safety = _time_of(stats, "planning.py", "keep_clearance")
    shares = {"ik": ik / total, "planning": max(planning, 0.0) / total, "safety": safety / total,
              "physics": physics / total, "clearance": clearance / total}
    return elapsed, shares


def workers_rate(policies: list[str], scenario: str, episodes: int, seed: int, workers: int) -> float:
    """Episodes per second over all policies with ``workers`` processes.

    Runs ``episodes`` and then ``2 * episodes`` episodes per policy in fresh pools and divides the
    extra episodes by the extra time, which cancels process start-up and model loading.
    """
    times = []
    for count in (episodes, 2 * episodes):
        with tempfile.TemporaryDirectory() as folder:
            config = RunConfig(scenario, tuple(policies), count, seed, Path(folder), workers=workers)
            start = time.perf_counter()
            for _ in iterate_results(config, config.tasks()):
                pass
            times.append(time.perf_counter() - start)
    return episodes * len(policies) / max(times[1] - times[0], 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="cluttered")
    parser.add_argument("--policies", default=DEFAULT_POLICIES, help="comma-separated policy names")
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    policies = args.policies.split(",")
    print(f"scenario {args.scenario}, {args.episodes} episodes per policy, seed {args.seed}\n")
    print(f"{'policy':<24}{'episodes/s':>11}{'IK':>8}{'planning':>10}{'safety':>8}{'physics':>9}{'clearance':>11}{'other':>8}")
    for policy in policies:
        elapsed, shares = profile_policy(policy, args.scenario, args.episodes, args.seed)
        other = max(0.0, 1.0 - sum(shares.values()))
        print(f"{policy:<24}{args.episodes / elapsed:>11.2f}{shares['ik']:>8.0%}{shares['planning']:>10.0%}{shares['safety']:>8.0%}"
              f"{shares['physics']:>9.0%}{shares['clearance']:>11.0%}{other:>8.0%}")
    print("(shares from cProfile, which inflates Python-heavy parts; rates above are profiled, so conservative)\n")
    one = workers_rate(policies, args.scenario, args.episodes, args.seed, 1)
    two = workers_rate(policies, args.scenario, args.episodes, args.seed, 2)
    print(f"all policies, 1 worker : {one:.2f} episodes/s")
    print(f"all policies, 2 workers: {two:.2f} episodes/s  (speed-up {two / one:.2f}x on 2 cores)")


if __name__ == "__main__":
    main()

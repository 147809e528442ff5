"""Episode throughput of ``run_sim.py``'s default policies, this tree next to an earlier commit, and
where the time of an episode goes.

Episodes run in process, as one ``run_sim.py`` worker runs them (``evaluation.runner.EpisodeWorker``:
one env per scenario reused across episodes, seed ``seed + k`` for episode ``k``). Each tree is
measured in a child process whose ``PYTHONPATH`` is that tree (the earlier commit is exported with
``git archive`` into a temporary folder, as ``benchmarks/geometry_cost.py`` does), the trees
alternating, best of ``--repeats`` per policy. Then, for this tree only: all policies with 1 and 2
worker processes, and the share of one-worker time spent in IK, planning, the safety layer,
physics (PyBullet stepping with the contact polls) and the env's clearance measurements, from
cProfile (which inflates Python-heavy parts).

Run: ``python benchmarks/episode_throughput.py [--before f5185e6] [--episodes 10] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _git_tree import REPOSITORY, export  # benchmarks/ is on sys.path when run as a script

#: The last commit before the env's speed work (#15): a fresh PyBullet client per episode.
BEFORE_COMMIT = "f5185e6"

CHILD = r"""
import json, sys, time
from evaluation.config import DEFAULT_MAX_STEPS, DEFAULT_POLICIES, DEFAULT_SCENARIO
from evaluation.runner import EpisodeWorker

policies, episodes, seed = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
results = {}
for policy in policies or DEFAULT_POLICIES:
    worker = EpisodeWorker()
    worker.run(DEFAULT_SCENARIO, policy, seed, episodes, DEFAULT_MAX_STEPS)  # warm-up: models, numba, env
    steps = 0
    start = time.perf_counter()
    for episode in range(episodes):
        steps += worker.run(DEFAULT_SCENARIO, policy, seed, episode, DEFAULT_MAX_STEPS).row["steps"]
    results[policy] = {"seconds": time.perf_counter() - start, "steps": steps}
    worker.close()
print(json.dumps(results))
"""


def measure(tree: Path, policies: list[str], episodes: int, seed: int) -> dict[str, dict[str, float]]:
    """Seconds and control steps of ``episodes`` episodes per policy, in a child process on ``tree``."""
    environment = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", CHILD, ",".join(policies), str(episodes), str(seed)], cwd=tree,
                          env=environment, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


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


def time_shares(policy: str, episodes: int, seed: int) -> dict[str, float]:
    """Shares of one-worker episode time by activity, from cProfile, in this tree."""
    from evaluation.config import DEFAULT_MAX_STEPS, DEFAULT_SCENARIO
    from evaluation.runner import EpisodeWorker

    worker = EpisodeWorker()
    worker.run(DEFAULT_SCENARIO, policy, seed, episodes, DEFAULT_MAX_STEPS)
    profiler = cProfile.Profile()
    profiler.enable()
    for episode in range(episodes):
        worker.run(DEFAULT_SCENARIO, policy, seed, episode, DEFAULT_MAX_STEPS)
    profiler.disable()
    worker.close()
    stats = pstats.Stats(profiler)
    total = max(sum(v[2] for v in stats.stats.values()), 1e-12)  # type: ignore[attr-defined]
    ik = _time_of(stats, "solvers.py", "solve")
    planning = _time_of(stats, "planning.py", "plan_path") - _time_of(stats, "solvers.py", "solve", ("planning.py",))
    physics = _time_of(stats, "world.py", "step_watching_contacts")
    clearance = (_time_of(stats, "collision.py", "arm_clearances", ("env.py",))
                 + _time_of(stats, "world.py", "pair_clearance") + _time_of(stats, "world.py", "contacts"))
    safety = _time_of(stats, "safety.py", "keep_clearance")
    return {"IK": ik / total, "planning": max(planning, 0.0) / total, "safety": safety / total,
            "physics": physics / total, "clearance": clearance / total}


def workers_rate(policies: list[str], episodes: int, seed: int, workers: int) -> float:
    """Episodes per second over all policies with ``workers`` processes (this tree).

    Runs ``episodes`` and then ``2 * episodes`` episodes per policy in fresh pools and divides the
    extra episodes by the extra time, which cancels process start-up and model loading.
    """
    from evaluation.config import DEFAULT_SCENARIO, RunConfig
    from evaluation.runner import iterate_results

    times = []
    for count in (episodes, 2 * episodes):
        with tempfile.TemporaryDirectory() as folder:
            config = RunConfig(DEFAULT_SCENARIO, tuple(policies), count, seed, Path(folder), workers=workers,
                               progress=False)
            start = time.perf_counter()
            for _ in iterate_results(config, config.tasks()):
                pass
            times.append(time.perf_counter() - start)
    return episodes * len(policies) / max(times[1] - times[0], 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE_COMMIT, help=f"git ref to compare with (default {BEFORE_COMMIT})")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per policy and measurement (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many alternating rounds (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-breakdown", action="store_true", help="skip the time shares and the 2-worker rate")
    args = parser.parse_args()
    if args.episodes < 1 or args.repeats < 1:
        parser.error("--episodes and --repeats must be >= 1")
    from evaluation.config import DEFAULT_POLICIES, DEFAULT_SCENARIO

    policies = list(DEFAULT_POLICIES)
    with tempfile.TemporaryDirectory() as folder:
        trees = {f"before ({args.before})": export(args.before, Path(folder)), "now": REPOSITORY}
        best: dict[tuple[str, str], dict[str, float]] = {}
        for _ in range(args.repeats):
            for name, tree in trees.items():
                for policy, result in measure(tree, policies, args.episodes, args.seed).items():
                    kept = best.get((name, policy))
                    if kept is None or result["seconds"] < kept["seconds"]:
                        best[(name, policy)] = result
    before, now = trees
    print(f"scenario {DEFAULT_SCENARIO}, run_sim.py's default policies, {args.episodes} episodes each (seed "
          f"{args.seed}), 1 worker in process, best of {args.repeats} alternating rounds\n")
    print("| policy | before: episodes/s | now: episodes/s | now / before | steps/episode before, now |")
    print("|---|---|---|---|---|")
    totals = {name: [0.0, 0.0] for name in trees}
    for policy in policies:
        rates = {}
        for name in trees:
            result = best[(name, policy)]
            rates[name] = args.episodes / result["seconds"]
            totals[name][0] += result["seconds"]
            totals[name][1] += result["steps"]
        steps_before, steps_now = (best[(name, policy)]["steps"] / args.episodes for name in (before, now))
        print(f"| {policy} | {rates[before]:.2f} | {rates[now]:.2f} | {rates[now] / rates[before]:.2f}x | "
              f"{steps_before:.0f}, {steps_now:.0f} |")
    episodes = args.episodes * len(policies)
    all_before, all_now = episodes / totals[before][0], episodes / totals[now][0]
    print(f"| all | {all_before:.2f} | {all_now:.2f} | {all_now / all_before:.2f}x | "
          f"{totals[before][1] / episodes:.0f}, {totals[now][1] / episodes:.0f} |")
    if args.no_breakdown:
        return
    print(f"\nnow, where one worker's time goes (cProfile shares, {args.episodes} episodes per policy):\n")
    print(f"{'policy':<26}{'IK':>7}{'planning':>10}{'safety':>8}{'physics':>9}{'clearance':>11}{'other':>8}")
    for policy in policies:
        shares = time_shares(policy, args.episodes, args.seed)
        other = max(0.0, 1.0 - sum(shares.values()))
        print(f"{policy:<26}" + "".join(f"{shares[key]:>{width}.0%}" for key, width in
                                        (("IK", 7), ("planning", 10), ("safety", 8), ("physics", 9),
                                         ("clearance", 11))) + f"{other:>8.0%}")
    one = workers_rate(policies, args.episodes, args.seed, 1)
    two = workers_rate(policies, args.episodes, args.seed, 2)
    print(f"\nnow, all policies: 1 worker {one:.2f} episodes/s, 2 workers {two:.2f} episodes/s "
          f"(speed-up {two / one:.2f}x on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()

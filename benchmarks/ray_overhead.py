"""What the Ray backend costs: episodes/s of the same sweep on ``local --workers 2`` and on ``ray``
(a local instance of 2 CPUs), measured in one run, and the scheduling overhead per task.

The sweep (default 200 episodes: ``single`` and ``cluttered`` x ``analytic`` and ``analytic+safe`` x
50 episodes) runs through :func:`evaluation.runner.run` into a fresh folder each time, so both
backends pay what a real run pays: starting their workers (the pool spawns 2 processes; Ray starts
2 worker processes on a fresh instance), the first-episode imports, shipping the scenario specs,
streaming results and the driver's fsync'ed writes. Ray's instance start-up (``ray.init``) is
reported apart: a cluster is started once, not per sweep (Ray also starts its idle workers then,
while the pool spawns its processes inside the timed run: the "steady" rate, from the written
episode number 2 x workers x episodes-per-task to the last, leaves start-up out for both). Each round
runs local, ray, and ray with
``--episodes-per-task`` (if > 1), in reversed order every other round, best of ``--repeats``;
every sample is printed, since the machine's cores are shared with whatever else runs.

Scheduling overhead per task: a no-op task returning an episode-sized result (a real
``EpisodeResult`` captured first), 400 of them through each backend; the time from the first
result to the last, per task, is the driver's cost of one task (submit, run, ship back, receive).

Run: ``python benchmarks/ray_overhead.py [--episodes 50] [--repeats 3] [--episodes-per-task 4]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from evaluation import runner
from evaluation.backends import make_backend
from evaluation.config import DEFAULT_MAX_STEPS, RunConfig
from evaluation.runner import EpisodeResult, EpisodeWorker, run
from evaluation.schema import EPISODES_FILE, read_episodes
from evaluation.sweep import sweep_from_dict

SCENARIOS, POLICIES = ("single", "cluttered"), ("analytic", "analytic+safe")
WORKERS = 2


def _echo(shared: EpisodeResult, task: Any) -> EpisodeResult:
    """A task that does no work and returns an episode-sized result."""
    return shared


def sweep_config(episodes: int, out: Path, *, backend: str, episodes_per_task: int = 1) -> RunConfig:
    spec = sweep_from_dict({"name": "ray-overhead", "grid": [
        {"scenarios": list(SCENARIOS), "policies": list(POLICIES), "seeds": [0], "episodes": episodes}]})
    return RunConfig.from_sweep(spec, out, workers=WORKERS, backend=backend, episodes_per_task=episodes_per_task,
                                progress=False)


class Sample(NamedTuple):
    seconds: float  #: the whole run() call
    steady_per_s: float  #: episodes/s from the (2 x workers)-th written episode to the last
    episode_seconds: float  #: summed wall time inside episodes
    episodes: int


def timed_sweep(episodes: int, backend: str, episodes_per_task: int = 1) -> Sample:
    """One fresh sweep run, timed as a whole and from its first results on (start-up excluded)."""
    written: list[float] = []
    original = runner.append_rows

    def timestamped(path: Path, columns: Any, rows: Any) -> None:
        original(path, columns, rows)
        if path.name == EPISODES_FILE:
            written.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as folder:
        config = sweep_config(episodes, Path(folder) / "run", backend=backend, episodes_per_task=episodes_per_task)
        runner.append_rows = timestamped
        try:
            start = time.perf_counter()
            run(config)
            seconds = time.perf_counter() - start
        finally:
            runner.append_rows = original
        rows = read_episodes(config.out_dir)
    skip = 2 * WORKERS * episodes_per_task
    steady = (len(written) - 1 - skip) / (written[-1] - written[skip])
    return Sample(seconds, steady, sum(float(row["wall_time_s"]) for row in rows), len(rows))


def task_overhead_s(backend_name: str, payload: EpisodeResult, tasks: int = 400) -> float:
    """Seconds per no-op task (episode-sized result) through a backend of 2 workers: the time from the
    first result to the last over the tasks in between (worker start-up excluded)."""
    with make_backend(backend_name, workers=WORKERS) as backend:
        arrivals = [time.perf_counter() for _ in backend.run(_echo, payload, list(range(tasks)))]
    return (arrivals[-1] - arrivals[0]) / (tasks - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=50, help="episodes per (scenario, policy) (default: 50)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; the best is reported (default: 5)")
    parser.add_argument("--episodes-per-task", type=int, default=4,
                        help="also measure Ray with this many episodes per task (1: skip) (default: 4)")
    args = parser.parse_args()
    import ray

    total = args.episodes * len(SCENARIOS) * len(POLICIES)
    print(f"sweep: {total} episodes ({', '.join(SCENARIOS)} x {', '.join(POLICIES)} x {args.episodes}), "
          f"{WORKERS} workers / CPUs, best of {args.repeats}")
    labels = ["local --workers 2", "ray (2 CPUs)"]
    if args.episodes_per_task > 1:
        labels.append(f"ray, {args.episodes_per_task} episodes/task")
    samples: dict[str, list[Sample]] = {label: [] for label in labels}
    init_seconds = []
    for round_index in range(args.repeats):
        order = labels if round_index % 2 == 0 else labels[::-1]  # neither backend always runs first
        for label in order:
            if label == labels[0]:
                samples[label].append(timed_sweep(args.episodes, "local"))
                continue
            per_task = 1 if label == labels[1] else args.episodes_per_task
            start = time.perf_counter()  # a fresh instance per sample: cold workers, as the pool's are
            ray.init(address="local", num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
            init_seconds.append(time.perf_counter() - start)
            try:
                samples[label].append(timed_sweep(args.episodes, "ray", per_task))
            finally:
                ray.shutdown()
        print(f"  round {round_index + 1}: " + ", ".join(
            f"{label} {samples[label][-1].seconds:.1f} s ({samples[label][-1].steady_per_s:.2f}/s steady)"
            for label in labels), flush=True)

    print(f"\n{'backend':<26}{'best s':>8}{'median s':>10}{'worst s':>9}{'episodes/s':>12}{'steady/s':>10}"
          f"{'(worst)':>9}{'busy %':>8}{'time vs local':>15}{'steady vs local':>17}")
    best_local = min(s.seconds for s in samples[labels[0]])
    best_local_steady = max(s.steady_per_s for s in samples[labels[0]])
    for label in labels:
        times = [s.seconds for s in samples[label]]
        best = min(samples[label], key=lambda s: s.seconds)
        steady = max(s.steady_per_s for s in samples[label])
        busy = 100 * best.episode_seconds / (best.seconds * WORKERS)  # workers' time spent inside episodes
        print(f"{label:<26}{best.seconds:>8.2f}{statistics.median(times):>10.2f}{max(times):>9.2f}"
              f"{best.episodes / best.seconds:>12.2f}{steady:>10.2f}{min(s.steady_per_s for s in samples[label]):>9.2f}"
              f"{busy:>8.0f}{best.seconds / best_local - 1:>+15.1%}{best_local_steady / steady - 1:>+17.1%}")
    print(f"ray.init of a local 2-CPU instance (not in the times above): "
          f"{min(init_seconds):.1f}-{max(init_seconds):.1f} s")
    ray_steady = max(s.steady_per_s for s in samples[labels[1]])
    print(f"Ray's extra cost per episode at steady state (x{WORKERS} workers): "
          f"{1e3 * WORKERS * (1 / ray_steady - 1 / best_local_steady):+.1f} ms "
          f"(whole runs: {1e3 * WORKERS * (min(s.seconds for s in samples[labels[1]]) - best_local) / total:+.1f} ms)")

    worker = EpisodeWorker()
    payload = worker.run(SCENARIOS[1], POLICIES[0], 0, 0, DEFAULT_MAX_STEPS)
    worker.close()
    print(f"\nno-op task with an episode-sized result ({len(payload.steps)} step rows), 400 tasks, first to last "
          "result:")
    pool = task_overhead_s("local", payload)
    ray.init(address="local", num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = task_overhead_s("ray", payload)
    finally:
        ray.shutdown()
    print(f"  process pool: {1e3 * pool:.2f} ms/task   ray: {1e3 * on_ray:.2f} ms/task")


if __name__ == "__main__":
    main()

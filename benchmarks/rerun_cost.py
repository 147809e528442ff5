"""What ``--rerun`` costs: seconds and megabytes per 100 episodes, against the same run without it.

The same run (scenario x policies x episodes, one seed, in this process) is made twice into fresh
folders, once plain and once with ``rerun=True`` (:func:`evaluation.runner.run`); then the plain
folder is recorded afterwards (:func:`evaluation.rerun_recording.record_results`, what
``python -m evaluation.replay`` does). A warm-up run first loads what every run loads once
(torch, the CAD model, numba's kernels, rerun-sdk), so the figures are per-episode costs. Episodes
count policy-episodes (one scene of 4 policies is 4 episodes, and one ``.rrd`` file).

Printed: run time per 100 episodes without and with ``--rerun``, their ratio, the recording's own
time (replay), recording megabytes per 100 episodes beside the folder's logs, and per file.
The CPU may be shared (say so beside the figures you quote).

Run: ``python benchmarks/rerun_cost.py [--scenario cluttered] [--episodes 5] [--models A,B]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("CI", "1")  # Rerun's usage analytics stay off (re_analytics sends nothing where CI is set)


def _megabytes(folder: Path, *, skip: str | None = None) -> float:
    """Bytes of every file under ``folder`` (but the sub-folder ``skip``), in MB (1e6 bytes)."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and (skip is None or skip not in path.relative_to(folder).parts):
            total += path.stat().st_size
    return total / 1e6


def main() -> int:
    from evaluation.config import DEFAULT_MAX_STEPS, DEFAULT_POLICIES, RunConfig
    from evaluation.rerun_recording import record_results
    from evaluation.runner import run
    from evaluation.schema import RECORDINGS_DIR

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="cluttered")
    parser.add_argument("--models", default=",".join(DEFAULT_POLICIES), help="comma-separated policies")
    parser.add_argument("--episodes", type=int, default=5, help="episodes per policy (scenes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS)
    args = parser.parse_args()
    policies = tuple(name.strip() for name in args.models.split(",") if name.strip())

    with tempfile.TemporaryDirectory(prefix="rerun_cost_") as scratch:
        root = Path(scratch)

        def config(name: str, episodes: int = args.episodes, models: tuple[str, ...] = policies) -> RunConfig:
            return RunConfig(scenario=args.scenario, policies=models, episodes=episodes, seed=args.seed,
                             out_dir=root / name, max_steps=args.max_steps, progress=False)

        run(config("warmup", 1, policies[:1]), rerun=True)
        started = time.perf_counter()
        plain = run(config("plain"))
        plain_s = time.perf_counter() - started
        started = time.perf_counter()
        recorded = run(config("rerun"), rerun=True)
        rerun_s = time.perf_counter() - started
        started = time.perf_counter()
        files = record_results(plain)
        replay_s = time.perf_counter() - started

        episodes = args.episodes * len(policies)
        per_100 = 100.0 / episodes
        recordings_mb = _megabytes(recorded / RECORDINGS_DIR)
        logs_mb = _megabytes(recorded, skip=RECORDINGS_DIR)
        print(f"{args.scenario}, {args.episodes} scenes x {len(policies)} policies = {episodes} episodes "
              f"(max {args.max_steps} steps), seed {args.seed}; {len(files)} .rrd files")
        print(f"{'':34}{'s / 100 episodes':>18}{'MB / 100 episodes':>19}")
        print(f"{'run without --rerun':34}{plain_s * per_100:18.1f}{logs_mb * per_100:19.1f}  (the logs)")
        print(f"{'run with --rerun':34}{rerun_s * per_100:18.1f}{(logs_mb + recordings_mb) * per_100:19.1f}")
        print(f"{'  the recordings alone (replay)':34}{replay_s * per_100:18.1f}{recordings_mb * per_100:19.1f}  "
              f"({recordings_mb / len(files):.2f} MB per scene file of {len(policies)} policies)")
        print(f"ratio with / without --rerun: time {rerun_s / plain_s:.2f}x, "
              f"disk {(logs_mb + recordings_mb) / logs_mb:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

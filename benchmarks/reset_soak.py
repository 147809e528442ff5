"""Reset soak: many env resets in one process; memory and open file descriptors must stay flat.

    python benchmarks/reset_soak.py                      # 10,000 resets of 'cluttered'
    python benchmarks/reset_soak.py --resets 2000 --scenario dynamic --steps 2

Prints the resident set size (RSS, from /proc/self/status) and the number of open file
descriptors (/proc/self/fd) at the start (after a warm-up of 20 resets, so imports, numba's
kernels and the first PyBullet client are in), every tenth of the way, and at the end, with the
end/start ratios. A leak of a PyBullet client, a shape per obstacle or a file per reset shows
as growth that does not level off. Linux only (it reads /proc).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WARM_UP_RESETS = 20


def rss_mb() -> float:
    """Resident set size of this process (MB)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resets", type=int, default=10_000, help="resets after the warm-up (default: 10000)")
    parser.add_argument("--scenario", default="cluttered", help="scenario name or .toml file (default: cluttered)")
    parser.add_argument("--steps", type=int, default=1, help="env steps after each reset (default: 1)")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        parser.error("this soak reads /proc: Linux only")
    if args.resets < 1 or args.steps < 0:
        parser.error("--resets must be at least 1 and --steps at least 0")

    import gymnasium as gym

    import sim

    env = gym.make(sim.ENV_IDS[0], scenario=args.scenario, terminate_on_success=False)
    action = env.action_space.sample() * 0.0

    def soak(first: int, count: int) -> None:
        for seed in range(first, first + count):
            env.reset(seed=seed)
            for _ in range(args.steps):
                env.step(action)

    soak(0, WARM_UP_RESETS)
    start_rss, start_fds = rss_mb(), open_descriptors()
    print(f"{args.scenario}: {args.resets} resets ({args.steps} step(s) each) after {WARM_UP_RESETS} to warm up")
    print(f"{'resets':>8} {'RSS MB':>8} {'open fds':>9} {'resets/s':>9}")
    print(f"{0:>8} {start_rss:>8.1f} {start_fds:>9d} {'':>9}")
    started, done = time.perf_counter(), 0
    chunk = max(1, args.resets // 10)
    while done < args.resets:
        count = min(chunk, args.resets - done)
        soak(WARM_UP_RESETS + done, count)
        done += count
        rate = done / (time.perf_counter() - started)
        print(f"{done:>8} {rss_mb():>8.1f} {open_descriptors():>9d} {rate:>9.1f}", flush=True)
    env.close()
    end_rss, end_fds = rss_mb(), open_descriptors()
    print(f"start: RSS {start_rss:.1f} MB, {start_fds} open file descriptors")
    print(f"end:   RSS {end_rss:.1f} MB, {end_fds} open file descriptors (after env.close())")
    print(f"ratios end/start: RSS {end_rss / start_rss:.3f}, file descriptors {end_fds / start_fds:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

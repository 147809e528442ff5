"""The safety layer's margin, chosen on the truth: CAD contact and success by margin.

The safety layer (``+safe``) projects every joint target onto a clearance of at least the margin
from obstacles and the table, measured on the sphere bound (which lies up to ~24 mm outside
ROBOTIS' CAD). A margin is only as good as what the real arm then touches, so each margin is
scored on the CAD truth channel (``episodes.csv``'s ``collided``: a touch of ROBOTIS' meshes at any
physics substep) and on success (goal reached without any contact), over the same seeded scenes
for every margin, and the bound's own contact rate beside it.

Run: ``python benchmarks/safety_margin_sweep.py [--margins-mm 4,8,12,16,20] [--episodes 20]``
"""

from __future__ import annotations

import argparse
import time

from _margin_sweep import NOTE, parse_margins_mm, print_pooled, run_margins  # benchmarks/ is on sys.path as a script

from agents.policies import make_policy

POLICIES = ("iknet:improved+safe", "analytic+safe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--margins-mm", default="4,8,12,16,20", help="margins to try, mm (default 4,8,12,16,20)")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per scenario (default 20; benchmark: 10)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    args = parser.parse_args()
    margins = parse_margins_mm(args.margins_mm, "--margins-mm", parser)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    started = time.perf_counter()
    print(f"seed {args.seed}; {args.episodes} episodes per scenario (benchmark: its 10 scenes); {NOTE}\n")
    results = run_margins(margins, POLICIES, lambda margin, name: make_policy(name, safety_margin_m=margin),
                          seed=args.seed, episodes=args.episodes)
    print_pooled(results)
    print(f"\nwall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

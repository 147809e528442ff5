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

import numpy as np

from agents.policies import make_policy
from evaluation.runner import EpisodeWorker

POLICIES = ("iknet:improved+safe", "analytic+safe")
SCENARIOS = ("benchmark", "cluttered", "narrow", "shelf")


class MarginWorker(EpisodeWorker):
    """An episode worker whose policies keep ``margin_m`` in their safety layer."""

    def __init__(self, margin_m: float) -> None:
        super().__init__()
        self.margin_m = margin_m

    def policy(self, name: str):  # type: ignore[no-untyped-def]
        if name not in self._policies:
            self._policies[name] = make_policy(name, safety_margin_m=self.margin_m)
        return self._policies[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--margins-mm", default="4,8,12,16,20", help="margins to try, mm (default 4,8,12,16,20)")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per scenario (default 20; benchmark: 10)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    args = parser.parse_args()
    try:
        margins = [float(value) / 1e3 for value in args.margins_mm.split(",")]
    except ValueError:
        parser.error("--margins-mm takes comma-separated numbers")
    if args.episodes < 1 or any(not 0.0 <= margin <= 0.1 for margin in margins):
        parser.error("--episodes must be >= 1 and margins within [0, 100] mm")
    started = time.perf_counter()
    print(f"seed {args.seed}; {args.episodes} episodes per scenario (benchmark: its 10 scenes); CAD = ROBOTIS' meshes "
          "(the truth), bound = the sphere bound; success = goal reached without any CAD contact\n")
    print("| policy | margin mm | scenario | episodes | CAD contact | bound contact | success | clearance median mm |")
    print("|---|---|---|---|---|---|---|---|")
    totals: dict[tuple[str, float], list[tuple[bool, bool]]] = {}
    for margin in margins:
        worker = MarginWorker(margin)
        for scenario in SCENARIOS:
            episodes = 10 if scenario == "benchmark" else args.episodes
            for policy in POLICIES:
                rows = [worker.run(scenario, policy, args.seed, episode, 100).row for episode in range(episodes)]
                collided = np.array([row["collided"] for row in rows], dtype=bool)
                success = np.array([row["success"] for row in rows], dtype=bool)
                bound = np.array([row["bound_contact_steps"] > 0 for row in rows])
                clearance = np.median([row["min_clearance_mm"] for row in rows])
                totals.setdefault((policy, margin), []).extend(zip(collided, success, strict=True))
                print(f"| {policy} | {1e3 * margin:g} | {scenario} | {episodes} | {collided.mean():.0%} | "
                      f"{bound.mean():.0%} | {success.mean():.0%} | {clearance:.1f} |")
        worker.close()
    print("\n| policy | margin mm | episodes | CAD contact | success |")
    print("|---|---|---|---|---|")
    for (policy, margin), outcomes in totals.items():
        array = np.array(outcomes)
        print(f"| {policy} | {1e3 * margin:g} | {len(array)} | {array[:, 0].mean():.1%} | {array[:, 1].mean():.1%} |")
    print(f"\nwall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

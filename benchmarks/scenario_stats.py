"""Scene statistics per built-in scenario: how often the naive straight path is blocked.

For ``--scenes`` seeded scenes of every built-in scenario, prints the fraction whose straight
joint-space path from start to goal collides (what commanding the goal joints directly does),
the same for the Cartesian straight line solved by the analytic IK (with the fraction of scenes
where that line leaves the reachable set), the mean obstacle count, the median clearance along
the joint path, and the sampling time per scene. ``tests/scenarios/test_sampling.py`` keeps the
joint-path fraction above a floor per scenario.

Run: ``python benchmarks/scenario_stats.py [--scenes 500] [--seed 0]`` (not ``scenarios.py``: run as a
script, that name would shadow the ``scenarios`` package it measures).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from scenarios import get_scenario, scenario_names
from sim.scene.scene_sampling import path_clearance, sample_scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=500, help="scenes per sampled scenario")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.scenes < 1:
        parser.error("--scenes must be positive")
    print(f"seed {args.seed}, {args.scenes} scenes per sampled scenario (benchmark: its 10 fixed scenes)\n")
    print("| scenario | scenes | obstacles | joint path blocked | Cartesian path blocked | Cartesian unreachable "
          "| median joint-path clearance (mm) | sampling (ms/scene) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in scenario_names():
        spec = get_scenario(name)
        rng = np.random.default_rng(args.seed)
        start = time.perf_counter()
        scenes = list(spec.fixed_scenes) or [sample_scene(spec, rng) for _ in range(args.scenes)]
        sampling_ms = 1e3 * (time.perf_counter() - start) / len(scenes)
        joint = np.array([path_clearance(scene, "joint") for scene in scenes])
        cartesian = np.array([path_clearance(scene, "cartesian") for scene in scenes])
        reachable = ~np.isnan(cartesian)
        cartesian_blocked = np.mean(cartesian[reachable] < 0) if reachable.any() else float("nan")
        median = np.median(joint) * 1e3 if np.isfinite(joint).any() else float("inf")
        print(f"| {name} | {len(scenes)} | {np.mean([len(s.obstacles) for s in scenes]):.1f} "
              f"| {np.mean(joint < 0):.1%} | {cartesian_blocked:.1%} | {1 - reachable.mean():.1%} "
              f"| {median:.1f} | {sampling_ms:.1f} |")


if __name__ == "__main__":
    main()

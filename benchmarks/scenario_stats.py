"""Scene statistics per built-in scenario: how often the naive straight path is blocked.

For ``--scenes`` seeded scenes of every built-in scenario, prints the fraction whose straight
joint-space path from start to goal collides (what commanding the goal joints directly does),
the same for the Cartesian straight line solved by the analytic IK (with the fraction of scenes
where that line leaves the reachable set), the mean obstacle count, the median clearance along
the joint path, and the sampling time per scene. Scenes are sampled on the sphere bound; the
blocked fractions are also measured on ROBOTIS' CAD meshes (the truth channel), and so is every
scene's start and goal: none may start or end in CAD contact (obstacles, table or the arm
itself). ``tests/scenarios/test_sampling.py`` keeps the joint-path fraction above a floor per
scenario.

Run: ``python benchmarks/scenario_stats.py [--scenes 500] [--seed 0]`` (not ``scenarios.py``: run as a
script, that name would shadow the ``scenarios`` package it measures).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from scenarios import get_scenario, scenario_names
from sim.robot.cad import measure
from sim.robot.collision import arm_clearances
from sim.robot.kinematics import MAX_JOINT_VELOCITY_RAD_S
from sim.scene.scene_sampling import path_clearance, sample_scene, straight_cartesian_path, straight_joint_path


def cad_clearance(configurations: np.ndarray, scene, times: np.ndarray | None = None) -> np.ndarray:
    """(K,) the CAD's smallest arm-obstacle distance of each configuration (obstacles at ``times``)."""
    out = np.empty(len(configurations))
    for index, q in enumerate(configurations):
        obstacles = scene.obstacle_set(0.0 if times is None else float(times[index]))
        bound = arm_clearances(q, obstacles)
        out[index] = measure(q, obstacles, bound_per_link=bound.per_link_m, bound_self_m=bound.self_m).obstacle_m
    return out


def cad_path_clearance(scene, path: str) -> float:
    """:func:`sim.scene.scene_sampling.path_clearance` on the CAD meshes."""
    configurations = (straight_joint_path(scene.start_joints, scene.goal_joints) if path == "joint"
                      else straight_cartesian_path(scene))
    if configurations is None:
        return float("nan")
    if not scene.obstacles:
        return float("inf")
    travel = np.concatenate([[0.0], np.cumsum(np.max(np.abs(np.diff(configurations, axis=0)), axis=1))])
    return float(cad_clearance(configurations, scene, travel / MAX_JOINT_VELOCITY_RAD_S).min())


def ends_in_contact(scene) -> bool:
    """Whether the start or the goal configuration touches an obstacle, the table or itself on the CAD."""
    for q in (scene.start_joints, scene.goal_joints):
        q = np.asarray(q, dtype=float)
        obstacles = scene.obstacle_set(0.0)
        result = measure(q, obstacles)
        if min(result.obstacle_m, result.self_m, result.table_m) <= 0.0:
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=500, help="scenes per sampled scenario")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.scenes < 1:
        parser.error("--scenes must be positive")
    print(f"seed {args.seed}, {args.scenes} scenes per sampled scenario (benchmark: its 10 fixed scenes)\n")
    print("| scenario | scenes | obstacles | joint path blocked (bound / CAD) | Cartesian path blocked (bound / CAD) "
          "| Cartesian unreachable | median joint-path clearance mm (bound / CAD) | start or goal in CAD contact "
          "| sampling (ms/scene) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in scenario_names():
        spec = get_scenario(name)
        rng = np.random.default_rng(args.seed)
        start = time.perf_counter()
        scenes = list(spec.fixed_scenes) or [sample_scene(spec, rng) for _ in range(args.scenes)]
        sampling_ms = 1e3 * (time.perf_counter() - start) / len(scenes)
        joint = np.array([path_clearance(scene, "joint") for scene in scenes])
        cartesian = np.array([path_clearance(scene, "cartesian") for scene in scenes])
        joint_cad = np.array([cad_path_clearance(scene, "joint") for scene in scenes])
        cartesian_cad = np.array([cad_path_clearance(scene, "cartesian") for scene in scenes])
        reachable = ~np.isnan(cartesian)
        blocked = (f"{np.mean(cartesian[reachable] < 0):.1%} / {np.mean(cartesian_cad[reachable] < 0):.1%}"
                   if reachable.any() else "nan")
        median = (f"{np.median(joint) * 1e3:.1f} / {np.median(joint_cad) * 1e3:.1f}" if np.isfinite(joint).any()
                  else "inf")
        touching = sum(ends_in_contact(scene) for scene in scenes)
        print(f"| {name} | {len(scenes)} | {np.mean([len(s.obstacles) for s in scenes]):.1f} "
              f"| {np.mean(joint < 0):.1%} / {np.mean(joint_cad < 0):.1%} | {blocked} | {1 - reachable.mean():.1%} "
              f"| {median} | {touching} | {sampling_ms:.1f} |")


if __name__ == "__main__":
    main()

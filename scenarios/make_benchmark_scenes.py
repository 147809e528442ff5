"""Draw the ``benchmark`` scenario's ten fixed scenes and write them as data.

    python -m scenarios.make_benchmark_scenes            # rewrites scenarios/benchmark_scenes.py
    python -m scenarios.make_benchmark_scenes --print    # prints the module instead

Scenes are drawn from the ``cluttered`` scenario with seeds 0, 1, 2, ...; a scene is kept when it
has the next wanted obstacle count (2, 3, 4, 5, 2, 3, 4, 5, 3, 4), its straight joint-space path
collides by more than 5 mm, and it still passes the scene rules (start and goal clear of every
obstacle by the margin, above the table, free of self-collision) after rounding positions and
sizes to 0.1 mm and joints to 0.1 mrad. Rerun it when the arm's geometry changes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from scenarios.catalogue import BUILTIN_SCENARIOS
from sim.robot.collision import self_clearance, signed_distances, table_clearance
from sim.scene.obstacles import Obstacle, Scene
from sim.scene.scene_sampling import path_clearance, sample_scene

OBSTACLE_COUNTS = (2, 3, 4, 5, 2, 3, 4, 5, 3, 4)
BLOCKED_BY_M = 0.005
MODULE_PATH = Path(__file__).with_name("benchmark_scenes.py")


def _rounded(scene: Scene) -> Scene:
    obstacles = tuple(
        replace(obstacle, size=tuple(round(v, 4) for v in obstacle.size),
                position=tuple(round(v, 4) for v in obstacle.position))
        for obstacle in scene.obstacles
    )
    return Scene(obstacles, tuple(round(v, 4) for v in scene.start_joints),
                 tuple(round(v, 4) for v in scene.goal_joints), "benchmark")


def _valid(scene: Scene, margin_m: float, table_margin_m: float) -> bool:
    ends = np.array([scene.start_joints, scene.goal_joints])
    return bool(signed_distances(ends, scene.obstacle_set()).min() >= margin_m
                and np.all(table_clearance(ends) >= table_margin_m) and np.all(self_clearance(ends) > 0))


def draw_scenes(max_seed: int = 10_000) -> list[tuple[int, Scene]]:
    """``(seed, scene)`` for each wanted obstacle count, in order."""
    spec = BUILTIN_SCENARIOS["cluttered"]
    chosen: list[tuple[int, Scene]] = []
    seed = 0
    while len(chosen) < len(OBSTACLE_COUNTS) and seed < max_seed:
        scene = sample_scene(spec, np.random.default_rng(seed))
        seed += 1
        if len(scene.obstacles) != OBSTACLE_COUNTS[len(chosen)]:
            continue
        rounded = _rounded(scene)
        if path_clearance(rounded) < -BLOCKED_BY_M and _valid(rounded, spec.clearance_margin_m, spec.table_margin_m):
            chosen.append((seed - 1, rounded))
    return chosen


def _obstacle_source(obstacle: Obstacle) -> str:
    return (f"            Obstacle({obstacle.name!r}, {obstacle.kind!r}, {obstacle.size!r}, {obstacle.position!r},\n"
            f"                     {tuple(float(v) for v in obstacle.orientation)!r}),\n")


def module_source(scenes: list[tuple[int, Scene]]) -> str:
    """The Python source of ``scenarios/benchmark_scenes.py`` holding ``scenes``."""
    parts = [
        '"""The ``benchmark`` scenario\'s ten fixed scenes, frozen as data.\n\n'
        "Written by ``python -m scenarios.make_benchmark_scenes`` (see there how they are drawn): scenes of\n"
        "the ``cluttered`` scenario (seeds in the comments) whose straight joint-space path collides by more\n"
        f"than 5 mm, with {', '.join(str(n) for n in OBSTACLE_COUNTS)} obstacles. Being data, they do not change\n"
        "when the sampler does; ``tests/scenarios`` checks each against the scene rules.\n"
        '"""\n\nfrom __future__ import annotations\n\nfrom sim.scene.obstacles import Obstacle, Scene\n\n'
        "BENCHMARK_SCENES: tuple[Scene, ...] = (\n"
    ]
    for seed, scene in scenes:
        parts.append(f"    Scene(  # cluttered sample, seed {seed}\n        obstacles=(\n")
        parts.extend(_obstacle_source(obstacle) for obstacle in scene.obstacles)
        parts.append(f"        ),\n        start_joints={scene.start_joints!r},\n"
                     f"        goal_joints={scene.goal_joints!r},\n        scenario=\"benchmark\",\n    ),\n")
    parts.append(")\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenarios.make_benchmark_scenes",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--print", action="store_true", help="print the module instead of writing it")
    args = parser.parse_args(argv)
    scenes = draw_scenes()
    if len(scenes) < len(OBSTACLE_COUNTS):
        print(f"only {len(scenes)} scenes found", file=sys.stderr)
        return 1
    source = module_source(scenes)
    if args.print:
        print(source, end="")
    else:
        MODULE_PATH.write_text(source, encoding="utf-8")
        print(f"wrote {MODULE_PATH} (seeds {', '.join(str(seed) for seed, _ in scenes)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

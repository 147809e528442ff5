"""IK accuracy and throughput: every IKNet (with and without refinement) against its peers.

    python benchmarks/ik_accuracy_speed.py [--poses 20000] [--seed 777] [--threads 2]

All solvers answer the same freshly sampled reachable poses in the same run (joints drawn
uniformly inside the limits, self-colliding and below-table configurations rejected, pose by
forward kinematics; the seed is not one used for training data). Peers:

- ``analytic``: the closed-form solver :func:`sim.robot.kinematics.analytic_ik` (the accuracy reference).
- ``pybullet``: PyBullet's ``calculateInverseKinematics`` on a ``sim.env.world.World`` (DIRECT),
  end-effector link index 4, ``jointDamping=1e-3`` for each of the 6 movable joints,
  ``maxNumIterations=100``, ``residualThreshold=1e-6``, default solver (never ``IK_SDLS``, it
  segfaults on this arm), arm reset to zeros before every pose (PyBullet iterates from the
  current state). It solves one pose per call, so its batch-4096 rate is a loop.

Accuracy is judged by forward kinematics of the answer clamped into the joint limits
(:mod:`agents.iknet.ik_eval`). Throughput is poses per second of the whole solver call (NumPy in,
NumPy out), best of several repeats, at batch 1 and batch 4096, with ``--threads`` torch threads.
Throughput ratios are printed against PyBullet and the analytic solver.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from agents import MODEL_NAMES, load_model
from agents.iknet.dataset import sample_pairs
from agents.iknet.ik_eval import IKAccuracy, accuracy_of_answers, model_solver
from sim.env.world import World
from sim.robot.kinematics import analytic_ik

PYBULLET_SETTINGS = {"jointDamping": [1e-3] * 6, "maxNumIterations": 100, "residualThreshold": 1e-6}
EE_LINK_INDEX = 4
REFINE_STEPS = 3
TARGET_POSES_PER_S = 1e6
TARGET_RATIO_TO_PYBULLET = 50.0
TARGET_REFINED_MEDIAN_MM = 0.01


def pybullet_solver(world: World) -> Callable[[np.ndarray], np.ndarray]:
    """PyBullet's numerical IK as a (N, 7) -> (N, 4) solver (one call per pose)."""
    client, robot = world.client, world.robot
    zeros = np.zeros(4)

    def solve(poses: np.ndarray) -> np.ndarray:
        answers = np.empty((len(poses), 4))
        for i, pose in enumerate(np.asarray(poses, dtype=np.float64)):
            world.reset_joints(zeros)
            answers[i] = client.calculateInverseKinematics(
                robot, EE_LINK_INDEX, pose[:3].tolist(), pose[3:7].tolist(), **PYBULLET_SETTINGS)[:4]
        return answers

    return solve


def throughput(solver: Callable[[np.ndarray], np.ndarray], poses: np.ndarray, batch: int,
               budget_s: float = 1.0) -> float:
    """Poses per second of ``solver`` at ``batch`` poses per call (best of repeated timings)."""
    chunks = [poses[i:i + batch] for i in range(0, len(poses) - batch + 1, batch)]
    solver(chunks[0])  # warm-up
    best, spent, index = 0.0, 0.0, 0
    while spent < budget_s:
        calls, start = 0, time.perf_counter()
        while calls < max(1, 64 // batch) or time.perf_counter() - start < 0.05:
            solver(chunks[index % len(chunks)])
            index += 1
            calls += 1
        elapsed = time.perf_counter() - start
        spent += elapsed
        best = max(best, calls * batch / elapsed)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poses", type=int, default=20_000, help="fresh poses for the accuracy table")
    parser.add_argument("--seed", type=int, default=777, help="seed of the fresh poses (not a training seed)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--pybullet-poses", type=int, default=None,
                        help="poses PyBullet answers for accuracy (default: all; it is the slow one)")
    args = parser.parse_args(argv)
    if args.poses < 4096:
        parser.error("--poses must be at least 4096 (the large batch size)")
    torch.set_num_threads(args.threads)
    pairs = sample_pairs(np.random.default_rng(args.seed), args.poses)
    poses = pairs.poses.astype(np.float64)
    print(f"{len(poses)} fresh poses (seed {args.seed}); torch {torch.__version__}, {args.threads} threads; "
          f"accuracy of the clamped answer by FK; networks refined with {REFINE_STEPS} damped least-squares steps")

    solvers: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for name in MODEL_NAMES:
        model = load_model(name)
        solvers[name] = model_solver(model)
        solvers[f"{name}+refine"] = model_solver(model, refine_steps=REFINE_STEPS)
    solvers["analytic"] = analytic_ik
    world = World()
    solvers["pybullet"] = pybullet_solver(world)

    results: dict[str, IKAccuracy] = {}
    speed: dict[str, tuple[float, float]] = {}
    for label, solver in solvers.items():
        subset = poses if label != "pybullet" or args.pybullet_poses is None else poses[: args.pybullet_poses]
        start = time.perf_counter()
        answers = solver(subset)
        solve_s = time.perf_counter() - start
        results[label] = accuracy_of_answers(answers, subset, reference_joints=pairs.joints[: len(subset)], name=label)
        budget = 0.5 if label == "pybullet" else 1.0
        big = len(subset) / solve_s if label == "pybullet" else throughput(solver, poses, 4096, budget)
        speed[label] = (throughput(solver, poses, 1, budget), big)
        print(f"  measured {label}", file=sys.stderr)
    world.close()

    print("\n## Accuracy\n")
    print(IKAccuracy.table_header())
    for result in results.values():
        print(result.table_row())
    pybullet_rate = speed["pybullet"][1]
    print("\n## Throughput (poses/s) and ratios\n")
    print("| solver | batch 1 | batch 4096 | x PyBullet (4096) | x analytic (4096) | x PyBullet (1) |")
    print("|---|---|---|---|---|---|")
    analytic_rate, pybullet_single = speed["analytic"][1], speed["pybullet"][0]
    for label, (single, batched) in speed.items():
        print(f"| {label} | {single:,.0f} | {batched:,.0f} | {batched / pybullet_rate:,.1f} | "
              f"{batched / analytic_rate:.2f} | {single / pybullet_single:.2f} |")

    print("\n## Targets\n")
    checks = []
    for name in ("improved", "focused"):
        rate = speed[name][1]
        checks.append((f"{name}: >= {TARGET_POSES_PER_S:.0e} poses/s at batch 4096", rate >= TARGET_POSES_PER_S,
                       f"{rate:,.0f}"))
        checks.append((f"{name}: >= {TARGET_RATIO_TO_PYBULLET:.0f}x PyBullet", rate >= TARGET_RATIO_TO_PYBULLET
                       * pybullet_rate, f"{rate / pybullet_rate:,.0f}x"))
    for name in MODEL_NAMES:
        median = results[f"{name}+refine"].position_error_mm_median
        checks.append((f"{name}+refine: median <= {TARGET_REFINED_MEDIAN_MM} mm", median <= TARGET_REFINED_MEDIAN_MM,
                       f"{median:.2e} mm"))
    for text, passed, value in checks:
        print(f"- [{'x' if passed else ' '}] {text}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

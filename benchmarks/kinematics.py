"""Kinematics throughput and accuracy: NumPy / torch FK and analytic IK against PyBullet.

Prints FK and analytic-IK poses per second for batches of 1e5 and 1e6 (NumPy and torch), next
to PyBullet's per-pose FK (``resetJointState`` + ``getLinkState``) and
``calculateInverseKinematics`` on the same poses, measured in the same run, with the ratios and
PyBullet IK's position error under two stated settings.

Run: ``python benchmarks/kinematics.py [--pybullet-poses 2000]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sim.env.world import World
from sim.robot.kinematics import JOINT_LIMITS, analytic_ik, forward_kinematics, sample_joints


def rate(function, count: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` items per second."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return count / best


def pybullet_ik(world: World, poses: np.ndarray, **settings) -> tuple[np.ndarray, float]:
    """Solve each pose (position + orientation) with calculateInverseKinematics from the zero
    configuration, without null-space limit arguments (they cost accuracy on this arm);
    return joints (N, 4) and poses/s."""
    p, robot = world.client, world.robot
    ee_link = world._link_index["end_effector_link"]
    solutions = np.zeros((len(poses), 4))
    start = time.perf_counter()
    for i, pose in enumerate(poses):
        world.reset_joints(np.zeros(4))
        answer = p.calculateInverseKinematics(
            robot, ee_link, pose[:3].tolist(), pose[3:].tolist(), **settings
        )
        solutions[i] = answer[:4]
    return solutions, len(poses) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pybullet-poses", type=int, default=2000, help="poses for PyBullet's per-pose loops")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"threads: torch {torch.get_num_threads()}, seed {args.seed}")
    rows = []
    for size in (100_000, 1_000_000):
        joints = sample_joints(rng, size)
        poses = forward_kinematics(joints)
        joints_t = torch.from_numpy(joints)
        rows.append((f"numpy FK  batch {size:>9,}", rate(lambda joints=joints: forward_kinematics(joints), size)))
        rows.append((f"torch FK  batch {size:>9,}", rate(lambda joints_t=joints_t: forward_kinematics(joints_t), size)))
        rows.append((f"numpy IK  batch {size:>9,}", rate(lambda poses=poses: analytic_ik(poses), size)))
        solved = analytic_ik(poses)
        error = np.linalg.norm(forward_kinematics(solved)[:, :3] - poses[:, :3], axis=-1)
    print(f"analytic IK max position error on 1e6 poses: {error.max():.2e} m")

    count = args.pybullet_poses
    joints = sample_joints(rng, count)
    poses = forward_kinematics(joints)
    with World() as world:
        p, robot = world.client, world.robot
        ee_link = world._link_index["end_effector_link"]

        def pybullet_fk() -> None:
            for q in joints:
                for index, angle in zip(world.arm_joints, q, strict=True):
                    p.resetJointState(robot, index, angle)
                p.getLinkState(robot, ee_link, computeForwardKinematics=True)

        fk_rate = rate(pybullet_fk, count, repeats=1)
        default_q, default_rate = pybullet_ik(world, poses)
        tuned_settings = dict(jointDamping=[1e-3] * 6, maxNumIterations=100, residualThreshold=1e-6)
        tuned_q, tuned_rate = pybullet_ik(world, poses, **tuned_settings)
    rows.append((f"pybullet FK per pose ({count})", fk_rate))
    rows.append((f"pybullet IK default ({count})", default_rate))
    rows.append((f"pybullet IK tuned   ({count})", tuned_rate))
    print(f"\n{'method':<34}{'poses/s':>14}")
    for name, value in rows:
        print(f"{name:<34}{value:>14,.0f}")
    best_fk = max(v for n, v in rows if "numpy FK" in n)
    best_ik = max(v for n, v in rows if "numpy IK" in n)
    print(f"\nratio numpy FK / pybullet FK:          {best_fk / fk_rate:,.0f}x")
    print(f"ratio analytic IK / pybullet IK default: {best_ik / default_rate:,.0f}x")
    print(f"ratio analytic IK / pybullet IK tuned:   {best_ik / tuned_rate:,.0f}x")
    for label, solved in (("default", default_q), ("tuned (damping 1e-3, 100 it, residual 1e-6)", tuned_q)):
        error_mm = 1e3 * np.linalg.norm(forward_kinematics(solved, validate=False)[:, :3] - poses[:, :3], axis=-1)
        outside = ~np.all((solved >= JOINT_LIMITS[:, 0] - 1e-9) & (solved <= JOINT_LIMITS[:, 1] + 1e-9), -1)
        print(f"pybullet IK {label}: median {np.median(error_mm):.2f} mm, p90 {np.percentile(error_mm, 90):.2f} mm, "
              f"within 1 mm {np.mean(error_mm < 1) * 100:.1f}%, outside joint limits {outside.mean() * 100:.1f}%")
    targets = {"FK >= 1e6/s": best_fk >= 1e6, "IK >= 1e6/s": best_ik >= 1e6,
               "IK >= 50x pybullet": best_ik / default_rate >= 50}
    print("targets: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in targets.items()))


if __name__ == "__main__":
    main()

"""What cheaper physics would cost in accuracy: the env at 240 Hz with 12 substeps per control step
and Bullet's 50 solver iterations (the default) against fewer substeps or solver iterations, and
against an earlier commit, on the same seeded episodes.

Each configuration runs ``--episodes`` ``cluttered`` episodes of 100 control steps in a child
process (``--policy goal``: every step commands the scene's goal joints, the straight joint path the
scenes block, so most episodes touch; ``random``: seeded uniform actions) and records the end
effector, joints, contact flags and penetration depths. Against the reference it prints: the
end-effector difference before the first contact of either run (pure controller/integration
difference, mm), the share of episodes with a contact and their agreement, the step of the first
contact, contact steps, the deepest penetration, the joint error left at the end of contact-free
episodes, and the run time. After a contact the runs are chaotic, so compare contact statistics
there, not trajectories, and against the noise floor: the reference with gravity changed by one
part in 10^12, whose contact statistics move by chaos alone.

Run: ``python benchmarks/physics_rate.py [--episodes 1000] [--policy goal] [--before f5185e6]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _git_tree import REPOSITORY, export  # benchmarks/ is on sys.path when run as a script

BEFORE_COMMIT = "f5185e6"

#: name -> (physics frequency Hz, position gain or None for PyBullet's 0.1, solver iterations or None
#: for 50, relative change of gravity or 0). The first row is the reference itself with gravity changed
#: by one part in 10^12: the noise floor. Contact after contact is chaotic, so any change, however
#: small, moves the contact statistics; a setting differs from the reference only as far as it
#: differs more than this row does.
CONFIGURATIONS: dict[str, tuple[float, float | None, int | None, float]] = {
    "noise floor: gravity x (1+1e-12)": (240.0, None, None, 1e-12),
    "120 Hz, 6 substeps": (120.0, None, None, 0.0),
    "120 Hz, 6 substeps, gain 0.2": (120.0, 0.2, None, 0.0),
    "240 Hz, 20 solver iterations": (240.0, None, 20, 0.0),
    "240 Hz, 10 solver iterations": (240.0, None, 10, 0.0),
}

CHILD = r"""
import sys, time
import numpy as np, gymnasium as gym, pybullet
out, frequency, gain, iterations, policy, episodes, perturbation = sys.argv[1:8]
frequency, episodes = float(frequency), int(episodes)
import sim, sim.env.env, sim.env.world
if frequency != sim.env.env.PHYSICS_FREQUENCY_HZ:
    sim.env.env.PHYSICS_FREQUENCY_HZ = frequency
if gain != "none":
    control = pybullet.setJointMotorControl2
    def with_gain(*args, **kwargs):
        if kwargs.get("targetPosition") is not None:
            kwargs.setdefault("positionGain", float(gain))
        return control(*args, **kwargs)
    pybullet.setJointMotorControl2 = with_gain
if iterations != "none":
    init = sim.env.world.World.__init__
    def with_iterations(self, *args, **kwargs):
        init(self, *args, **kwargs)
        pybullet.setPhysicsEngineParameter(numSolverIterations=int(iterations), physicsClientId=self.client_id)
    sim.env.world.World.__init__ = with_iterations
if float(perturbation):
    init_gravity = sim.env.world.World.__init__
    def with_gravity(self, *args, **kwargs):
        init_gravity(self, *args, **kwargs)
        pybullet.setGravity(0.0, 0.0, -9.81 * (1.0 + float(perturbation)), physicsClientId=self.client_id)
    sim.env.world.World.__init__ = with_gravity
steps = 100
env = gym.make(sim.ENV_IDS[0], scenario="cluttered", max_episode_steps=steps, terminate_on_success=False)
base = env.unwrapped
shape = (episodes, steps + 1)
ee, q, target = np.full(shape + (3,), np.nan), np.full(shape + (4,), np.nan), np.full(shape + (4,), np.nan)
contact, depth = np.zeros(shape, bool), np.full(shape, np.nan)
start = time.perf_counter()
for seed in range(episodes):
    rng = np.random.default_rng(seed + 50_000)
    observation, info = env.reset(seed=seed)
    goal = base.joint_targets_to_action(np.array(base.scene.goal_joints))
    for t in range(steps + 1):
        if t:
            action = goal if policy == "goal" else rng.uniform(-1, 1, 4).astype(np.float32)
            target[seed, t] = base.action_to_joint_targets(action)
            observation, _, _, _, info = env.step(action)
        ee[seed, t], q[seed, t] = observation["achieved_goal"][:3], observation["observation"][:4]
        contact[seed, t] = info["collided"]
        if info["contacts"]:
            depth[seed, t] = min(c.distance_m for c in info["contacts"])
np.savez(out, ee=ee, q=q, target=target, contact=contact, depth=depth, seconds=time.perf_counter() - start)
"""


def record(tree: Path, out: Path, setting: tuple[float, float | None, int | None, float], policy: str,
           episodes: int) -> dict[str, np.ndarray]:
    """Run the episodes of one configuration in a child process on ``tree``; its recorded arrays."""
    frequency, gain, iterations, perturbation = setting
    environment = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    arguments = [str(out), str(frequency), "none" if gain is None else str(gain),
                 "none" if iterations is None else str(iterations), policy, str(episodes), repr(perturbation)]
    subprocess.run([sys.executable, "-c", CHILD, *arguments], cwd=tree, env=environment, check=True,
                   capture_output=True)
    with np.load(out) as data:
        return {key: data[key] for key in data.files}



def compare(reference: dict[str, np.ndarray], run: dict[str, np.ndarray]) -> dict[str, str]:
    """The rows of the printed table for one run against the reference."""
    episodes, length = reference["contact"].shape

    def first_contact(contact: np.ndarray) -> np.ndarray:
        return np.where(contact.any(1), np.argmax(contact, axis=1), length)

    first_reference, first_run = first_contact(reference["contact"]), first_contact(run["contact"])
    before_contact = [np.linalg.norm(run["ee"][e, 1:k] - reference["ee"][e, 1:k], axis=-1)
                      for e, k in enumerate(np.minimum(first_reference, first_run)) if k > 1]
    difference_mm = 1e3 * np.concatenate(before_contact) if before_contact else np.zeros(1)
    touched_reference, touched_run = reference["contact"][:, 1:].any(1), run["contact"][:, 1:].any(1)
    both = touched_reference & touched_run
    same_first = np.mean(first_reference[both] == first_run[both]) if both.any() else float("nan")

    def deepest_mm(data: dict[str, np.ndarray]) -> np.ndarray:
        depths = np.where(data["contact"], data["depth"], np.inf)[:, 1:].min(1)
        return -1e3 * depths[np.isfinite(depths)]

    free = ~touched_reference & ~touched_run

    def final_error(data: dict[str, np.ndarray]) -> np.ndarray:
        return np.abs(data["q"][:, -1] - data["target"][:, -1]).max(1)[free]

    deep_reference, deep_run = deepest_mm(reference), deepest_mm(run)
    error_reference, error_run = final_error(reference), final_error(run)
    return {
        "EE difference before contact, mm (mean / p95 / max)":
            f"{difference_mm.mean():.3f} / {np.percentile(difference_mm, 95):.3f} / {difference_mm.max():.3f}",
        "episodes with contact": f"{touched_reference.mean():.1%} -> {touched_run.mean():.1%}",
        "episode contact flag agrees": f"{np.mean(touched_reference == touched_run):.1%} "
                                       f"({np.sum(touched_reference & ~touched_run)} missed, "
                                       f"{np.sum(~touched_reference & touched_run)} extra)",
        "first contact at the same step": f"{same_first:.1%}",
        "contact steps": f"{reference['contact'][:, 1:].sum()} -> {run['contact'][:, 1:].sum()} "
                         f"({run['contact'][:, 1:].sum() / max(reference['contact'][:, 1:].sum(), 1) - 1:+.1%})",
        "deepest penetration per episode, mm (mean / p95)":
            f"{deep_reference.mean():.2f} / {np.percentile(deep_reference, 95):.2f} -> "
            f"{deep_run.mean():.2f} / {np.percentile(deep_run, 95):.2f}",
        "final joint error of contact-free episodes, rad (median / max)":
            f"{np.median(error_reference):.1e} / {error_reference.max():.1e} -> "
            f"{np.median(error_run):.1e} / {error_run.max():.1e} (n={free.sum()})" if free.any() else "n/a",
        "run time, s": f"{float(reference['seconds']):.0f} -> {float(run['seconds']):.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000, help="episodes per configuration (default 1000)")
    parser.add_argument("--policy", choices=("goal", "random"), default="goal")
    parser.add_argument("--before", default=BEFORE_COMMIT,
                        help=f"earlier commit compared too (default {BEFORE_COMMIT}); '' skips it")
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    default = (240.0, None, None, 0.0)
    with tempfile.TemporaryDirectory() as folder:
        reference = record(REPOSITORY, Path(folder) / "reference.npz", default, args.policy, args.episodes)
        runs = {}
        if args.before:
            tree = export(args.before, Path(folder))
            runs[f"commit {args.before}, 240 Hz"] = record(tree, Path(folder) / "before.npz", default, args.policy,
                                                           args.episodes)
        for index, (name, setting) in enumerate(CONFIGURATIONS.items()):
            runs[name] = record(REPOSITORY, Path(folder) / f"run{index}.npz", setting, args.policy, args.episodes)
    print(f"reference: this tree, 240 Hz, 12 substeps per 20 Hz control step, 50 solver iterations; "
          f"{args.episodes} cluttered episodes x 100 steps, policy '{args.policy}'\n")
    rows = {name: compare(reference, run) for name, run in runs.items()}
    for measure in next(iter(rows.values())):
        print(f"{measure}:")
        for name, row in rows.items():
            print(f"    {name:32s} {row[measure]}")


if __name__ == "__main__":
    main()

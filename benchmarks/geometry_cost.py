"""What the real-arm geometry costs: env steps/s and batched clearance queries/s, this tree next
to an earlier commit (default: the last one with the capsule model), measured in one run.

Each figure is measured in a child process whose ``PYTHONPATH`` is the tree being measured (the
earlier commit is exported with ``git archive`` into a temporary folder), the two trees alternating,
best of ``--repeats``; ``PandaReach-v3`` is measured in the same rounds as the peer. Clearance:
the smallest arm-obstacle distance of 10,000 random configurations against 5 obstacles (one
batched call), in NumPy, and in torch with the gradient (forward + backward).

Run: ``python benchmarks/geometry_cost.py [--before 118bbea] [--steps 2000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _git_tree import REPOSITORY, export  # benchmarks/ is on sys.path when run as a script

CAPSULE_COMMIT = "118bbea"

CHILD = r"""
import json, sys, time
import numpy as np

what, steps = sys.argv[1], int(sys.argv[2])
if what == "env":
    import gymnasium as gym, sim
    env = gym.make(sim.ENV_IDS[0], scenario="cluttered")
elif what == "panda":
    import gymnasium as gym, panda_gym
    env = gym.make("PandaReach-v3", render_mode="rgb_array")
if what in ("env", "panda"):
    env.reset(seed=0); env.action_space.seed(0); env.step(env.action_space.sample())
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    print(json.dumps({"rate": steps / (time.perf_counter() - start)}))
else:
    import torch
    from sim.robot.collision import ObstacleSet, min_clearance, signed_distances
    from sim.robot.kinematics import sample_joints
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    q = sample_joints(rng, 10_000)
    obstacles = ObstacleSet.from_list(["sphere", "box", "cylinder", "box", "sphere"],
                                      rng.uniform([0.05, -0.25, 0.02], [0.3, 0.25, 0.3], (5, 3)),
                                      [[0.03], [0.03, 0.04, 0.02], [0.025, 0.05], [0.02, 0.02, 0.06], [0.04]])
    min_clearance(q[:10], obstacles, validate=False)
    start = time.perf_counter(); min_clearance(q, obstacles, validate=False); numpy_s = time.perf_counter() - start
    q_t = torch.tensor(q, requires_grad=True)
    start = time.perf_counter(); signed_distances(q_t, obstacles, validate=False).amin((-1, -2)).sum().backward()
    torch_s = time.perf_counter() - start
    print(json.dumps({"numpy": len(q) / numpy_s, "torch": len(q) / torch_s}))
"""


def measure(tree: Path, what: str, steps: int) -> dict:
    environment = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", CHILD, what, str(steps)], cwd=tree, env=environment,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=CAPSULE_COMMIT, help=f"git ref to compare with (default {CAPSULE_COMMIT})")
    parser.add_argument("--steps", type=int, default=2000, help="env steps per measurement (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many alternating rounds (default 3)")
    args = parser.parse_args()
    if args.steps < 10 or args.repeats < 1:
        parser.error("--steps must be >= 10 and --repeats >= 1")
    with tempfile.TemporaryDirectory() as folder:
        trees = {f"before ({args.before})": export(args.before, Path(folder)), "now": REPOSITORY}
        best: dict[tuple[str, str], float] = {}
        for _ in range(args.repeats):
            for name, tree in trees.items():
                for key, value in {"env": measure(tree, "env", args.steps)["rate"],
                                   **measure(tree, "clearance", args.steps)}.items():
                    best[(name, key)] = max(best.get((name, key), 0.0), value)
            peer_rate = measure(REPOSITORY, "panda", args.steps)["rate"]
            best[("peer", "env")] = max(best.get(("peer", "env"), 0.0), peer_rate)
    before, now = trees
    print(f"best of {args.repeats} alternating rounds; env: `cluttered`, {args.steps} random steps, resets included\n")
    print("| measure | before | now | now / before |")
    print("|---|---|---|---|")
    rows = (("env steps/s (1 process)", "env"), ("clearance configs/s, numpy (1e4 x 5 obstacles)", "numpy"),
            ("clearance configs/s, torch + gradient", "torch"))
    for label, key in rows:
        print(f"| {label} | {best[(before, key)]:,.0f} | {best[(now, key)]:,.0f} | "
              f"{best[(now, key)] / best[(before, key)]:.2f}x |")
    peer = best[("peer", "env")]
    print(f"| PandaReach-v3 steps/s (peer) | {peer:,.0f} | | |")
    print(f"\nenv vs PandaReach-v3: before {best[(before, 'env')] / peer:.2f}x, now {best[(now, 'env')] / peer:.2f}x")


if __name__ == "__main__":
    main()

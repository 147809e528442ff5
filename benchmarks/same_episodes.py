"""Same seeds, same episodes: this tree against an earlier commit, bit for bit.

Speed work must not change what the env computes. Each tree runs, in a child process whose
``PYTHONPATH`` is that tree (the earlier commit exported with ``git archive``), ``--episodes``
seeded episodes of 100 control steps per scenario with seeded random actions (absolute actions;
``dynamic`` also in ``delta`` mode; ``cluttered`` also with ``clearance="numpy"`` and
``"pybullet"``), and records every observation, reward, flag and info value (contacts included)
of every step, floats as their bits. The two records are compared exactly, episode by episode;
the first difference of each differing episode is printed. Exit status 1 if any differ.

Run: ``python benchmarks/same_episodes.py [--before 01e1a13] [--episodes 20]``
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from _git_tree import REPOSITORY, export  # benchmarks/ is on sys.path when run as a script

#: The tree before this round's speed work (session 5 of #15).
BEFORE_COMMIT = "01e1a13"

#: (label, gym.make keyword arguments) of the compared envs.
CASES: tuple[tuple[str, dict], ...] = (
    ("cluttered", {"scenario": "cluttered"}),
    ("cluttered, clearance=numpy", {"scenario": "cluttered", "clearance": "numpy"}),
    ("cluttered, clearance=pybullet", {"scenario": "cluttered", "clearance": "pybullet"}),
    ("single", {"scenario": "single"}),
    ("empty", {"scenario": "empty"}),
    ("narrow", {"scenario": "narrow"}),
    ("shelf", {"scenario": "shelf"}),
    ("dynamic", {"scenario": "dynamic"}),
    ("dynamic, delta actions", {"scenario": "dynamic", "action_mode": "delta"}),
    ("benchmark", {"scenario": "benchmark"}),
)

CHILD = r"""
import pickle, sys
import gymnasium as gym
import numpy as np
import sim

out, episodes, cases = sys.argv[1], int(sys.argv[2]), pickle.loads(bytes.fromhex(sys.argv[3]))

def plain(value):
    # Exact, comparable: arrays and floats as bytes, containers recursively, namedtuples as tuples.
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (float, np.floating)):
        return ("float", np.float64(value).tobytes())
    if isinstance(value, dict):
        return ("dict", tuple((key, plain(item)) for key, item in value.items()))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(plain(item) for item in value))
    if isinstance(value, (bool, int, str, np.integer, np.bool_)) or value is None:
        return ("value", repr(value))
    raise TypeError(f"cannot record {type(value).__name__}")

records = {}
for label, kwargs in cases:
    env = gym.make(sim.ENV_IDS[0], max_episode_steps=100, **kwargs)
    episodes_of_case = []
    for seed in range(episodes):
        rng = np.random.default_rng(seed + 10_000)
        steps = [plain(env.reset(seed=seed))]
        for _ in range(100):
            result = env.step(rng.uniform(-1.0, 1.0, 4).astype(np.float32))
            steps.append(plain(result))
            if result[2] or result[3]:
                break
        episodes_of_case.append(steps)
    env.close()
    records[label] = episodes_of_case
with open(out, "wb") as file:
    pickle.dump(records, file)
"""


def record(tree: Path, out: Path, episodes: int) -> dict[str, list]:
    """The recorded episodes of every case, run in a child process on ``tree``."""
    environment = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", CHILD, str(out), str(episodes), pickle.dumps(CASES).hex()], cwd=tree,
                   env=environment, check=True, capture_output=True)
    with open(out, "rb") as file:
        return pickle.load(file)


def first_difference(before: list, after: list) -> str:
    """Where two recorded episodes first differ ('' if they do not)."""
    names = ("observation", "reward", "terminated", "truncated", "info")
    for step, (old, new) in enumerate(zip(before, after, strict=False)):
        if old != new:
            fields = (names[:1] + names[4:]) if step == 0 else names
            for name, old_item, new_item in zip(fields, old[1], new[1], strict=False):
                if old_item != new_item:
                    if name == "info":
                        keys = [key for (key, a), (_, b) in zip(old_item[1], new_item[1], strict=False) if a != b]
                        return f"step {step}, info {keys or 'keys'}"
                    return f"step {step}, {name}"
            return f"step {step}"
    return "" if len(before) == len(after) else f"length {len(before)} vs {len(after)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE_COMMIT, help=f"the earlier commit (default {BEFORE_COMMIT})")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per case (default 20)")
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    with tempfile.TemporaryDirectory() as folder:
        try:
            tree = export(args.before, Path(folder))
        except subprocess.CalledProcessError:
            parser.error(f"--before {args.before!r} is not a commit of this repository")
        before = record(tree, Path(folder) / "before.pkl", args.episodes)
        after = record(REPOSITORY, Path(folder) / "after.pkl", args.episodes)
    print(f"this tree against commit {args.before}: {args.episodes} seeded episodes x <= 100 steps per case, "
          "every observation, reward, flag and info value compared bit for bit\n")
    differing = 0
    for label, _ in CASES:
        pairs = list(zip(before[label], after[label], strict=True))
        differences = [(seed, first_difference(old, new)) for seed, (old, new) in enumerate(pairs)]
        differences = [(seed, where) for seed, where in differences if where]
        steps = sum(len(episode) - 1 for episode in after[label])
        print(f"{label:32s} {len(pairs) - len(differences):3d}/{len(pairs)} episodes identical ({steps} steps)")
        for seed, where in differences[:5]:
            print(f"    seed {seed}: first difference at {where}")
        differing += len(differences)
    print("\nall identical" if not differing else f"\n{differing} episodes differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())

"""Same seeds, same episodes: this tree against an earlier commit, bit for bit.

Speed work must not change what the env computes. Each tree runs, in a child process whose
``PYTHONPATH`` is that tree (the earlier commit exported with ``git archive``), ``--episodes``
seeded episodes of 100 control steps per scenario with seeded random actions (absolute actions;
``dynamic`` also in ``delta`` mode; ``cluttered`` also with ``clearance="numpy"`` and
``"pybullet"``), and records every observation, reward, flag and info value (contacts included)
of every step, floats as their bits. The two records are compared exactly, episode by episode;
the first difference of each differing episode is printed. Exit status 1 if any differ.

Info values are compared by key. A key the earlier tree reported under another name is compared
under its new one (``--renamed OLD=NEW``; by default the names the CAD truth channel of #23 gave
the sphere bound's values: ``min_clearance_m`` -> ``bound_clearance_m``, ``self_clearance_m`` ->
``bound_self_clearance_m``, ``contacts`` -> ``bound_contacts``), so a change of meaning shows as
the keys whose values moved, and new keys are listed apart. ``--expect KEY`` names the keys
whose change is intended (e.g. the CAD's ``collided``): episodes differing only there, and in the
reward and flags that follow from them, are counted as explained, not as failures.

Run: ``python benchmarks/same_episodes.py [--before 01e1a13] [--episodes 20] [--renamed OLD=NEW]
[--expect KEY] [--this-tree contact_physics=bound]``

Against the commit before #23 (``--before f305bad``), this tree with ``--this-tree
contact_physics=bound`` (the earlier physics) must differ only in the CAD channel's intended
fields; with the default physics (``"none"``) the motion differs too, from the first step the
sphere bound would have touched something (it no longer pushes the arm).
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
extra = pickle.loads(bytes.fromhex(sys.argv[4]))

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
    env = gym.make(sim.ENV_IDS[0], max_episode_steps=100, **kwargs, **extra)
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


def record(tree: Path, out: Path, episodes: int, extra: dict | None = None) -> dict[str, list]:
    """The recorded episodes of every case, run in a child process on ``tree`` (its envs made with
    the keyword arguments ``extra`` too)."""
    environment = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", CHILD, str(out), str(episodes), pickle.dumps(CASES).hex(),
                    pickle.dumps(extra or {}).hex()], cwd=tree, env=environment, check=True, capture_output=True)
    with open(out, "rb") as file:
        return pickle.load(file)


#: Keys the CAD truth channel (#23) renamed: the sphere bound's values under their new names.
CAD_RENAMES: dict[str, str] = {"min_clearance_m": "bound_clearance_m", "self_clearance_m": "bound_self_clearance_m",
                               "contacts": "bound_contacts"}
#: The names the truth channel took over (the CAD's values now) and what follows from them.
CAD_CHANGES: tuple[str, ...] = ("min_clearance_m", "self_clearance_m", "contacts", "collided", "closest_link",
                                "closest_obstacle", "reward", "terminated")


def _info(item: tuple) -> dict:
    return dict(item[1]) if item and item[0] == "dict" else {}


def differences(before: list, after: list, renamed: dict[str, str]) -> tuple[dict[str, int], list[str], str]:
    """How two recorded episodes differ: ``({field: steps differing}, new info keys, first difference)``.
    Fields are ``observation``, ``reward``, ``terminated``, ``truncated`` and info keys (the earlier
    tree's keys under their ``renamed`` names); the first difference is '' if none."""
    names = ("observation", "reward", "terminated", "truncated", "info")
    counts: dict[str, int] = {}
    first, added = "", set()
    if len(before) != len(after):
        counts["length"] = 1
        first = f"length {len(before)} vs {len(after)}"
    for step, (old, new) in enumerate(zip(before, after, strict=False)):
        fields = (names[:1] + names[4:]) if step == 0 else names
        for name, old_item, new_item in zip(fields, old[1], new[1], strict=False):
            if name != "info":
                if old_item != new_item:
                    counts[name] = counts.get(name, 0) + 1
                    first = first or f"step {step}, {name}"
                continue
            old_info, new_info = _info(old_item), _info(new_item)
            mapped = {renamed.get(key, key): value for key, value in old_info.items()}
            # A key both renamed away and still present (its meaning changed) compares its old value
            # under the new name and its new value against nothing old.
            added.update(key for key in new_info if key not in mapped and key not in renamed)
            for key, value in mapped.items():
                if key in new_info and new_info[key] != value:
                    counts[key] = counts.get(key, 0) + 1
                    first = first or f"step {step}, info {key}"
            for key in renamed:
                if key in new_info and key in old_info:
                    counts[key] = counts.get(key, 0) + (new_info[key] != old_info[key])
    return {key: value for key, value in counts.items() if value}, sorted(added), first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE_COMMIT, help=f"the earlier commit (default {BEFORE_COMMIT})")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per case (default 20)")
    parser.add_argument("--renamed", action="append", default=None, metavar="OLD=NEW",
                        help="an info key the earlier tree named OLD, compared as NEW (repeatable; default: "
                             "the CAD channel's renames, "
                             + ", ".join(f"{a}={b}" for a, b in CAD_RENAMES.items()) + ")")
    parser.add_argument("--this-tree", action="append", default=[], metavar="KEY=VALUE",
                        help="an env keyword argument for this tree's envs only (repeatable), e.g. "
                             "contact_physics=bound: the earlier physics with the CAD channel")
    parser.add_argument("--expect", action="append", default=None, metavar="KEY",
                        help="a field whose change is intended (repeatable; default with the CAD renames: "
                             + ", ".join(CAD_CHANGES) + ")")
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    try:
        renamed = dict(item.split("=", 1) for item in args.renamed) if args.renamed is not None else CAD_RENAMES
    except ValueError:
        parser.error("--renamed takes OLD=NEW")
    expected = set(args.expect if args.expect is not None else (CAD_CHANGES if args.renamed is None else ()))
    try:
        extra = dict(item.split("=", 1) for item in args.this_tree)
    except ValueError:
        parser.error("--this-tree takes KEY=VALUE")
    with tempfile.TemporaryDirectory() as folder:
        try:
            tree = export(args.before, Path(folder))
        except subprocess.CalledProcessError:
            parser.error(f"--before {args.before!r} is not a commit of this repository")
        before = record(tree, Path(folder) / "before.pkl", args.episodes)
        after = record(REPOSITORY, Path(folder) / "after.pkl", args.episodes, extra)
    print(f"this tree against commit {args.before}: {args.episodes} seeded episodes x <= 100 steps per case, "
          "every observation, reward, flag and info value compared bit for bit")
    print("info keys compared under their new names: " + (", ".join(f"{a} -> {b}" for a, b in renamed.items())
                                                        or "none"))
    print("intended changes: " + (", ".join(sorted(expected)) or "none"))
    print("this tree's envs also take: " + (", ".join(f"{k}={v}" for k, v in extra.items()) or "nothing") + "\n")
    unexplained = 0
    for label, _ in CASES:
        pairs = list(zip(before[label], after[label], strict=True))
        found = [differences(old, new, renamed) for old, new in pairs]
        steps = sum(len(episode) - 1 for episode in after[label])
        same = sum(not counts for counts, _, _ in found)
        explained = sum(bool(counts) and set(counts) <= expected for counts, _, _ in found)
        fields: dict[str, int] = {}
        for counts, _, _ in found:
            for key, value in counts.items():
                fields[key] = fields.get(key, 0) + value
        added = sorted({key for _, keys, _ in found for key in keys})
        print(f"{label:32s} {same:3d}/{len(pairs)} episodes identical, {explained} differ only as intended "
              f"({steps} steps)")
        if fields:
            print("    steps differing per field: "
                  + ", ".join(f"{key} {value}" for key, value in sorted(fields.items())))
        if added:
            print("    new info keys: " + ", ".join(added))
        for seed, (counts, _, where) in enumerate(found):
            if counts and not set(counts) <= expected:
                unexplained += 1
                if unexplained <= 10:
                    print(f"    seed {seed}: first unexplained difference at {where} ({', '.join(sorted(counts))})")
    print("\nno unexplained difference" if not unexplained else f"\n{unexplained} episodes differ unexplained")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())

"""A tighter sphere bound on some links: does it buy success at the same CAD contact rate?

The sphere bound (``assets/collision_spheres.json``) encloses ROBOTIS' meshes and is what the
safety layer, the planners, scene sampling and RL features see; the CAD decides contact. A tighter
fit (more spheres, a lower union/hull volume ratio) lets them pass closer, at the risk of more CAD
contact. This study exports git ``--ref`` twice into a temporary folder, refits ``--links`` in the
second copy (``sim.robot.geometry_fit.fit_link`` with ``--volume-ratio`` and up to
``--max-spheres``; the other links keep the shipped spheres; the JSON and the URDFs are written
as ``geometry_fit`` writes them), and then, for both copies:

* the fit per link: spheres, worst mesh vertex outside, union / convex hull volume, and how far the
  union's surface stands beyond the CAD (distance of 600 points per sphere on the union's boundary
  to the mesh surface: median / p95 / max mm);
* the certified slack: ``tests/sim/robot/test_cad.py -k slack`` (every triangle inside a sphere
  grown by ``BOUND_SLACK_M``; its last assertion also checks that the slack is not loose);
* the cost: a random-action env step (``--step-scenario``) and a batched clearance query of 1024
  configurations (the planners' and the safety layer's call), interleaved, best of rounds;
* whether the scenes are the same (scene sampling uses the bound): a hash of each episode's scene;
* ``--episodes`` seeded episodes of ``run_sim.py`` per scenario and policy in both copies, compared
  on success and CAD contact (95% Wilson intervals, and episode by episode), bound contact and
  median clearances.

Run: ``python benchmarks/sphere_fit_study.py [--links link3,link4,link5] [--volume-ratio 0.95]
[--max-spheres 32] [--scenarios narrow,shelf] [--episodes 40] [--keep DIR]`` (the refit takes about
2 min of one core per link; an episode of all five default policies about 1 s in ``narrow`` and 2 s in
``shelf`` on a loaded 2-core machine). Every OMPL failure is its wall-clock budget running out, so
its success follows the machine's load: compare it only between runs under the same load
(interleaved), as the README's table does.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _git_tree import export  # benchmarks/ is on sys.path when run as a script

LINKS = ("link1", "link2", "link3", "link4", "link5", "gripper_left_link", "gripper_right_link")
TRUE = ("1", "True", "true")  #: how episodes.csv may spell a true flag
MODELS = "iknet:improved+safe,analytic+safe,iknet:improved,analytic,ompl:rrtconnect"

FIT_CHILD = r"""
import json, sys
import numpy as np
import assets
from sim.robot import geometry_fit as gf
links, ratio, max_spheres, seed = sys.argv[1].split(","), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
gf.MAX_SPHERES = max_spheres  # fit_link bisects up to this module constant
record = json.loads(assets.COLLISION_SPHERES_PATH.read_text())
for link in links:
    fitted = gf.fit_link(link, ratio, seed)
    rows = fitted.pop("spheres")
    record["links"][link] = [[round(float(v), 7) for v in row[:3]] + [float(np.ceil(row[3] * 1e7) / 1e7)]
                             for row in rows]
    record["fit"]["links"][link] = {"spheres": len(rows), "volume_ratio_target": ratio, "max_spheres": max_spheres,
                                    **{k: round(v, 3) for k, v in fitted.items()}}
    print(f"{link}: {len(rows)} spheres, {fitted['ratio']:.3f} x hull", flush=True)
record["fit"]["command"] = "benchmarks/sphere_fit_study.py " + " ".join(sys.argv[1:])
assets.COLLISION_SPHERES_PATH.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
gf.write_urdf(assets.urdf_path(), record["links"])
"""

FIGURES_CHILD = r"""
import json, sys
import numpy as np
import trimesh
from scipy.spatial import ConvexHull
import assets
from sim.robot import geometry_fit as gf
from sim.robot.robot_geometry import mesh
n = 600
i = np.arange(n) + 0.5
polar, azimuth = np.arccos(1 - 2 * i / n), np.pi * (1 + 5 ** 0.5) * i
unit = np.column_stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)])
out = {}
for link, rows in json.loads(assets.COLLISION_SPHERES_PATH.read_text())["links"].items():
    spheres = np.asarray(rows, float)
    centres, radii = spheres[:, :3], spheres[:, 3]
    vertices, faces = mesh(link)
    points = (centres[:, None, :] + radii[:, None, None] * unit[None]).reshape(-1, 3)
    depth = np.sqrt(((points[:, None, :] - centres[None]) ** 2).sum(-1)) - radii[None]
    depth[np.arange(len(points)), np.repeat(np.arange(len(radii)), n)] = np.inf
    boundary = points[depth.min(1) > -1e-9]  # on the union's surface: inside no other sphere
    _, beyond, _ = trimesh.proximity.closest_point(trimesh.Trimesh(vertices, faces, process=False), boundary)
    out[link] = {"spheres": len(radii), "worst_vertex_outside_mm": gf.worst_outside_m(vertices, centres, radii) * 1e3,
                 "union_hull_ratio": gf.union_volume(centres, radii) / ConvexHull(vertices).volume,
                 "beyond_mean_mm": float(beyond.mean() * 1e3), "beyond_median_mm": float(np.median(beyond) * 1e3),
                 "beyond_p95_mm": float(np.percentile(beyond, 95) * 1e3), "beyond_max_mm": float(beyond.max() * 1e3)}
print(json.dumps(out))
"""

COST_CHILD = r"""
import json, sys, time
import numpy as np
import gymnasium as gym
import sim
from sim.robot.collision import overall_clearance
scenario, steps = sys.argv[1], int(sys.argv[2])
env = gym.make(sim.ENV_IDS[0], scenario=scenario)
env.reset(seed=0)
env.action_space.seed(0)
for _ in range(20):  # warm-up (compiled kernels)
    env.step(env.action_space.sample())
cpu, done = 0.0, 0
for episode in range(1, 1000):
    env.reset(seed=episode)
    start = time.process_time()
    for _ in range(50):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done += 1
        if terminated or truncated:
            break
    cpu += time.process_time() - start
    if done >= steps:
        break
obstacles = env.unwrapped.scene.obstacle_set() if hasattr(env.unwrapped.scene, "obstacle_set") else None
joints = np.random.default_rng(0).uniform(-1.5, 1.5, (1024, 4))
query = []
if obstacles is not None:
    overall_clearance(joints, obstacles)
    for _ in range(5):
        start = time.process_time()
        overall_clearance(joints, obstacles)
        query.append(time.process_time() - start)
print(json.dumps({"step_us": cpu / done * 1e6, "query_1024_ms": min(query) * 1e3 if query else None}))
"""

SCENES_CHILD = r"""
import hashlib, json, sys
import gymnasium as gym
import sim
scenario, seed, episodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
env = gym.make(sim.ENV_IDS[0], scenario=scenario)
hashes = []
for episode in range(episodes):
    env.reset(seed=seed + episode)
    hashes.append(hashlib.sha1(repr(env.unwrapped.scene).encode()).hexdigest())
print(json.dumps(hashes))
"""


def child(tree: Path, code: str, *arguments: str) -> str:
    """Run ``code`` in a Python child whose imports come from ``tree``; its standard output."""
    done = subprocess.run([sys.executable, "-c", code, *arguments], cwd=tree, env={"PYTHONPATH": str(tree),
                          "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"child in {tree} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def wilson(count: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of ``count`` of ``total``."""
    share, spread = count / total, 1 + z * z / total
    centre = (share + z * z / (2 * total)) / spread
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / spread
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(count: int, total: int) -> str:
    low, high = wilson(count, total)
    return f"{100 * count / total:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def episode_table(folders: dict[str, Path], only: set[tuple[str, int]] | None = None) -> None:
    """Print the per-scenario, per-policy comparison of the runs in ``folders`` (fit name -> folder),
    of the episodes ``(scenario, episode)`` in ``only`` if given."""
    runs = {name: {(r["scenario"], r["model"], int(r["episode"])): r
                   for r in csv.DictReader(open(folder / "episodes.csv", encoding="utf-8"))}
            for name, folder in folders.items()}
    shipped, tight = runs["shipped"], runs["tight"]
    keys = sorted(key for key in set(shipped) & set(tight) if only is None or (key[0], key[2]) in only)
    print("| scenario | policy | episodes | fit | success [95% CI] | CAD contact [95% CI] | bound contact | "
          "CAD clearance median mm | bound clearance median mm | wall s / episode |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    paired = []
    for group in sorted({key[:2] for key in keys}):
        mine = [key for key in keys if key[:2] == group]
        for name, rows in (("shipped", shipped), ("tight", tight)):
            chosen = [rows[key] for key in mine]
            success = sum(r["success"] in TRUE for r in chosen)
            contact = sum(r["collided"] in TRUE for r in chosen)
            bound = sum(int(r["bound_contact_steps"]) > 0 for r in chosen)
            print(f"| {group[0]} | {group[1]} | {len(mine)} | {name} | {rate(success, len(mine))} | "
                  f"{rate(contact, len(mine))} | {100 * bound / len(mine):.1f}% | "
                  f"{statistics.median(float(r['min_clearance_mm']) for r in chosen):.1f} | "
                  f"{statistics.median(float(r['min_clearance_bound_mm']) for r in chosen):.1f} | "
                  f"{statistics.mean(float(r['wall_time_s']) for r in chosen):.3f} |")
        pairs = [(shipped[key], tight[key]) for key in mine]
        gained = sum(a["success"] not in TRUE and b["success"] in TRUE for a, b in pairs)
        lost = sum(a["success"] in TRUE and b["success"] not in TRUE for a, b in pairs)
        new = sum(a["collided"] not in TRUE and b["collided"] in TRUE for a, b in pairs)
        gone = sum(a["collided"] in TRUE and b["collided"] not in TRUE for a, b in pairs)
        paired.append(f"{group[0]} {group[1]}: success +{gained} / -{lost} episodes, CAD contact +{new} / -{gone}")
    print("\nEpisode by episode (tight against shipped):\n" + "\n".join(paired))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="HEAD", help="git revision both copies are exported from (default HEAD)")
    parser.add_argument("--links", default="link3,link4,link5", help="links to refit (default link3,link4,link5)")
    parser.add_argument("--volume-ratio", type=float, default=0.95,
                        help="largest union volume of a refitted link, times its mesh's convex hull (default 0.95; "
                             "a hollow link's union can be smaller than its hull)")
    parser.add_argument("--max-spheres", type=int, default=32, help="most spheres a refitted link gets (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="fit seed and base episode seed (default 0)")
    parser.add_argument("--scenarios", default="narrow,shelf", help="scenarios to run (default narrow,shelf)")
    parser.add_argument("--models", default=MODELS, help=f"policies (default {MODELS})")
    parser.add_argument("--episodes", type=int, default=40, help="episodes per scenario and policy; 0: none "
                        "(fit, slack and cost only) (default 40)")
    parser.add_argument("--step-scenario", default="cluttered", help="scenario of the step cost (default cluttered)")
    parser.add_argument("--keep", type=Path, help="new or empty folder to keep both trees and runs in (default: "
                        "a temporary folder, removed)")
    args = parser.parse_args()
    links = [link for link in args.links.split(",") if link]
    if not links or any(link not in LINKS for link in links):
        parser.error(f"--links must be a comma-separated choice of {', '.join(LINKS)}, got {args.links!r}")
    if not 0.3 <= args.volume_ratio <= 10:
        parser.error(f"--volume-ratio must be in [0.3, 10], got {args.volume_ratio}")
    if not 2 <= args.max_spheres <= 128:
        parser.error(f"--max-spheres must be in [2, 128], got {args.max_spheres}")
    if not 0 <= args.episodes <= 100_000:
        parser.error(f"--episodes must be in [0, 100000], got {args.episodes}")
    if args.keep is not None and args.keep.exists() and (not args.keep.is_dir() or any(args.keep.iterdir())):
        parser.error(f"--keep {args.keep} must be a new or empty folder")
    with tempfile.TemporaryDirectory(prefix="sphere_fit_study_") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("shipped", "tight"):
            (folder / name).mkdir()
        trees = {name: export(args.ref, folder / name) for name in ("shipped", "tight")}
        print(f"ref {args.ref}; refitting {', '.join(links)} at volume ratio {args.volume_ratio}, at most "
              f"{args.max_spheres} spheres, seed {args.seed}; trees in {folder}", flush=True)
        print(child(trees["tight"], FIT_CHILD, ",".join(links), str(args.volume_ratio), str(args.max_spheres),
                    str(args.seed)), end="", flush=True)
        figures = {name: json.loads(child(tree, FIGURES_CHILD)) for name, tree in trees.items()}
        print("\n| link | fit | spheres | worst vertex outside mm | union / hull | beyond the CAD mean / median / "
              "p95 / max mm |\n|---|---|---|---|---|---|")
        for link in LINKS:
            for name in ("shipped", "tight"):
                f = figures[name][link]
                if name == "tight" and f == figures["shipped"][link]:
                    continue
                print(f"| {link} | {name} | {f['spheres']} | {f['worst_vertex_outside_mm']:+.3f} | "
                      f"{f['union_hull_ratio']:.2f} | {f['beyond_mean_mm']:.1f} / {f['beyond_median_mm']:.1f} / "
                      f"{f['beyond_p95_mm']:.1f} / {f['beyond_max_mm']:.1f} |")
        for name in ("shipped", "tight"):
            print(f"{name}: {sum(f['spheres'] for f in figures[name].values())} spheres in all")
        for name, tree in trees.items():
            test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                                   "tests/sim/robot/test_cad.py", "-k", "slack"], cwd=tree, capture_output=True,
                                  text=True, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
            lines = [line for line in test.stdout.splitlines() if line.startswith("slack:") or "passed" in line
                     or "failed" in line or line.startswith("E ")]
            print(f"slack test, {name}:\n  " + "\n  ".join(lines))
        rounds = {name: [] for name in trees}
        for _ in range(3):  # interleaved
            for name, tree in trees.items():
                rounds[name].append(json.loads(child(tree, COST_CHILD, args.step_scenario, "400")))
        for name, readings in rounds.items():
            queries = [r["query_1024_ms"] for r in readings if r["query_1024_ms"] is not None]
            print(f"cost, {name}: {args.step_scenario} random-action step {min(r['step_us'] for r in readings):.0f} "
                  f"us CPU (best of 3); clearance of 1024 configurations "
                  + (f"{min(queries):.2f} ms" if queries else "not measured"))
        if args.episodes == 0:
            return 0
        folders, same_scenes = {}, set()
        for scenario in [s for s in args.scenarios.split(",") if s]:
            scenes = {name: json.loads(child(tree, SCENES_CHILD, scenario, str(args.seed), str(args.episodes)))
                      for name, tree in trees.items()}
            same = [k for k, (a, b) in enumerate(zip(scenes["shipped"], scenes["tight"], strict=True)) if a == b]
            same_scenes |= {(scenario, k) for k in same}
            print(f"{scenario}: {len(same)} of {args.episodes} scenes the same in both trees", flush=True)
        for name, tree in trees.items():
            folders[name] = folder / "runs" / name
            for scenario in [s for s in args.scenarios.split(",") if s]:
                out = folder / "runs" / f"{scenario}_{name}"
                done = subprocess.run([sys.executable, "run_sim.py", "--scenario", scenario, "--models", args.models,
                                       "--episodes", str(args.episodes), "--seed", str(args.seed), "--out", str(out),
                                       "--no-progress"], cwd=tree, env={"PYTHONPATH": str(tree),
                                       "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
                                      capture_output=True, text=True)
                if done.returncode:
                    print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "run_sim.py failed")
                    return done.returncode
        merged = {}
        for name in trees:
            folders[name].mkdir(parents=True, exist_ok=True)
            rows = []
            for scenario in [s for s in args.scenarios.split(",") if s]:
                rows += list(csv.DictReader(open(folder / "runs" / f"{scenario}_{name}" / "episodes.csv",
                                                 encoding="utf-8")))
            with open(folders[name] / "episodes.csv", "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            merged[name] = folders[name]
        print("\nAll episodes (the scenes each fit samples):")
        episode_table(merged)
        print("\nOnly the episodes whose scene both fits sample alike (the policies' own difference):")
        episode_table(merged, same_scenes)
    return 0


if __name__ == "__main__":
    sys.exit(main())

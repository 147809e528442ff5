"""Physics on the CAD hulls: the per-control-step CPU cost of the arm's PyBullet collision shapes,
the fitted spheres of ``assets/urdf/open_manipulator_x.urdf`` against the CoACD hulls of
``assets/collision_hulls`` (``python -m sim.robot.decompose``), measured in the same run; how a known
gap reads on each; and how often the sphere arm touches where the hull arm does not.

The hull arm is the shipped URDF with each link's ``<collision>`` elements replaced by one
multi-object OBJ (one object per hull: PyBullet makes it a compound of convex hulls), written to a
temporary folder; joints, limits, masses and inertias are the same. It is loaded by
:class:`sim.env.world.World` itself (its URDF path swapped), so self-collision
(``URDF_USE_SELF_COLLISION`` with the SRDF's disabled pairs), the table, the obstacles (no margin)
and position control are the env's. Variants:

* ``spheres``: the shipped arm (~100 fitted spheres, up to ~24 mm outside the CAD).
* ``hulls <set>``: the hull OBJs as PyBullet loads a URDF's convex meshes: each grown by a 1 mm
  collision margin. ``changeDynamics(collisionMargin=0)`` does not remove it on the arm's links
  (the ``m0`` rows of the gap table show it).
* ``cores <set>``: the set's ``pybullet/<link>.obj`` cores (``sim.robot.decompose.margin_cores``):
  the hulls shrunk by that margin, so the solid PyBullet collides is the hulls (corners rounded).
* ``... no self``: self-collision filtered off for every link pair (its share of the cost).

Per control step (the env's physics, ``sim.env.env.ObstacleReachEnv.step``): the position targets
of a uniformly random absolute action, 12 substeps of ``stepSimulation`` with ``getContactPoints``
after each (``World.step_watching_contacts``), the fingers' reset, ``performCollisionDetection`` and
``getContactPoints``. Timed apart: the closest-point queries of ``clearance="both"`` (the pairs the
sphere model finds within 0.1 m and 5 mm of its closest). Scenes are the env's ``cluttered``
scenes (``reset(seed=k)``), 100 steps each; CPU time (``process_time``) per control step, variants
interleaved, the best of ``--rounds`` rounds.

Run: ``python benchmarks/hull_physics.py [--episodes 40] [--rounds 5] [--hulls DIR] [--also NAME=DIR]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np

import assets
import sim
from sim.env import world as world_module
from sim.env.env_spaces import action_to_joint_target_list
from sim.env.world import World
from sim.robot.collision import COLLISION_LINKS, arm_clearances
from sim.robot.decompose import HULL_DIR, read_obj
from sim.robot.robot_geometry import mesh

SUBSTEPS = 12
PHYSICS_HZ = 240.0
STEPS_PER_EPISODE = 100
CLEARANCE_HORIZON_M, CLEARANCE_PAIR_MARGIN_M = 0.1, 0.005  # the env's (sim.env.env)


# ----------------------------------------------------------------------------------- arms
def hull_urdf(hull_dir: Path, directory: Path, *, cores: bool = False) -> Path:
    """The shipped URDF with each collision link's ``<collision>`` elements replaced by its hull OBJ
    (``cores``: its PyBullet cores, ``pybullet/<link>.obj``), absolute paths, written into ``directory``."""
    source = assets.urdf_path()
    tree = ElementTree.parse(source)
    for link in tree.getroot().iter("link"):
        for visual_mesh in link.iter("mesh"):
            visual_mesh.set("filename", str((source.parent / visual_mesh.get("filename")).resolve()))
        name = link.get("name")
        if name not in COLLISION_LINKS:
            continue
        for collision in link.findall("collision"):
            link.remove(collision)
        collision = ElementTree.SubElement(link, "collision")
        ElementTree.SubElement(collision, "origin", xyz="0 0 0", rpy="0 0 0")
        geometry = ElementTree.SubElement(collision, "geometry")
        obj = (hull_dir / ("pybullet" if cores else "") / f"{name}.obj").resolve()
        if not obj.exists():
            raise SystemExit(f"{obj} is missing: run python -m sim.robot.decompose")
        ElementTree.SubElement(geometry, "mesh", filename=str(obj), scale="1 1 1")
    path = directory / f"open_manipulator_x_{'cores' if cores else 'hulls'}_{abs(hash(str(hull_dir))) % 10**8}.urdf"
    tree.write(path, encoding="unicode")
    return path


@contextlib.contextmanager
def _urdf(path: Path | None) -> Iterator[None]:
    """World loads ``path`` instead of the shipped URDF inside this block."""
    original = assets.urdf_path
    if path is not None:
        assets.urdf_path = lambda: path  # type: ignore[assignment]
    try:
        yield
    finally:
        assets.urdf_path = original  # type: ignore[assignment]


class Variant:
    """One arm model: how its world is built."""

    def __init__(self, name: str, urdf: Path | None, *, margin_zero: bool = False, self_collision: bool = True,
                 hull_dir: Path | None = None) -> None:
        self.name, self.urdf, self.margin_zero, self.self_collision = name, urdf, margin_zero, self_collision
        self.hull_dir = hull_dir

    def world(self) -> World:
        with _urdf(self.urdf):
            world = World(renderer="none", time_step_s=1.0 / PHYSICS_HZ)
        p = world.client
        if self.margin_zero:
            for index in range(-1, p.getNumJoints(world.robot)):
                p.changeDynamics(world.robot, index, collisionMargin=0.0)
        if not self.self_collision:
            count = p.getNumJoints(world.robot)
            for first in range(-1, count):
                for second in range(first + 1, count):
                    p.setCollisionFilterPair(world.robot, world.robot, first, second, 0)
        return world


# ----------------------------------------------------------------------------------- episodes
def cluttered_scenes(count: int) -> list:
    """The env's ``cluttered`` scenes of seeds 0..count-1."""
    env = gym.make(sim.ENV_IDS[0], scenario="cluttered")
    scenes = []
    for seed in range(count):
        env.reset(seed=seed)
        scenes.append(env.unwrapped.scene)
    env.close()
    return scenes


def load_scene(world: World, scene) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Put ``scene``'s obstacles and start joints into ``world``: the obstacles' body ids by name."""
    world.clear_obstacles()
    bodies = {obstacle.name: world.add_obstacle(obstacle.name, obstacle.kind, obstacle.size, obstacle.position_at(0.0),
                                                obstacle.orientation) for obstacle in scene.obstacles}
    world.reset_joints(scene.start_joints)
    world.detect_collisions()
    return bodies


def episode_actions(seed: int) -> list[list[float]]:
    """The episode's joint targets: uniformly random absolute actions."""
    actions = np.random.default_rng(seed).uniform(-1.0, 1.0, (STEPS_PER_EPISODE, 4))
    return [action_to_joint_target_list(action, "absolute", None, 0.0) for action in actions]


def _moves(scene, step: int) -> list:  # type: ignore[no-untyped-def]
    if not scene.is_dynamic:
        return []
    times = np.arange(step * SUBSTEPS + 1, (step + 1) * SUBSTEPS + 1) / PHYSICS_HZ
    return [(o.name, o.position_at(times), o.orientation) for o in scene.obstacles if o.motion]


def physics_step(world: World, joint_targets: list[float], moves: list) -> bool:
    """One control step of the env's physics, PyBullet called directly as the env's world does
    (``set_position_targets``, ``SUBSTEPS`` x (obstacle moves, ``stepSimulation``,
    ``getContactPoints``), the fingers' reset, ``performCollisionDetection``, ``getContactPoints``):
    True if any substep or the final poses had a touching contact. Spelled out here so the figures
    do not move with the world's own bookkeeping."""
    pybullet = world_module.pybullet
    client_id, robot = world.client_id, world.robot
    world.set_position_targets(joint_targets)
    touched = False
    for substep in range(SUBSTEPS):
        for body, positions, orientation in moves:
            pybullet.resetBasePositionAndOrientation(body, positions[substep], orientation, physicsClientId=client_id)
        pybullet.stepSimulation(physicsClientId=client_id)
        points = pybullet.getContactPoints(bodyA=robot, physicsClientId=client_id)
        if points and any(point[8] <= 0.0 for point in points):
            touched = True
    world.reset_gripper(0.0)
    pybullet.performCollisionDetection(physicsClientId=client_id)
    points = pybullet.getContactPoints(bodyA=robot, physicsClientId=client_id)
    return touched or any(point[8] <= 0.0 for point in points)


def run_episode(world: World, scene, targets: list[list[float]]) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    """One episode: ``(physics ns, clearance-query ns, steps with a contact, clearance queries)``."""
    bodies = load_scene(world, scene)
    obstacles = scene.obstacle_set() if scene.obstacles else None
    physics_ns = clearance_ns = touching = queries = 0
    clock = time.process_time_ns
    for step, joint_targets in enumerate(targets):
        moves = [(bodies[name], positions.tolist(), list(orientation))
                 for name, positions, orientation in _moves(scene, step)]
        start = clock()
        touched = physics_step(world, joint_targets, moves)
        physics_ns += clock() - start
        touching += touched
        if obstacles is not None:
            if scene.is_dynamic:
                obstacles = scene.obstacle_set((step + 1) * SUBSTEPS / PHYSICS_HZ)
            arm = arm_clearances(world.joint_positions(), obstacles)
            near = min(CLEARANCE_HORIZON_M, float(arm.obstacle.distance_m) + CLEARANCE_PAIR_MARGIN_M)
            links, slots = np.nonzero(arm.per_link_m < near)
            pairs = [(COLLISION_LINKS[k], scene.obstacles[m].name) for k, m in zip(links.tolist(), slots.tolist(),
                                                                                    strict=True)]
            start = clock()
            world.pair_clearance(pairs, CLEARANCE_HORIZON_M)
            clearance_ns += clock() - start
            queries += len(pairs)
    return physics_ns, clearance_ns, touching, queries


def cost_table(variants: list[Variant], scenes: list, rounds: int) -> dict[str, dict[str, float]]:
    """Best-of-rounds CPU per control step (us) of each variant, rounds interleaved."""
    worlds = {variant.name: variant.world() for variant in variants}
    actions = [episode_actions(seed) for seed in range(len(scenes))]
    for variant in variants:  # warm-up: numba, first shapes
        run_episode(worlds[variant.name], scenes[0], actions[0][:5])
    best: dict[str, dict[str, float]] = {}
    steps = len(scenes) * STEPS_PER_EPISODE
    for round_index in range(rounds):
        for variant in variants:
            totals = np.zeros(4)
            for scene, targets in zip(scenes, actions, strict=True):
                totals += run_episode(worlds[variant.name], scene, targets)
            physics_us, clearance_us = totals[0] / 1e3 / steps, totals[1] / 1e3 / steps
            record = best.setdefault(variant.name, {"physics_us": math.inf, "clearance_us": math.inf})
            record["physics_us"] = min(record["physics_us"], physics_us)
            record["clearance_us"] = min(record["clearance_us"], clearance_us)
            record["contact_steps"] = totals[2] / steps
            record["queries_per_step"] = totals[3] / steps
        print(f"  round {round_index + 1}/{rounds}: " + ", ".join(
            f"{name} {record['physics_us']:.0f}" for name, record in best.items()), flush=True)
    for world in worlds.values():
        world.close()
    return best


# ----------------------------------------------------------------------------------- known gaps
def _rotation_z_to(direction: np.ndarray) -> list[float]:
    """Quaternion [x, y, z, w] turning +z onto ``direction``."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, direction)
    sine, cosine = np.linalg.norm(axis), float(z @ direction)
    if sine < 1e-12:
        return [0.0, 0.0, 0.0, 1.0] if cosine > 0 else [1.0, 0.0, 0.0, 0.0]
    angle = math.atan2(sine, cosine)
    return [*(axis / sine * math.sin(angle / 2)), math.cos(angle / 2)]


def _world_points(world: World, link: str, points: np.ndarray) -> np.ndarray:
    from sim.robot.transforms import quat_to_matrix

    position, quaternion = world.link_pose(link)
    return points @ quat_to_matrix(quaternion).T + position


#: (link, outward world direction) probed at joints 0: the gripper's front, link3's top, link5's underside,
#: link4's side.
GAP_PROBES = (("gripper_left_link", (1.0, 0.0, 0.0)), ("link3", (0.0, 0.0, 1.0)), ("link5", (0.0, 0.0, -1.0)),
              ("link4", (0.0, 1.0, 0.0)))
GAPS_M = (-0.002, 0.0, 0.002, 0.005)


def gap_readings(variant: Variant, hull_dir: Path) -> list[tuple[str, float, float, float, int]]:
    """A thin box is placed with its face ``gap`` beyond the hulls' extreme point along a direction:
    ``(link, gap m, PyBullet's closest distance m, deepest contact m (nan: none), contact count)``."""
    world = variant.world()
    rows = []
    for link, direction in GAP_PROBES:
        direction = np.array(direction)
        hulls = _world_points(world, link, np.vstack(read_obj(hull_dir / f"{link}.obj")))
        support = hulls[int(np.argmax(hulls @ direction))]
        for gap in GAPS_M:
            world.clear_obstacles()
            world.add_obstacle("probe", "box", (0.1, 0.1, 0.005), support + direction * (gap + 0.005),
                               _rotation_z_to(direction))
            world.detect_collisions()
            closest = min((point.distance_m for point in world.closest_points(0.05) if point.link == link),
                          default=math.nan)
            touching = [contact.distance_m for contact in world.contacts() if contact.link == link
                        and contact.body == "probe"]
            rows.append((link, gap, closest, min(touching, default=math.nan), len(touching)))
    world.close()
    return rows


# ----------------------------------------------------------------------------------- disagreement
def _touching(world: World) -> set[str]:
    """What the arm touches at its current poses: a set of "obstacle", "table", "self"."""
    world.detect_collisions()
    return {("self" if contact.body.startswith("robot:") else "table" if contact.body == "table" else "obstacle")
            for contact in world.contacts()}


def disagreement(spheres: Variant, others: list[Variant], scenes: list) -> dict[str, dict[str, int]]:
    """The sphere arm is simulated (the env's physics); after every substep each other arm is put
    in the same joint state in its own world with the same obstacles and its contacts computed.
    Per other arm: counts of control steps (any substep) and episodes with a contact on one model
    and none on the other, and the sphere-only steps by what the spheres touched."""
    sphere_world = spheres.world()
    worlds = [variant.world() for variant in others]
    joints = list(range(sphere_world.client.getNumJoints(sphere_world.robot)))
    keys = ("steps", "sphere_steps", "other_steps", "sphere_only_steps", "other_only_steps", "episodes",
            "sphere_episodes", "other_episodes", "sphere_only_episodes", "other_only_episodes",
            "sphere_only_steps_obstacle", "sphere_only_steps_table", "sphere_only_steps_self")
    counts = {variant.name: dict.fromkeys(keys, 0) for variant in others}
    for seed, scene in enumerate(scenes):
        for world in [sphere_world, *worlds]:
            load_scene(world, scene)
        any_sphere, any_other = False, [False] * len(worlds)
        for step, joint_targets in enumerate(episode_actions(seed)):
            sphere_world.set_position_targets(joint_targets)
            moves = _moves(scene, step)
            step_sphere: set[str] = set()
            step_other: list[set[str]] = [set() for _ in worlds]
            for substep in range(SUBSTEPS):
                for name, positions, orientation in moves:
                    for world in [sphere_world, *worlds]:
                        world.move_obstacle(name, positions[substep], orientation)
                sphere_world.step()
                if substep == SUBSTEPS - 1:
                    sphere_world.reset_gripper(0.0)
                states = sphere_world.client.getJointStates(sphere_world.robot, joints)
                step_sphere |= _touching(sphere_world)
                for k, world in enumerate(worlds):
                    for index, state in zip(joints, states, strict=True):
                        world.client.resetJointState(world.robot, index, state[0], state[1])
                    step_other[k] |= _touching(world)
            any_sphere |= bool(step_sphere)
            for k, variant in enumerate(others):
                record = counts[variant.name]
                record["steps"] += 1
                record["sphere_steps"] += bool(step_sphere)
                record["other_steps"] += bool(step_other[k])
                record["sphere_only_steps"] += bool(step_sphere) and not step_other[k]
                record["other_only_steps"] += bool(step_other[k]) and not step_sphere
                if step_sphere and not step_other[k]:
                    for kind in step_sphere:
                        record[f"sphere_only_steps_{kind}"] += 1
                any_other[k] |= bool(step_other[k])
        for k, variant in enumerate(others):
            record = counts[variant.name]
            record["episodes"] += 1
            record["sphere_episodes"] += any_sphere
            record["other_episodes"] += any_other[k]
            record["sphere_only_episodes"] += any_sphere and not any_other[k]
            record["other_only_episodes"] += any_other[k] and not any_sphere
    for world in [sphere_world, *worlds]:
        world.close()
    return counts


# ----------------------------------------------------------------------------------- report
def hull_counts(hull_dir: Path) -> tuple[int, int]:
    hulls = [read_obj(hull_dir / f"{link}.obj") for link in COLLISION_LINKS]
    return sum(len(h) for h in hulls), sum(len(points) for h in hulls for points in h)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=40, help="cluttered scenes (seeds 0..N-1) per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hulls", type=Path, default=HULL_DIR, help="hull set to measure (default: %(default)s)")
    parser.add_argument("--also", nargs="*", default=[], metavar="NAME=DIR", help="more hull sets to compare")
    parser.add_argument("--disagreement-episodes", type=int, default=200)
    arguments = parser.parse_args()
    if arguments.episodes < 1 or arguments.rounds < 1:
        parser.error("--episodes and --rounds must be positive")
    sets = {"shipped": arguments.hulls}
    for item in arguments.also:
        name, _, directory = item.partition("=")
        if not directory:
            parser.error(f"--also takes NAME=DIR, got {item!r}")
        sets[name] = Path(directory)
    temporary = tempfile.TemporaryDirectory()
    spheres = Variant("spheres", None)
    variants = [spheres, Variant("spheres no self", None, self_collision=False)]
    for name, directory in sets.items():
        count, vertices = hull_counts(directory)
        print(f"hull set {name}: {directory} ({count} hulls, {vertices} vertices)")
        if (directory / "manifest.json").exists():
            manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
            for link, record in manifest["links"].items():
                cores = record.get("pybullet_cores", {})
                print(f"  {link:<18} {record['hulls']:3d} hulls, outside {record['outside_max_mm']:.4f} mm, deviation "
                      f"max {record['deviation_max_mm']:.2f} / p99 {record['deviation_p99_mm']:.2f} mm; cores + 1 mm: "
                      f"max {cores.get('deviation_max_mm', math.nan):.2f} / "
                      f"p99 {cores.get('deviation_p99_mm', math.nan):.2f}")
        variants += [Variant(f"hulls {name}", hull_urdf(directory, Path(temporary.name)), hull_dir=directory),
                     Variant(f"cores {name}", hull_urdf(directory, Path(temporary.name), cores=True),
                             hull_dir=directory)]
    shipped, shipped_cores = variants[2], variants[3]
    shipped_m0 = Variant("hulls shipped m0", shipped.urdf, margin_zero=True)
    variants.append(Variant("cores shipped no self", shipped_cores.urdf, self_collision=False))

    print("\nKnown gaps (box face placed `gap` beyond the hulls' extreme point; joints 0):")
    print(f"{'variant':<22} {'link':<18} {'gap mm':>7} {'closest mm':>11} {'deepest contact mm':>19} {'points':>6}")
    for variant in (shipped, shipped_m0, shipped_cores, spheres):
        for link, gap, closest, deepest, count in gap_readings(variant, arguments.hulls):
            print(f"{variant.name:<22} {link:<18} {gap * 1e3:7.1f} {closest * 1e3:11.3f} {deepest * 1e3:19.3f} "
                  f"{count:6d}")
    cad_excess = {}
    for link, direction in GAP_PROBES:
        world = spheres.world()
        cad = _world_points(world, link, np.array(mesh(link)[0])) @ np.array(direction)
        hull = _world_points(world, link, np.vstack(read_obj(arguments.hulls / f"{link}.obj"))) @ np.array(direction)
        cad_excess[link] = (hull.max() - cad.max()) * 1e3
        world.close()
    print("hull extreme beyond the CAD's along each probe direction (mm): "
          + ", ".join(f"{link} {value:.3f}" for link, value in cad_excess.items()))

    scenes = cluttered_scenes(max(arguments.episodes, arguments.disagreement_episodes))
    print(f"\nCPU per control step ({SUBSTEPS} substeps + contact polls, as the env), cluttered, {arguments.episodes} "
          f"episodes x {STEPS_PER_EPISODE} random-action steps, best of {arguments.rounds} interleaved rounds:")
    table = cost_table(variants, scenes[:arguments.episodes], arguments.rounds)
    base = table["spheres"]
    print(f"{'variant':<26} {'physics us':>10} {'vs spheres':>10} {'+us':>7} {'closest-pt us':>13} {'queries':>7} "
          f"{'contact steps':>13}")
    for name, record in table.items():
        print(f"{name:<26} {record['physics_us']:10.1f} {record['physics_us'] / base['physics_us']:9.2f}x "
              f"{record['physics_us'] - base['physics_us']:+7.1f} {record['clearance_us']:13.1f} "
              f"{record['queries_per_step']:7.2f} {record['contact_steps']:13.3f}")

    print(f"\nContact disagreement ({arguments.disagreement_episodes} cluttered episodes x {STEPS_PER_EPISODE} "
          "random-action steps; the sphere arm simulated, each hull arm posed alike after every substep):")
    results = disagreement(spheres, [shipped, shipped_cores], scenes[:arguments.disagreement_episodes])
    for name, counts in results.items():
        steps, episodes = counts["steps"], counts["episodes"]
        print(f"  {name}: steps with a contact: spheres {counts['sphere_steps'] / steps:.3f}, "
              f"{name} {counts['other_steps'] / steps:.3f}; spheres only {counts['sphere_only_steps'] / steps:.3f} "
              f"({counts['sphere_only_steps']} of {steps}; spheres touching an obstacle "
              f"{counts['sphere_only_steps_obstacle']}, the table {counts['sphere_only_steps_table']}, "
              f"themselves {counts['sphere_only_steps_self']}), {name} only {counts['other_only_steps'] / steps:.4f}")
        print(f"  {name}: episodes with a contact: spheres {counts['sphere_episodes']}, {name} "
              f"{counts['other_episodes']} of {episodes}; spheres only {counts['sphere_only_episodes']}, "
              f"{name} only {counts['other_only_episodes']}")
    temporary.cleanup()


if __name__ == "__main__":
    main()

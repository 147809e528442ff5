"""Fit the collision spheres to ROBOTIS' meshes and write them into the URDF.

    python -m sim.robot.geometry_fit            # writes assets/collision_spheres.json and the URDF's geometry
    python -m sim.robot.geometry_fit --check    # prints the shipped fit's figures, writes nothing

Per link, the spheres must enclose every full-resolution mesh vertex (and an area-weighted
sample of the surface between them), while their union stays tight: the smallest sphere count is
chosen whose union volume is at most ``--volume-ratio`` times the link mesh's convex hull.

The fit: points of the link's solid (a 1.5 mm grid inside each watertight body, inside the convex
hull of a body that is not closed) and of its surface are split by k-means into K clusters; each
sphere is then moved towards the minimax centre of the points it is responsible for and grown to
reach the farthest, and every point is handed to the sphere it lies deepest in (a Lloyd iteration
for the covering problem). Coverage holds by construction: each point lies inside the sphere
responsible for it. Spheres covering nothing alone are dropped.

The URDF keeps its joints and inertials; each link's ``<visual>`` becomes ROBOTIS' mesh (with
ROBOTIS' visual origin) and its ``<collision>`` elements become the spheres.

Needs ``trimesh`` and ``rtree`` (``pip install '.[geometry]'``) for inside tests of the meshes; the
rest of the project reads the spheres from JSON and never needs them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.spatial import ConvexHull

import assets
from sim.errors import DependencyNotInstalled
from sim.robot.robot_geometry import COLLISION_LINKS, MESH_FILES, MESH_ORIGINS_M, mesh

SURFACE_SAMPLES = 20_000
GRID_STEP_M = 0.0015
VOLUME_GRID_M = 0.001
MAX_SPHERES = 24
#: URDF colours: ROBOTIS' frames are light, the Dynamixel servos and the palms dark.
_COLOURS = {"link1": "0.30 0.30 0.32 1", "gripper_left_link": "0.25 0.25 0.27 1",
            "gripper_right_link": "0.25 0.25 0.27 1"}
_DEFAULT_COLOUR = "0.80 0.80 0.78 1"


def _trimesh():  # type: ignore[no-untyped-def]
    try:
        import rtree  # noqa: F401  (trimesh's inside test needs it)
        import trimesh
    except ImportError:
        raise DependencyNotInstalled("trimesh and rtree", "geometry") from None
    return trimesh


def surface_samples(vertices: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points (count, 3) drawn uniformly over the triangles' area."""
    corners = vertices[faces]
    areas = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    chosen = rng.choice(len(faces), size=count, p=areas / areas.sum())
    u, v = rng.random((2, count))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    a, b, c = corners[chosen, 0], corners[chosen, 1], corners[chosen, 2]
    return a + u[:, None] * (b - a) + v[:, None] * (c - a)


def solid_grid(vertices: np.ndarray, faces: np.ndarray, step_m: float) -> np.ndarray:
    """Grid points (N, 3) inside the link's solid: inside each closed body, or inside the convex
    hull of a body that is not closed."""
    trimesh = _trimesh()
    whole = trimesh.Trimesh(vertices, faces, process=False)
    low, high = whole.bounds
    axes = [np.arange(low[i], high[i] + step_m, step_m) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    inside = np.zeros(len(grid), dtype=bool)
    for body in whole.split(only_watertight=False):
        with np.errstate(invalid="ignore", divide="ignore"):  # flat bodies: trimesh's centre of mass divides by 0
            solid = body if body.is_watertight else body.convex_hull
        candidates = np.all((grid >= solid.bounds[0]) & (grid <= solid.bounds[1]), axis=1) & ~inside
        inside[candidates] = solid.contains(grid[candidates])
    return grid[inside]


def _minimax_step(points: np.ndarray, centre: np.ndarray, iterations: int) -> np.ndarray:
    """Move ``centre`` towards the centre of the smallest ball around ``points`` (Badoiu-Clarkson)."""
    for i in range(iterations):
        farthest = points[np.argmax(((points - centre) ** 2).sum(1))]
        centre = centre + (farthest - centre) / (i + 2)
    return centre


def fit_spheres(points: np.ndarray, count: int, seed: int, rounds: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """``count`` spheres covering every point of ``points`` (N, 3): ``(centres (K, 3), radii (K,))``."""
    centres, labels = kmeans2(points, count, seed=seed, minit="++", iter=30)
    radii = np.zeros(len(centres))
    for _ in range(rounds):
        for k in range(len(centres)):
            mine = points[labels == k]
            if len(mine):
                centres[k] = _minimax_step(mine, centres[k], 60)
                radii[k] = np.sqrt(((mine - centres[k]) ** 2).sum(1).max())
            else:
                radii[k] = 0.0
        depth = np.sqrt(((points[:, None, :] - centres[None]) ** 2).sum(-1)) - radii[None]
        labels = depth.argmin(1)  # the sphere each point lies deepest in (inside all of them: depth <= 0)
    for k in range(len(centres)):  # final radii cover exactly the points each sphere is responsible for
        mine = points[labels == k]
        radii[k] = np.sqrt(((mine - centres[k]) ** 2).sum(1).max()) if len(mine) else 0.0
    keep = radii > 0
    centres, radii = centres[keep], radii[keep]
    # Drop spheres whose points all lie in other spheres.
    inside = np.sqrt(((points[:, None, :] - centres[None]) ** 2).sum(-1)) <= radii[None] + 1e-12
    order = np.argsort(radii)
    alive = np.ones(len(radii), dtype=bool)
    for k in order:
        alive[k] = False
        if not np.all(inside[:, alive].any(1)):
            alive[k] = True
    return centres[alive], radii[alive]


def union_volume(centres: np.ndarray, radii: np.ndarray, step_m: float = VOLUME_GRID_M) -> float:
    """Volume (m^3) of the union of spheres, counted on a grid of ``step_m``."""
    low, high = (centres - radii[:, None]).min(0), (centres + radii[:, None]).max(0)
    axes = [np.arange(low[i] + step_m / 2, high[i], step_m) for i in range(3)]
    total = 0
    for x in axes[0]:
        plane = np.stack(np.meshgrid([x], axes[1], axes[2], indexing="ij"), -1).reshape(-1, 3)
        inside = (((plane[:, None, :] - centres[None]) ** 2).sum(-1) <= radii[None] ** 2).any(1)
        total += int(inside.sum())
    return total * step_m**3


def worst_outside_m(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Largest distance (m) by which a point lies outside every sphere (<= 0: all enclosed)."""
    worst = -np.inf
    for chunk in np.array_split(points, max(1, len(points) // 20_000)):
        depth = np.sqrt(((chunk[:, None, :] - centres[None]) ** 2).sum(-1)) - radii[None]
        worst = max(worst, float(depth.min(1).max()))
    return worst


def fit_link(link: str, volume_ratio: float, seed: int) -> dict:
    """Spheres of ``link``: the fewest whose union is within ``volume_ratio`` of the convex hull."""
    vertices, faces = mesh(link)
    rng = np.random.default_rng(seed)
    cover = np.vstack([vertices, surface_samples(vertices, faces, SURFACE_SAMPLES, rng)])
    points = np.vstack([cover, solid_grid(vertices, faces, GRID_STEP_M)])
    hull_m3 = ConvexHull(vertices).volume
    fits: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}

    def fit(count: int) -> tuple[np.ndarray, np.ndarray, float]:
        if count not in fits:
            centres, radii = fit_spheres(points, count, seed)
            fits[count] = (centres, radii, union_volume(centres, radii))
        return fits[count]

    low, high = 2, MAX_SPHERES  # bisect for the fewest spheres within the volume target
    while low < high:
        middle = (low + high) // 2
        if fit(middle)[2] <= volume_ratio * hull_m3:
            high = middle
        else:
            low = middle + 1
    centres, radii, volume = min((fit(low), fit(MAX_SPHERES)), key=lambda item: (item[2] > volume_ratio * hull_m3,
                                                                                 len(item[1])))
    return {
        "spheres": np.column_stack([centres, radii]),
        "worst_vertex_outside_mm": worst_outside_m(vertices, centres, radii) * 1e3,
        "union_cm3": volume * 1e6, "hull_cm3": hull_m3 * 1e6, "ratio": volume / hull_m3,
    }


def write_urdf(path: Path, spheres: dict[str, list[list[float]]]) -> None:
    """Rewrite the URDF's visuals (ROBOTIS' meshes) and collisions (``spheres``) in place, and
    write its rigid-finger twin (:func:`write_rigid_finger_urdf`)."""
    tree = ElementTree.parse(path)
    mesh_dir = Path("..") / assets.ROBOTIS_MESH_DIR.relative_to(assets.ASSETS_DIR)
    for element in tree.getroot().iter("link"):
        link = element.get("name")
        if link not in spheres:
            continue
        for child in [c for c in element if c.tag in ("visual", "collision")]:
            element.remove(child)
        visual = ElementTree.Element("visual")
        ElementTree.SubElement(visual, "origin", xyz=" ".join(f"{v:g}" for v in MESH_ORIGINS_M[link]), rpy="0 0 0")
        geometry = ElementTree.SubElement(visual, "geometry")
        ElementTree.SubElement(geometry, "mesh", filename=str(mesh_dir / MESH_FILES[link]), scale="0.001 0.001 0.001")
        material = ElementTree.SubElement(visual, "material", name=f"{link}_colour")
        ElementTree.SubElement(material, "color", rgba=_COLOURS.get(link, _DEFAULT_COLOUR))
        new = [visual]
        for x, y, z, r in spheres[link]:
            collision = ElementTree.Element("collision")
            ElementTree.SubElement(collision, "origin", xyz=f"{x!r} {y!r} {z!r}", rpy="0 0 0")
            ElementTree.SubElement(ElementTree.SubElement(collision, "geometry"), "sphere", radius=repr(r))
            new.append(collision)
        for index, child in enumerate(new):
            element.insert(index, child)
    used = {material.get("name") for material in tree.getroot().iter("material") if material.find("color") is None}
    for material in [m for m in tree.getroot().findall("material") if m.get("name") not in used]:
        tree.getroot().remove(material)
    ElementTree.indent(tree, space="  ")
    header = ("<?xml version=\"1.0\"?>\n<!-- ROBOTIS OpenManipulator-X. Joints, limits and masses follow ROBOTIS' "
              "description.\n     Visuals: ROBOTIS' CAD meshes (assets/robotis, Apache-2.0). Collisions: spheres "
              "enclosing every mesh\n     vertex, written by `python -m sim.robot.geometry_fit` from "
              "assets/collision_spheres.json (sim/robot/collision.py\n     measures the same spheres). -->\n")
    body = ElementTree.tostring(tree.getroot(), encoding="unicode")
    path.write_text(header + body + "\n", encoding="utf-8")
    write_rigid_finger_urdf(path, assets.urdf_path(rigid_fingers=True) if path == assets.urdf_path()
                            else path.with_name(path.stem + "_rigid_fingers.urdf"))


def write_rigid_finger_urdf(source: Path, path: Path) -> None:
    """Write ``source`` (a URDF of this arm) to ``path`` with both finger joints fixed (closed, at
    0 m): the same links, shapes, masses and joint indices, two degrees of freedom fewer. A world
    where nothing pushes the fingers (no contact forces) simulates this one; every other joint and
    link is the source's, byte for byte."""
    text = source.read_text(encoding="utf-8")
    for joint in ("gripper_left_joint", "gripper_right_joint"):
        prismatic = f'<joint name="{joint}" type="prismatic">'
        if text.count(prismatic) != 1:
            raise ValueError(f"{source}: expected one prismatic joint {joint!r}")
        text = text.replace(prismatic, f'<joint name="{joint}" type="fixed">')
    note = ("<!-- Rigid-finger twin of open_manipulator_x.urdf (both finger joints fixed, closed), written with it by\n"
            "     sim.robot.geometry_fit.write_rigid_finger_urdf: the physics of worlds without contact forces. -->\n")
    first_line_end = text.index("\n") + 1
    path.write_text(text[:first_line_end] + note + text[first_line_end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.robot.geometry_fit", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volume-ratio", type=float, default=1.25,
                        help="largest union volume per link, as a multiple of its mesh's convex hull (default 1.25)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the surface samples and k-means (default 0)")
    parser.add_argument("--check", action="store_true", help="print the shipped fit's figures and write nothing")
    parser.add_argument("--urdf-only", action="store_true",
                        help="rewrite the URDF's geometry from the shipped spheres without fitting again")
    args = parser.parse_args(argv)
    if args.volume_ratio < 1.0:
        parser.error(f"--volume-ratio must be at least 1 (the convex hull itself), got {args.volume_ratio}")
    if args.check:
        print(json.dumps(json.loads(assets.COLLISION_SPHERES_PATH.read_text())["fit"], indent=1))
        return 0
    if args.urdf_only:
        write_urdf(assets.urdf_path(), json.loads(assets.COLLISION_SPHERES_PATH.read_text())["links"])
        print(f"wrote {assets.urdf_path()}")
        return 0
    started = time.perf_counter()
    links, report = {}, {}
    for link in COLLISION_LINKS:
        fitted = fit_link(link, args.volume_ratio, args.seed)
        links[link] = fitted.pop("spheres")
        report[link] = {"spheres": len(links[link]), **{k: round(v, 3) for k, v in fitted.items()}}
        print(f"{link:20s} {len(links[link]):3d} spheres, worst vertex {fitted['worst_vertex_outside_mm']:+.3f} mm "
              f"outside, union {fitted['union_cm3']:.0f} cm3 = {fitted['ratio']:.2f} x hull", flush=True)
    record = {
        "fit": {"command": "python -m sim.robot.geometry_fit " + " ".join(argv if argv is not None else sys.argv[1:]),
                "volume_ratio_target": args.volume_ratio, "seed": args.seed, "surface_samples": SURFACE_SAMPLES,
                "grid_step_m": GRID_STEP_M, "links": report},
        "links": {link: [[round(float(v), 7) for v in row[:3]] + [float(np.ceil(row[3] * 1e7) / 1e7)] for row in rows]
                  for link, rows in links.items()},
    }
    assets.COLLISION_SPHERES_PATH.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    write_urdf(assets.urdf_path(), record["links"])  # the rounded numbers, exactly as the JSON holds them
    print(f"wrote {assets.COLLISION_SPHERES_PATH} and {assets.urdf_path()} in {time.perf_counter() - started:.0f} s")
    return 0


__all__ = [
    "GRID_STEP_M", "MAX_SPHERES", "SURFACE_SAMPLES", "VOLUME_GRID_M", "fit_link", "fit_spheres", "main", "solid_grid",
    "surface_samples", "union_volume", "worst_outside_m", "write_rigid_finger_urdf", "write_urdf",
]


if __name__ == "__main__":
    sys.exit(main())

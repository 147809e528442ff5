"""The real arm's geometry, one owner: ROBOTIS' CAD meshes, the fitted collision spheres and the
self-collision pairs of ROBOTIS' MoveIt SRDF.

* **Meshes** (``assets/robotis/meshes``, binary STL in millimetres, each in its link's frame) are
  the visual geometry of the URDF and the ground truth the safety model is fitted to. Placement
  convention: link2's mesh sits 0.019 m above our link2 frame (ROBOTIS' visual origin); every other
  mesh sits on its link frame. Our joint1 is 0.017 m above link1 (as the real controller's
  kinematics and ROBOTIS' earlier description have it, and as our FK reproduces a real log), where
  ROBOTIS' newest xacro puts it at 0: only the link1/link2 junction, an adjacent pair that is never
  checked, differs.
* **Collision spheres** (``assets/collision_spheres.json``, written by ``python -m sim.robot.geometry_fit``)
  enclose every mesh vertex of their link. Spheres, as cuRobo models robots: the distance from a
  sphere to any convex obstacle is the obstacle's signed distance at the centre minus the radius,
  exact, batched and differentiable, with no inner search. The URDF's ``<collision>`` elements are
  the same spheres, so PyBullet and :mod:`sim.robot.collision` judge one solid.
* **Self-collision pairs**: every pair of collision links that ROBOTIS' SRDF does not disable.
"""

from __future__ import annotations

import functools
import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import assets
from sim.errors import InvalidInputError
from sim.robot.kinematics import LINK_NAMES

#: Links that carry geometry, in the order of every per-link array of :mod:`sim.robot.collision`.
COLLISION_LINKS: tuple[str, ...] = (
    "link1", "link2", "link3", "link4", "link5", "gripper_left_link", "gripper_right_link",
)
#: ROBOTIS' mesh file of each link (in ``assets.ROBOTIS_MESH_DIR``).
MESH_FILES: dict[str, str] = {
    "link1": "link1.stl", "link2": "link2.stl", "link3": "link3.stl", "link4": "link4.stl",
    "link5": "link5.stl", "gripper_left_link": "gripper_left_palm.stl",
    "gripper_right_link": "gripper_right_palm.stl",
}
#: ROBOTIS' visual origin of each mesh in its link frame (m); only link2's is not zero.
MESH_ORIGINS_M: dict[str, tuple[float, float, float]] = {
    link: ((0.0, 0.0, 0.019) if link == "link2" else (0.0, 0.0, 0.0)) for link in COLLISION_LINKS
}
#: Links checked against the table: everything from link2 on (the base plate and link1 stand on it).
TABLE_CHECKED_LINKS: tuple[str, ...] = COLLISION_LINKS[1:]


def read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A binary STL file's triangles.

    Returns:
        ``(vertices, faces)``: (V, 3) unique vertices in the file's units and (F, 3) int indices.

    Raises:
        InvalidInputError: not a binary STL file of consistent length.
    """
    data = Path(path).read_bytes()
    count = int(np.frombuffer(data, dtype="<u4", count=1, offset=80)[0]) if len(data) >= 84 else -1
    if count < 0 or len(data) != 84 + 50 * count:
        raise InvalidInputError(f"{path} is not a binary STL file (size {len(data)} bytes)")
    records = np.frombuffer(data, dtype=np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)),
                                                  ("attribute", "<u2")]), count=count, offset=84)
    corners = records["corners"].reshape(-1, 3).astype(np.float64)
    vertices, inverse = np.unique(corners, axis=0, return_inverse=True)
    return vertices, inverse.reshape(-1, 3)


@functools.cache
def mesh(link: str) -> tuple[np.ndarray, np.ndarray]:
    """ROBOTIS' full-resolution mesh of ``link`` in that link's frame: ``(vertices (V, 3) m, faces (F, 3))``."""
    if link not in MESH_FILES:
        raise InvalidInputError(f"no mesh for link {link!r}; valid choices: {', '.join(COLLISION_LINKS)}")
    vertices, faces = read_stl(assets.ROBOTIS_MESH_DIR / MESH_FILES[link])
    vertices = vertices * 0.001 + np.array(MESH_ORIGINS_M[link])
    vertices.setflags(write=False)
    return vertices, faces


@dataclass(frozen=True)
class SphereModel:
    """The arm as spheres, each fixed in one link's frame.

    Attributes:
        centres_m: (S, 3) centres in their link's frame (m).
        radii_m: (S,) radii (m).
        link_index: (S,) index into :data:`COLLISION_LINKS` of each sphere's link (grouped, ascending).
        frame_index: (S,) index into :data:`sim.robot.kinematics.LINK_NAMES` of each sphere's frame.
        fit: the fit's record (command, tolerance, per-link counts, worst vertex, volume ratios).
    """

    centres_m: np.ndarray
    radii_m: np.ndarray
    link_index: np.ndarray
    frame_index: np.ndarray
    fit: dict

    def of_link(self, link: str) -> tuple[np.ndarray, np.ndarray]:
        """``(centres (K, 3), radii (K,))`` of ``link``'s spheres in its frame (m)."""
        chosen = self.link_index == COLLISION_LINKS.index(link)
        return self.centres_m[chosen], self.radii_m[chosen]


def spheres_from_json(path: Path) -> SphereModel:
    """Read a sphere file written by :mod:`sim.robot.geometry_fit` (``{"links": {link: [[x, y, z, r], ...]}}``)."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    rows, links = [], []
    for index, link in enumerate(COLLISION_LINKS):
        spheres = record["links"].get(link, [])
        if not spheres:
            raise InvalidInputError(f"{path}: link {link!r} has no collision spheres")
        rows.extend(spheres)
        links.extend([index] * len(spheres))
    table = np.array(rows, dtype=float)
    link_index = np.array(links)
    frame_index = np.array([LINK_NAMES.index(COLLISION_LINKS[i]) for i in link_index])
    for array in (table, link_index, frame_index):
        array.setflags(write=False)
    return SphereModel(table[:, :3], table[:, 3], link_index, frame_index, record.get("fit", {}))


@functools.cache
def sphere_model() -> SphereModel:
    """The shipped collision spheres (``assets/collision_spheres.json``)."""
    return spheres_from_json(assets.COLLISION_SPHERES_PATH)


def srdf_disabled_pairs(path: Path | None = None) -> frozenset[frozenset[str]]:
    """Link pairs ROBOTIS' MoveIt SRDF disables (adjacent, or never in reach of each other)."""
    root = ElementTree.parse(path or assets.ROBOTIS_SRDF_PATH).getroot()
    return frozenset(frozenset((item.get("link1"), item.get("link2"))) for item in root.iter("disable_collisions"))


@functools.cache
def self_collision_pairs() -> tuple[tuple[str, str], ...]:
    """Every pair of :data:`COLLISION_LINKS` the SRDF leaves enabled: the pairs to check."""
    disabled = srdf_disabled_pairs()
    return tuple((a, b) for i, a in enumerate(COLLISION_LINKS) for b in COLLISION_LINKS[i + 1:]
                 if frozenset((a, b)) not in disabled)


__all__ = [
    "COLLISION_LINKS", "MESH_FILES", "MESH_ORIGINS_M", "TABLE_CHECKED_LINKS", "SphereModel", "mesh", "read_stl",
    "self_collision_pairs", "sphere_model", "spheres_from_json", "srdf_disabled_pairs",
]

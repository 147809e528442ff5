"""A thin wrapper over one PyBullet client: the only module of the project that imports pybullet.

Each :class:`World` owns its own physics client (DIRECT by default, GUI on request) and never
touches PyBullet's global connection, so many worlds live in one process without interfering.
Bodies are named by string; units are metres, radians, seconds and newtons.

Example:
    >>> from sim.env.world import World
    >>> with World() as world:
    ...     world.reset_joints([0.0, 0.3, -0.2, 0.4])
    ...     _ = world.add_obstacle("ball", "sphere", (0.03,), position=(0.2, 0.0, 0.1))
    ...     round(float(world.joint_positions()[1]), 3)
    0.3
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

import assets
from sim.env.camera import CAMERA_PRESETS, NO_RENDERER, WORLD_RENDERERS, Camera
from sim.errors import InvalidInputError, UnknownNameError, show_value
from sim.robot.kinematics import GRIPPER_LIMITS_M, JOINT_NAMES, MAX_JOINT_VELOCITY_RAD_S, check_joints
from sim.robot.obstacle_kinds import OBSTACLE_KINDS, SIZE_FIELDS, ObstacleKind
from sim.robot.robot_geometry import self_collision_pairs, srdf_disabled_pairs

GRIPPER_JOINT_NAMES: tuple[str, ...] = ("gripper_left_joint", "gripper_right_joint")
TABLE_NAME = "table"
#: The table top under the robot: a box of these half extents (m) centred here (base frame); its surface is z = 0.
TABLE_HALF_EXTENTS_M: tuple[float, float, float] = (0.4, 0.4, 0.01)
TABLE_CENTRE_M: tuple[float, float, float] = (0.15, 0.0, -0.01)
_FINGERS_AT_REST = [[0.0], [0.0]]  #: both fingers' velocities after a reset (m/s)
#: Prefix of the body name of a self-contact: ``"robot:link3"`` is a touch with the arm's own link3.
SELF_CONTACT_PREFIX = "robot:"


def contact_body_names(obstacle_names: Sequence[str]) -> list[str]:
    """The other body of each column of :func:`sim.robot.cad.step_contacts`, as contacts name it: the
    scene's obstacles (``obstacle_names``, in the scene's order), the table, then ``robot:LINK`` for the
    second link of each SRDF link pair (:func:`sim.robot.robot_geometry.self_collision_pairs`)."""
    return [*obstacle_names, TABLE_NAME, *(SELF_CONTACT_PREFIX + second for _, second in self_collision_pairs())]


class Contact(NamedTuple):
    """One contact point between a robot link and another body."""

    link: str  #: robot link name
    body: str  #: obstacle (or table) name
    position: tuple[float, float, float]  #: on the robot, world frame (m)
    normal: tuple[float, float, float]  #: from the other body towards the robot
    distance_m: float  #: negative when penetrating
    normal_force_n: float


class ClosestPoint(NamedTuple):
    """Closest pair of points between a robot link and another body."""

    link: str
    body: str
    distance_m: float  #: signed: negative when penetrating
    point_on_robot: tuple[float, float, float]
    point_on_body: tuple[float, float, float]


@functools.cache
def _libc_flush() -> Any:
    """C's ``fflush`` (looked up once: every EGL frame is drawn silenced)."""
    import ctypes

    return ctypes.CDLL(None).fflush


@contextlib.contextmanager
def _quiet_native_output() -> Iterator[None]:
    """Silence what C code prints on file descriptors 1 and 2 (the EGL plugin's driver banners)."""
    libc_flush = _libc_flush()  # C's buffers are flushed while still silenced
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        libc_flush(None)
        for descriptor, copy in zip((1, 2), saved, strict=False):
            os.dup2(copy, descriptor)
            os.close(copy)


def _import_pybullet() -> Any:
    """PyBullet, imported with its "pybullet build time" banner (C's stdout) silenced."""
    with _quiet_native_output():
        import pybullet as module
    return module


pybullet = _import_pybullet()


class ClientProxy:
    """PyBullet's module functions bound to one client id (what ``pybullet_utils``' BulletClient
    offers, without its per-call introspection): ``proxy.getLinkState(...)`` calls
    ``pybullet.getLinkState(..., physicsClientId=id)``."""

    def __init__(self, client_id: int) -> None:
        self._client = client_id

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(pybullet, name)
        if callable(attribute):
            return functools.partial(attribute, physicsClientId=self._client)
        return attribute


def gui_available() -> bool:
    """True if PyBullet's GUI can open here (on Linux it needs an X display; without one,
    connecting ends the whole process instead of raising)."""
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY"))


class World:
    """One PyBullet client holding the OpenManipulator-X on a table, plus named obstacles.

    Args:
        gui: open PyBullet's GUI instead of the headless DIRECT client.
        time_step_s: physics time step.
        gravity_m_s2: gravity along -z.
        table: add a static table top under the robot (its surface is z = 0).
        renderer: ``"tiny"`` (TinyRenderer, CPU) or ``"egl"`` (OpenGL through PyBullet's EGL
            plugin, loaded before any body so every shape is drawn); see :data:`~sim.env.camera.RENDERERS`. Or
            ``"none"`` (:data:`~sim.env.camera.NO_RENDERER`): no drawing at all, bodies created ~3x
            faster, :meth:`render` refused (the physics is the same).
        contact_forces: ``True``: the arm's collision shapes collide (Bullet's rigid contacts with
            the obstacles, the table and its own links, reported by :meth:`contacts`). ``False``:
            they collide with nothing (collision filter mask 0): the arm moves as commanded,
            through everything, and :meth:`contacts` is empty; closest points are still measured.
            The env uses this so its collision shapes, the sphere bound that encloses ROBOTIS' CAD,
            never stop the arm where the real arm, narrower, would go on: it finds the contacts
            itself, on the CAD, from the joint angles of every substep
            (:meth:`step_recording_joints`). Nothing pushes the fingers then: they are welded
            closed (``rigid_fingers``; the URDF's twin with fixed finger joints, 2 degrees of
            freedom fewer to simulate), and a finger position other than 0 is refused.

    Raises:
        UnknownNameError: an unknown renderer.
        InvalidInputError: ``"egl"`` where EGL cannot start (no libEGL), or with the GUI.

    The robot's base (``link1``) frame is the world frame. Bullet's overlapping pairs are kept
    sorted (``deterministicOverlappingPairs``), so what a world computes after its obstacles are
    removed and new ones added does not depend on the bodies it held before: a reused world
    steps exactly like a fresh one with the same bodies.
    """

    def __init__(
        self,
        *,
        gui: bool = False,
        time_step_s: float = 1.0 / 240.0,
        gravity_m_s2: float = 9.81,
        table: bool = True,
        renderer: str = "tiny",
        contact_forces: bool = True,
    ) -> None:
        if renderer not in WORLD_RENDERERS:
            raise UnknownNameError("renderer", str(renderer), WORLD_RENDERERS)
        if gui and not gui_available():
            raise InvalidInputError("PyBullet's GUI needs a display (DISPLAY is not set); use the headless client")
        if gui and renderer == "egl":
            raise InvalidInputError("the GUI renders with its own OpenGL context; use renderer 'tiny' with gui=True")
        # pybullet.connect without ``options`` (BulletClient passes options="", which prints "argv[0]=").
        self.client_id: int = pybullet.connect(pybullet.GUI if gui else pybullet.DIRECT)
        self._pid = os.getpid()
        self._client: ClientProxy | None = ClientProxy(self.client_id)
        self.gui = gui
        self.renderer = renderer
        if renderer == "egl":
            self._load_egl()
        elif renderer == NO_RENDERER and not gui:  # before any body: none gets a drawing mesh
            plugin = pybullet.loadPlugin("tinyRendererPlugin", physicsClientId=self.client_id)
            pybullet.unloadPlugin(plugin, physicsClientId=self.client_id)
        self.time_step_s = time_step_s
        p = self._client
        p.setTimeStep(time_step_s)
        p.setPhysicsEngineParameter(deterministicOverlappingPairs=1)
        p.setGravity(0.0, 0.0, -gravity_m_s2)
        if gui:
            p.configureDebugVisualizer(pybullet.COV_ENABLE_GUI, 0)
        self.contact_forces = bool(contact_forces)
        # Without contact forces nothing pushes the fingers: they are welded closed (the URDF's
        # rigid-finger twin; same links, shapes and joint indices, two degrees of freedom fewer).
        self.rigid_fingers = not self.contact_forces
        self.robot: int = p.loadURDF(
            str(assets.urdf_path(rigid_fingers=self.rigid_fingers)), basePosition=(0, 0, 0), useFixedBase=True,
            flags=pybullet.URDF_USE_INERTIA_FROM_FILE | pybullet.URDF_USE_SELF_COLLISION,
        )
        self._joint_index: dict[str, int] = {}
        self._link_index: dict[str, int] = {p.getBodyInfo(self.robot)[0].decode(): -1}
        for index in range(p.getNumJoints(self.robot)):
            info = p.getJointInfo(self.robot, index)
            self._joint_index[info[1].decode()] = index
            self._link_index[info[12].decode()] = index
        self._link_name = {index: name for name, index in self._link_index.items()}
        self.arm_joints: list[int] = [self._joint_index[name] for name in JOINT_NAMES]
        self.gripper_joints: list[int] = [self._joint_index[name] for name in GRIPPER_JOINT_NAMES]
        self._arm_indices = tuple(self.arm_joints)  # the hot paths' arguments, built once
        self._gripper_target_m: float | None = None  # the fingers' motor target last commanded
        for index in range(p.getNumJoints(self.robot)):
            # Remove PyBullet's default velocity motors so only our commands move the joints.
            p.setJointMotorControl2(self.robot, index, pybullet.VELOCITY_CONTROL, force=0.0)
        # Self-collision: every link pair but those ROBOTIS' MoveIt SRDF disables (adjacent or never meeting).
        for pair in srdf_disabled_pairs():
            first, second = sorted(pair)
            if first in self._link_index and second in self._link_index:
                p.setCollisionFilterPair(self.robot, self.robot, self._link_index[first], self._link_index[second], 0)
        self._bodies: dict[str, int] = {}
        self._body_names: dict[int, str] = {}
        self._markers: set[str] = set()
        if table:
            self._add_body(TABLE_NAME, "box", TABLE_HALF_EXTENTS_M, TABLE_CENTRE_M, (0, 0, 0, 1),
                           (0.78, 0.66, 0.50, 1.0), collide=True)
        if not self.contact_forces:  # the arm collides with nothing: no contact, no force, no cost
            for index in range(-1, p.getNumJoints(self.robot)):
                p.setCollisionFilterGroupMask(self.robot, index, 0, 0)
        self.reset_joints(np.zeros(4))

    # ----------------------------------------------------------------------------- lifecycle
    def _load_egl(self) -> None:
        from importlib.util import find_spec

        spec = find_spec("eglRenderer")
        plugin = -1
        if spec is not None and spec.origin:
            with _quiet_native_output():
                plugin = pybullet.loadPlugin(spec.origin, "_eglRendererPlugin", physicsClientId=self.client_id)
        if plugin < 0:
            self.close()
            raise InvalidInputError("renderer 'egl' is not available here (PyBullet's eglRenderer plugin found no "
                                    "EGL device; install libEGL, e.g. Debian's libegl1); valid choices: tiny")

    def close(self) -> None:
        """Disconnect the client (idempotent; a forked child never disconnects its parent's client)."""
        if self._client is not None:
            self._client = None
            if self._pid != os.getpid():
                return
            with contextlib.suppress(pybullet.error), (_quiet_native_output() if self.renderer == "egl" else
                                                        contextlib.nullcontext()):
                pybullet.disconnect(physicsClientId=self.client_id)

    @property
    def closed(self) -> bool:
        return self._client is None

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    @property
    def client(self) -> ClientProxy:
        """PyBullet's functions bound to this world's client (raises if the world is closed)."""
        if self._client is None:
            raise RuntimeError("this World is closed")
        return self._client

    def _id(self) -> int:
        """The client id for direct ``pybullet`` calls on hot paths (raises if the world is closed,
        so a closed world never reaches a client that reused its id)."""
        if self._client is None:
            raise RuntimeError("this World is closed")
        return self.client_id

    # ----------------------------------------------------------------------------- robot
    def reset_joints(self, q: Sequence[float], gripper_m: float = 0.0) -> None:
        """Teleport the arm to joint angles ``q`` (4,) rad at rest, fingers at ``gripper_m``."""
        q = np.asarray(q, dtype=float)
        if q.shape != (4,):
            raise InvalidInputError(f"joint array must have shape (4,), got {q.shape}")
        check_joints(q)
        p = self.client
        for index, angle in zip(self.arm_joints, q, strict=False):
            p.resetJointState(self.robot, index, float(angle), 0.0)
        self._check_rigid_fingers(gripper_m)
        if not self.rigid_fingers:
            for index in self.gripper_joints:
                p.resetJointState(self.robot, index, float(gripper_m), 0.0)
        self._gripper_target_m = None  # command the fingers' motors again
        self.set_position_targets(q, gripper_m=gripper_m)

    def _check_rigid_fingers(self, gripper_m: float) -> None:
        if self.rigid_fingers and float(gripper_m) != 0.0:
            raise InvalidInputError(f"this world's fingers are rigid and closed (no contact forces), so gripper_m "
                                    f"must be 0, got {show_value(gripper_m)}; World(contact_forces=True) moves them")

    def set_position_targets(
        self, q: Sequence[float], *, gripper_m: float = 0.0, max_velocity_rad_s: float = MAX_JOINT_VELOCITY_RAD_S
    ) -> None:
        """Command position control of the arm towards ``q`` (4,) rad, speed capped per joint, and of
        both fingers towards ``gripper_m`` (m; a repeated finger target is not sent again)."""
        client_id, robot, control = self._id(), self.robot, pybullet.setJointMotorControl2
        targets = q if type(q) is list else np.asarray(q, dtype=float).tolist()
        for index, angle in zip(self._arm_indices, targets, strict=True):
            control(robot, index, pybullet.POSITION_CONTROL, targetPosition=angle, force=4.1,
                    maxVelocity=max_velocity_rad_s, physicsClientId=client_id)
        gripper_m = min(max(float(gripper_m), GRIPPER_LIMITS_M[0]), GRIPPER_LIMITS_M[1])
        if self.rigid_fingers:
            self._check_rigid_fingers(gripper_m)
        elif gripper_m != self._gripper_target_m:
            for index in self.gripper_joints:
                control(robot, index, pybullet.POSITION_CONTROL, targetPosition=gripper_m, force=10.0,
                        physicsClientId=client_id)
            self._gripper_target_m = gripper_m

    def reset_gripper(self, gripper_m: float = 0.0) -> None:
        """Teleport both fingers to ``gripper_m`` (m) at rest, undoing pushes from contacts (rigid
        fingers stay closed: nothing to do)."""
        gripper_m = float(gripper_m)
        if self.rigid_fingers:
            self._check_rigid_fingers(gripper_m)
            return
        # One call for both fingers (resetJointState's effect on each, bit-identical episodes).
        pybullet.resetJointStatesMultiDof(self.robot, self.gripper_joints, [[gripper_m], [gripper_m]],
                                          _FINGERS_AT_REST, physicsClientId=self._id())

    def joint_positions(self) -> np.ndarray:
        """(4,) arm joint angles (rad)."""
        states = pybullet.getJointStates(self.robot, self._arm_indices, physicsClientId=self._id())
        return np.array([state[0] for state in states])

    def joint_velocities(self) -> np.ndarray:
        """(4,) arm joint velocities (rad/s)."""
        states = pybullet.getJointStates(self.robot, self._arm_indices, physicsClientId=self._id())
        return np.array([state[1] for state in states])

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(4,) arm joint angles (rad) and (4,) velocities (rad/s), read in one call."""
        first, second, third, fourth = pybullet.getJointStates(self.robot, self._arm_indices,
                                                                physicsClientId=self._id())
        return (np.array((first[0], second[0], third[0], fourth[0])),
                np.array((first[1], second[1], third[1], fourth[1])))

    def gripper_position(self) -> float:
        """Left finger joint position (m)."""
        return float(self.client.getJointState(self.robot, self.gripper_joints[0])[0])

    def link_names(self) -> list[str]:
        """Names of the robot's links, base first."""
        return [self._link_name[index] for index in sorted(self._link_name)]

    def link_pose(self, link: str) -> tuple[np.ndarray, np.ndarray]:
        """URDF frame of ``link``: position (3,) m and quaternion (4,) ``[qx, qy, qz, qw]``."""
        index = self._lookup(self._link_index, link, "link")
        p = self.client
        if index == -1:
            position, orientation = p.getBasePositionAndOrientation(self.robot)
        else:
            state = p.getLinkState(self.robot, index, computeForwardKinematics=True)
            position, orientation = state[4], state[5]
        return np.array(position), np.array(orientation)

    def step(self, n: int = 1) -> None:
        """Advance the physics ``n`` time steps."""
        client_id = self._id()
        for _ in range(n):
            pybullet.stepSimulation(physicsClientId=client_id)

    def step_watching_contacts(
        self, n: int = 1, moves: Sequence[tuple[str, np.ndarray, Sequence[float]]] = (), *,
        trigger_m: float = 0.0, confirm: Callable[[list[Contact], int], list[Contact]] | None = None,
    ) -> tuple[list[Contact], list[Contact]]:
        """Advance the physics ``n`` time steps, watching the contacts after each.

        Args:
            n: physics steps.
            moves: ``(name, positions (n, 3), quaternion (4,))`` per moving obstacle: before step
                ``i`` it is teleported to ``positions[i]``.
            trigger_m: contact points up to this far apart (m) are handed to ``confirm``.
            confirm: ``confirm(contacts, i)`` -> the contacts that count, after step ``i`` (e.g.
                measured again on other geometry); ``None``: those touching (distance <= 0).

        Returns:
            ``(counted, touching)``: the contacts ``confirm`` counted in the latest step where it
            counted any, and PyBullet's touching contacts (distance <= 0) of the latest step that
            had any, so a touch in mid-way counts either way.

        Only the raw contact list is read after each step; :class:`Contact` records are built
        only for steps with a point within ``trigger_m``.
        """
        client_id, robot = self._id(), self.robot
        paths = [(self._lookup(self._bodies, name, "body"), np.asarray(positions, dtype=float).tolist(),
                  list(orientation)) for name, positions, orientation in moves]
        threshold = max(float(trigger_m), 0.0)
        counted: list[Contact] = []
        touching: tuple = ()
        for substep in range(n):
            for body, positions, orientation in paths:
                pybullet.resetBasePositionAndOrientation(body, positions[substep], orientation,
                                                         physicsClientId=client_id)
            pybullet.stepSimulation(physicsClientId=client_id)
            points = pybullet.getContactPoints(bodyA=robot, physicsClientId=client_id)
            # Speculative points (apart, within Bullet's contact threshold) count only as triggers.
            if not points or not any(point[8] <= threshold for point in points):
                continue
            if any(point[8] <= 0.0 for point in points):
                touching = points
            near = self._contacts_of(points, max_distance_m=threshold)
            found = confirm(near, substep) if confirm is not None else [c for c in near if c.distance_m <= 0.0]
            if found:
                counted = found
        return counted, (self._contacts_of(touching) if touching else [])

    def step_recording_joints(self, n: int = 1, moves: Sequence[tuple[str, np.ndarray, Sequence[float]]] = (),
                              ) -> np.ndarray:
        """Advance the physics ``n`` time steps (moving obstacles as :meth:`step_watching_contacts`
        does) and return the arm's joint angles after each: (n, 4) rad."""
        client_id, robot, joints = self._id(), self.robot, self._arm_indices
        paths = [(self._lookup(self._bodies, name, "body"), np.asarray(positions, dtype=float).tolist(),
                  list(orientation)) for name, positions, orientation in moves]
        angles = np.empty((n, 4))
        for substep in range(n):
            for body, positions, orientation in paths:
                pybullet.resetBasePositionAndOrientation(body, positions[substep], orientation,
                                                         physicsClientId=client_id)
            pybullet.stepSimulation(physicsClientId=client_id)
            for index, state in enumerate(pybullet.getJointStates(robot, joints, physicsClientId=client_id)):
                angles[substep, index] = state[0]
        return angles

    def inverse_kinematics(
        self,
        pose: Sequence[float],
        seed_q: Sequence[float] | None = None,
        *,
        damping: float = 1e-3,
        max_iterations: int = 100,
        residual_threshold: float = 1e-6,
    ) -> np.ndarray:
        """PyBullet's numerical IK (damped least squares) for the end effector.

        The arm is first reset to ``seed_q`` (zeros if None) because PyBullet iterates from the
        current joint state; the state is restored afterwards. Defaults are the settings under
        which it is accurate on this arm; its answers are *not* kept inside the joint limits
        (about 10% break them), which callers must check. ``solver=IK_SDLS`` segfaults on this
        arm and is never used.

        Args:
            pose: (7,) target ``[x, y, z, qx, qy, qz, qw]`` (m, base frame).
            seed_q: (4,) starting joint angles (rad).
            damping: joint damping of the least-squares step.
            max_iterations: iteration cap.
            residual_threshold: stop when the position residual (m) falls below this.

        Returns:
            (4,) joint angles (rad), possibly outside the limits.
        """
        pose = np.asarray(pose, dtype=float)
        p = self.client
        with self.state_saved():
            self.reset_joints(np.zeros(4) if seed_q is None else np.asarray(seed_q, dtype=float))
            answer = p.calculateInverseKinematics(
                self.robot, self._link_index["end_effector_link"], pose[:3].tolist(), pose[3:7].tolist(),
                jointDamping=[damping] * 6,  # one per movable joint: 4 arm + 2 fingers
                maxNumIterations=max_iterations, residualThreshold=residual_threshold,
            )
        return np.array(answer[:4])

    # ----------------------------------------------------------------------------- obstacles
    def add_obstacle(
        self,
        name: str,
        kind: ObstacleKind,
        size: Sequence[float],
        position: Sequence[float],
        orientation: Sequence[float] = (0.0, 0.0, 0.0, 1.0),
        rgba: Sequence[float] = (0.85, 0.25, 0.2, 1.0),
    ) -> int:
        """Add a static obstacle and return its body id.

        Args:
            name: unique name.
            kind: ``"sphere"`` (size ``(radius,)``), ``"box"`` (``(half_x, half_y, half_z)``) or
                ``"cylinder"`` (``(radius, half_height)``, axis along the body's z).
            size: metres, as above.
            position: (3,) centre, world frame (m).
            orientation: (4,) quaternion ``[qx, qy, qz, qw]``.
            rgba: colour.
        """
        if name in self._bodies:
            raise InvalidInputError(f"a body named {name!r} already exists")
        return self._add_body(name, kind, size, position, orientation, rgba, collide=True)

    def add_marker(self, name: str, position: Sequence[float], radius_m: float = 0.012,
                   rgba: Sequence[float] = (0.1, 0.8, 0.2, 0.6)) -> int:
        """Add a visual-only sphere (no collision), e.g. the goal."""
        if name in self._bodies:
            raise InvalidInputError(f"a body named {name!r} already exists")
        body = self._add_body(name, "sphere", (radius_m,), position, (0, 0, 0, 1), rgba, collide=False)
        self._markers.add(name)
        return body

    def _add_body(self, name: str, kind: str, size: Sequence[float], position: Sequence[float],
                  orientation: Sequence[float], rgba: Sequence[float], *, collide: bool) -> int:
        if kind not in SIZE_FIELDS:
            raise UnknownNameError("obstacle kind", kind, OBSTACLE_KINDS)
        size = tuple(float(s) for s in size)
        if len(size) != len(SIZE_FIELDS[kind]) or not all(np.isfinite(size)) or min(size) <= 0:
            raise InvalidInputError(f"{kind} size must be {SIZE_FIELDS[kind]} (positive metres), got {size}")
        p = self.client
        if kind == "sphere":
            shape = {"shapeType": pybullet.GEOM_SPHERE, "radius": size[0]}
            visual_shape = dict(shape)
        elif kind == "box":
            shape = {"shapeType": pybullet.GEOM_BOX, "halfExtents": size}
            visual_shape = dict(shape)
        else:
            shape = {"shapeType": pybullet.GEOM_CYLINDER, "radius": size[0], "height": 2 * size[1]}
            visual_shape = {"shapeType": pybullet.GEOM_CYLINDER, "radius": size[0], "length": 2 * size[1]}
        # A colliding body is drawn from its collision shape, coloured afterwards: the renderers
        # draw the same frames as from a visual shape of the same geometry, and PyBullet builds its
        # drawing mesh once instead of twice (a sphere or cylinder ~0.27 ms to create instead of ~0.45).
        collision = p.createCollisionShape(**shape) if collide else -1
        visual = -1 if collide else p.createVisualShape(rgbaColor=list(rgba), **visual_shape)
        body = p.createMultiBody(
            baseMass=0.0, baseCollisionShapeIndex=collision, baseVisualShapeIndex=visual,
            basePosition=list(position), baseOrientation=list(orientation),
        )
        if collide:
            p.changeVisualShape(body, -1, rgbaColor=list(rgba))
            # Bullet rounds box and cylinder edges by the collision margin (1 mm by default);
            # with no margin the solid is the exact primitive the sphere model measures.
            p.changeDynamics(body, -1, collisionMargin=0.0)
        self._bodies[name] = body
        self._body_names[body] = name
        return body

    def move_obstacle(self, name: str, position: Sequence[float],
                      orientation: Sequence[float] = (0.0, 0.0, 0.0, 1.0)) -> None:
        """Teleport obstacle (or marker) ``name`` to a new pose."""
        body = self._lookup(self._bodies, name, "body")
        pybullet.resetBasePositionAndOrientation(body, list(position), list(orientation), physicsClientId=self._id())

    def remove_obstacle(self, name: str) -> None:
        """Remove obstacle (or marker) ``name`` from the world."""
        body = self._lookup(self._bodies, name, "body")
        pybullet.removeBody(body, physicsClientId=self._id())
        del self._bodies[name]
        del self._body_names[body]
        self._markers.discard(name)

    def obstacle_names(self) -> list[str]:
        """Names of the bodies added with :meth:`add_obstacle` / :meth:`add_marker` (not the table)."""
        return [name for name in self._bodies if name != TABLE_NAME]

    def clear_obstacles(self, *, keep_markers: bool = False) -> None:
        """Remove every obstacle and marker (the table stays), the newest first: Bullet keeps its
        bodies in arrays that removal reorders, and removing from the end leaves the older bodies
        where a fresh world has them. ``keep_markers``: leave the markers (visual only, cheaper to
        move than to re-create); add them before any obstacle so the order stays a fresh world's."""
        for name in reversed(self.obstacle_names()):
            if not (keep_markers and name in self._markers):
                self.remove_obstacle(name)

    def has_body(self, name: str) -> bool:
        """True if an obstacle, marker or the table is named ``name``."""
        return name in self._bodies

    def body_pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Position (3,) and quaternion (4,) of body ``name``."""
        body = self._lookup(self._bodies, name, "body")
        position, orientation = self.client.getBasePositionAndOrientation(body)
        return np.array(position), np.array(orientation)

    # ----------------------------------------------------------------------------- queries
    def detect_collisions(self) -> None:
        """Refresh :meth:`contacts` for the current poses without advancing time (e.g. after a reset)."""
        pybullet.performCollisionDetection(physicsClientId=self._id())

    def contacts(self, *, include_table: bool = True, max_distance_m: float = 0.0) -> list[Contact]:
        """Contact points between the robot and other bodies, or between two of its own links
        (body ``"robot:<link>"``), after the last physics step.

        Bullet also keeps speculative manifold points a little apart (within its contact
        threshold, with zero force); only points at most ``max_distance_m`` apart (0: touching
        or penetrating) are reported.
        """
        return self._contacts_of(pybullet.getContactPoints(bodyA=self.robot, physicsClientId=self._id()),
                                 include_table=include_table, max_distance_m=max_distance_m)

    def _contacts_of(self, points: Sequence[tuple], *, include_table: bool = True,
                     max_distance_m: float = 0.0) -> list[Contact]:
        """:class:`Contact` records of PyBullet's raw contact points (see :meth:`contacts`)."""
        found = []
        for point in points:
            if point[2] == self.robot:
                other = SELF_CONTACT_PREFIX + self._link_name[point[4]]
            else:
                other = self._body_names.get(point[2])
            if other is None or (other == TABLE_NAME and not include_table) or point[8] > max_distance_m:
                continue
            found.append(Contact(self._link_name[point[3]], other, tuple(point[5]), tuple(point[7]),
                                 float(point[8]), float(point[9])))
        return found

    def closest_points(self, max_distance_m: float = 0.5, *, include_table: bool = False,
                       pairs: Sequence[tuple[str, str]] | None = None) -> list[ClosestPoint]:
        """For each (robot link, body) pair within ``max_distance_m``, its closest points.

        Distances are signed (negative when penetrating) and computed by Bullet's collision
        detection on the URDF's collision spheres and the obstacles' exact primitives.

        Args:
            max_distance_m: search horizon (m); farther pairs are not reported.
            include_table: report the table too.
            pairs: only these ``(link, body)`` pairs (one query each); ``None``: every link
                against every obstacle.
        """
        p = self.client
        found: dict[tuple[str, str], ClosestPoint] = {}
        if pairs is None:
            queries = [(name, body, None) for name, body in self._bodies.items()
                       if name != TABLE_NAME or include_table]
        else:
            queries = [(name, self._lookup(self._bodies, name, "body"), self._lookup(self._link_index, link, "link"))
                       for link, name in pairs]
        for name, body, link_index in queries:
            points = (p.getClosestPoints(self.robot, body, max_distance_m) if link_index is None else
                      p.getClosestPoints(self.robot, body, max_distance_m, linkIndexA=link_index))
            for point in points:
                link = self._link_name[point[3]]
                if (link, name) not in found or point[8] < found[(link, name)].distance_m:
                    found[(link, name)] = ClosestPoint(link, name, float(point[8]), tuple(point[5]), tuple(point[6]))
        return list(found.values())

    def self_closest_points(self, max_distance_m: float = 0.5) -> list[ClosestPoint]:
        """For each pair of the robot's links that may collide (not disabled by ROBOTIS' SRDF)
        within ``max_distance_m``, its closest points; ``body`` is ``"robot:<second link>"``."""
        p = self.client
        found = []
        for first, second in self_collision_pairs():
            points = p.getClosestPoints(self.robot, self.robot, max_distance_m, self._link_index[first],
                                        self._link_index[second])
            if points:
                point = min(points, key=lambda item: item[8])
                found.append(ClosestPoint(first, SELF_CONTACT_PREFIX + second, float(point[8]), tuple(point[5]),
                                          tuple(point[6])))
        return found

    def pair_clearance(self, pairs: Sequence[tuple[str, str]], max_distance_m: float = 0.5) -> float:
        """Smallest signed distance (m) over the given ``(robot link, body)`` pairs (one closest-point
        query each, as :meth:`closest_points` makes them); +inf when none is within ``max_distance_m``."""
        client_id, robot, links, bodies = self._id(), self.robot, self._link_index, self._bodies
        closest = math.inf
        for link, name in pairs:
            body = bodies[name] if name in bodies else self._lookup(bodies, name, "body")
            index = links[link] if link in links else self._lookup(links, link, "link")
            for point in pybullet.getClosestPoints(robot, body, max_distance_m, linkIndexA=index,
                                                   physicsClientId=client_id):
                closest = min(closest, point[8])
        return float(closest)

    def min_clearance(self, max_distance_m: float = 0.5) -> float:
        """Smallest signed robot-obstacle distance (m), ``max_distance_m`` if nothing is nearer."""
        points = self.closest_points(max_distance_m)
        return min((point.distance_m for point in points), default=max_distance_m)

    # ----------------------------------------------------------------------------- state
    def save_state(self) -> int:
        """Snapshot the physics state in memory; returns an id for :meth:`restore_state`."""
        return self.client.saveState()

    def restore_state(self, state_id: int) -> None:
        """Restore a snapshot taken by :meth:`save_state` (same bodies must exist)."""
        self.client.restoreState(stateId=state_id)

    def remove_state(self, state_id: int) -> None:
        """Free a snapshot."""
        self.client.removeState(state_id)

    @contextlib.contextmanager
    def state_saved(self) -> Iterator[None]:
        """Context manager: whatever happens inside, the physics state is restored afterwards."""
        state_id = self.save_state()
        try:
            yield
        finally:
            self.restore_state(state_id)
            self.remove_state(state_id)

    # ----------------------------------------------------------------------------- rendering
    def render(self, width: int = 640, height: int = 480, camera: Camera | str = "front",
               *, opengl: bool | None = None, shadow: bool = True) -> np.ndarray:
        """An RGB image (height, width, 3) uint8 of the scene.

        Args:
            width, height: image size in pixels.
            camera: a :class:`Camera` or a preset name from :data:`CAMERA_PRESETS`.
            opengl: use the OpenGL renderer (needs the GUI or ``renderer="egl"``); ``None``: the
                world's renderer.
            shadow: cast shadows (TinyRenderer at 640x480: ~53 ms a frame with, ~38 ms without, on
                the 2-core development machine; EGL on Mesa's llvmpipe: ~33 and ~29 ms).
        """
        if self.renderer == NO_RENDERER:
            raise InvalidInputError("this world draws nothing (renderer 'none', as an env without a render mode "
                                    "builds it); make the env with render_mode='rgb_array' or renderer='tiny'")
        view, projection = self.camera_matrices(width, height, camera)
        p = self.client
        opengl = self.renderer == "egl" if opengl is None else opengl
        renderer = pybullet.ER_BULLET_HARDWARE_OPENGL if opengl else pybullet.ER_TINY_RENDERER
        # The EGL plugin prints the OpenGL vendor after its first frames: its frames are drawn silenced.
        with _quiet_native_output() if opengl and self.renderer == "egl" else contextlib.nullcontext():
            image = p.getCameraImage(width, height, view, projection, renderer=renderer,
                                     lightDirection=[0.4, -0.6, 1.0], shadow=int(shadow),
                                     flags=pybullet.ER_NO_SEGMENTATION_MASK)
        rgba = np.asarray(image[2], dtype=np.uint8).reshape(height, width, 4)
        return np.ascontiguousarray(rgba[..., :3])

    def camera_matrices(self, width: int, height: int, camera: Camera | str = "front") -> tuple[list, list]:
        """PyBullet's flattened (column-major) view and projection matrices for ``camera``."""
        if isinstance(camera, str):
            camera = self._lookup(CAMERA_PRESETS, camera, "camera preset")
        if width < 1 or height < 1:
            raise InvalidInputError(f"image size must be positive, got {width}x{height}")
        p = self.client
        view = p.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=list(camera.target), distance=camera.distance_m,
            yaw=camera.yaw_deg, pitch=camera.pitch_deg, roll=0.0, upAxisIndex=2,
        )
        projection = p.computeProjectionMatrixFOV(fov=camera.fov_deg, aspect=width / height, nearVal=0.01, farVal=5.0)
        return list(view), list(projection)

    def project(self, points: np.ndarray, width: int, height: int, camera: Camera | str = "front") -> np.ndarray:
        """Pixel coordinates (N, 2) ``(column, row)`` of world points (N, 3) in :meth:`render`'s image."""
        view, projection = self.camera_matrices(width, height, camera)
        matrix = np.array(projection).reshape(4, 4).T @ np.array(view).reshape(4, 4).T
        points = np.atleast_2d(np.asarray(points, dtype=float))
        clip = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ matrix.T
        ndc = clip[:, :3] / clip[:, 3:4]
        return np.stack([(ndc[:, 0] + 1) / 2 * width, (1 - ndc[:, 1]) / 2 * height], axis=1)

    def aim_gui_camera(self, camera: Camera | str = "front") -> None:
        """Point the GUI's camera like ``camera`` (no effect on a headless world)."""
        if isinstance(camera, str):
            camera = self._lookup(CAMERA_PRESETS, camera, "camera preset")
        if self.gui:
            self.client.resetDebugVisualizerCamera(camera.distance_m, camera.yaw_deg, camera.pitch_deg,
                                                   list(camera.target))

    # ----------------------------------------------------------------------------- helpers
    @staticmethod
    def _lookup(table: dict, name: str, kind: str):  # type: ignore[no-untyped-def]
        try:
            return table[name]
        except KeyError:
            raise UnknownNameError(kind, name, [str(key) for key in table]) from None

__all__ = [
    "ClientProxy", "ClosestPoint", "Contact", "GRIPPER_JOINT_NAMES", "SELF_CONTACT_PREFIX", "TABLE_CENTRE_M",
    "TABLE_HALF_EXTENTS_M", "TABLE_NAME",
    "World", "contact_body_names", "gui_available",
]

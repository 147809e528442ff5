"""``OpenManipulatorX-ObstacleReach-v0``: reach a goal pose among obstacles (Gymnasium env).

Registered when :mod:`sim` is imported; create it with
``gymnasium.make("OpenManipulatorX-ObstacleReach-v0", scenario="cluttered")``.
"""

from __future__ import annotations

import math
import time
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.utils import EzPickle

from sim.env.camera import NO_RENDERER, WORLD_RENDERERS, Camera
from sim.env.env_arguments import (
    MAX_EPISODE_STEPS,
    MAX_RENDER_SIDE,
    check_camera,
    check_choice,
    check_control_frequency,
    check_count,
    check_flag,
    check_reset_options,
    check_seed,
)
from sim.env.env_spaces import (
    ActionMode,
    ObservationPacker,
    RewardSpec,
    RewardType,
    action_to_joint_target_list,
    action_to_joint_targets,
    goal_errors_to,
    goal_reference,
    joint_targets_to_action,
    observation_bounds,
    observation_space,
    obstacle_features,
)
from sim.env.world import SELF_CONTACT_PREFIX, TABLE_NAME, Contact, World, contact_body_names, gui_available
from sim.errors import InvalidInputError, show_value
from sim.robot.cad import (
    BOUND_SLACK_M,
    cad_model,
    frames,
    link_obstacle_distance,
    link_pair_gap,
    measure,
    step_contacts,
    table_heights,
)
from sim.robot.collision import COLLISION_LINKS, ObstacleSet, arm_clearances
from sim.robot.kinematics import MAX_JOINT_VELOCITY_RAD_S, forward_kinematics
from sim.robot.transforms import quat_to_matrix
from sim.scene.obstacles import MAX_SCENE_OBSTACLES, Scene
from sim.scene.scenario_spec import ScenarioSpec
from sim.scene.scene_sampling import scene_for_episode

PHYSICS_FREQUENCY_HZ: float = 240.0
#: PyBullet's closest points are queried for the (link, obstacle) pairs the sphere model finds
#: within this distance (m); with none so near, ``pybullet_clearance_m`` is +inf.
CLEARANCE_HORIZON_M: float = 0.1
#: ... and, of those, only for the pairs within this much (m) of the sphere model's closest pair:
#: the two models measure the same solid and agree to ~5e-5 m, so a farther pair cannot hold
#: PyBullet's minimum (and the query count drops from ~5 to ~1.3 per step in ``cluttered``).
CLEARANCE_PAIR_MARGIN_M: float = 0.005
#: Which clearance measurements every step makes (see the env's Arguments).
CLEARANCE_MODES: tuple[str, ...] = ("both", "numpy", "pybullet")
#: What contacts do to the motion (see the env's Arguments): ``"none"``, no force (the default), or
#: ``"bound"``, Bullet's rigid contacts on the sphere bound.
CONTACT_PHYSICS: tuple[str, ...] = ("none", "bound")
#: A headless env keeps its PyBullet client across episodes (a reset removes the obstacles and adds
#: the new scene's) and replaces it by a fresh one after this many episodes: PyBullet never frees
#: a removed body's collision shape (~4 kB each), so memory stays within a few MB of flat. A fresh
#: world costs ~20 ms, ~0.2 ms per episode so amortised.
EPISODES_PER_CLIENT: int = 100
_RENDER_MODES = ("human", "rgb_array")
#: The default view: the robot and its reach in front and to the sides, from above the front right.
DEFAULT_CAMERA = Camera(target=(0.06, 0.0, 0.1), distance_m=0.72, yaw_deg=40.0, pitch_deg=-32.0)


class _SceneLookup(NamedTuple):
    """A scene's contact-column names (:func:`sim.env.world.contact_body_names`) and each obstacle's
    column (its slot in the scene's order)."""

    scene: Scene
    names: list[str]
    slots: dict[str, int]


class ObstacleReachEnv(gym.Env, EzPickle):
    """Move the OpenManipulator-X's end effector to a goal pose without touching obstacles.

    ## Description
    A 4-DOF ROBOTIS OpenManipulator-X stands on a table (surface z = 0, base at the origin) in
    PyBullet. Each episode a scene is drawn from a scenario (``scenarios/``): obstacles (spheres,
    boxes, cylinders, possibly moving), a start configuration and a goal pose reachable by
    construction. Obstacles are placed so the straight joint-space path to the goal is usually
    blocked. Two geometries of the arm, two jobs (as MoveIt and cuRobo use them):

    * **the truth**, ROBOTIS' full-resolution CAD meshes (:mod:`sim.robot.cad`): every verdict
      and safety figure. Each step measures on the meshes the signed distance to every obstacle
      (``min_clearance_m``), to the table and between the link pairs ROBOTIS' SRDF leaves enabled;
      ``collided`` and ``contacts`` are the CAD's: PyBullet's contact points on the bound,
      polled after every physics substep, each measured again on the meshes and counted where
      they touch (distance <= 0).
    * **the bound**, the fitted spheres (:mod:`sim.robot.collision`), which enclose the meshes
      (up to :data:`sim.robot.cad.BOUND_SLACK_M`): PyBullet's collision shapes, the policies'
      safety layer and planners, scene sampling; logged beside the truth as ``bound_*``. Because
      it encloses the CAD it decides which pairs the CAD must measure (exactly: a pair whose bound
      is farther than the nearest CAD value found cannot be nearer).

    Physics runs at 240 Hz. The PyBullet client lives across episodes (renewed every
    :data:`EPISODES_PER_CLIENT` episodes); its overlapping pairs are kept sorted, so a reused
    client steps exactly as a fresh one and a seed fixes the episode exactly whatever ran before.

    ## Action Space
    ``Box(-1, 1, (4,), float32)``, one value per joint (joint1..joint4). ``action_mode="absolute"``
    maps [-1, 1] linearly onto each joint's limits (the position target); ``"delta"`` adds
    ``action * 4.8 rad/s * control period`` to the measured joint angles. Targets are clipped to
    the limits and reached by PyBullet's position control at most 4.8 rad/s per joint. Actions
    outside [-1, 1] are clipped.

    ## Observation Space
    A ``Dict`` as in Gymnasium-Robotics (all float32, clipped into the bounds):
    ``achieved_goal`` = end-effector pose, ``desired_goal`` = goal pose (7 each:
    ``[x, y, z, qx, qy, qz, qw]``, m, base frame, qw >= 0) and ``observation``:

    | index | meaning | unit | min | max |
    |---|---|---|---|---|
    | 0-3 | joint positions joint1..4 | rad | limit - 0.1 | limit + 0.1 |
    | 4-7 | joint velocities | rad/s | -9.6 | 9.6 |
    | 8-14 | end-effector pose x, y, z, qx, qy, qz, qw | m, 1 | -0.5, -0.5, -0.4, -1... | 0.5, 0.5, 0.6, 1... |
    | 15-21 | goal pose (as above) | m, 1 | as above | as above |
    | 22 + 17 k | obstacle slot k present (0 = padding) | 1 | 0 | 1 |
    | 23-25 + 17 k | kind one-hot: sphere, box, cylinder | 1 | 0 | 1 |
    | 26-28 + 17 k | obstacle centre x, y, z | m | -1.1 | 1.1 |
    | 29-32 + 17 k | obstacle quaternion qx, qy, qz, qw | 1 | -1 | 1 |
    | 33-35 + 17 k | size: sphere (r, 0, 0), box half extents, cylinder (r, half height, 0) | m | 0 | 0.3 |
    | 36-38 + 17 k | obstacle velocity | m/s | -1 | 1 |

    with ``k = 0 .. max_obstacles - 1`` (``22 + 17 * max_obstacles`` values; 158 by default).

    ## Rewards
    ``compute_reward(achieved_goal, desired_goal, info)`` (vectorised, for HER). With ``d`` the
    position error (m) and ``theta`` the geodesic orientation error (rad): ``"dense"`` gives
    ``-(d + 0.05 * theta)``; ``"sparse"`` gives 0 on success (``d < 0.01`` and
    ``theta < 0.1745``) and -1 otherwise. Either loses ``collision_penalty`` (1.0) on every step
    the robot touches an obstacle or the table (``info["collided"]``).

    ## Starting State
    The scene's start configuration, at rest; obstacles at their time-0 poses. Start and goal
    keep at least the scenario's clearance margin (1.5 cm by default) from every obstacle.

    ## Episode End
    Terminated on success (``terminate_on_success``) or on contact (``terminate_on_collision``);
    truncated after ``max_episode_steps`` (100 through ``gymnasium.make``, i.e. 5 s at 20 Hz).

    ## Info
    ``is_success``, ``collided`` (a CAD contact this step), ``target_error_m``,
    ``orientation_error_rad``, and, in metres (truth on the CAD meshes; bound on the spheres):

    | key | geometry | meaning |
    |---|---|---|
    | ``min_clearance_m`` | CAD | smallest signed arm-obstacle distance (+inf with no obstacle) |
    | ``self_clearance_m`` | CAD | smallest gap of SRDF-enabled link pairs (0: touching; +inf past 30 mm) |
    | ``table_clearance_m`` | CAD | lowest point of link2 onwards above the table |
    | ``bound_clearance_m`` | spheres | ``min_clearance_m`` on the bound (at most the CAD's + 1.2 mm) |
    | ``bound_self_clearance_m`` | spheres | ``self_clearance_m`` on the bound |
    | ``bound_table_clearance_m`` | spheres | ``table_clearance_m`` on the bound |
    | ``pybullet_clearance_m`` | spheres | PyBullet's closest points on its collision shapes (see below) |

    ``pybullet_clearance_m`` is queried for the link-obstacle pairs the bound finds within 0.1 m and
    within 5 mm of its closest pair; +inf when none is within 0.1 m.

    ``closest_link`` and ``closest_obstacle`` (names of the CAD's closest pair, "" with no
    obstacle); ``contacts`` (tuple of :class:`sim.env.world.Contact`: robot link, body
    (``"robot:<link>"`` for a self-contact, ``"table"``), the arm's surface point, normal, the CAD's
    signed distance, PyBullet's normal force in N, from the latest physics substep of the step that
    had any, so a touch in mid-step counts); ``bound_contacts`` (PyBullet's touching points on the
    bound, the same way); ``cad_queries`` (link-obstacle and link-pair measurements on the meshes
    this step, after the bound's culling) and ``time_s``.

    ## Arguments
    * ``scenario``: a :class:`~sim.scene.scenario_spec.ScenarioSpec`. ``gymnasium.make`` also takes a
      built-in name (``scenarios.scenario_names()``, default ``"benchmark"``) or a TOML path: the
      registered entry point, ``scenarios.env_factory.make_obstacle_reach_env``, resolves it above
      ``sim``, which knows no scenario catalogue.
    * ``render_mode``: ``None``, ``"rgb_array"`` (TinyRenderer frames, ``render_height`` x
      ``render_width`` x 3) or ``"human"`` (PyBullet's GUI, real-time pace; needs a display).
    * ``max_episode_steps``: truncate after this many steps (``None``: never; ``gymnasium.make``
      adds a ``TimeLimit`` instead, set with its own ``max_episode_steps``).
    * ``control_frequency_hz``: steps per simulated second; must divide 240 Hz physics.
    * ``action_mode``: ``"absolute"`` or ``"delta"``; ``reward_type``: ``"dense"`` or ``"sparse"``.
    * ``terminate_on_collision`` (False), ``terminate_on_success`` (True).
    * ``max_obstacles``: obstacle slots in the observation (8).
    * ``success_distance_m``, ``success_angle_rad``, ``orientation_weight_m_per_rad``,
      ``collision_penalty``: see Rewards.
    * ``clearance``: which clearance measurements each step makes: ``"both"`` (default, for
      evaluation: the CAD truth and the sphere bound, and PyBullet's closest points of the pairs
      the bound finds within 0.1 m and 5 mm of its closest, to cross-check the bound: ~1.3
      queries), ``"numpy"`` (the truth and the bound only: for training, where the cross-check is
      redundant; ``pybullet_clearance_m`` is NaN) or ``"pybullet"`` (PyBullet's closest points of
      every pair up to 1 m only; the truth and bound entries are NaN and ``closest_*`` empty).
      Contacts always come from PyBullet, confirmed on the CAD.
    * ``contact_physics``: what a contact does to the motion. ``"none"`` (default): nothing: Bullet
      finds and reports the contacts on the bound but they exert no force, so the arm moves as
      commanded until, and through, any contact, and the first CAD contact comes exactly where the
      real arm, following the same commands, would first touch (the bound, up to 24 mm wider than
      the CAD, would otherwise stop it early and hide the CAD's contact: measured in the README).
      After a contact the arm does not push or get pushed (read the later motion as the commanded
      motion a collision checker sees). ``"bound"``: Bullet's rigid contacts on the sphere bound
      (the arm pushes and is stopped, a few mm before its CAD would touch).
    * ``render_width``, ``render_height``, ``camera``: frame size (480 x 360) and a
      :class:`sim.env.world.Camera` or preset name (default :data:`DEFAULT_CAMERA`). The goal is drawn
      as a green sphere, with a small blue one 3 cm behind it along the gripper's approach.
    * ``renderer``: ``"tiny"`` (TinyRenderer on the CPU) or ``"egl"`` (PyBullet's OpenGL renderer
      through its EGL plugin, headless; fast on a GPU); ignored by ``"human"``. ``"none"``: nothing
      is drawn (``env.world.render`` refused), obstacle bodies cost no drawing mesh (a reset ~0.5 ms
      cheaper in ``cluttered``). Default ``None``: ``"none"`` without a render mode, else ``"tiny"``;
      pass ``"tiny"`` to draw ``env.world`` with your own cameras while ``render_mode`` is None.

    Every argument is checked when the env is made (:mod:`sim.env.env_arguments`), with one line naming it,
    its value and what is valid: names from their lists; flags True or False only (never ``"false"``);
    counts integers (never bools or fractions): ``max_episode_steps`` in [1, 1e6], ``max_obstacles`` in
    [0, 32], ``render_width`` and ``render_height`` in [1, 4096]; numbers finite (never strings or bools):
    ``success_distance_m`` in (0, 1] m, ``success_angle_rad`` in (0, pi], ``orientation_weight_m_per_rad``
    in [0, 10], ``collision_penalty`` in [0, 1000]; a camera's fields finite. ``gymnasium.make`` and
    ``scenarios.env_factory.make_obstacle_reach_env`` refuse an unknown keyword with the valid ones and
    the closest. ``gymnasium.make`` adds no ``PassiveEnvChecker`` (see ``sim/__init__.py``).

    Reset options: ``{"scene": Scene}`` uses that scene; ``{"scene_index": i}`` picks fixed scene
    ``i`` of a scenario that has them (``benchmark``); any other key is refused. A refused ``reset`` or
    ``step`` changes nothing: the env goes on as before, also through ``gymnasium.make``'s wrappers.

    ## Version History
    * v0: initial version.

    Example:
        >>> import gymnasium as gym, sim
        >>> env = gym.make("OpenManipulatorX-ObstacleReach-v0", scenario="cluttered")
        >>> observation, info = env.reset(seed=1)
        >>> observation["observation"].shape, observation["desired_goal"].shape
        ((158,), (7,))
        >>> observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
        >>> sorted(k for k in info if k.endswith("clearance_m"))  # doctest: +NORMALIZE_WHITESPACE
        ['bound_clearance_m', 'bound_self_clearance_m', 'bound_table_clearance_m', 'min_clearance_m',
         'pybullet_clearance_m', 'self_clearance_m', 'table_clearance_m']
        >>> env.close()
    """

    metadata: dict[str, Any] = {"render_modes": list(_RENDER_MODES), "render_fps": 20}

    def __init__(
        self,
        scenario: ScenarioSpec,
        *,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
        control_frequency_hz: float = 20.0,
        action_mode: ActionMode = "absolute",
        reward_type: RewardType = "dense",
        terminate_on_collision: bool = False,
        terminate_on_success: bool = True,
        max_obstacles: int = 8,
        success_distance_m: float = 0.01,
        success_angle_rad: float = 0.1745,
        orientation_weight_m_per_rad: float = 0.05,
        collision_penalty: float = 1.0,
        render_width: int = 480,
        render_height: int = 360,
        camera: Camera | str = DEFAULT_CAMERA,
        renderer: str | None = None,
        clearance: str = "both",
        contact_physics: str = "none",
    ) -> None:
        # Gymnasium's EzPickle: a pickle carries the constructor arguments; the copy is a fresh
        # env to be reset (a PyBullet client cannot be pickled).
        EzPickle.__init__(self, **{key: value for key, value in locals().items() if key not in ("self", "__class__")})
        self._world: World | None = None
        # Every argument checked (one line naming it, its value and what is valid) and normalised.
        if render_mode is not None:
            render_mode = check_choice("render mode", render_mode, _RENDER_MODES)
        action_mode = check_choice("action mode", action_mode, ("absolute", "delta"))  # type: ignore[assignment]
        reward_type = check_choice("reward type", reward_type, ("dense", "sparse"))  # type: ignore[assignment]
        control_frequency_hz, substeps = check_control_frequency(control_frequency_hz, PHYSICS_FREQUENCY_HZ)
        if max_episode_steps is not None:
            max_episode_steps = check_count("max_episode_steps", max_episode_steps, 1, MAX_EPISODE_STEPS)
        max_obstacles = check_count("max_obstacles", max_obstacles, 0, MAX_SCENE_OBSTACLES)
        terminate_on_collision = check_flag("terminate_on_collision", terminate_on_collision)
        terminate_on_success = check_flag("terminate_on_success", terminate_on_success)
        render_width = check_count("render_width", render_width, 1, MAX_RENDER_SIDE)
        render_height = check_count("render_height", render_height, 1, MAX_RENDER_SIDE)
        camera = check_camera(camera)
        if renderer is not None:
            renderer = check_choice("renderer", renderer, WORLD_RENDERERS)
        clearance = check_choice("clearance mode", clearance, CLEARANCE_MODES)
        contact_physics = check_choice("contact physics", contact_physics, CONTACT_PHYSICS)
        reward_spec = RewardSpec(reward_type, success_distance_m, success_angle_rad,  # checks its values
                                 orientation_weight_m_per_rad, collision_penalty)
        self.clearance = clearance
        self.contact_physics = contact_physics
        if render_mode == "human" and not gui_available():
            raise InvalidInputError("render_mode='human' opens PyBullet's GUI and needs a display; use 'rgb_array'")
        if not isinstance(scenario, ScenarioSpec):
            raise InvalidInputError(
                f"ObstacleReachEnv takes a ScenarioSpec, got {type(scenario).__name__} {show_value(scenario)}; for a "
                "scenario name or TOML path use gymnasium.make(sim.ENV_IDS[0], scenario=...) or "
                "scenarios.env_factory.make_obstacle_reach_env")
        self.scenario: ScenarioSpec = scenario
        if self.scenario.max_obstacle_count() > max_obstacles:
            raise InvalidInputError(
                f"scenario {self.scenario.name!r} can hold {self.scenario.max_obstacle_count()} obstacles "
                f"but max_obstacles is {max_obstacles}"
            )
        self.render_mode = render_mode
        self.action_mode: ActionMode = action_mode
        self.max_episode_steps = max_episode_steps
        self.substeps = substeps
        self.control_period_s = self.substeps / PHYSICS_FREQUENCY_HZ
        self._max_step_rad = MAX_JOINT_VELOCITY_RAD_S * self.control_period_s  # delta mode, action 1
        self.max_obstacles = max_obstacles
        self.terminate_on_collision = terminate_on_collision
        self.terminate_on_success = terminate_on_success
        self.reward_spec = reward_spec
        self.render_width, self.render_height, self.camera = render_width, render_height, camera
        if renderer is None:  # what the render mode needs: no drawing meshes unless frames are asked for
            renderer = NO_RENDERER if render_mode is None else "tiny"
        self.renderer = "tiny" if render_mode == "human" else renderer
        # Instance metadata: the frame rate follows the control frequency, and "human" is
        # declared only where a GUI can open (checkers create every declared mode).
        self.metadata = {
            "render_modes": [mode for mode in _RENDER_MODES if mode != "human" or gui_available()],
            "render_fps": control_frequency_hz,
        }
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        self.observation_space = observation_space(max_obstacles)
        self._bounds = observation_bounds(max_obstacles)
        self._scene: Scene | None = None
        self._step_count = 0
        self._episode = 0
        self._static_obstacles: ObstacleSet | None = None
        self._static_origins: np.ndarray | None = None
        self._packer = ObservationPacker(self._bounds)
        self._goal_pose = np.zeros(7)
        self._world_episodes = 0
        self._saved: dict[int, tuple[int, int, tuple]] = {}
        self._contacts: tuple = ()
        self._bound_contacts: tuple = ()
        self._scene_lookup: _SceneLookup | None = None
        self._goal_reference: tuple[list[float], list[float]] | None = None

    # ----------------------------------------------------------------------------- Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        """Start an episode: draw a scene with ``np_random`` (seeded by ``seed``), or take
        ``options["scene"]`` / ``options["scene_index"]``; returns ``(observation, info)``.

        Raises:
            InvalidInputError: ``seed`` is not None or a non-negative integer; ``options`` is not None or a
                dict with one of ``scene``, ``scene_index`` (an unknown key: :class:`UnknownNameError`), or
                names a bad scene; both checked before anything changes.
        """
        seed = check_seed(seed)  # a Python int: Gymnasium takes those only
        check_reset_options(options)  # both checked before anything changes: a refused reset changes nothing
        super().reset(seed=seed)
        scene = scene_for_episode(self.scenario, self.np_random, options)
        if len(scene.obstacles) > self.max_obstacles:
            raise InvalidInputError(
                f"the scene has {len(scene.obstacles)} obstacles; max_obstacles is {self.max_obstacles}")
        self._load(scene)
        return self._observe()

    def step(self, action: Any):  # type: ignore[override]
        """Command the joint targets of ``action`` (4,), advance one control period (fixed physics
        substeps, moving obstacles moved), measure; returns ``(obs, reward, terminated, truncated, info)``.

        Raises:
            InvalidInputError: no reset yet, or ``action`` is not 4 finite real numbers (strings, dicts,
                None, bools, complex and object values refused), before anything moves.
        """
        if self._world is None or self._scene is None:
            raise InvalidInputError("call reset() before step()")
        started = time.perf_counter() if self.render_mode == "human" else 0.0
        world = self._world
        now = world.joint_positions() if self.action_mode == "delta" else None
        world.set_position_targets(action_to_joint_target_list(action, self.action_mode, now, self._max_step_rad))
        moves = ()
        if self._scene.is_dynamic:  # moving obstacles: poses at the end of every substep, in one go each
            first = self._step_count * self.substeps + 1
            times = np.arange(first, first + self.substeps) / PHYSICS_FREQUENCY_HZ
            moves = [(obstacle.name, obstacle.position_at(times), obstacle.orientation)
                     for obstacle in self._scene.obstacles if obstacle.motion]
        first_substep = self._step_count * self.substeps + 1
        if self.contact_physics == "none":
            # The arm collides with nothing in Bullet: every substep's joint angles go to the CAD
            # channel, which finds the step's contacts (the bound culls, the meshes decide).
            angles = world.step_recording_joints(self.substeps, moves)  # the fingers are rigid in this mode
            self._step_count += 1
            self._contacts, self._bound_contacts = self._kinematic_contacts(angles, moves, first_substep)
        else:
            # The latest substep's contacts that had any, so a touch in mid-step counts: PyBullet's
            # on the bound (within its slack) trigger the CAD measurement, whose verdict counts.
            contacts, bound_contacts = world.step_watching_contacts(
                self.substeps, moves, trigger_m=BOUND_SLACK_M,
                confirm=lambda near, substep: self._cad_contacts(near,
                                                                 (first_substep + substep) / PHYSICS_FREQUENCY_HZ))
            # The task has no gripper: keep the fingers closed and rigid, so the sphere model
            # (fingers at 0) and PyBullet measure the same solid even after impacts.
            world.reset_gripper(0.0)
            # Bullet finds contacts before it integrates a substep: refresh them for the final poses
            # too, so an overlap the last substep moved into is not reported one step late.
            world.detect_collisions()
            self._step_count += 1
            self._refresh_contacts(contacts, bound_contacts)
        observation, info = self._observe()
        # The same arithmetic as compute_reward(achieved_goal, desired_goal, info), errors computed once.
        reward = self.reward_spec.step_reward(info["target_error_m"], info["orientation_error_rad"], info["collided"])
        terminated = bool((self.terminate_on_success and info["is_success"])
                          or (self.terminate_on_collision and info["collided"]))
        truncated = self.max_episode_steps is not None and self._step_count >= self.max_episode_steps
        if self.render_mode == "human":
            time.sleep(max(0.0, self.control_period_s - (time.perf_counter() - started)))
        return observation, reward, terminated, bool(truncated), info

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> np.ndarray | float:
        """Reward of ``(..., 7)`` achieved and desired goals (vectorised; see the class doc)."""
        return self.reward_spec.compute_reward(achieved_goal, desired_goal, info)

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        """An RGB frame (render_height, render_width, 3) uint8 in ``rgb_array`` mode, else None."""
        if self.render_mode != "rgb_array":
            return None
        if self._world is None:
            raise InvalidInputError("call reset() before render()")
        return self._world.render(self.render_width, self.render_height, self.camera)

    def close(self) -> None:
        """Free the PyBullet client (idempotent)."""
        if self._world is not None:
            self._world.close()
            self._world = None
        self._saved.clear()
        self._world_episodes = 0

    # ----------------------------------------------------------------------------- for policies
    @property
    def scene(self) -> Scene:
        """The current episode's scene (obstacles with motions, start, goal joints and pose)."""
        if self._scene is None:
            raise InvalidInputError("call reset() first: there is no scene yet")
        return self._scene

    @property
    def time_s(self) -> float:
        """Simulated time since the reset (s)."""
        return self._step_count * self.control_period_s

    @property
    def goal_pose(self) -> np.ndarray:
        """(7,) goal pose ``[x, y, z, qx, qy, qz, qw]`` (m, base frame)."""
        return np.array(self.scene.goal_pose)

    def obstacle_set(self, time_s: float | None = None) -> ObstacleSet:
        """The obstacles at ``time_s`` (default: now) for the sphere model (:mod:`sim.robot.collision`)."""
        return self.scene.obstacle_set(self.time_s if time_s is None else float(time_s))

    @property
    def world(self) -> World:
        """The episode's :class:`sim.env.world.World` (for cameras and overlays; do not step it)."""
        return self._live_world()

    def joint_positions(self) -> np.ndarray:
        """(4,) measured joint angles (rad)."""
        return self._live_world().joint_positions()

    def action_to_joint_targets(self, action: Any) -> np.ndarray:
        """(4,) joint targets (rad, within the limits) that ``action`` (4,) commands now."""
        now = self.joint_positions() if self.action_mode == "delta" else None
        return action_to_joint_targets(action, self.action_mode, now, self._max_step_rad)

    def joint_targets_to_action(self, joints: Any) -> np.ndarray:
        """(4,) float32 action in [-1, 1] commanding joint targets ``joints`` (4,) rad (the
        inverse of :meth:`action_to_joint_targets`; in delta mode, as far as one step reaches)."""
        now = self.joint_positions() if self.action_mode == "delta" else None
        return joint_targets_to_action(joints, self.action_mode, now, self._max_step_rad)

    # ----------------------------------------------------------------------------- state
    def save_state(self) -> int:
        """Snapshot the physics and the episode clock (valid until the next reset)."""
        state_id = self._live_world().save_state()
        self._saved[state_id] = (self._episode, self._step_count, self._contacts, self._bound_contacts)
        return state_id

    def restore_state(self, state_id: int) -> None:
        """Go back to a snapshot of this episode taken by :meth:`save_state`."""
        if self._saved.get(state_id, (None,))[0] != self._episode:
            raise InvalidInputError(f"no saved state {state_id} in this episode (states end at reset)")
        self._live_world().restore_state(state_id)
        _, self._step_count, self._contacts, self._bound_contacts = self._saved[state_id]

    def remove_state(self, state_id: int) -> None:
        """Free a snapshot."""
        if self._saved.pop(state_id, (None,))[0] == self._episode:
            self._live_world().remove_state(state_id)

    # ----------------------------------------------------------------------------- internals
    def _live_world(self) -> World:
        if self._world is None:
            raise InvalidInputError("call reset() first: the environment has no world yet")
        return self._world

    def _load(self, scene: Scene) -> None:
        """Put ``scene`` into the world: the previous obstacles are removed and the new ones added.
        A headless client is replaced by a fresh one every :data:`EPISODES_PER_CLIENT` episodes
        (PyBullet never frees removed bodies' shapes); the GUI's client is kept for good. Either
        way the episode is the same: a world with sorted overlapping pairs does not remember
        bodies it held before."""
        if self._world is not None and (self._world.gui or self._world_episodes < EPISODES_PER_CLIENT):
            for state_id in self._saved:  # the previous episode's snapshots end with it
                self._world.remove_state(state_id)
            self._world.clear_obstacles(keep_markers=True)
        else:
            self.close()
            self._world = World(gui=self.render_mode == "human", time_step_s=1.0 / PHYSICS_FREQUENCY_HZ,
                                renderer=self.renderer, contact_forces=self.contact_physics == "bound")
            self._world.aim_gui_camera(self.camera)
        self._world_episodes += 1
        world = self._world
        if self.render_mode is not None:  # visual-only markers cost ~0.5 ms each to create: drawn only if seen,
            goal = np.array(scene.goal_pose)  # created once per client (before any obstacle) and then moved
            approach = quat_to_matrix(goal[3:])[:, 0]  # the gripper's pointing direction at the goal
            markers = (("marker:goal", goal[:3], 0.012, (0.1, 0.8, 0.2, 0.6)),
                       ("marker:goal_approach", goal[:3] - 0.03 * approach, 0.007, (0.1, 0.5, 0.9, 0.8)))
            for name, position, radius_m, rgba in markers:
                if world.has_body(name):
                    world.move_obstacle(name, position)
                else:
                    world.add_marker(name, position, radius_m=radius_m, rgba=rgba)
        for obstacle in scene.obstacles:
            world.add_obstacle(obstacle.name, obstacle.kind, obstacle.size, obstacle.position_at(0.0),
                               obstacle.orientation)
        world.reset_joints(scene.start_joints)
        world.detect_collisions()
        self._scene, self._step_count = scene, 0
        self._static_obstacles = scene.obstacle_set() if not scene.is_dynamic else None
        self._static_origins = None
        if self.contact_physics == "none":
            self._contacts, self._bound_contacts = self._kinematic_contacts(
                np.array(scene.start_joints, dtype=np.float64)[None], (), 0)
        else:
            self._refresh_contacts([], [])
        self._episode += 1
        self._saved.clear()
        self._goal_pose = np.array(scene.goal_pose)
        self._goal_reference = None  # the desired goal's part of the errors, from the first observation
        if not scene.is_dynamic:
            self._packer.set_scene(self._goal_pose, obstacle_features(scene, 0.0, self.max_obstacles))

    def _kinematic_contacts(self, angles: np.ndarray, moves: Any, first_substep: int) -> tuple[tuple, tuple]:
        """The CAD contacts and the bound's touches of the substeps with joint angles ``angles``
        (n, 4), obstacles where ``moves`` put them (static ones where they stand); one
        :class:`Contact` per touching pair (the CAD's point and the other body's normal, 0 between
        links; force 0: nothing pushes in this mode; the bound's touches carry their distance only)."""
        scene = self.scene
        if self._static_obstacles is not None:  # static: the same centres every substep, built once per scene
            obstacles = self._static_obstacles
            if self._static_origins is None or len(self._static_origins) != len(angles):
                self._static_origins = np.repeat(obstacles.positions[None], len(angles), axis=0)
            origins = self._static_origins
        else:
            obstacles = scene.obstacle_set(first_substep / PHYSICS_FREQUENCY_HZ)
            origins = np.repeat(obstacles.positions[None], len(angles), axis=0)
            slots = self._lookup().slots
            for name, positions, _ in moves:
                origins[:, slots[name]] = positions
        found = step_contacts(angles, origins, obstacles)
        self._cad_queries_in_step = found.queries
        touching, cad_touching = np.isfinite(found.bound_m), np.isfinite(found.cad_m)
        if not (touching.any() or cad_touching.any()):
            return (), ()
        names = self._lookup().names
        zero = (0.0, 0.0, 0.0)
        contacts, bound_contacts = [], []
        for link, column in zip(*np.nonzero(cad_touching), strict=True):
            contacts.append(Contact(COLLISION_LINKS[link], names[column], tuple(found.witness[link, column].tolist()),
                                    tuple(found.normal[link, column].tolist()), float(found.cad_m[link, column]), 0.0))
        for link, column in zip(*np.nonzero(touching), strict=True):
            bound_contacts.append(Contact(COLLISION_LINKS[link], names[column], zero, zero,
                                          float(found.bound_m[link, column]), 0.0))
        return tuple(contacts), tuple(bound_contacts)

    def _lookup(self) -> _SceneLookup:
        """This scene's contact-column names and obstacle slots, built once per scene."""
        scene = self.scene
        if self._scene_lookup is None or self._scene_lookup.scene is not scene:
            obstacles = [obstacle.name for obstacle in scene.obstacles]
            self._scene_lookup = _SceneLookup(scene, contact_body_names(obstacles),
                                              {name: index for index, name in enumerate(obstacles)})
        return self._scene_lookup

    def _refresh_contacts(self, contacts: list[Contact], bound_contacts: list[Contact]) -> None:
        """The step's contacts (CAD-confirmed and PyBullet's touching ones on the bound) from the
        substeps, or the final poses' where those have any."""
        world = self._live_world()
        near = world.contacts(max_distance_m=BOUND_SLACK_M)
        final = self._cad_contacts(near, self.time_s) if near else []
        self._contacts = tuple(final) or tuple(contacts)
        self._bound_contacts = tuple(c for c in near if c.distance_m <= 0.0) or tuple(bound_contacts)

    def _cad_contacts(self, near: list[Contact], time_s: float) -> list[Contact]:
        """Of PyBullet's contact points on the bound (``near``, within its slack), those where the
        CAD meshes touch (measured at the current joint angles, obstacles at ``time_s``), with the
        CAD's signed distance and the arm's surface point. The bound encloses the meshes up to
        :data:`sim.robot.cad.BOUND_SLACK_M`, so no CAD contact is missed."""
        world, scene = self._live_world(), self.scene
        obstacles = self._static_obstacles if self._static_obstacles is not None else scene.obstacle_set(time_s)
        model = cad_model()
        positions, rotations = frames(world.joint_positions())
        slots = self._lookup().slots
        measured: dict[tuple[str, str], tuple[float, tuple[float, ...] | None]] = {}
        confirmed = []
        for contact in near:
            key = (contact.link, contact.body)
            if key not in measured:
                if contact.link not in COLLISION_LINKS:
                    continue
                link = COLLISION_LINKS.index(contact.link)
                if contact.body == TABLE_NAME:
                    measured[key] = (float(table_heights(model, positions, rotations)[link]), None)
                elif contact.body.startswith(SELF_CONTACT_PREFIX):
                    other = COLLISION_LINKS.index(contact.body[len(SELF_CONTACT_PREFIX):])
                    measured[key] = (link_pair_gap(model, positions, rotations, link, other), None)
                elif contact.body in slots:
                    slot = slots[contact.body]
                    value, point = link_obstacle_distance(model, positions, rotations, link,
                                                          int(obstacles.kinds[slot]), obstacles.positions[slot],
                                                          obstacles.rotations[slot], obstacles.sizes[slot])
                    measured[key] = (value, tuple(point.tolist()))
                else:
                    continue
            distance, point = measured[key]
            if distance <= 0.0:
                confirmed.append(contact._replace(distance_m=distance, position=point or contact.position))
        return confirmed

    def _observe(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        world, scene = self._live_world(), self.scene
        q, qd = world.joint_state()
        ee_pose = forward_kinematics(q, validate=False)
        obstacles = self._static_obstacles
        if obstacles is None:
            obstacles = scene.obstacle_set(self.time_s)
            self._packer.set_scene(self._goal_pose, obstacle_features(scene, self.time_s, self.max_obstacles))
        observation = self._packer.pack(q, qd, ee_pose)
        min_clearance_m = self_clearance_m = table_clearance_m = pybullet_clearance_m = math.nan
        bound_clearance_m = bound_self_m = bound_table_m = math.nan
        closest_link = closest_obstacle = ""
        cad_queries = 0
        if self.clearance != "pybullet":
            arm = arm_clearances(q, obstacles)
            bound_clearance_m, bound_self_m, bound_table_m = float(arm.obstacle.distance_m), arm.self_m, arm.table_m
            cad = measure(q, obstacles, bound_per_link=arm.per_link_m, bound_self_m=bound_self_m, validate=False)
            min_clearance_m, self_clearance_m, table_clearance_m = cad.obstacle_m, cad.self_m, cad.table_m
            cad_queries = cad.queries
            if len(obstacles):
                closest_link = COLLISION_LINKS[cad.link]
                closest_obstacle = scene.obstacles[cad.obstacle].name
        if self.clearance == "both":
            near = min(CLEARANCE_HORIZON_M, bound_clearance_m + CLEARANCE_PAIR_MARGIN_M)
            links, slots = np.nonzero(arm.per_link_m < near)
            pairs = [(COLLISION_LINKS[k], scene.obstacles[m].name)
                     for k, m in zip(links.tolist(), slots.tolist(), strict=True)]
            pybullet_clearance_m = world.pair_clearance(pairs, CLEARANCE_HORIZON_M)
        elif self.clearance == "pybullet":
            points = world.closest_points(1.0)
            pybullet_clearance_m = min((point.distance_m for point in points), default=math.inf)
        contacts = self._contacts
        if self._goal_reference is None:  # the same every step of an episode (goal_errors_single, split)
            self._goal_reference = goal_reference(observation["desired_goal"])
        position_error, angle = goal_errors_to(observation["achieved_goal"], self._goal_reference)
        reward_spec = self.reward_spec
        info = {
            "is_success": bool(position_error < reward_spec.success_distance_m
                               and angle < reward_spec.success_angle_rad),
            "collided": bool(contacts),
            "target_error_m": position_error,
            "orientation_error_rad": angle,
            "min_clearance_m": min_clearance_m,
            "closest_link": closest_link,
            "closest_obstacle": closest_obstacle,
            "self_clearance_m": self_clearance_m,
            "table_clearance_m": table_clearance_m,
            "bound_clearance_m": bound_clearance_m,
            "bound_self_clearance_m": bound_self_m,
            "bound_table_clearance_m": bound_table_m,
            "pybullet_clearance_m": pybullet_clearance_m,
            "contacts": contacts,
            "bound_contacts": self._bound_contacts,
            "cad_queries": cad_queries,
            "time_s": self.time_s,
        }
        return observation, info

__all__ = [
    "CLEARANCE_HORIZON_M", "CLEARANCE_MODES", "CLEARANCE_PAIR_MARGIN_M", "CONTACT_PHYSICS", "DEFAULT_CAMERA",
    "EPISODES_PER_CLIENT",
    "ObstacleReachEnv", "PHYSICS_FREQUENCY_HZ",
]

"""Rerun recordings of a run: every scene in 3D, with its series, from the results folder's logs.

``run_sim.py --rerun`` (or ``evaluation.runner.run(config, rerun=True)``) writes them once the
episodes ran; ``python -m evaluation.replay RESULTS_DIR`` writes the same files afterwards from
an existing folder. Both call :func:`record_results`, which reads only what the run logged:

* the scene of episode k is rebuilt from its seed by the runner's own reset
  (:func:`evaluation.sweep.reset_episode` in a headless env: obstacles, their motions, goal);
* the arm's link poses are the forward kinematics (:func:`sim.robot.kinematics.link_frames`) of
  the joint angles in ``steps.csv``: nothing is simulated again;
* contacts are measured on ROBOTIS' CAD at those logged angles, obstacles where they were then,
  by the env's own contact query (:func:`sim.robot.cad.step_contacts`): a contact the env
  counted only inside a step (between substeps, at angles the log does not keep) has no point;
  the logged ``contact_count`` series shows it all the same;
* clearance (CAD and the sphere bound), goal error, joint angles and targets come from
  ``steps.csv``, unchanged; attributions from ``shap/traces.csv`` where ``--shap`` wrote them.

**One file per scene** (``recordings/<scenario>_s<seed>_ep<k>.rrd``), holding every policy of
that scene: episode k of a scenario has the same scene (same seed) for every policy, so the
policies share one world (table, obstacles, goal) and one timeline and sit side by side, while
scenes, which differ in everything, never share a timeline (each episode starts at t = 0). A file
per scene stays small enough to open at once, a report can link it from the episode's row, and
``--episodes`` replays just the scenes asked for. The price: each file carries the arm's meshes
once per policy (about 1.4 MB compressed per policy, 5.7 MB for a scene of 4 policies; see
``benchmarks/rerun_cost.py``).

Entity tree (metres, radians, seconds; base frame, z up), timeline ``sim_time``:

=========================================  ============================================================
``world/table``, ``world/obstacles/NAME``  boxes, spheres, cylinders (moving ones move), static table
``world/goal``                             the goal position and the gripper's approach direction
``policies/P/arm/LINK``                    ROBOTIS' mesh (static) and its pose at every logged step
``policies/P/ee_path``                     the end effector's path so far
``policies/P/contacts``                    CAD contact points (label: link, body, depth) and normals
``policies/P/series/...``                  ``clearance_cad_m``, ``clearance_bound_m``,
                                           ``goal_error_m``, ``contact_count``, ``contact_depth_m``
``policies/P/joints/jointI/{angle,target}`` joint angle and commanded target (rad)
``policies/P/attribution/JOINT/FEATURE``   Shapley value (rad) of each pose feature, and a (7, 4)
                                           tensor ``policies/P/attribution_tensor`` per step
=========================================  ============================================================

The file carries a blueprint (Rerun's layout): one 3D view per policy side by side, the
clearance, goal-error and contact series below, joints and attributions in tabs. Recordings are
only ever written to files: no viewer is spawned, no network address is used.

rerun-sdk is an optional dependency (the ``viz`` extra); this module is the only one that imports it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.explain.core import FEATURE_NAMES
from evaluation.results_io import read_rows
from evaluation.schema import RECORDINGS_DIR, RUN_FILE, SHAP_DIR, TRACES_FILE, read_steps
from sim.errors import DependencyNotInstalled, InvalidInputError, OutputFolderError
from sim.files import open_no_follow, refuse_link, write_error
from sim.robot.kinematics import JOINT_NAMES, LINK_NAMES, link_frames
from sim.robot.robot_geometry import COLLISION_LINKS, mesh

#: The application id of every recording (Rerun groups recordings by it).
APPLICATION_ID = "neural_ik_testbed"
#: The timeline of every recording: simulated time since the episode's reset (s).
TIMELINE = "sim_time"
#: Policy colours (RGB), in the run's policy order (matplotlib's tab10).
POLICY_COLOURS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)
#: Series of ``steps.csv`` recorded as they are: entity name under ``policies/P/series`` -> column.
SERIES_COLUMNS: dict[str, str] = {
    "clearance_cad_m": "min_clearance_m", "clearance_bound_m": "bound_clearance_m",
    "goal_error_m": "target_error_m", "contact_count": "contact_count",
}
_ARM_GREY, _TABLE, _GOAL, _CONTACT = (190, 190, 195), (200, 170, 130), (40, 170, 70), (230, 20, 20)
_OBSTACLE = (200, 80, 60, 170)  # RGBA: see the arm through it
_CONTACT_ARROW_M = 0.02  # drawn length of a contact normal (its depth is in the label and the series)


def import_rerun() -> Any:
    """The ``rerun`` module.

    Raises:
        DependencyNotInstalled: rerun-sdk is not installed (the message names the ``viz`` extra).
    """
    try:
        import rerun
    except ImportError:
        raise DependencyNotInstalled("rerun-sdk", "viz") from None
    return rerun


# ------------------------------------------------------------------------------- what a file holds
@dataclass(frozen=True)
class SceneKey:
    """One scene of a run: episode ``episode`` of ``scenario`` from base seed ``seed``."""

    scenario: str
    seed: int
    episode: int

    def file_name(self) -> str:
        """``<scenario>_s<seed>_ep<episode>.rrd`` with the scenario label made a safe file name; a scene
        file's label is its stem and a digest of its path (``a/x.toml`` and ``b/x.toml`` stay apart)."""
        label = self.scenario
        if label.lower().endswith(".toml"):
            label = f"{Path(label).stem}-{hashlib.sha256(label.encode()).hexdigest()[:6]}"
        safe = "".join(char if char.isalnum() or char in "-_" else "_" for char in label)[:80] or "scenario"
        return f"{safe}_s{self.seed}_ep{self.episode:03d}.rrd"

    def recording_id(self) -> str:
        """A recording id fixed by the scene, so a replay writes the same recording as the run did."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"neural-ik-testbed/{self.scenario}/{self.seed}/{self.episode}"))


@dataclass(frozen=True)
class PolicyEpisode:
    """What the logs hold of one policy's episode of a scene.

    Attributes:
        policy: the policy name.
        time_s: (T,) time of each logged step (s).
        joints_rad, targets_rad: (T, 4) measured joint angles and commanded targets.
        series: ``SERIES_COLUMNS`` name -> (T,) values as logged.
        contact_counts: (T,) CAD contact points the env counted at each step.
        attributions: (T, 7, 4) Shapley values (rad) from ``shap/traces.csv`` (NaN at a step it does not
            hold), or ``None`` without any.
    """

    policy: str
    time_s: np.ndarray
    joints_rad: np.ndarray
    targets_rad: np.ndarray
    series: dict[str, np.ndarray]
    contact_counts: np.ndarray
    attributions: np.ndarray | None


def _policy_episode(policy: str, rows: Sequence[dict[str, str]], traces: dict[int, np.ndarray] | None) -> PolicyEpisode:
    def column(name: str) -> np.ndarray:
        return np.array([float(row[name]) for row in rows])

    def vector(name: str, width: int) -> np.ndarray:
        return np.stack([column(f"{name}_{i}") for i in range(width)], axis=1)

    attributions = None
    if traces:
        missing = np.full((len(FEATURE_NAMES), len(JOINT_NAMES)), np.nan)
        attributions = np.stack([traces.get(int(row["step"]), missing) for row in rows])
    return PolicyEpisode(policy, column("time_s"), vector("joints_rad", 4), vector("target_joints_rad", 4),
                         {name: column(source) for name, source in SERIES_COLUMNS.items()},
                         column("contact_count").astype(int), attributions)


def _read_traces(out_dir: Path) -> dict[tuple[str, int], dict[int, np.ndarray]]:
    """``shap/traces.csv`` as (policy, episode) -> step -> (7, 4) attributions (empty without one)."""
    names = [f"phi_{feature}_{joint}" for feature in FEATURE_NAMES for joint in JOINT_NAMES]
    traces: dict[tuple[str, int], dict[int, np.ndarray]] = {}
    for row in read_rows(out_dir / SHAP_DIR / TRACES_FILE):
        values = np.array([float(row[name]) for name in names]).reshape(len(FEATURE_NAMES), len(JOINT_NAMES))
        traces.setdefault((row["model"], int(row["episode"])), {})[int(row["step"])] = values
    return traces


def run_policies(out_dir: Path) -> tuple[str, ...]:
    """The policies of the run in ``out_dir`` in its table order (``run.json``), empty if unknown."""
    try:
        run = json.loads((Path(out_dir) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    policies = run.get("policies") if isinstance(run, dict) else None
    return tuple(str(p) for p in policies) if isinstance(policies, list) else ()


def logged_scenes(out_dir: Path) -> dict[SceneKey, dict[str, list[dict[str, str]]]]:
    """The scenes of ``out_dir/steps.csv``: scene -> policy (in the run's order) -> its step rows.

    Raises:
        InvalidInputError: ``steps.csv`` was written by another version or program.
    """
    scenes: dict[SceneKey, dict[str, list[dict[str, str]]]] = {}
    for row in read_steps(out_dir):
        key = SceneKey(row["scenario"], int(row["seed"]), int(row["episode"]))
        scenes.setdefault(key, {}).setdefault(row["model"], []).append(row)
    order = {policy: index for index, policy in enumerate(run_policies(out_dir))}
    return {key: dict(sorted(by_policy.items(), key=lambda item: order.get(item[0], len(order))))
            for key, by_policy in sorted(scenes.items(), key=lambda item: (item[0].scenario, item[0].seed,
                                                                           item[0].episode))}


# ------------------------------------------------------------------------------- geometry
@functools.cache
def _mesh_with_normals(link: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROBOTIS' mesh of ``link`` as float32 vertices (V, 3) m, uint32 faces (F, 3) and unit area-weighted
    vertex normals (V, 3) (Rerun draws a mesh without normals unlit)."""
    vertices, faces = mesh(link)
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normals)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return vertices.astype(np.float32), faces.astype(np.uint32), normals.astype(np.float32)


@dataclass(frozen=True)
class StepContact:
    """One CAD contact at a logged pose: the arm's link, the other body, the point (m), the other
    body's normal there and the depth (m, >= 0)."""

    link: str
    body: str
    point_m: tuple[float, float, float]
    normal: tuple[float, float, float]
    depth_m: float


def contacts_at(scene: Any, joints_rad: np.ndarray, time_s: float) -> list[StepContact]:
    """The CAD contacts of the arm at joint angles ``joints_rad`` (4,) with ``scene``'s obstacles at
    ``time_s``: the env's contact query (:func:`sim.robot.cad.step_contacts`) at one pose.

    Columns are named as the env names them: the obstacles, the table, then ``robot:LINK`` for the
    SRDF link pairs.
    """
    from sim.env.world import contact_body_names
    from sim.robot.cad import step_contacts

    obstacles = scene.obstacle_set(float(time_s))
    found = step_contacts(np.asarray(joints_rad, dtype=np.float64)[None], obstacles.positions[None], obstacles)
    names = contact_body_names([obstacle.name for obstacle in scene.obstacles])
    contacts = []
    for link, column in zip(*np.nonzero(np.isfinite(found.cad_m)), strict=True):
        contacts.append(StepContact(COLLISION_LINKS[link], names[column], tuple(found.witness[link, column].tolist()),
                                    tuple(found.normal[link, column].tolist()),
                                    max(0.0, -float(found.cad_m[link, column]))))
    return contacts


# ------------------------------------------------------------------------------- one file
def _entity(rr: Any, *parts: str) -> str:
    return "/" + "/".join(rr.escape_entity_path_part(part) for part in parts)


def _log_world(rec: Any, rr: Any, scene: Any, times_s: np.ndarray) -> None:
    """Table, goal and obstacles (moving ones at every time of ``times_s``)."""
    from sim.env.world import TABLE_CENTRE_M, TABLE_HALF_EXTENTS_M
    from sim.robot.transforms import quat_to_matrix

    rec.log("/", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)  # the base frame: z up
    rec.log("/world/table", rr.Boxes3D(centers=[TABLE_CENTRE_M], half_sizes=[TABLE_HALF_EXTENTS_M], colors=[_TABLE],
                                       fill_mode="solid"), static=True)
    goal = np.asarray(scene.goal_pose, dtype=float)
    approach = quat_to_matrix(goal[3:])[:, 0]  # the gripper's pointing direction at the goal
    rec.log("/world/goal", rr.Points3D([goal[:3]], radii=0.008, colors=[_GOAL], labels=["goal"]), static=True)
    rec.log("/world/goal/approach", rr.Arrows3D(origins=[goal[:3] - 0.04 * approach], vectors=[0.04 * approach],
                                                colors=[_GOAL]), static=True)
    for obstacle in scene.obstacles:
        path = _entity(rr, "world", "obstacles", obstacle.name)
        size = np.asarray(obstacle.size, dtype=float)
        if obstacle.kind == "box":
            shape = rr.Boxes3D(half_sizes=[size], colors=[_OBSTACLE], fill_mode="solid", labels=[obstacle.name])
        elif obstacle.kind == "sphere":
            shape = rr.Ellipsoids3D(half_sizes=[[size[0]] * 3], colors=[_OBSTACLE], fill_mode="solid",
                                    labels=[obstacle.name])
        else:  # cylinder: radius, half height; axis along the body's z
            shape = rr.Cylinders3D(lengths=[2.0 * size[1]], radii=[size[0]], colors=[_OBSTACLE], fill_mode="solid",
                                   labels=[obstacle.name])
        rec.log(path, shape, static=True)
        if obstacle.motion is None:
            rec.log(path, rr.Transform3D(translation=obstacle.position_at(0.0), quaternion=obstacle.orientation),
                    static=True)
        else:
            positions = obstacle.position_at(times_s)
            rec.send_columns(path, indexes=[rr.TimeColumn(TIMELINE, duration=times_s)],
                             columns=rr.Transform3D.columns(
                                 translation=positions, quaternion=np.tile(obstacle.orientation, (len(times_s), 1))))


def _log_policy(rec: Any, rr: Any, scene: Any, episode: PolicyEpisode, colour: tuple[int, int, int],
                meshes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """One policy's arm, path, contacts, series and attributions under ``policies/P``."""
    root = ("policies", episode.policy)
    # The start state (t = 0, the scene's start joints) and every logged step.
    times = np.concatenate([[0.0], episode.time_s])
    joints = np.vstack([np.asarray(scene.start_joints, dtype=float)[None], episode.joints_rad])
    index = [rr.TimeColumn(TIMELINE, duration=times)]
    frames = link_frames(joints, validate=False)
    tint = tuple(int(0.7 * grey + 0.3 * part) for grey, part in zip(_ARM_GREY, colour, strict=True))  # which arm
    for link in COLLISION_LINKS:
        path = _entity(rr, *root, "arm", link)
        vertices, faces, normals = meshes[link]
        rec.log(path, rr.Mesh3D(vertex_positions=vertices, triangle_indices=faces, vertex_normals=normals,
                                albedo_factor=tint), static=True)
        frame = LINK_NAMES.index(link)
        rec.send_columns(path, indexes=index, columns=rr.Transform3D.columns(
            translation=frames.positions[:, frame], mat3x3=frames.rotations[:, frame]))
    ee = frames.positions[:, LINK_NAMES.index("end_effector_link")]
    rec.send_columns(_entity(rr, *root, "ee_path"), indexes=index, columns=rr.LineStrips3D.columns(
        strips=[ee[:k + 1] for k in range(len(ee))], colors=[colour] * len(ee), radii=[0.002] * len(ee)))

    step_index = [rr.TimeColumn(TIMELINE, duration=episode.time_s)]
    contacts = [contacts_at(scene, q, t) if count > 0 else []
                for q, t, count in zip(episode.joints_rad, episode.time_s, episode.contact_counts, strict=True)]
    lengths = [len(found) for found in contacts]
    flat = [contact for found in contacts for contact in found]
    points = np.array([c.point_m for c in flat], dtype=float).reshape(-1, 3)
    normals = np.array([c.normal for c in flat], dtype=float).reshape(-1, 3)
    labels = [f"{c.link} - {c.body}: {1e3 * c.depth_m:.1f} mm deep" for c in flat]
    rec.send_columns(_entity(rr, *root, "contacts"), indexes=step_index, columns=rr.Points3D.columns(
        positions=points, labels=labels, radii=[0.004] * len(flat), colors=[_CONTACT] * len(flat)).partition(lengths))
    rec.send_columns(_entity(rr, *root, "contacts", "normals"), indexes=step_index, columns=rr.Arrows3D.columns(
        origins=points, vectors=_CONTACT_ARROW_M * normals, colors=[_CONTACT] * len(flat)).partition(lengths))

    series = dict(episode.series)
    series["contact_depth_m"] = np.array([max((c.depth_m for c in found), default=0.0) for found in contacts])
    for name, values in series.items():
        _series(rec, rr, _entity(rr, *root, "series", name), step_index, values, f"{episode.policy}: {name}", colour)
    for joint, joint_name in enumerate(JOINT_NAMES):
        for kind, values in (("angle", episode.joints_rad), ("target", episode.targets_rad)):
            _series(rec, rr, _entity(rr, *root, "joints", joint_name, kind), step_index, values[:, joint],
                    f"{joint_name} {kind}", colour if kind == "angle" else tuple(c // 2 for c in colour))
    if episode.attributions is not None:
        traced = np.isfinite(episode.attributions).all(axis=(1, 2))
        attributions, traced_index = episode.attributions[traced], [rr.TimeColumn(TIMELINE,
                                                                                  duration=episode.time_s[traced])]
        for joint, joint_name in enumerate(JOINT_NAMES):
            for feature, feature_name in enumerate(FEATURE_NAMES):
                _series(rec, rr, _entity(rr, *root, "attribution", joint_name, feature_name), traced_index,
                        attributions[:, feature, joint], f"{joint_name} <- {feature_name}",
                        POLICY_COLOURS[feature % len(POLICY_COLOURS)])
        tensor_path = _entity(rr, *root, "attribution_tensor")
        for time_s, values in zip(episode.time_s[traced], attributions, strict=True):
            rec.set_time(TIMELINE, duration=float(time_s))
            rec.log(tensor_path, rr.Tensor(values, dim_names=("feature", "joint")))
        rec.reset_time()


def _series(rec: Any, rr: Any, path: str, index: list[Any], values: np.ndarray, name: str,
            colour: tuple[int, ...]) -> None:
    rec.log(path, rr.SeriesLines(colors=[colour], names=[name]), static=True)
    rec.send_columns(path, indexes=index, columns=rr.Scalars.columns(scalars=np.asarray(values, dtype=np.float64)))


def blueprint(rr: Any, policies: Sequence[str], attributed: Sequence[str]) -> Any:
    """The layout a recording opens with: one 3D view per policy side by side (the shared world and that
    policy's arm, path and contacts), the clearance, goal-error and contact series of every policy below,
    and tabs of each policy's joints and (``attributed`` policies) attributions."""
    import rerun.blueprint as rrb

    def under(policy: str, *parts: str) -> str:
        return _entity(rr, "policies", policy, *parts)

    views_3d = [rrb.Spatial3DView(name=policy, origin="/", contents=["+ /world/**", f"+ {under(policy)}/arm/**",
                                                                      f"+ {under(policy)}/ee_path",
                                                                      f"+ {under(policy)}/contacts/**"])
                for policy in policies]
    series = [
        rrb.TimeSeriesView(name="clearance (m): CAD and sphere bound", contents=[
            path for p in policies for path in (under(p, "series", "clearance_cad_m"),
                                                under(p, "series", "clearance_bound_m"))]),
        rrb.TimeSeriesView(name="goal error (m)", contents=[under(p, "series", "goal_error_m") for p in policies]),
        rrb.TimeSeriesView(name="contacts: count and CAD depth (m)", contents=[
            path for p in policies for path in (under(p, "series", "contact_count"),
                                                under(p, "series", "contact_depth_m"))]),
    ]
    tabs = [rrb.TimeSeriesView(name=f"{p}: joints (rad)", contents=[f"{under(p, 'joints')}/**"]) for p in policies]
    for policy in attributed:
        tabs.append(rrb.TensorView(name=f"{policy}: attributions now (rad)",
                                   origin=under(policy, "attribution_tensor")))
        tabs.append(rrb.TimeSeriesView(name=f"{policy}: attributions (rad)",
                                       contents=[f"{under(policy, 'attribution')}/**"]))
    return rrb.Blueprint(
        rrb.Vertical(rrb.Horizontal(*views_3d), rrb.Horizontal(*series), rrb.Tabs(*tabs), row_shares=[3, 2, 2]),
        collapse_panels=True,
    )


def write_scene_recording(path: Path, key: SceneKey, scene: Any, episodes: Sequence[PolicyEpisode]) -> Path:
    """Write the recording of one scene (every policy's episode of it) to ``path`` (``.rrd``).

    The file is written beside ``path`` under a temporary name and renamed into place, never through a
    symbolic link.

    Raises:
        OutputFolderError: ``path`` or its temporary twin is a symbolic link.
        ResultsWriteError: the file cannot be written (disk full, permission refused).
    """
    rr = import_rerun()
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    for target in (path, temporary):
        refuse_link(target)
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    try:  # created here without following a link; Rerun's file sink then writes into it
        os.close(open_no_follow(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
    except OSError as error:
        raise write_error(temporary, error) from None
    attributed = [episode.policy for episode in episodes if episode.attributions is not None]
    rec = rr.RecordingStream(APPLICATION_ID, recording_id=key.recording_id(), send_properties=False)
    rec.set_log_time_enabled(False)  # simulated time only: a replay writes what the run wrote
    rec.set_log_tick_enabled(False)
    rec.save(temporary, default_blueprint=blueprint(rr, [episode.policy for episode in episodes], attributed))
    try:
        rec.send_recording_name(f"{key.scenario} seed {key.seed} episode {key.episode}")
        times = np.unique(np.concatenate([[0.0]] + [episode.time_s for episode in episodes]))
        _log_world(rec, rr, scene, times)
        meshes = {link: _mesh_with_normals(link) for link in COLLISION_LINKS}
        for number, episode in enumerate(episodes):
            _log_policy(rec, rr, scene, episode, POLICY_COLOURS[number % len(POLICY_COLOURS)], meshes)
        rec.flush()
    finally:
        rec.disconnect()
    if temporary.stat().st_size == 0:
        raise OutputFolderError(f"Rerun wrote nothing to {temporary} (disk full or no permission?)")
    os.replace(temporary, path)
    return path


# ------------------------------------------------------------------------------- a results folder
def record_results(out_dir: str | os.PathLike[str], *, episodes: Iterable[int] | None = None,
                   progress: bool = False) -> list[Path]:
    """Write ``recordings/<scene>.rrd`` of every scene logged in ``out_dir`` (or of the episode numbers
    ``episodes``) from its logs; returns the paths written, in scene order.

    The scene of each episode is rebuilt from its seed by the runner's reset in a headless env (no
    episode runs again); see the module docstring for what each file holds.

    Raises:
        DependencyNotInstalled: rerun-sdk is not installed.
        InvalidInputError: an episode number that ``steps.csv`` does not hold (the message lists
            those it does), a folder without logged steps, or a scenario that no longer resolves.
        OutputFolderError, ResultsWriteError: ``recordings/`` cannot be written.
    """
    from tqdm import tqdm

    from evaluation.sweep import make_run_env, reset_episode

    import_rerun()
    out = Path(out_dir)
    scenes = logged_scenes(out)
    if not scenes:
        raise InvalidInputError(f"{out} holds no logged steps ({out / 'steps.csv'} is missing or empty)")
    if episodes is not None:
        wanted = set(episodes)
        logged = sorted({key.episode for key in scenes})
        missing = sorted(wanted - set(logged))
        if missing:
            shown = ", ".join(map(str, logged[:10])) + (f" ... {logged[-1]}" if len(logged) > 10 else "")
            raise InvalidInputError(f"episode {missing[0]} is not in {out / 'steps.csv'}; logged episodes: {shown}")
        scenes = {key: value for key, value in scenes.items() if key.episode in wanted}
    folder = out / RECORDINGS_DIR
    refuse_link(folder)
    try:
        folder.mkdir(exist_ok=True)
    except OSError as error:
        raise write_error(folder, error) from None
    traces = _read_traces(out)
    envs: dict[str, Any] = {}
    written = []
    try:
        for key, by_policy in tqdm(scenes.items(), unit="scene", desc="rerun", disable=not progress):
            if key.scenario not in envs:
                envs[key.scenario] = make_run_env(key.scenario, 1)
            env = envs[key.scenario]
            reset_episode(env, key.seed, key.episode)
            scene = env.unwrapped.scene
            policy_episodes = [_policy_episode(policy, rows, traces.get((policy, key.episode)))
                               for policy, rows in by_policy.items()]
            written.append(write_scene_recording(folder / key.file_name(), key, scene, policy_episodes))
    finally:
        for env in envs.values():
            env.close()
    return written


__all__ = [
    "APPLICATION_ID", "POLICY_COLOURS", "SERIES_COLUMNS", "TIMELINE", "PolicyEpisode", "SceneKey", "StepContact",
    "blueprint", "contacts_at", "import_rerun", "logged_scenes", "record_results", "run_policies",
    "write_scene_recording",
]

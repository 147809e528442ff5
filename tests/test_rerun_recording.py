"""Rerun recordings (``run_sim.py --rerun``, ``python -m evaluation.replay``): read back what a short run wrote.

One run of one scene (cluttered, seed 0, episode 0: the straight-line network hits obstacles, the
analytic policy behind the safety layer does not) is recorded during the run; the recording is read
back with Rerun's own Python reader (``rerun.chunk.RrdReader``) and checked against ``steps.csv``,
the scene rebuilt from its seed, forward kinematics and the obstacles' geometry. Rerun's usage
analytics are off: ``CI`` is set for this module and its subprocesses (Rerun sends nothing when it is).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

rr = pytest.importorskip("rerun", reason="the viz extra (rerun-sdk) is not installed")

from evaluation.config import RunConfig  # noqa: E402
from evaluation.rerun_recording import SceneKey  # noqa: E402
from evaluation.results_io import append_rows  # noqa: E402
from evaluation.runner import EpisodeWorker, reset_episode, run  # noqa: E402
from evaluation.schema import RECORDINGS_DIR, SHAP_DIR, TRACE_COLUMNS, TRACES_FILE, read_steps  # noqa: E402
from sim.robot.kinematics import LINK_NAMES, clamp_to_limits, forward_kinematics, link_frames  # noqa: E402
from sim.robot.robot_geometry import COLLISION_LINKS  # noqa: E402
from sim.robot.transforms import quat_to_matrix  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ("iknet:improved+straight", "analytic+safe")
COLLIDING = "iknet:improved+straight"
KEY = SceneKey("cluttered", 0, 0)
#: Rerun's command line (rerun-sdk's ``rerun_cli`` package runs the bundled binary).
RERUN_CLI = (sys.executable, "-m", "rerun_cli")


@pytest.fixture(scope="module", autouse=True)
def no_analytics():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CI", "1")  # Rerun's analytics stay off wherever CI is set (re_analytics)
        yield


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """A results folder of one scene x two policies, recorded during the run (``run(..., rerun=True)``)."""
    out = tmp_path_factory.mktemp("rerun") / "run"
    config = RunConfig(scenario=KEY.scenario, policies=POLICIES, episodes=1, seed=KEY.seed, out_dir=out, max_steps=60,
                       progress=False)
    run(config, rerun=True)
    return out


@pytest.fixture(scope="module")
def scene(recorded):
    worker = EpisodeWorker()
    try:
        env = worker.env(KEY.scenario, 1)
        reset_episode(env, KEY.seed, KEY.episode)
        return env.unwrapped.scene
    finally:
        worker.close()


def read_recording(path: Path) -> dict[str, dict[str, list]]:
    """Entity path -> component -> [(time_s or None for static, value)], with Rerun's reader."""
    from rerun.chunk import RrdReader

    found: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for chunk in RrdReader(str(path)).store().stream().collect().stream():
        batch = chunk.to_record_batch()
        names = batch.schema.names
        times = (batch.column("sim_time").cast("int64").to_numpy() / 1e9 if "sim_time" in names
                 else [None] * batch.num_rows)
        for name in names:
            if name in ("rerun.controls.RowId", "sim_time"):
                continue
            for time_s, value in zip(times, batch.column(name).to_pylist(), strict=True):
                found[chunk.entity_path][name].append((time_s, value))
    for components in found.values():
        for rows in components.values():
            rows.sort(key=lambda row: -1.0 if row[0] is None else row[0])
    return found


def policy_path(policy: str, *parts: str) -> str:
    return "/" + "/".join(rr.escape_entity_path_part(part) for part in ("policies", policy, *parts))


def steps_of(out: Path, policy: str) -> list[dict[str, str]]:
    return [row for row in read_steps(out) if row["model"] == policy and int(row["episode"]) == KEY.episode]


@pytest.fixture(scope="module")
def recording(recorded) -> dict[str, dict[str, list]]:
    return read_recording(recorded / RECORDINGS_DIR / KEY.file_name())


def test_one_file_per_scene_and_it_passes_rerun_rrd_verify(recorded):
    files = sorted((recorded / RECORDINGS_DIR).iterdir())
    assert [path.name for path in files] == [KEY.file_name()]
    result = subprocess.run([*RERUN_CLI, "rrd", "verify", str(files[0])], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    views = blueprint_views(files[0])  # the layout it opens with: a 3D view per policy, the series beside them
    assert {name for name, kind in views if kind == "3D"} == set(POLICIES)
    assert {"clearance (m): CAD and sphere bound", "goal error (m)"} <= {name for name, kind in views}


def blueprint_views(path: Path) -> list[tuple[str, str]]:
    """(name, kind) of every view of the file's blueprint."""
    from rerun.chunk import RrdReader

    reader = RrdReader(str(path))
    (store,) = reader.blueprints()
    views = []
    for chunk in reader.stream(store=store).collect().stream():
        batch = chunk.to_record_batch()
        if "ViewBlueprint:display_name" in batch.schema.names:
            views += zip((names[0] for names in batch.column("ViewBlueprint:display_name").to_pylist()),
                         (kinds[0] for kinds in batch.column("ViewBlueprint:class_identifier").to_pylist()),
                         strict=True)
    return views


def test_the_arms_link_transforms_at_every_logged_step_are_the_forward_kinematics(recorded, recording, scene):
    for policy in POLICIES:
        rows = steps_of(recorded, policy)
        joints = np.array([[float(row[f"joints_rad_{i}"]) for i in range(4)] for row in rows])
        joints = np.vstack([np.array(scene.start_joints)[None], joints])  # t = 0: the start state
        times = np.array([0.0] + [float(row["time_s"]) for row in rows])
        frames = link_frames(joints)
        for link in COLLISION_LINKS:
            entity = recording[policy_path(policy, "arm", link)]
            assert [value for time, value in entity["Mesh3D:vertex_positions"] if time is None], link  # the CAD mesh
            translations = entity["Transform3D:translation"]
            np.testing.assert_allclose([time for time, _ in translations], times, atol=1e-9)
            frame = LINK_NAMES.index(link)
            np.testing.assert_allclose(np.array([value[0] for _, value in translations]),
                                       frames.positions[:, frame], atol=2e-7)
            rotations = np.array([np.reshape(value[0], (3, 3)).T for _, value in entity["Transform3D:mat3x3"]])
            np.testing.assert_allclose(rotations, frames.rotations[:, frame], atol=2e-7)  # stored column-major


def test_the_obstacles_table_and_goal_are_those_of_the_scene(recording, scene):
    assert scene.obstacles
    for obstacle in scene.obstacles:
        entity = recording["/world/obstacles/" + rr.escape_entity_path_part(obstacle.name)]
        (time, position), = entity["Transform3D:translation"]
        assert time is None  # cluttered's obstacles stand still
        np.testing.assert_allclose(position[0], obstacle.position, atol=1e-7)
        size = np.array(obstacle.size)
        if obstacle.kind == "box":
            np.testing.assert_allclose(entity["Boxes3D:half_sizes"][0][1][0], size, atol=1e-7)
        elif obstacle.kind == "sphere":
            np.testing.assert_allclose(entity["Ellipsoids3D:half_sizes"][0][1][0], [size[0]] * 3, atol=1e-7)
        else:
            np.testing.assert_allclose(entity["Cylinders3D:radii"][0][1][0], size[0], atol=1e-7)
            np.testing.assert_allclose(entity["Cylinders3D:lengths"][0][1][0], 2 * size[1], atol=1e-7)
    assert recording["/world/table"]["Boxes3D:half_sizes"]
    np.testing.assert_allclose(recording["/world/goal"]["Points3D:positions"][0][1][0], scene.goal_pose[:3], atol=1e-7)


def _outside_m(obstacle, point: np.ndarray) -> float:
    """How far ``point`` lies outside ``obstacle`` (m; 0 inside), from its geometry alone."""
    local = quat_to_matrix(np.array(obstacle.orientation)).T @ (point - np.array(obstacle.position))
    size = np.array(obstacle.size)
    if obstacle.kind == "sphere":
        return max(0.0, float(np.linalg.norm(local)) - size[0])
    if obstacle.kind == "box":
        return float(np.linalg.norm(np.maximum(np.abs(local) - size, 0.0)))
    radial = max(0.0, float(np.hypot(local[0], local[1])) - size[0])
    return float(np.hypot(radial, max(0.0, abs(local[2]) - size[1])))


def test_the_contacts_of_the_colliding_episode_are_recorded_where_the_arm_touched(recorded, recording, scene):
    rows = {round(float(row["time_s"]), 6): row for row in steps_of(recorded, COLLIDING)}
    assert any(int(row["contact_count"]) > 0 for row in rows.values())
    contacts = recording[policy_path(COLLIDING, "contacts")]
    labels = dict((round(time, 6), value) for time, value in contacts["Points3D:labels"])
    obstacles = {obstacle.name: obstacle for obstacle in scene.obstacles}
    touched = 0
    for time, positions in contacts["Points3D:positions"]:
        row = rows[round(time, 6)]
        if not positions:
            continue
        touched += 1
        assert int(row["contact_count"]) > 0  # a point only where the env counted a contact
        for position, label in zip(positions, labels[round(time, 6)], strict=True):
            body = label.split(" - ")[1].split(":")[0]
            if body in obstacles:  # on or inside the obstacle it names, within the CAD tolerance (1 mm)
                assert _outside_m(obstacles[body], np.array(position)) < 1e-3, (time, label)
            elif body == "table":
                assert position[2] < 1e-3
    assert touched >= 1
    depth = recording[policy_path(COLLIDING, "series", "contact_depth_m")]["Scalars:scalars"]
    assert max(value[0] for _, value in depth) > 0.0
    safe = recording[policy_path("analytic+safe", "contacts")]["Points3D:positions"]
    assert not any(positions for _, positions in safe)


def test_the_clearance_and_goal_error_series_equal_steps_csv(recorded, recording):
    for policy in POLICIES:
        rows = steps_of(recorded, policy)
        for entity, column in (("clearance_cad_m", "min_clearance_m"), ("clearance_bound_m", "bound_clearance_m"),
                               ("goal_error_m", "target_error_m")):
            series = recording[policy_path(policy, "series", entity)]["Scalars:scalars"]
            assert [value[0] for _, value in series] == [float(row[column]) for row in rows]
            assert [time for time, _ in series] == pytest.approx([float(row["time_s"]) for row in rows], abs=1e-9)
        joints = recording[policy_path(policy, "joints", "joint2", "target")]["Scalars:scalars"]
        assert [value[0] for _, value in joints] == [float(row["target_joints_rad_1"]) for row in rows]


def _copy_logs(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(RECORDINGS_DIR))
    return target


def test_replay_of_the_results_folder_writes_the_same_recording(recorded, tmp_path, capsys):
    from evaluation.replay import main

    copy = _copy_logs(recorded, tmp_path / "copy")
    assert main([str(copy), "--no-progress"]) == 0
    replayed = copy / RECORDINGS_DIR / KEY.file_name()
    assert str(replayed) in capsys.readouterr().out
    result = subprocess.run([*RERUN_CLI, "rrd", "compare", "--unordered",
                             str(recorded / RECORDINGS_DIR / KEY.file_name()), str(replayed)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_replay_records_the_logged_attributions(recorded, tmp_path):
    """With ``shap/traces.csv`` (what ``--shap`` writes: the network explained at each commanded target),
    every step's 7 x 4 attributions are series and a tensor."""
    from agents.iknet.checkpoint import load_model
    from evaluation.explain.shapley import TraceExplainer
    from evaluation.explain.study import fresh_poses
    from evaluation.replay import main

    copy = _copy_logs(recorded, tmp_path / "copy")
    rows = steps_of(copy, COLLIDING)[10:15]  # a few traced steps (a trace costs ~0.1 s per step)
    targets = np.array([[float(row[f"target_joints_rad_{i}"]) for i in range(4)] for row in rows])
    tracer = TraceExplainer(load_model("improved"), fresh_poses(KEY.seed + 20_011, 16), summary="sample")
    values = tracer.explain(forward_kinematics(clamp_to_limits(targets)))  # (T, 7, 4), as run_shap_study traces
    (copy / SHAP_DIR).mkdir(exist_ok=True)
    append_rows(copy / SHAP_DIR / TRACES_FILE, TRACE_COLUMNS, [
        {"model": COLLIDING, "episode": KEY.episode, "step": row["step"],
         **{column: value for column, value in zip(TRACE_COLUMNS[3:], phi.reshape(-1), strict=True)}}
        for row, phi in zip(rows, values, strict=True)])
    assert main([str(copy), "--no-progress", "--episodes", "0"]) == 0
    recording = read_recording(copy / RECORDINGS_DIR / KEY.file_name())
    logged = np.array([[float(f"{v:.6g}") for v in phi.reshape(-1)] for phi in values])  # as the CSV holds them
    series = recording[policy_path(COLLIDING, "attribution", "joint1", "y")]["Scalars:scalars"]
    assert [time for time, _ in series] == pytest.approx([float(row["time_s"]) for row in rows], abs=1e-9)
    np.testing.assert_allclose([value[0] for _, value in series], logged[:, 1 * 4 + 0], rtol=0, atol=0)
    tensors = recording[policy_path(COLLIDING, "attribution_tensor")]["Tensor:data"]
    assert len(tensors) == len(rows)
    assert tensors[2][1][0]["shape"] == [7, 4]
    np.testing.assert_allclose(tensors[2][1][0]["buffer"], logged[2], rtol=0, atol=0)  # row-major (feature, joint)
    assert not recording.get(policy_path("analytic+safe", "attribution_tensor"))
    views = blueprint_views(copy / RECORDINGS_DIR / KEY.file_name())
    assert (f"{COLLIDING}: attributions now (rad)", "Tensor") in views


@pytest.mark.parametrize(("arguments", "expected"), [
    (["{missing}"], "is not a folder"),
    (["{run}", "--episodes", "7"], "episode 7 is not in"),
    (["{run}", "--episodes", "0-x"], "expected episode numbers"),
])
def test_replay_refuses_bad_input_in_one_line(recorded, tmp_path, capsys, arguments, expected):
    from evaluation.replay import main

    argv = [a.format(missing=tmp_path / "nowhere", run=recorded) for a in arguments]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err


def test_without_rerun_sdk_rerun_names_the_extra_and_exits_2(tmp_path, monkeypatch, capsys):
    """rerun-sdk hidden from the import system: ``run_sim.py --rerun`` refuses (one line) before writing anything."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_sim_under_test", ROOT / "run_sim.py")
    run_sim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_sim)
    monkeypatch.setitem(sys.modules, "rerun", None)  # what Python does for a package that is not installed
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stop:
        run_sim.parse_config(run_sim.build_parser(), ["--models", "analytic", "--episodes", "1", "--rerun",
                                                      "--out", str(out)])
    assert stop.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "run_sim.py: error: rerun-sdk is not installed; install it with: pip install '.[viz]'"
    assert not out.exists()


def test_only_the_recording_module_imports_rerun():
    import grimp

    graph = grimp.build_graph("sim", "agents", "scenarios", "evaluation", include_external_packages=True)
    assert graph.find_modules_that_directly_import("rerun") == {"evaluation.rerun_recording"}

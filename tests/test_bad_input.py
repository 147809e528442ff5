"""Bad input never crashes, hangs or lies, and a user's files are never touched (issue 16).

One test per case the issue lists: scenario files (encoding, huge and long integers, deep
nesting, unbounded counts, physically impossible scenes, FIFOs and folders), the Python API
(kinematics inputs, checkpoints with NaN or huge weights or a disagreeing manifest), output
folders (unrelated files, a user's report, ``--out ""``, run.json after a failed start, resuming
another configuration), message shape (one short line, plain numbers), and signals (SIGINT early
and SIGTERM mid-run: exit 130/143, one line, no traceback, finished episodes kept and resumed).
The seeded fuzz test over the same surfaces is ``tests/test_fuzz.py``.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.iknet.checkpoint import MAX_WEIGHT_MAGNITUDE, load_checkpoint, save_checkpoint
from agents.iknet.models import build_model
from scenarios import get_scenario, load_scenario_file, scenario_from_dict
from sim.errors import (
    MAX_MESSAGE_CHARS,
    CheckpointError,
    InvalidInputError,
    ProjectError,
    SceneFileError,
    UnknownNameError,
    invalid_value,
    show_value,
)
from sim.robot.kinematics import forward_kinematics
from sim.scene.obstacles import Obstacle, Scene
from sim.scene.scene_sampling import SAMPLE_BATCH_BUDGET, check_scene, sample_scene, scene_for_episode

ROOT = Path(__file__).resolve().parents[1]
#: Longest a refused input may take to be refused (s): bounded sampling of an impossible scenario
#: costs ~2 s on one core.
SECONDS_PER_CASE = 8.0


# ------------------------------------------------------------------------------------ helpers
def write(path: Path, body: str | bytes) -> Path:
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return path


def refused(path: Path, *fragments: str) -> str:
    """Load ``path``: it must fail with a SceneFileError of one short line holding ``fragments``."""
    started = time.perf_counter()
    with pytest.raises(SceneFileError) as caught:
        load_scenario_file(path)
    assert time.perf_counter() - started < SECONDS_PER_CASE
    message = str(caught.value)
    assert "\n" not in message and len(message) <= MAX_MESSAGE_CHARS, message
    for fragment in fragments:
        assert fragment in message, message
    return message



def one_error_line(stderr: str) -> str:
    """The one error line of a refused command (argparse's usage lines aside)."""
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, stderr
    assert len(lines[0]) <= MAX_MESSAGE_CHARS + 40, len(lines[0])  # "run_sim.py: error: " + message
    return lines[0]


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


QUICK = ("--models", "analytic", "--episodes", "1", "--max-steps", "3")


# ------------------------------------------------------------------------------ scenario files
def test_scene_files_that_are_not_utf8_toml_give_one_scene_file_error(tmp_path):
    refused(write(tmp_path / "latin1.toml", 'name = "caf\xe9"\n'.encode("latin-1")), "not UTF-8", "line 1")
    refused(write(tmp_path / "nested.toml", b'name = "x"\nk = ' + b"[" * 5000 + b"]" * 5000), "nested too deeply")
    refused(write(tmp_path / "digits.toml", 'name = "x"\nmax_sample_attempts = ' + "9" * 5000), "4300 digits")
    refused(write(tmp_path / "huge.toml", 'name = "x"\nclearance_margin_m = 1' + "0" * 400), "clearance_margin_m")
    refused(write(tmp_path / "int64.toml", 'name = "x"\nmax_sample_attempts = 9223372036854775807'),
            "max_sample_attempts", "[1, 1000]", "9223372036854775807")
    refused(write(tmp_path / "big.toml", 'name = "x"\n' + "#" * 1_000_001), "bytes")
    bom = write(tmp_path / "bom.toml", '\ufeffname = "bom"\n')  # Windows editors write one: harmless
    assert load_scenario_file(bom).name == "bom"


def test_counts_and_attempts_are_bounded_so_nothing_hangs(tmp_path):
    refused(write(tmp_path / "count.toml", 'name = "x"\n[[obstacles]]\ncount = [1, 9223372036854775807]\n'),
            "count[1]", "[0, 32]")
    refused(write(tmp_path / "groups.toml", 'name = "x"\n' + '[[obstacles]]\ncount = [20, 20]\n' * 2), "32")
    refused(write(tmp_path / "scenes.toml", 'name = "x"\nmax_sample_attempts = 0\n'), "max_sample_attempts")
    # An impossible but well-formed scenario fails within the sampling budget, with advice (timed
    # after a first scene, which compiles numba's kernels in a fresh checkout).
    sample_scene(get_scenario("cluttered"), np.random.default_rng(0))
    spec = get_scenario(write(tmp_path / "impossible.toml",
                              'name = "impossible"\nmax_sample_attempts = 1000\n[goal]\nee_z_m = [0.7, 0.8]\n'))
    started = time.perf_counter()
    with pytest.raises(InvalidInputError, match=f"{SAMPLE_BATCH_BUDGET}.*widen"):
        sample_scene(spec, np.random.default_rng(0))
    assert time.perf_counter() - started < SECONDS_PER_CASE


SCENE = 'name = "x"\n[[scenes]]\nstart_joints = {start}\ngoal_joints = [0.5, 0.0, 0.0, 0.0]\n{obstacles}'
HOME = "[0.0, -1.05, 0.35, 0.7]"


def fixed_scene(position: str | None, start: str = HOME) -> str:
    obstacle = ('[[scenes.obstacles]]\nname = "ball"\nkind = "sphere"\nsize = [0.03]\n'
                f"position = {position}\n") if position else "obstacles = []\n"
    return SCENE.format(start=start, obstacles=obstacle)


def test_physically_impossible_scenes_are_refused_before_they_run(tmp_path):
    assert load_scenario_file(write(tmp_path / "fine.toml", fixed_scene("[0.25, -0.15, 0.1]"))).fixed_scenes
    refused(write(tmp_path / "under.toml", fixed_scene("[0.25, -0.15, -0.05]")), "scenes[0]", "under the table")
    refused(write(tmp_path / "base.toml", fixed_scene("[0.0, 0.0, 0.05]")), "'ball'", "robot's base")
    refused(write(tmp_path / "start.toml", fixed_scene("[0.13, 0.0, 0.2]")), "start configuration")
    refused(write(tmp_path / "table.toml", fixed_scene(None, start="[0.0, 1.5, 1.4, 1.9]")), "into the table")
    refused(write(tmp_path / "goal.toml", fixed_scene("[0.28, 0.14, 0.19]")), "goal configuration")
    refused(write(tmp_path / "region.toml", 'name = "x"\n[region]\nz_m = [-0.3, -0.1]\n'), "region.z_m", "[0, 0.8]")
    # Given through the API, the same rules hold; a goal in contact is flagged, not refused.
    start, goal = (0.0, -1.05, 0.35, 0.7), (0.5, 0.0, 0.0, 0.0)
    with pytest.raises(InvalidInputError, match="under the table"):
        scene_for_episode(get_scenario("empty"), np.random.default_rng(0),
                          {"scene": Scene((Obstacle("ball", "sphere", (0.03,), (0.25, -0.15, -0.05)),), start, goal)})
    at_goal = Scene((Obstacle("ball", "sphere", (0.03,), tuple(forward_kinematics(np.array(goal))[:3])),), start, goal)
    assert not check_scene(at_goal).goal_clear


def test_sampled_scenes_obey_the_same_rules():
    for name in ("single", "cluttered", "narrow", "shelf", "dynamic"):
        for seed in range(5):
            assert check_scene(sample_scene(get_scenario(name), np.random.default_rng(seed))).goal_clear


def test_a_fifo_or_a_folder_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    results: dict[str, BaseException | None] = {}

    def load(path: Path) -> None:
        try:
            get_scenario(path)
            results[path.name] = None
        except BaseException as error:  # recorded and checked below
            results[path.name] = error

    for path in (fifo, folder, tmp_path / "missing.toml"):
        thread = threading.Thread(target=load, args=(path,), daemon=True)
        thread.start()
        thread.join(timeout=SECONDS_PER_CASE)
        assert not thread.is_alive(), f"{path.name} blocked"
        assert isinstance(results[path.name], SceneFileError), results[path.name]
    assert "FIFO" in str(results["pipe.toml"]) and "folder" in str(results["folder.toml"])


# ----------------------------------------------------------------------------------- the API
@pytest.mark.parametrize("value", [None, "abc", [1, 2, 3], np.array([1j, 0, 0, 0]), [[1, 2, 3, 4], [1, 2]]])
def test_kinematics_refuse_what_is_not_a_joint_array(value):
    with pytest.raises(InvalidInputError):
        forward_kinematics(value)


@pytest.mark.parametrize("value", [None, 3, b"cluttered", ["cluttered"]])
def test_get_scenario_refuses_what_is_not_a_name_or_path(value):
    with pytest.raises(InvalidInputError, match="scenario"):
        get_scenario(value)


def corrupt_checkpoint(tmp_path: Path, name: str, change) -> Path:
    path = save_checkpoint(build_model("focused"), tmp_path / f"{name}.pt")
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)
    return path


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("nan", lambda p: p["state_dict"]["body.head.0.weight"].__setitem__((0, 0), float("nan")), "NaN"),
        ("inf", lambda p: p["state_dict"]["body.head.0.bias"].__setitem__(0, float("inf")), "NaN or infinite"),
        ("huge", lambda p: p["state_dict"]["body.head.0.weight"].__setitem__((0, 0), 1e30), "1e+30"),
        ("scale", lambda p: p["state_dict"]["input_std"].__setitem__(0, 0.0), "positive scale"),
        ("range", lambda p: p["state_dict"]["joint_half_range"].mul_(3.0), "joint limits"),
        ("dtype", lambda p: p["state_dict"].__setitem__("input_mean", torch.zeros(7, dtype=torch.int64)), "int64"),
        ("shape", lambda p: p["state_dict"].__setitem__("input_mean", torch.zeros(8)), "shape mismatch"),
        ("architecture", lambda p: p.__setitem__("architecture", "original"), "does not fit"),
    ],
)
def test_checkpoints_with_bad_weights_are_refused(tmp_path, name, change, message):
    path = corrupt_checkpoint(tmp_path, name, change)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert message in str(caught.value) and len(str(caught.value)) <= MAX_MESSAGE_CHARS
    assert MAX_WEIGHT_MAGNITUDE < 1e30


def test_a_checkpoint_must_agree_with_its_manifest(tmp_path):
    path = save_checkpoint(build_model("focused"), tmp_path / "mine.pt")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": {"mine": {"checkpoint": "mine.pt", "architecture": "focused"}}}))
    assert load_checkpoint(path).architecture == "focused"
    manifest.write_text(json.dumps({"models": {"mine": {"checkpoint": "mine.pt", "architecture": "improved"}}}))
    with pytest.raises(CheckpointError, match="manifest entry 'mine' says 'improved'"):
        load_checkpoint(path)
    manifest.write_text(json.dumps({"models": {"mine": {"checkpoint": "mine.pt", "architecture": "focused",
                                                        "parameter_count": 12}}}))
    with pytest.raises(CheckpointError, match="says 12"):
        load_checkpoint(path)
    manifest.write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(path)


# ------------------------------------------------------------------------------ message shape
def test_messages_are_one_short_line_with_plain_numbers():
    error = invalid_value("radius_m", [np.float64(0.1), np.float32(0.2)], "two numbers within [0, 0.8]")
    assert str(error) == "radius_m: expected two numbers within [0, 0.8], got [0.1, 0.2]"
    assert show_value(10**5000) == "an integer of about 5001 digits"
    long = UnknownNameError("scenario", "x" * 1_000_000 + "\n\x1b[2J", ["empty"])
    assert len(str(long)) <= MAX_MESSAGE_CHARS and "\n" not in str(long) and "\x1b" not in str(long)
    with pytest.raises(SceneFileError) as caught:
        scenario_from_dict({"name": "x", "region": {"radius_m": [np.float64(0.5), np.float64(0.1)]}})
    assert "np.float64" not in str(caught.value) and "0.5" in str(caught.value)
    assert isinstance(caught.value, InvalidInputError) and isinstance(caught.value, ProjectError)


# ----------------------------------------------------------------------------- output folders
def test_bad_options_exit_2_with_one_short_line(cli, tmp_path):
    cases = [
        (["--out", ""], "--out"),
        (["--seed", "-1"], "[0, 4294967295]"),
        (["--seed", "9" * 5000], "--seed"),
        (["--episodes", str(10**12)], "[1, 100000]"),
        (["--camera", "x" * 1_000_000], "--camera"),
        (["--no-such-flag", "y" * 1_000_000], "unrecognized"),
        (["--scenario", str(tmp_path)], "scenario"),
    ]
    for argv, fragment in cases:
        status, _, stderr = cli(*argv, "--out", str(tmp_path / "never")) if "--out" not in argv else cli(*argv)
        assert status == 2, (argv[:1], stderr[-300:])
        assert fragment in one_error_line(stderr), argv[:1]
    assert not (tmp_path / "never").exists()


def test_folders_holding_other_files_are_refused_and_left_untouched(cli, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "episodes.csv").write_text("model,x\nsomething,1\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.html").write_text("<html>my own report</html>")
    for folder in (foreign, mine):
        before = tree(folder)
        status, _, stderr = cli(*QUICK, "--out", str(folder))
        assert status == 2 and "did not write" in one_error_line(stderr)
        assert tree(folder) == before, "nothing written, nothing changed, no run.json"
        status, _, stderr = cli(*QUICK, "--out", str(folder), "--resume")
        assert status == 2 and tree(folder) == before
    blocker = tmp_path / "a_file"
    blocker.write_text("mine")
    status, _, stderr = cli(*QUICK, "--out", str(blocker))
    assert status == 2 and "not a folder" in one_error_line(stderr) and blocker.read_text() == "mine"


def test_a_failed_start_leaves_no_run_behind_and_resume_needs_the_same_run(cli, tmp_path):
    # Valid file, but too many obstacles for the environment (max_obstacles 8): fails after the
    # checks, at the first episode; the rerun must not be refused as "already holds a run".
    crowded = write(tmp_path / "crowded.toml", 'name = "crowded"\nclearance_margin_m = 0.0\n[[obstacles]]\n'
                                               'kinds = ["sphere"]\ncount = [9, 9]\nradius_m = [0.005, 0.006]\n'
                                               'placement = "uniform"\n')
    out = tmp_path / "run"
    status, _, stderr = cli("--scenario", str(crowded), *QUICK, "--out", str(out))
    assert status == 2 and "max_obstacles" in one_error_line(stderr)
    assert not out.exists(), "the failed start took back its folder and run.json"
    status, _, stderr = cli(*QUICK, "--out", str(out))
    assert status == 0, stderr[-500:]
    before = tree(out)
    for flag, value, field in (("--episodes", "2", "episodes"), ("--seed", "5", "seed"),
                               ("--models", "analytic+safe", "policies"), ("--max-steps", "4", "max_steps")):
        options = {**dict(zip(QUICK[::2], QUICK[1::2], strict=True)), flag: value}
        args = [item for pair in options.items() for item in pair]
        status, _, stderr = cli(*args, "--out", str(out), "--resume")
        assert status == 2 and f"cannot resume: {field}" in one_error_line(stderr), stderr[-300:]
    assert tree(out) == before
    status, _, stderr = cli(*QUICK, "--out", str(out), "--resume")
    assert status == 0, stderr[-500:]
    (out / "notes.txt").write_text("my notes")
    status, _, stderr = cli(*QUICK, "--out", str(out), "--resume")
    assert status == 2 and "notes.txt" in one_error_line(stderr)


# ------------------------------------------------------------------------------------ signals
def start_run(out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run_sim.py"), "--scenario", "cluttered", "--models", "analytic,analytic+safe",
         "--episodes", "6", "--out", str(out), "--no-progress"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(out: Path) -> list[dict[str, str]]:
    path = out / "episodes.csv"
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("steps")]


def assert_clean_stop(process: subprocess.Popen, status: int) -> str:
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == status, (process.returncode, stderr[-3000:])
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-3000:]
    ours = [line for line in stderr.splitlines() if line.strip() and not line.startswith("pybullet build time")]
    assert len(ours) == 1, stderr[-3000:]
    return ours[0]


def test_sigint_early_and_sigterm_mid_run_stop_cleanly_and_resume_exactly(tmp_path):
    early, late = tmp_path / "early", tmp_path / "late"
    first = start_run(early)
    # SIGINT as soon as the run announces itself: it lands while the environment, numba's cached
    # kernels and PyBullet are being loaded, where an exception used to come out as a traceback.
    assert "output" in first.stdout.readline()
    time.sleep(0.3)
    first.send_signal(signal.SIGINT)
    assert "interrupted" in assert_clean_stop(first, 130)
    # The second run starts only now: started beside the first, it could finish all 12 episodes
    # while the first was being waited for, and the SIGTERM would come too late.
    second = start_run(late)
    deadline = time.time() + 240
    while time.time() < deadline and len(finished(late)) < 3:
        time.sleep(0.05)
    second.send_signal(signal.SIGTERM)
    line = assert_clean_stop(second, 143)
    assert "terminated" in line and "--resume" in line
    kept = finished(late)
    assert 3 <= len(kept) < 12
    for out in (early, late):
        if not (out / "run.json").exists():  # stopped before the run began: nothing to resume
            continue
        result = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "--scenario", "cluttered", "--models",
                                 "analytic,analytic+safe", "--episodes", "6", "--out", str(out), "--no-progress",
                                 "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        rows = finished(out)
        keys = [(row["model"], row["episode"]) for row in rows]
        assert len(keys) == len(set(keys)) == 12
    assert finished(late)[: len(kept)] == kept, "finished episodes are kept as written"

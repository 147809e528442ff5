"""Real-robot log evaluation: reading the ROS 2 CSV export, pairing rows, the three reports, bad files, CLI.

Fixture logs are written by :func:`evaluation.real_log_io.write_real_log` from our own forward
kinematics (so the FK column must come out at float precision), with joint names in a different
order on every row and states past ROBOTIS' published limits, as a real arm's logs hold them.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evaluation.real_log import (
    RealLogReport,
    check_forward_kinematics,
    evaluate_real_log,
    evaluate_solvers,
    format_report,
    main,
)
from evaluation.real_log_io import (
    JOINT_STATE_COLUMNS,
    JOINT_STATES_FILE,
    KINEMATICS_POSE_FILE,
    LOGGED_JOINT_NAMES,
    POSE_COLUMNS,
    match_by_timestamp,
    read_real_log,
    write_real_log,
)
from sim.errors import LogFileError, ProjectError, UnknownNameError
from sim.robot.kinematics import analytic_ik, forward_kinematics, limit_violations, sample_joints, within_limits

REPOSITORY = Path(__file__).resolve().parents[2]
#: States past ROBOTIS' published limits, at the extremes a real arm's log holds.
OUT_OF_LIMIT = np.array([
    [0.2, 0.3, -1.8, 0.4],  # joint3 -1.8 (limit -1.5)
    [0.1, -0.2, 0.3, 2.11],  # joint4 2.11 (limit 1.97)
    [-0.3, 0.1, 0.2, -1.79],  # joint4 -1.79 (limit -1.7)
    [math.pi + 0.2, 0.1, 0.2, 0.3],  # joint1 past pi
])
#: A state with link5 and the end effector well below the table (FK z of the end effector -0.099 m).
UNDER_TABLE = np.array([0.0, 1.2, 0.3, 1.0])


def in_limit_states(count: int, seed: int = 7) -> np.ndarray:
    """States on the branch the analytic IK picks (so its joint error is exactly zero), end effector above z = 0.05."""
    rng = np.random.default_rng(seed)
    joints = sample_joints(rng, 8 * count)
    joints = joints[forward_kinematics(joints)[:, 2] > 0.05][:count]
    return analytic_ik(forward_kinematics(joints))


def name_orders(count: int, seed: int = 3) -> list[list[str]]:
    """A different order of the five names on every row (real exporters do not promise one)."""
    rng = np.random.default_rng(seed)
    return [list(rng.permutation(LOGGED_JOINT_NAMES)) for _ in range(count)]


def write_fixture(directory: Path, joints: np.ndarray, *, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A log of ``joints`` at 100 Hz with poses from our FK; returns ``(joints, gripper_m)``."""
    gripper = np.random.default_rng(seed).uniform(-0.010, 0.019, len(joints))
    times_s = 1.7e9 + 0.01 * np.arange(len(joints))
    write_real_log(directory, joints, gripper, forward_kinematics(joints), state_times_s=times_s,
                   name_orders=name_orders(len(joints)))
    return joints, gripper


@pytest.fixture
def mixed_log(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """20 in-limit states, the 4 out-of-limit ones and one under the table, shuffled together."""
    joints = np.vstack([in_limit_states(20), OUT_OF_LIMIT, UNDER_TABLE])
    joints = joints[np.random.default_rng(11).permutation(len(joints))]
    joints, gripper = write_fixture(tmp_path / "log", joints)
    return tmp_path / "log", joints, gripper


def test_files_have_exactly_the_exporter_columns(mixed_log):
    directory, _, _ = mixed_log
    assert (directory / JOINT_STATES_FILE).read_text().splitlines()[0] == ",".join(JOINT_STATE_COLUMNS)
    assert (directory / KINEMATICS_POSE_FILE).read_text().splitlines()[0] == ",".join(POSE_COLUMNS)
    assert JOINT_STATE_COLUMNS[:8] == ("sec", "nanosec", "frame_id", "name0", "name1", "name2", "name3", "name4")
    assert JOINT_STATE_COLUMNS[-1] == "effort4" and len(JOINT_STATE_COLUMNS) == 23
    assert len(POSE_COLUMNS) == 13


def test_joints_are_mapped_by_name_and_fk_matches_at_float_precision(mixed_log):
    directory, joints, gripper = mixed_log
    log = read_real_log(directory)
    assert log.matching == "row" and log.joint_state_rows == log.pose_rows == len(joints)
    np.testing.assert_array_equal(log.joints, joints)  # exact: names mapped, values round-trip
    np.testing.assert_array_equal(log.gripper_m, gripper)
    np.testing.assert_array_equal(log.time_offset_s, 0.0)
    fk = check_forward_kinematics(log)
    assert fk.position_error_mm.max < 1e-6
    assert fk.orientation_error_deg.max < 1e-6
    assert limit_violations(log.joints).any(axis=1).sum() == 4  # out-of-limit rows computed, not rejected


def test_fk_check_measures_a_displaced_pose(tmp_path):
    joints = in_limit_states(10)
    poses = forward_kinematics(joints)
    poses[3, 0] += 0.002  # 2 mm off in x
    write_real_log(tmp_path, joints, np.zeros(10), poses, state_times_s=np.arange(10.0))
    fk = check_forward_kinematics(read_real_log(tmp_path))
    assert abs(fk.position_error_mm.max - 2.0) < 1e-9
    assert fk.position_error_mm.median < 1e-9


def test_full_report_on_a_log_with_out_of_limit_rows(mixed_log):
    directory, joints, gripper = mixed_log
    report = evaluate_real_log(directory)
    count = len(joints)
    assert (report.matched_rows, report.unmatched_joint_states, report.unmatched_poses) == (count, 0, 0)
    # (row counts of out-of-limit states, by joint: joint1 once, joint3 once, joint4 twice)
    assert report.out_of_limit_rows == 4
    assert report.out_of_limit_rows_by_joint == (1, 0, 1, 2)
    assert report.forward_kinematics.position_error_mm.max < 1e-6
    assert report.forward_kinematics.orientation_error_deg.max < 1e-6
    # (b): every registered solver, answers judged raw against the logged joints
    from agents import MODEL_NAMES
    from agents.ik_policy.policy import make_solver, parse_policy, solver_names

    names = [result.name for result in report.solvers]
    assert names == solver_names() and {f"iknet:{model}" for model in MODEL_NAMES} <= set(names)
    analytic = report.solvers[names.index("analytic")]
    assert analytic.out_of_limits_pct == 0.0  # it only returns in-limit solutions
    in_limit = within_limits(joints)
    solved = np.all(np.isfinite(analytic_ik(forward_kinematics(joints))), axis=1)
    assert abs(analytic.failed_pct - 100 * np.mean(~solved)) < 1e-9
    assert solved[in_limit].all()
    assert analytic.failed_pct > 5.0  # so its 95th percentiles fall among the unanswered (infinite) errors
    assert analytic.position_error_mm_p95 == math.inf and analytic.joint_error_deg_p95 == (math.inf,) * 4
    assert analytic.position_error_mm_median < 1e-6
    network = report.solvers[names.index("iknet:improved")]
    answers = make_solver(parse_policy("iknet:improved")).solve(forward_kinematics(joints))
    assert abs(network.out_of_limits_pct - 100 * np.mean(~within_limits(answers, 1e-6))) < 1e-9
    reached_mm = 1e3 * np.linalg.norm(forward_kinematics(answers)[:, :3] - forward_kinematics(joints)[:, :3], axis=1)
    assert abs(network.position_error_mm_median - np.median(reached_mm)) < 1e-6  # raw answers, not clamped
    # (c): the logged states with their logged gripper opening, on the CAD and on the sphere bound
    from sim.robot.cad import measure_states
    from sim.robot.collision import self_clearance, table_clearance

    self_m, table_m = self_clearance(joints, gripper), table_clearance(joints, gripper)
    safety = report.safety
    assert safety.bound_self_collision_rows == int(np.sum(self_m < 0))
    assert safety.bound_below_table_rows == int(np.sum(table_m < 0))
    assert abs(safety.bound_min_table_clearance_mm - 1e3 * table_m.min()) < 1e-9
    assert abs(safety.bound_min_self_clearance_mm - 1e3 * self_m.min()) < 1e-9
    cad = measure_states(joints, gripper)
    assert safety.below_table_rows == int(np.sum(cad.table_m < 0)) >= 1  # UNDER_TABLE is below on the CAD too
    assert abs(safety.below_table_pct - 100 * safety.below_table_rows / count) < 1e-9
    assert abs(safety.min_table_clearance_mm - 1e3 * cad.table_m.min()) < 1e-9
    assert safety.self_contact_rows == int(np.sum(cad.self_m <= 0))
    # The CAD encloses less than the bound: it is never lower than the spheres (which grow by 1.2 mm to hold it).
    assert np.all(cad.table_m >= table_m - 1.2e-3)


def test_analytic_ik_recovers_logged_joints_exactly(tmp_path):
    write_fixture(tmp_path, in_limit_states(30))
    log = read_real_log(tmp_path)
    (analytic,) = evaluate_solvers(log, ["analytic"])
    assert analytic.position_error_mm_p95 < 1e-6
    assert max(analytic.joint_error_deg_p95) < 1e-6
    assert analytic.failed_pct == 0.0 and analytic.out_of_limits_pct == 0.0
    with pytest.raises(UnknownNameError, match="valid choices"):
        evaluate_solvers(log, ["analytc"])


def test_rows_are_paired_by_timestamp_when_counts_differ(tmp_path):
    joints, gripper = np.vstack([in_limit_states(36), OUT_OF_LIMIT]), np.linspace(-0.01, 0.019, 40)
    state_times = 50.0 + 0.01 * np.arange(40)
    keep = np.setdiff1d(np.arange(40), [5, 17])  # two joint states without a pose
    jitter = np.random.default_rng(4).uniform(-0.002, 0.002, len(keep))
    pose_times = np.concatenate([state_times[keep] + jitter, [40.0, 60.0, 70.0]])  # three poses without a state
    poses = np.vstack([forward_kinematics(joints[keep]), forward_kinematics(joints[:3])])
    order = np.argsort(pose_times)  # rows in time order (timestamps running backwards are refused)
    write_real_log(tmp_path, joints, gripper, poses[order], state_times_s=state_times, pose_times_s=pose_times[order])
    log = read_real_log(tmp_path)
    assert log.matching == "timestamp" and (log.joint_state_rows, log.pose_rows) == (40, 41)
    np.testing.assert_array_equal(log.joints, joints[keep])
    np.testing.assert_array_equal(log.gripper_m, gripper[keep])
    np.testing.assert_allclose(log.time_offset_s, -jitter, atol=2e-9)
    assert check_forward_kinematics(log).position_error_mm.max < 1e-6
    report = evaluate_real_log(tmp_path, solver_names=["analytic"])
    assert (report.matched_rows, report.unmatched_joint_states, report.unmatched_poses) == (38, 2, 3)
    assert report.out_of_limit_rows == 4 and report.max_time_offset_ms <= 2.0 + 1e-6
    narrow = read_real_log(tmp_path, time_tolerance_s=0.001)
    assert len(narrow.joints) == int(np.sum(np.abs(jitter) <= 0.001))
    with pytest.raises(LogFileError, match="no joint state lies within 0 ms"):
        read_real_log(tmp_path, time_tolerance_s=0.0)


def test_timestamp_matching_is_one_to_one():
    states = np.array([0, 10, 20, 30]) * 1_000_000
    poses = np.array([9, 11, 12, 29, 100]) * 1_000_000  # three poses nearest to the state at 10 ms
    state_index, pose_index = match_by_timestamp(states, poses, 5_000_000)
    assert state_index.tolist() == [1, 3] and pose_index.tolist() == [0, 3]  # 9 ms wins (tie broken by row), 29 ms
    assert len(set(state_index.tolist())) == len(state_index)
    state_index, pose_index = match_by_timestamp(states, poses, 1_000_000)
    assert state_index.tolist() == [1, 3] and pose_index.tolist() == [0, 3]


def logged_motion(count: int, seed: int = 21) -> np.ndarray:
    """(count, 4) in-limit states of a log (the rows of a recording at 100 Hz)."""
    return in_limit_states(count, seed)


def refused_in_one_line(directory: Path, capsys, *fragments: str, **options) -> str:
    """Reading and the command line both refuse ``directory`` with one line holding ``fragments``."""
    with pytest.raises(LogFileError) as error:
        read_real_log(directory, **options)
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    if not options:
        assert main([str(directory), "--solvers", "analytic"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and message in err
    return message


def test_timestamps_running_backwards_are_refused(tmp_path, capsys):
    """Equal counts, joint states' times reversed (the rows kept): paired in file order the pairs lie
    up to 590 ms apart and a displacement of centimetres is reported as FK error; refused instead."""
    joints = logged_motion(60)
    times = 1.7e9 + 0.01 * np.arange(60)
    write_real_log(tmp_path, joints, np.zeros(60), forward_kinematics(joints), state_times_s=times[::-1],
                   pose_times_s=times)
    refused_in_one_line(tmp_path, capsys, f"{JOINT_STATES_FILE} line 3: timestamp", "runs 10 ms backwards from line 2",
                        "must not decrease")
    write_real_log(tmp_path, joints, np.zeros(60), forward_kinematics(joints), state_times_s=times,
                   pose_times_s=times[::-1])
    refused_in_one_line(tmp_path, capsys, f"{KINEMATICS_POSE_FILE} line 3", "runs 10 ms backwards")
    swapped = times.copy()
    swapped[[20, 21]] = swapped[[21, 20]]  # two rows out of order in the middle
    write_real_log(tmp_path, joints, np.zeros(60), forward_kinematics(joints), state_times_s=swapped,
                   pose_times_s=times)
    refused_in_one_line(tmp_path, capsys, f"{JOINT_STATES_FILE} line 23", "runs 10 ms backwards from line 22")
    # Equal timestamps (a repeated stamp) do not run backwards: paired one to one.
    repeated = times.copy()
    repeated[31] = repeated[30]
    write_real_log(tmp_path, joints, np.zeros(60), forward_kinematics(joints), state_times_s=repeated,
                   pose_times_s=repeated)
    assert len(read_real_log(tmp_path).joints) == 60


def test_equal_counts_with_shifted_timestamps_pair_by_time(tmp_path):
    """Poses logged one period (10 ms) after their joint states, as many rows in each file: pose k
    belongs to joint state k + 1, which row-by-row pairing missed (the FK error was that motion)."""
    count = 50
    joints = logged_motion(count + 1)
    state_times = 1.7e9 + 0.01 * np.arange(count)
    jitter = np.random.default_rng(8).uniform(-0.003, 0.003, count)
    pose_times = state_times + 0.01 + jitter  # pose k at state k + 1's time, give or take 3 ms
    poses = forward_kinematics(joints[1:])  # pose k: FK of state k + 1 (the last one never logged as a state)
    gripper = np.linspace(0.0, 0.01, count)
    write_real_log(tmp_path, joints[:count], gripper, poses, state_times_s=state_times, pose_times_s=pose_times)
    log = read_real_log(tmp_path)
    assert log.matching == "timestamp" and (log.joint_state_rows, log.pose_rows) == (count, count)
    np.testing.assert_array_equal(log.joints, joints[1:count])
    np.testing.assert_array_equal(log.gripper_m, gripper[1:])
    np.testing.assert_array_equal(log.poses, poses[:-1])
    np.testing.assert_allclose(log.time_offset_s, -jitter[:-1], atol=1e-6)  # float seconds near 1.7e9 s
    assert check_forward_kinematics(log).position_error_mm.max < 1e-6
    report = evaluate_real_log(tmp_path, solver_names=["analytic"])
    assert (report.matched_rows, report.unmatched_joint_states, report.unmatched_poses) == (count - 1, 1, 1)
    assert "dropped 1 joint states and 1 poses" in format_report(report)
    write_real_log(tmp_path, joints[:count], gripper, forward_kinematics(joints[:count]), state_times_s=state_times,
                   pose_times_s=state_times + jitter)  # the same motion, aligned: every row with its own
    assert read_real_log(tmp_path).matching == "row"


def test_a_planted_590_ms_offset_is_refused_or_reported(tmp_path, capsys):
    """The issue's 590 ms: a pose clock 590 ms late (equal counts) pairs only 41 of 100 rows, so
    the log is refused naming the file, its first unpaired line and the tolerance; one joint state
    planted 590 ms late runs the next one backwards; a late last row is only dropped and counted."""
    count = 100
    joints = logged_motion(count)
    times = 1.7e9 + 0.01 * np.arange(count)
    write_real_log(tmp_path, joints, np.zeros(count), forward_kinematics(joints), state_times_s=times,
                   pose_times_s=times + 0.59)
    refused_in_one_line(tmp_path, capsys, f"{KINEMATICS_POSE_FILE}: 59 of 100 rows have no joint state within the "
                        "5 ms tolerance (first: line 43, nearest 10 ms away), more than the 50% allowed")
    loose = read_real_log(tmp_path, max_unpaired_fraction=1.0)  # asked for: the 41 pairs the timestamps give
    assert len(loose.joints) == 41 and np.max(np.abs(loose.time_offset_s)) < 1e-6
    np.testing.assert_array_equal(loose.joints, joints[59:])
    refused_in_one_line(tmp_path, capsys, "59 of 100", "more than the 0% allowed", max_unpaired_fraction=0.0)
    planted = times.copy()
    planted[10] += 0.59
    write_real_log(tmp_path, joints, np.zeros(count), forward_kinematics(joints), state_times_s=planted,
                   pose_times_s=times)
    refused_in_one_line(tmp_path, capsys, f"{JOINT_STATES_FILE} line 13: timestamp",
                        "runs 580 ms backwards from line 12")
    planted = times.copy()
    planted[-1] += 0.59
    write_real_log(tmp_path, joints, np.zeros(count), forward_kinematics(joints), state_times_s=planted,
                   pose_times_s=times)
    report = evaluate_real_log(tmp_path, solver_names=["analytic"])
    assert (report.matched_rows, report.unmatched_joint_states, report.unmatched_poses) == (count - 1, 1, 1)
    assert report.max_time_offset_ms == 0.0 and report.forward_kinematics.position_error_mm.max < 1e-6
    for bad in ("-0.1", "1.5", "nan"):
        with pytest.raises(SystemExit) as stop:
            main([str(tmp_path), "--max-unpaired-fraction", bad])
        assert stop.value.code == 2
        assert "--max-unpaired-fraction must lie within [0, 1]" in capsys.readouterr().err


def good_log(directory: Path) -> Path:
    write_fixture(directory, np.vstack([in_limit_states(4), OUT_OF_LIMIT[:1]]))
    return directory


def replace_in(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, count))


def drop_column(path: Path, column: str) -> None:
    lines = [line.split(",") for line in path.read_text().splitlines()]
    index = lines[0].index(column)
    path.write_text("\n".join(",".join(cells[:index] + cells[index + 1:]) for cells in lines) + "\n")


def set_cell(path: Path, line: int, column: str, value: str) -> None:
    lines = [line.split(",") for line in path.read_text().splitlines()]
    lines[line - 1][lines[0].index(column)] = value
    path.write_text("\n".join(",".join(cells) for cells in lines) + "\n")


STATES, POSES = JOINT_STATES_FILE, KINEMATICS_POSE_FILE
BAD_FILES = {
    "missing joint states": (lambda d: (d / STATES).unlink(), "joint_states.csv does not exist"),
    "missing poses": (lambda d: (d / POSES).unlink(), "kinematics_pose.csv does not exist"),
    "directory instead of file": (lambda d: ((d / POSES).unlink(), (d / POSES).mkdir()), "is a directory"),
    "missing column": (lambda d: drop_column(d / STATES, "position2"), "missing column position2"),
    "missing pose column": (lambda d: drop_column(d / POSES, "orientation_w"), "missing column orientation_w"),
    "non-numeric value": (lambda d: set_cell(d / STATES, 3, "position1", "abc"),
                          "joint_states.csv line 3, column position1: 'abc' is not a number"),
    "empty value": (lambda d: set_cell(d / POSES, 2, "position_z", ""), "line 2, column position_z: '' is not"),
    "non-finite value": (lambda d: set_cell(d / STATES, 4, "position0", "nan"), "'nan' is not a finite number"),
    "empty file": (lambda d: (d / STATES).write_text(""), "joint_states.csv is empty"),
    "blank file": (lambda d: (d / POSES).write_text("\n \n"), "kinematics_pose.csv is empty"),
    "header only": (lambda d: (d / POSES).write_text(",".join(POSE_COLUMNS) + "\n"), "no data rows"),
    "not UTF-8": (lambda d: (d / STATES).write_bytes((d / STATES).read_bytes().replace(b"joint2", b"joint\xe92")),
                  "joint_states.csv is not UTF-8 text"),
    "mismatched joint names": (lambda d: replace_in(d / STATES, "joint4", "joint5"),
                               "joint names .*joint5.* do not match joint1, joint2, joint3, joint4, gripper"),
    "duplicated joint name": (lambda d: replace_in(d / STATES, "joint3", "joint1"), "do not match"),
    "ragged row": (lambda d: set_cell(d / POSES, 2, "tolerance", "0.01,5"), "line 2: 14 values for 13 columns"),
    "non-unit quaternion": (lambda d: set_cell(d / POSES, 3, "orientation_w", "3.0"), "line 3: orientation quaternion"),
    "missing folder": (lambda d: shutil.rmtree(d), "log folder .* does not exist"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_raise_one_clear_line(tmp_path, case, capsys):
    directory = good_log(tmp_path / "log")
    spoil, message = BAD_FILES[case]
    spoil(directory)
    with pytest.raises(LogFileError, match=message) as error:
        read_real_log(directory)
    assert isinstance(error.value, ProjectError) and "\n" not in str(error.value)
    assert main([str(directory), "--solvers", "analytic"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("python -m evaluation.real_log: error: ")
    assert str(error.value) in err


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evaluation.real_log", *args], cwd=REPOSITORY,
                          capture_output=True, text=True, timeout=120, check=False)


def test_cli_reports_good_data_and_writes_json(mixed_log, tmp_path):
    directory, joints, _ = mixed_log
    result = run_cli(str(directory), "--json", str(tmp_path / "report.json"))
    assert result.returncode == 0, result.stderr
    assert "(a) our forward kinematics" in result.stdout and "| iknet:improved |" in result.stdout
    assert f"outside ROBOTIS' published joint limits: 4 of {len(joints)}" in result.stdout
    data = json.loads((tmp_path / "report.json").read_text())  # strict JSON
    assert data["matched_rows"] == len(joints) and data["out_of_limit_rows_by_joint"] == [1, 0, 1, 2]
    assert data["forward_kinematics"]["position_error_mm"]["max"] < 1e-6
    assert [solver["name"] for solver in data["solvers"]][:2] == ["analytic", "pybullet-ik"]
    assert data["solvers"][0]["position_error_mm_p95"] is None  # +inf (unanswered poses) is null in JSON
    assert set(data) == {field.name for field in RealLogReport.__dataclass_fields__.values()}


def test_cli_bad_data_exits_2_with_one_line_and_no_traceback(tmp_path):
    directory = good_log(tmp_path / "log")
    replace_in(directory / STATES, "gripper", "finger")
    result = run_cli(str(directory))
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "joint names" in result.stderr
    result = run_cli(str(tmp_path / "nowhere"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "does not exist" in result.stderr


def test_cli_help_explains_the_format():
    result = run_cli("--help")
    assert result.returncode == 0
    for text in ("joint_states.csv", "kinematics_pose.csv", "name0..name4", "orientation_w", "gripper", "--json"):
        assert text in result.stdout

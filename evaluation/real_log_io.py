"""Read and write a real OpenManipulator-X's ROS 2 log as two CSV files (the format
``python -m evaluation.real_log --help`` describes), and pair its rows.

``joint_states.csv`` holds the joints by name (``joint1..joint4`` in rad, ``gripper`` in m) and
``kinematics_pose.csv`` the controller's end-effector pose. Rows pair one to one by nearest
timestamp within a tolerance, never by their place in the file: equal row counts prove nothing
(a file shifted by one period, or with its times reversed, has as many rows). Timestamps must not
run backwards within a file; rows without a partner within the tolerance are dropped and counted,
and a log where more than :data:`DEFAULT_MAX_UNPAIRED_FRACTION` of the smaller file's rows find
none (clocks that disagree, a tolerance too tight) is refused. Bad files raise
:class:`~sim.errors.LogFileError` with one line naming the file, line and column (or tolerance).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from sim.errors import LogFileError
from sim.robot.kinematics import JOINT_NAMES

JOINT_STATES_FILE = "joint_states.csv"
KINEMATICS_POSE_FILE = "kinematics_pose.csv"
GRIPPER_NAME = "gripper"
#: Names the ``name0..name4`` columns must hold, in any order, on every row.
LOGGED_JOINT_NAMES: tuple[str, ...] = (*JOINT_NAMES, GRIPPER_NAME)
_SLOTS = range(len(LOGGED_JOINT_NAMES))
#: Every column of each file, in the exporter's order.
JOINT_STATE_COLUMNS: tuple[str, ...] = (
    "sec", "nanosec", "frame_id", *(f"{kind}{i}" for kind in ("name", "position", "velocity", "effort") for i in _SLOTS)
)
POSE_COLUMNS: tuple[str, ...] = (
    "sec", "nanosec", "frame_id", "position_x", "position_y", "position_z", "orientation_x", "orientation_y",
    "orientation_z", "orientation_w", "max_accelerations_scaling_factor", "max_velocity_scaling_factor", "tolerance",
)
_STATE_READ = ("sec", "nanosec", *(f"name{i}" for i in _SLOTS), *(f"position{i}" for i in _SLOTS))
_POSE_READ = ("sec", "nanosec", *POSE_COLUMNS[3:10])
#: Default pairing tolerance (s): half the 10 ms control period of ROBOTIS' controller.
DEFAULT_TIME_TOLERANCE_S = 0.005
#: Default largest share of the smaller file's rows that may find no partner within the tolerance;
#: past it the two files do not describe the same motion at the same times and the log is refused.
DEFAULT_MAX_UNPAIRED_FRACTION = 0.5
_NS = 1_000_000_000


@dataclass(frozen=True, eq=False)
class RealLog:
    """Paired rows of a recording: ``joints[i]`` and ``gripper_m[i]`` were logged with ``poses[i]``.

    Attributes:
        joints: (N, 4) logged joint1..joint4 angles (rad), possibly outside the joint limits.
        gripper_m: (N,) logged finger joint positions (m).
        poses: (N, 7) logged controller poses ``[x, y, z, qx, qy, qz, qw]`` (m, base frame).
        time_offset_s: (N,) joint-state time minus pose time of each pair (s).
        joint_state_rows / pose_rows: data rows in each file.
        matching: how the timestamps paired the rows: ``"row"`` when every row of each file found
            the row of the same place in the other (aligned files), else ``"timestamp"``.
        time_tolerance_s: the largest time offset a pair may have (s).
    """

    joints: np.ndarray
    gripper_m: np.ndarray
    poses: np.ndarray
    time_offset_s: np.ndarray
    joint_state_rows: int
    pose_rows: int
    matching: Literal["row", "timestamp"]
    time_tolerance_s: float


def _read_table(path: Path, required: Sequence[str]) -> tuple[list[list[str]], dict[str, int], list[int]]:
    """Rows (as strings), column index by name and line numbers of a CSV file, or a LogFileError."""
    if path.is_dir():
        raise LogFileError(f"{path} is a directory, expected a CSV file")
    if not path.exists():
        raise LogFileError(f"{path} does not exist; a log folder holds {JOINT_STATES_FILE} and {KINEMATICS_POSE_FILE}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LogFileError(f"{path} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset "
                           f"{error.start})") from None
    except OSError as error:
        raise LogFileError(f"{path} cannot be read: {error.strerror or error}") from None
    if not text.strip():
        raise LogFileError(f"{path} is empty; expected a header line naming the columns {', '.join(required)}")
    reader = csv.reader(text.splitlines())
    header = [name.strip() for name in next(reader)]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise LogFileError(f"{path}: column {', '.join(duplicated)} appears twice in the header")
    missing = [name for name in required if name not in header]
    if missing:
        raise LogFileError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                           f"(the header has {', '.join(header)})")
    rows, lines = [], []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise LogFileError(f"{path} line {reader.line_num}: {len(row)} values for {len(header)} columns")
        rows.append(row)
        lines.append(reader.line_num)
    if not rows:
        raise LogFileError(f"{path} has a header but no data rows")
    return rows, {name: header.index(name) for name in required}, lines


def _numbers(path: Path, rows: list[list[str]], lines: list[int], column: int, name: str) -> np.ndarray:
    """One column as finite float64 values, or a LogFileError naming the line and column."""
    values = np.empty(len(rows))
    for i, row in enumerate(rows):
        text = row[column].strip()
        try:
            values[i] = float(text)
        except ValueError:
            raise LogFileError(f"{path} line {lines[i]}, column {name}: {text!r} is not a number") from None
        if not math.isfinite(values[i]):
            raise LogFileError(f"{path} line {lines[i]}, column {name}: {text!r} is not a finite number")
    return values


def _times_ns(path: Path, rows: list[list[str]], lines: list[int], columns: dict[str, int]) -> np.ndarray:
    """(N,) int64 timestamps (ns) from the ``sec`` and ``nanosec`` columns."""
    sec = _numbers(path, rows, lines, columns["sec"], "sec")
    nanosec = _numbers(path, rows, lines, columns["nanosec"], "nanosec")
    for name, values, low, high in (("sec", sec, -2.0**31, 2.0**31), ("nanosec", nanosec, 0.0, 2.0**32)):
        outside = np.flatnonzero((values < low) | (values >= high))
        if len(outside):  # builtin_interfaces/Time: int32 sec, uint32 nanosec
            raise LogFileError(f"{path} line {lines[outside[0]]}, column {name}: {values[outside[0]]:g} is outside "
                               f"a ROS 2 time's range [{low:g}, {high:g})")
    whole = np.floor(sec)
    return whole.astype(np.int64) * _NS + np.round((sec - whole) * _NS + nanosec).astype(np.int64)


def _check_time_order(path: Path, times_ns: np.ndarray, lines: list[int]) -> None:
    """Refuse a file whose timestamps run backwards (a pair found by time would then be arbitrary)."""
    backwards = np.flatnonzero(np.diff(times_ns) < 0)
    if len(backwards):
        row = int(backwards[0]) + 1
        step_ms = (times_ns[row - 1] - times_ns[row]) / 1e6
        stamp = f"{times_ns[row] // _NS}.{times_ns[row] % _NS:09d}"
        raise LogFileError(f"{path} line {lines[row]}: timestamp {stamp} s runs {step_ms:.4g} ms backwards from line "
                           f"{lines[row - 1]}; timestamps must not decrease within a file (rows are paired by time)")


def _read_joint_states(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    rows, columns, lines = _read_table(path, _STATE_READ)
    positions = np.stack([_numbers(path, rows, lines, columns[f"position{i}"], f"position{i}") for i in _SLOTS], -1)
    order = np.empty((len(rows), len(LOGGED_JOINT_NAMES)), dtype=np.int64)  # slot of each logged joint
    expected = set(LOGGED_JOINT_NAMES)
    for i, row in enumerate(rows):
        names = [row[columns[f"name{slot}"]].strip() for slot in _SLOTS]
        if set(names) != expected or len(set(names)) != len(names):
            raise LogFileError(f"{path} line {lines[i]}: joint names {', '.join(names)} do not match "
                               f"{', '.join(LOGGED_JOINT_NAMES)} (each once, any order)")
        order[i] = [names.index(name) for name in LOGGED_JOINT_NAMES]
    by_name = np.take_along_axis(positions, order, axis=1)
    times_ns = _times_ns(path, rows, lines, columns)
    _check_time_order(path, times_ns, lines)
    return times_ns, by_name[:, :4], by_name[:, 4], lines


def read_joint_states(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read ``joint_states.csv``: joints mapped by name, not by column position.

    Args:
        path: the CSV file.

    Returns:
        ``(times_ns, joints, gripper_m)``: (N,) int64 ns, never decreasing; (N, 4) joint1..joint4
        (rad); (N,) m.

    Raises:
        LogFileError: missing, unreadable, non-UTF-8 or empty file, missing column, a value that
            is not a finite number, a row whose names are not joint1..joint4 and gripper, or a
            timestamp earlier than the row before.
    """
    return _read_joint_states(Path(path))[:3]


def _read_kinematics_poses(path: Path) -> tuple[np.ndarray, np.ndarray, list[int]]:
    rows, columns, lines = _read_table(path, _POSE_READ)
    poses = np.stack([_numbers(path, rows, lines, columns[name], name) for name in _POSE_READ[2:]], -1)
    norms = np.linalg.norm(poses[:, 3:], axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > 1e-2)
    if len(bad):
        raise LogFileError(f"{path} line {lines[bad[0]]}: orientation quaternion has norm {norms[bad[0]]:.4g}, "
                           f"expected a unit quaternion")
    times_ns = _times_ns(path, rows, lines, columns)
    _check_time_order(path, times_ns, lines)
    return times_ns, poses, lines


def read_kinematics_poses(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read ``kinematics_pose.csv``.

    Args:
        path: the CSV file.

    Returns:
        ``(times_ns, poses)``: (N,) int64 ns, never decreasing, and (N, 7)
        ``[x, y, z, qx, qy, qz, qw]`` (m).

    Raises:
        LogFileError: as :func:`read_joint_states`, or a quaternion whose norm is not 1 +- 0.01.
    """
    return _read_kinematics_poses(Path(path))[:2]


def match_by_timestamp(state_times_ns: np.ndarray, pose_times_ns: np.ndarray,
                       tolerance_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair rows one to one by nearest timestamp.

    Each pose's neighbouring joint states in time (the one before it and the two at or after it,
    so a repeated stamp still finds both rows) are candidates if within ``tolerance_ns``;
    candidates are accepted closest first, each row used at most once.

    Args:
        state_times_ns: (S,) joint-state times (ns), any order.
        pose_times_ns: (P,) pose times (ns), any order.
        tolerance_ns: largest accepted |time difference| (ns).

    Returns:
        ``(state_index, pose_index)``: (K,) row indices of the pairs, in pose-time order.
    """
    order = np.argsort(state_times_ns, kind="stable")
    position = np.searchsorted(state_times_ns[order], pose_times_ns)
    pose_rows, state_rows, gaps = [], [], []
    for shift in (-1, 0, 1):
        state = order[np.clip(position + shift, 0, len(order) - 1)]
        gap = np.abs(state_times_ns[state] - pose_times_ns)
        near = gap <= tolerance_ns
        pose_rows.append(np.flatnonzero(near))
        state_rows.append(state[near])
        gaps.append(gap[near])
    pose_rows_all, state_rows_all, gaps_all = (np.concatenate(parts) for parts in (pose_rows, state_rows, gaps))
    used_state = np.zeros(len(state_times_ns), dtype=bool)
    used_pose = np.zeros(len(pose_times_ns), dtype=bool)
    pairs = []
    for k in np.lexsort((pose_rows_all, gaps_all)):
        state, pose = state_rows_all[k], pose_rows_all[k]
        if not used_state[state] and not used_pose[pose]:
            used_state[state] = used_pose[pose] = True
            pairs.append((pose_times_ns[pose], pose, state))
    pairs.sort()
    return (np.array([p[2] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64))


def read_real_log(directory: str | Path, *, time_tolerance_s: float = DEFAULT_TIME_TOLERANCE_S,
                  max_unpaired_fraction: float = DEFAULT_MAX_UNPAIRED_FRACTION) -> RealLog:
    """Read a log folder and pair its rows by timestamp (see the module docstring for the format).

    Every pose is paired with the nearest joint state in time, one to one, if they lie within
    ``time_tolerance_s``; rows left without a partner are dropped (and counted by the report).

    Args:
        directory: folder holding ``joint_states.csv`` and ``kinematics_pose.csv``.
        time_tolerance_s: largest time offset (s) of a pair.
        max_unpaired_fraction: largest share, within [0, 1], of the smaller file's rows that may
            find no partner.

    Returns:
        :class:`RealLog`.

    Raises:
        LogFileError: a missing folder or a bad file (see :func:`read_joint_states`), timestamps
            that run backwards within a file, no pair within the tolerance, or more unpaired rows
            than ``max_unpaired_fraction`` allows (the message names the file, its first unpaired
            line and the tolerance).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise LogFileError(f"log folder {directory} does not exist or is not a folder")
    if not (time_tolerance_s >= 0 and math.isfinite(time_tolerance_s)):
        raise LogFileError(f"time tolerance must be a finite number >= 0 s, got {time_tolerance_s}")
    if not 0.0 <= max_unpaired_fraction <= 1.0:
        raise LogFileError(f"max_unpaired_fraction must lie within [0, 1], got {max_unpaired_fraction}")
    state_times, joints, gripper, state_lines = _read_joint_states(directory / JOINT_STATES_FILE)
    pose_times, poses, pose_lines = _read_kinematics_poses(directory / KINEMATICS_POSE_FILE)
    tolerance_ms = time_tolerance_s * 1e3
    state_index, pose_index = match_by_timestamp(state_times, pose_times, round(time_tolerance_s * _NS))
    if not len(state_index):
        raise LogFileError(f"{directory}: no joint state lies within {tolerance_ms:g} ms of a pose "
                           f"({len(state_times)} joint states, {len(pose_times)} poses); check the timestamps")
    # The smaller file (poses on a tie) should find a partner for nearly every row.
    if len(pose_times) <= len(state_times):
        name, times, lines, paired, other_name, other_times = (
            KINEMATICS_POSE_FILE, pose_times, pose_lines, pose_index, "joint state", state_times)
    else:
        name, times, lines, paired, other_name, other_times = (
            JOINT_STATES_FILE, state_times, state_lines, state_index, "pose", pose_times)
    unpaired = np.setdiff1d(np.arange(len(times)), paired)
    if len(unpaired) > max_unpaired_fraction * len(times):
        first = int(unpaired[0])
        nearest = np.searchsorted(other_times, times[first])
        neighbours = other_times[[max(nearest - 1, 0), min(nearest, len(other_times) - 1)]]
        gap_ms = float(np.min(np.abs(neighbours - times[first]))) / 1e6
        raise LogFileError(
            f"{directory / name}: {len(unpaired)} of {len(times)} rows have no {other_name} within the "
            f"{tolerance_ms:g} ms tolerance (first: line {lines[first]}, nearest {gap_ms:.4g} ms away), more than "
            f"the {max_unpaired_fraction:.0%} allowed; the two clocks disagree or the tolerance is too tight")
    aligned = len(state_times) == len(pose_times) == len(state_index) and bool(np.all(state_index == pose_index))
    matching: Literal["row", "timestamp"] = "row" if aligned else "timestamp"
    offset_s = (state_times[state_index] - pose_times[pose_index]) / _NS
    return RealLog(joints[state_index], gripper[state_index], poses[pose_index], offset_s,
                   len(state_times), len(pose_times), matching, float(time_tolerance_s))


def write_real_log(directory: str | Path, joints: np.ndarray, gripper_m: np.ndarray, poses: np.ndarray, *,
                   state_times_s: np.ndarray, pose_times_s: np.ndarray | None = None,
                   name_orders: Sequence[Sequence[str]] | None = None) -> None:
    """Write a log in the exporter's CSV format (for tests and synthetic logs), values round-trip exact.

    Args:
        directory: folder to write ``joint_states.csv`` and ``kinematics_pose.csv`` into (created).
        joints: (S, 4) joint1..joint4 (rad); gripper_m: (S,) finger joint (m).
        poses: (P, 7) ``[x, y, z, qx, qy, qz, qw]`` (m, base frame).
        state_times_s: (S,) joint-state times (s); pose_times_s: (P,) pose times (s), default the same.
        name_orders: per joint-state row, the order of :data:`LOGGED_JOINT_NAMES` in the name
            columns (default joint1..joint4, gripper).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    joints, gripper_m, poses = np.asarray(joints), np.asarray(gripper_m), np.asarray(poses)
    pose_times_s = state_times_s if pose_times_s is None else pose_times_s

    def stamp(seconds: float) -> list[str]:
        total_ns = round(float(seconds) * _NS)
        return [str(total_ns // _NS), str(total_ns % _NS), "world"]

    with open(directory / JOINT_STATES_FILE, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(JOINT_STATE_COLUMNS)
        for i, (q, gripper) in enumerate(zip(joints, gripper_m, strict=True)):
            names = list(name_orders[i]) if name_orders is not None else list(LOGGED_JOINT_NAMES)
            value = dict(zip(LOGGED_JOINT_NAMES, [*q, gripper], strict=True))
            writer.writerow([*stamp(state_times_s[i]), *names, *(repr(float(value[n])) for n in names),
                             *(["0.0"] * 5), *(["0.0"] * 5)])
    with open(directory / KINEMATICS_POSE_FILE, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(POSE_COLUMNS)
        for i, pose in enumerate(poses):
            writer.writerow([*stamp(pose_times_s[i]), *(repr(float(v)) for v in pose), "0.0", "0.0", "0.01"])


# -------------------------------------------------------------------------------- evaluation

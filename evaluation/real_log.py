"""Judge the project's kinematics, IK solvers and safety model on a real OpenManipulator-X's log.

A ROS 2 recording exported as two CSV files in one folder (the format :func:`write_real_log`
writes and ``python -m evaluation.real_log --help`` describes):

- ``joint_states.csv``: ``sec, nanosec, frame_id, name0..name4, position0..position4,
  velocity0..velocity4, effort0..effort4``; the five joints are ``joint1..joint4`` (rad) and
  ``gripper`` (the finger joint, m) in the order the ``name`` columns give, row by row;
- ``kinematics_pose.csv``: ``sec, nanosec, frame_id, position_x, position_y, position_z,
  orientation_x, orientation_y, orientation_z, orientation_w, max_accelerations_scaling_factor,
  max_velocity_scaling_factor, tolerance``: the controller's end-effector pose (m, base frame).

Only the time, name, position and orientation columns are read; the rest may be absent. Rows are
paired one to one when both files hold the same number, else by nearest timestamp within a
tolerance (default 5 ms, half the 10 ms control period of ROBOTIS' controller; unpaired rows are
dropped and counted). The report (:class:`RealLogReport`) gives:

(a) our forward kinematics of the logged joints against the logged pose (mm, deg);
(b) every IK solver of :func:`agents.ik_policy.policy.solver_names` (analytic, PyBullet, each
    shipped IKNet) on the logged poses, judged by :func:`agents.iknet.ik_eval.evaluate_ik` on the
    raw answers: position error, joint error against the logged joints, share outside the limits;
(c) the share of logged states the safety model (:mod:`sim.collision`) finds in self-collision
    or below the table: a real arm never is, so anything else flags the geometry.

Logged states may lie outside ROBOTIS' published joint limits (a real arm's do); they are counted,
never rejected. Bad files raise :class:`~sim.errors.LogFileError` with one line naming the file,
line and column; the command line prints it and exits with status 2.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sim.errors import LogFileError, ProjectError, UnknownNameError
from sim.kinematics import JOINT_NAMES, forward_kinematics, limit_violations
from sim.transforms import quat_angle

if TYPE_CHECKING:
    from agents.iknet.ik_eval import IKAccuracy

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
        matching: ``"row"`` (equal counts, paired in file order) or ``"timestamp"``.
        time_tolerance_s: the largest time offset a timestamp pair may have (s).
    """

    joints: np.ndarray
    gripper_m: np.ndarray
    poses: np.ndarray
    time_offset_s: np.ndarray
    joint_state_rows: int
    pose_rows: int
    matching: Literal["row", "timestamp"]
    time_tolerance_s: float


@dataclass(frozen=True)
class ErrorSummary:
    """Median, 95th percentile and maximum of an error (unit named by the field holding it)."""

    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: np.ndarray) -> ErrorSummary:
        """Summary of (N,) errors, N >= 1."""
        return cls(float(np.median(values)), float(np.percentile(values, 95)), float(np.max(values)))


@dataclass(frozen=True)
class ForwardKinematicsCheck:
    """(a) Our FK of the logged joints against the logged controller pose."""

    position_error_mm: ErrorSummary
    orientation_error_deg: ErrorSummary  #: geodesic angle (:func:`sim.transforms.quat_angle`)


@dataclass(frozen=True)
class SafetyCheck:
    """(c) The safety model of :mod:`sim.collision` on the logged states.

    Attributes:
        self_collision_rows / self_collision_pct: states whose self clearance is negative.
        below_table_rows / below_table_pct: states with a link below the table plane.
        min_self_clearance_mm / min_table_clearance_mm: smallest clearance over the log (mm).
        table_z_m: height of the table plane (m, base frame).
    """

    self_collision_rows: int
    self_collision_pct: float
    min_self_clearance_mm: float
    below_table_rows: int
    below_table_pct: float
    min_table_clearance_mm: float
    table_z_m: float


@dataclass(frozen=True)
class RealLogReport:
    """Everything ``python -m evaluation.real_log`` prints (and writes with ``--json``).

    Attributes:
        directory: the log folder.
        joint_state_rows / pose_rows: data rows read from each file.
        matched_rows: pairs evaluated; ``unmatched_joint_states`` / ``unmatched_poses`` were dropped.
        matching: ``"row"`` or ``"timestamp"``; ``time_tolerance_ms`` its tolerance.
        max_time_offset_ms: largest |time offset| within a pair (ms).
        out_of_limit_rows: paired states with a joint outside ROBOTIS' published limits.
        out_of_limit_rows_by_joint: the same per joint1..joint4.
        forward_kinematics: (a).
        solvers: (b), one :class:`~agents.iknet.ik_eval.IKAccuracy` per solver, judged on raw answers.
        safety: (c).
    """

    directory: str
    joint_state_rows: int
    pose_rows: int
    matched_rows: int
    unmatched_joint_states: int
    unmatched_poses: int
    matching: Literal["row", "timestamp"]
    time_tolerance_ms: float
    max_time_offset_ms: float
    out_of_limit_rows: int
    out_of_limit_rows_by_joint: tuple[int, int, int, int]
    forward_kinematics: ForwardKinematicsCheck
    solvers: tuple[IKAccuracy, ...]
    safety: SafetyCheck

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (non-finite numbers, e.g. errors of failed answers, become None)."""
        return _finite_or_none(dataclasses.asdict(self))


# ----------------------------------------------------------------------------------- reading
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


def read_joint_states(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read ``joint_states.csv``: joints mapped by name, not by column position.

    Args:
        path: the CSV file.

    Returns:
        ``(times_ns, joints, gripper_m)``: (N,) int64 ns, (N, 4) joint1..joint4 (rad), (N,) m.

    Raises:
        LogFileError: missing, unreadable, non-UTF-8 or empty file, missing column, a value that
            is not a finite number, or a row whose names are not joint1..joint4 and gripper.
    """
    path = Path(path)
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
    return _times_ns(path, rows, lines, columns), by_name[:, :4], by_name[:, 4]


def read_kinematics_poses(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read ``kinematics_pose.csv``.

    Args:
        path: the CSV file.

    Returns:
        ``(times_ns, poses)``: (N,) int64 ns and (N, 7) ``[x, y, z, qx, qy, qz, qw]`` (m).

    Raises:
        LogFileError: as :func:`read_joint_states`, or a quaternion whose norm is not 1 +- 0.01.
    """
    path = Path(path)
    rows, columns, lines = _read_table(path, _POSE_READ)
    poses = np.stack([_numbers(path, rows, lines, columns[name], name) for name in _POSE_READ[2:]], -1)
    norms = np.linalg.norm(poses[:, 3:], axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > 1e-2)
    if len(bad):
        raise LogFileError(f"{path} line {lines[bad[0]]}: orientation quaternion has norm {norms[bad[0]]:.4g}, "
                           f"expected a unit quaternion")
    return _times_ns(path, rows, lines, columns), poses


def match_by_timestamp(state_times_ns: np.ndarray, pose_times_ns: np.ndarray,
                       tolerance_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair rows one to one by nearest timestamp.

    Each pose's two neighbouring joint states in time are candidates if within ``tolerance_ns``;
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
    for shift in (-1, 0):
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


def read_real_log(directory: str | Path, *, time_tolerance_s: float = DEFAULT_TIME_TOLERANCE_S) -> RealLog:
    """Read and pair a log folder (see the module docstring for the format).

    Args:
        directory: folder holding ``joint_states.csv`` and ``kinematics_pose.csv``.
        time_tolerance_s: largest time offset (s) of a pair when matching by timestamp.

    Returns:
        :class:`RealLog`.

    Raises:
        LogFileError: a missing folder or a bad file (see :func:`read_joint_states`), or no pair
            within the tolerance.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise LogFileError(f"log folder {directory} does not exist or is not a folder")
    if not (time_tolerance_s >= 0 and math.isfinite(time_tolerance_s)):
        raise LogFileError(f"time tolerance must be a finite number >= 0 s, got {time_tolerance_s}")
    state_times, joints, gripper = read_joint_states(directory / JOINT_STATES_FILE)
    pose_times, poses = read_kinematics_poses(directory / KINEMATICS_POSE_FILE)
    if len(state_times) == len(pose_times):
        matching: Literal["row", "timestamp"] = "row"
        state_index = pose_index = np.arange(len(state_times))
    else:
        matching = "timestamp"
        state_index, pose_index = match_by_timestamp(state_times, pose_times, round(time_tolerance_s * _NS))
        if not len(state_index):
            raise LogFileError(f"{directory}: no joint state lies within {time_tolerance_s * 1e3:g} ms of a pose "
                               f"({len(state_times)} joint states, {len(pose_times)} poses); check the timestamps")
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
        for i, (q, gripper) in enumerate(zip(joints, gripper_m)):
            names = list(name_orders[i]) if name_orders is not None else list(LOGGED_JOINT_NAMES)
            value = dict(zip(LOGGED_JOINT_NAMES, [*q, gripper]))
            writer.writerow([*stamp(state_times_s[i]), *names, *(repr(float(value[n])) for n in names),
                             *(["0.0"] * 5), *(["0.0"] * 5)])
    with open(directory / KINEMATICS_POSE_FILE, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(POSE_COLUMNS)
        for i, pose in enumerate(poses):
            writer.writerow([*stamp(pose_times_s[i]), *(repr(float(v)) for v in pose), "0.0", "0.0", "0.01"])


# -------------------------------------------------------------------------------- evaluation
def check_forward_kinematics(log: RealLog) -> ForwardKinematicsCheck:
    """(a) FK of the logged joints (any finite angles) against the logged poses."""
    reached = forward_kinematics(log.joints)
    position_mm = np.linalg.norm(reached[:, :3] - log.poses[:, :3], axis=1) * 1e3
    orientation_deg = np.degrees(quat_angle(reached[:, 3:], log.poses[:, 3:]))
    return ForwardKinematicsCheck(ErrorSummary.of(position_mm), ErrorSummary.of(orientation_deg))


def evaluate_solvers(log: RealLog, solver_names: Sequence[str] | None = None) -> tuple[IKAccuracy, ...]:
    """(b) Each IK solver on the logged poses, raw answers judged against the logged pose and joints.

    Args:
        log: the paired log.
        solver_names: solver names of :func:`agents.ik_policy.policy.solver_names` (also
            ``iknet:PATH.pt`` and ``+refine``); default all of them.

    Returns:
        One :class:`~agents.iknet.ik_eval.IKAccuracy` per solver (answers not clamped).

    Raises:
        UnknownNameError: an unknown solver name.
    """
    from agents.ik_policy.policy import make_solver, parse_policy
    from agents.ik_policy.policy import solver_names as all_solver_names
    from agents.iknet.ik_eval import evaluate_ik

    names = list(all_solver_names() if solver_names is None else solver_names)
    specs = [parse_policy(name) for name in names]  # every name checked before any solver runs
    for spec in specs:
        if spec.safe or spec.straight:
            raise UnknownNameError("solver modifier", "safe" if spec.safe else "straight", ["refine"])
    results = []
    for name, spec in zip(names, specs):
        solver = make_solver(spec)
        try:
            with np.errstate(invalid="ignore"):  # percentiles over the +inf errors of unanswered poses
                accuracy = evaluate_ik(solver.solve, log.poses, reference_joints=log.joints, name=name, clamp=False)
            results.append(_infinite_tail(accuracy))
        finally:
            close = getattr(solver, "close", None)
            if close is not None:
                close()
    return tuple(results)


def _infinite_tail(accuracy: IKAccuracy) -> IKAccuracy:
    """``accuracy`` with NaN percentiles made +inf: unanswered poses count as infinite errors, and
    ``np.percentile`` returns NaN (inf - inf) when interpolating between two of them."""
    if accuracy.failed_pct == 0:
        return accuracy

    def fix(value: float) -> float:
        return math.inf if math.isnan(value) else value

    return dataclasses.replace(
        accuracy,
        position_error_mm_p95=fix(accuracy.position_error_mm_p95),
        orientation_error_deg_p95=fix(accuracy.orientation_error_deg_p95),
        joint_error_deg_p95=tuple(fix(value) for value in accuracy.joint_error_deg_p95),  # type: ignore[arg-type]
    )


def check_safety(log: RealLog, *, table_z_m: float = 0.0) -> SafetyCheck:
    """(c) Self-collision and table clearance of the logged states (logged gripper opening)."""
    from sim.collision import self_clearance, table_clearance

    self_m = np.asarray(self_clearance(log.joints, log.gripper_m, validate=False), dtype=float)
    table_m = np.asarray(table_clearance(log.joints, log.gripper_m, table_z_m=table_z_m, validate=False), dtype=float)
    colliding, below = int(np.sum(self_m < 0.0)), int(np.sum(table_m < 0.0))
    count = len(log.joints)
    return SafetyCheck(colliding, 100.0 * colliding / count, float(self_m.min() * 1e3),
                       below, 100.0 * below / count, float(table_m.min() * 1e3), float(table_z_m))


def evaluate_real_log(directory: str | Path, *, solver_names: Sequence[str] | None = None,
                      time_tolerance_s: float = DEFAULT_TIME_TOLERANCE_S, table_z_m: float = 0.0) -> RealLogReport:
    """Read, pair and judge a real-robot log: (a) FK, (b) IK solvers, (c) safety model.

    Args:
        directory: folder with ``joint_states.csv`` and ``kinematics_pose.csv``.
        solver_names: IK solvers for (b) (see :func:`evaluate_solvers`); default all.
        time_tolerance_s: pairing tolerance when the row counts differ (s).
        table_z_m: table plane height for (c) (m, base frame).

    Returns:
        :class:`RealLogReport`.

    Raises:
        LogFileError: missing or malformed files (one line naming file, line and column).
        UnknownNameError: an unknown solver name.
    """
    log = read_real_log(directory, time_tolerance_s=time_tolerance_s)
    outside = limit_violations(log.joints)
    count = len(log.joints)
    return RealLogReport(
        directory=str(directory),
        joint_state_rows=log.joint_state_rows,
        pose_rows=log.pose_rows,
        matched_rows=count,
        unmatched_joint_states=log.joint_state_rows - count,
        unmatched_poses=log.pose_rows - count,
        matching=log.matching,
        time_tolerance_ms=log.time_tolerance_s * 1e3,
        max_time_offset_ms=float(np.max(np.abs(log.time_offset_s)) * 1e3),
        out_of_limit_rows=int(outside.any(axis=1).sum()),
        out_of_limit_rows_by_joint=tuple(int(v) for v in outside.sum(axis=0)),  # type: ignore[arg-type]
        forward_kinematics=check_forward_kinematics(log),
        solvers=evaluate_solvers(log, solver_names),
        safety=check_safety(log, table_z_m=table_z_m),
    )


# ------------------------------------------------------------------------------------ output
def _finite_or_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _share(rows: int, total: int) -> str:
    return f"{rows} of {total} ({100.0 * rows / total:.1f}%)"


def format_report(report: RealLogReport) -> str:
    """The report as readable text with markdown tables."""
    n = report.matched_rows
    paired = (f"{n} pairs in file order" if report.matching == "row" else
              f"{n} pairs by nearest timestamp (tolerance {report.time_tolerance_ms:g} ms)")
    per_joint = ", ".join(f"{name} {rows}" for name, rows in zip(JOINT_NAMES, report.out_of_limit_rows_by_joint))
    fk, safety = report.forward_kinematics, report.safety
    lines = [
        f"real-robot log {report.directory}",
        (f"rows: {report.joint_state_rows} joint states, {report.pose_rows} poses -> {paired}, largest time offset "
         f"{report.max_time_offset_ms:.3g} ms; dropped {report.unmatched_joint_states} joint states and "
         f"{report.unmatched_poses} poses"),
        f"logged states outside ROBOTIS' published joint limits: {_share(report.out_of_limit_rows, n)}: {per_joint}",
        "",
        "(a) our forward kinematics of the logged joints vs the logged controller pose",
        "| error | median | p95 | max |", "|---|---|---|---|",
        (f"| position (mm) | {fk.position_error_mm.median:.3g} | {fk.position_error_mm.p95:.3g} | "
         f"{fk.position_error_mm.max:.3g} |"),
        (f"| orientation (deg) | {fk.orientation_error_deg.median:.3g} | {fk.orientation_error_deg.p95:.3g} | "
         f"{fk.orientation_error_deg.max:.3g} |"),
        "",
        ("(b) IK solvers on the logged poses (raw answers, not clamped; an unanswered pose counts as an infinite "
         "error; joint error against the logged joints, wrapped, per joint1/joint2/joint3/joint4)"),
        ("| solver | pos med mm | pos p95 mm | ori med deg | joint med deg | joint p95 deg | out of limits % "
         "| no answer % |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in report.solvers:
        joint_median = "/".join(f"{v:.3g}" for v in result.joint_error_deg_median)
        joint_p95 = "/".join(f"{v:.3g}" for v in result.joint_error_deg_p95)
        lines.append(f"| {result.name} | {result.position_error_mm_median:.3g} | {result.position_error_mm_p95:.3g} "
                     f"| {result.orientation_error_deg_median:.3g} | {joint_median} | {joint_p95} "
                     f"| {result.out_of_limits_pct:.1f} | {result.failed_pct:.1f} |")
    lines += [
        "",
        "(c) the safety model on the logged states (a real arm is never in either)",
        (f"in self-collision: {_share(safety.self_collision_rows, n)}; smallest self clearance "
         f"{safety.min_self_clearance_mm:.3g} mm"),
        (f"below the table (z = {safety.table_z_m:g} m): {_share(safety.below_table_rows, n)}; smallest table "
         f"clearance {safety.min_table_clearance_mm:.3g} mm"),
    ]
    return "\n".join(lines)


def write_report_json(report: RealLogReport, path: str | Path) -> None:
    """Write :meth:`RealLogReport.to_json_dict` as indented JSON (strict: no NaN/Infinity)."""
    Path(path).write_text(json.dumps(report.to_json_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------- CLI
_EPILOG = f"""\
log format (a ROS 2 recording exported as CSV, one header line, comma separated, UTF-8):
  DIR/{JOINT_STATES_FILE}
      sec,nanosec,frame_id,name0..name4,position0..position4,velocity0..velocity4,effort0..effort4
      names: joint1, joint2, joint3, joint4 (rad) and gripper (finger joint, m), in any order per row
  DIR/{KINEMATICS_POSE_FILE}
      sec,nanosec,frame_id,position_x,position_y,position_z,orientation_x,orientation_y,orientation_z,
      orientation_w,max_accelerations_scaling_factor,max_velocity_scaling_factor,tolerance
      the controller's end-effector pose (m, base frame), quaternion scalar last
Only time, name, position and orientation columns are read (velocity, effort, frame_id and the scaling
factors may be absent). Rows pair one to one when the counts agree, else by nearest timestamp.
Reports (a) our FK vs the logged pose, (b) every IK solver on the logged poses, (c) the share of logged
states the safety model finds in self-collision or below the table. Bad files: one error line, exit 2.
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m evaluation.real_log``."""
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.real_log", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Evaluate the project's kinematics, IK solvers and safety model on a real "
                    "OpenManipulator-X log.", epilog=_EPILOG)
    parser.add_argument("directory", type=Path, metavar="DIR", help=f"folder with {JOINT_STATES_FILE} and "
                        f"{KINEMATICS_POSE_FILE}")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON to PATH")
    parser.add_argument("--solvers", metavar="A,B,...", help="comma-separated IK solvers for (b): analytic, "
                        "pybullet-ik, iknet:MODEL (shipped or PATH.pt, optional +refine); default: all shipped")
    parser.add_argument("--time-tolerance-ms", type=float, default=DEFAULT_TIME_TOLERANCE_S * 1e3,
                        help="largest time offset of a pair when the row counts differ (default: %(default)g ms)")
    parser.add_argument("--table-z-m", type=float, default=0.0,
                        help="table plane height in the base frame for (c) (default: %(default)g m)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, or 2 after one error line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (math.isfinite(args.time_tolerance_ms) and args.time_tolerance_ms >= 0):
        parser.error(f"--time-tolerance-ms must be a finite number >= 0, got {args.time_tolerance_ms}")
    if not math.isfinite(args.table_z_m):
        parser.error(f"--table-z-m must be finite, got {args.table_z_m}")
    if args.json is not None and not args.json.parent.is_dir():
        parser.error(f"--json: folder {args.json.parent} does not exist")
    solvers = None
    if args.solvers is not None:
        solvers = [name.strip() for name in args.solvers.split(",") if name.strip()]
        if not solvers:
            parser.error("--solvers needs at least one solver name")
    try:
        report = evaluate_real_log(args.directory, solver_names=solvers, time_tolerance_s=args.time_tolerance_ms / 1e3,
                                   table_z_m=args.table_z_m)
        print(format_report(report), flush=True)
        if args.json is not None:
            try:
                write_report_json(report, args.json)
            except OSError as error:
                raise LogFileError(f"cannot write {args.json}: {error.strerror or error}") from None
            print(f"json: {args.json}")
    except ProjectError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

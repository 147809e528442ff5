"""Judge the project's kinematics, IK solvers and safety model on a real OpenManipulator-X's log.

A ROS 2 recording exported as two CSV files in one folder (the format :func:`evaluation.real_log_io.write_real_log`
writes and ``python -m evaluation.real_log --help`` describes):

- ``joint_states.csv``: ``sec, nanosec, frame_id, name0..name4, position0..position4,
  velocity0..velocity4, effort0..effort4``; the five joints are ``joint1..joint4`` (rad) and
  ``gripper`` (the finger joint, m) in the order the ``name`` columns give, row by row;
- ``kinematics_pose.csv``: ``sec, nanosec, frame_id, position_x, position_y, position_z,
  orientation_x, orientation_y, orientation_z, orientation_w, max_accelerations_scaling_factor,
  max_velocity_scaling_factor, tolerance``: the controller's end-effector pose (m, base frame).

Only the time, name, position and orientation columns are read; the rest may be absent. Rows are
paired one to one by nearest timestamp within a tolerance (default 5 ms, half the 10 ms control
period of ROBOTIS' controller), whatever the row counts; unpaired rows are dropped and counted.
Timestamps that run backwards within a file, and logs where more than half (by default) of the
smaller file's rows find no partner, are refused. The report (:class:`RealLogReport`) gives:

(a) our forward kinematics of the logged joints against the logged pose (mm, deg);
(b) every IK solver of :func:`agents.ik_policy.policy.solver_names` (analytic, PyBullet, each
    shipped IKNet) on the logged poses, judged by :func:`agents.iknet.ik_eval.evaluate_ik` on the
    raw answers: position error, joint error against the logged joints, share outside the limits;
(c) the share of logged states the safety model (:mod:`sim.robot.collision`) finds in self-collision
    or below the table: a real arm never is, so anything else flags the geometry.

Logged states may lie outside ROBOTIS' published joint limits (a real arm's do); they are counted,
never rejected. Bad files raise :class:`~sim.errors.LogFileError` with one line naming the file,
line and column; the command line prints it and exits with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from evaluation.real_log_io import (
    DEFAULT_MAX_UNPAIRED_FRACTION,
    DEFAULT_TIME_TOLERANCE_S,
    JOINT_STATES_FILE,
    KINEMATICS_POSE_FILE,
    RealLog,
    read_real_log,
)
from sim.errors import LogFileError, ProjectError, UnknownNameError
from sim.robot.kinematics import JOINT_NAMES, forward_kinematics, limit_violations
from sim.robot.transforms import quat_angle

if TYPE_CHECKING:
    from agents.iknet.ik_eval import IKAccuracy

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
    orientation_error_deg: ErrorSummary  #: geodesic angle (:func:`sim.robot.transforms.quat_angle`)


@dataclass(frozen=True)
class SafetyCheck:
    """(c) The logged states measured on ROBOTIS' CAD meshes (:mod:`sim.robot.cad`, the truth) and on
    the sphere bound (:mod:`sim.robot.collision`, what planners use) beside them.

    Attributes:
        self_contact_rows / self_contact_pct: states where two SRDF-enabled links' meshes touch.
        min_self_clearance_mm: smallest gap between them over the log (mm); ``None`` when no pair
            comes within the CAD channel's horizon (:data:`sim.robot.cad.SELF_HORIZON_M`).
        below_table_rows / below_table_pct: states with a mesh point below the table plane.
        min_table_clearance_mm: lowest mesh point above the table over the log (mm).
        bound_*: the same on the spheres (self clearance negative = the spheres overlap).
        table_z_m: height of the table plane (m, base frame).
    """

    self_contact_rows: int
    self_contact_pct: float
    min_self_clearance_mm: float | None
    below_table_rows: int
    below_table_pct: float
    min_table_clearance_mm: float
    bound_self_collision_rows: int
    bound_self_collision_pct: float
    bound_min_self_clearance_mm: float
    bound_below_table_rows: int
    bound_below_table_pct: float
    bound_min_table_clearance_mm: float
    table_z_m: float


@dataclass(frozen=True)
class RealLogReport:
    """Everything ``python -m evaluation.real_log`` prints (and writes with ``--json``).

    Attributes:
        directory: the log folder.
        joint_state_rows / pose_rows: data rows read from each file.
        matched_rows: pairs evaluated; ``unmatched_joint_states`` / ``unmatched_poses`` were dropped.
        matching: ``"row"`` (the timestamps paired every row with the same row of the other file)
            or ``"timestamp"``; ``time_tolerance_ms`` the tolerance of the pairing.
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
    for name, spec in zip(names, specs, strict=True):
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
    """(c) Self-contact and table clearance of the logged states (logged gripper opening), on the
    CAD meshes and on the sphere bound."""
    from sim.robot.cad import measure_states
    from sim.robot.collision import self_clearance, table_clearance

    self_m = np.asarray(self_clearance(log.joints, log.gripper_m, validate=False), dtype=float)
    table_m = np.asarray(table_clearance(log.joints, log.gripper_m, table_z_m=table_z_m, validate=False), dtype=float)
    cad = measure_states(log.joints, log.gripper_m, table_z_m=table_z_m)
    count = len(log.joints)
    touching, below = int(np.sum(cad.self_m <= 0.0)), int(np.sum(cad.table_m < 0.0))
    colliding, bound_below = int(np.sum(self_m < 0.0)), int(np.sum(table_m < 0.0))
    nearest_self = float(cad.self_m.min())
    return SafetyCheck(
        touching, 100.0 * touching / count, nearest_self * 1e3 if math.isfinite(nearest_self) else None,
        below, 100.0 * below / count, float(cad.table_m.min() * 1e3),
        colliding, 100.0 * colliding / count, float(self_m.min() * 1e3),
        bound_below, 100.0 * bound_below / count, float(table_m.min() * 1e3), float(table_z_m))


def evaluate_real_log(directory: str | Path, *, solver_names: Sequence[str] | None = None,
                      time_tolerance_s: float = DEFAULT_TIME_TOLERANCE_S,
                      max_unpaired_fraction: float = DEFAULT_MAX_UNPAIRED_FRACTION,
                      table_z_m: float = 0.0) -> RealLogReport:
    """Read, pair and judge a real-robot log: (a) FK, (b) IK solvers, (c) safety model.

    Args:
        directory: folder with ``joint_states.csv`` and ``kinematics_pose.csv``.
        solver_names: IK solvers for (b) (see :func:`evaluate_solvers`); default all.
        time_tolerance_s: largest time offset of a pair (s).
        max_unpaired_fraction: largest share of the smaller file's rows left without a partner.
        table_z_m: table plane height for (c) (m, base frame).

    Returns:
        :class:`RealLogReport`.

    Raises:
        LogFileError: missing or malformed files (one line naming file, line and column),
            timestamps running backwards, or too few pairs within the tolerance.
        UnknownNameError: an unknown solver name.
    """
    log = read_real_log(directory, time_tolerance_s=time_tolerance_s, max_unpaired_fraction=max_unpaired_fraction)
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
    paired = (f"{n} pairs by timestamp (tolerance {report.time_tolerance_ms:g} ms"
              f"{', each row with the same row of the other file' if report.matching == 'row' else ''})")
    counts = zip(JOINT_NAMES, report.out_of_limit_rows_by_joint, strict=True)
    per_joint = ", ".join(f"{name} {rows}" for name, rows in counts)
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
        "(c) the logged states on ROBOTIS' CAD meshes (the truth) and on the sphere bound (a real arm is never "
        "in either)",
        "| geometry | self-contact | smallest self gap mm | below the table | lowest point mm |",
        "|---|---|---|---|---|",
        (f"| CAD | {_share(safety.self_contact_rows, n)} | "
         + (f"{safety.min_self_clearance_mm:.3g}" if safety.min_self_clearance_mm is not None else "> 30")
         + f" | {_share(safety.below_table_rows, n)} | {safety.min_table_clearance_mm:.3g} |"),
        (f"| sphere bound | {_share(safety.bound_self_collision_rows, n)} | {safety.bound_min_self_clearance_mm:.3g} "
         f"| {_share(safety.bound_below_table_rows, n)} | {safety.bound_min_table_clearance_mm:.3g} |"),
        f"(table plane z = {safety.table_z_m:g} m)",
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
factors may be absent). Rows pair one to one by nearest timestamp within --time-tolerance-ms, whatever
the row counts; timestamps must not run backwards within a file, and a log where more than
--max-unpaired-fraction of the smaller file's rows find no partner is refused.
Reports (a) our FK vs the logged pose, (b) every IK solver on the logged poses, (c) the share of logged
states the safety model finds in self-collision or below the table. Bad files: one error line, exit 2.
"""


class _OneLineParser(argparse.ArgumentParser):
    """argparse with error lines folded to one short line (argparse echoes the values it refuses)."""

    def error(self, message: str):  # type: ignore[no-untyped-def]
        from sim.errors import one_line

        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


#: Largest --time-tolerance-ms: a wider window pairs rows of unrelated moments (the logs run at ~100 Hz).
MAX_TIME_TOLERANCE_MS: float = 10_000.0
#: --table-z-m bounds (m, base frame): the arm reaches ~0.45 m, a table beyond this is a typo.
TABLE_Z_RANGE_M: tuple[float, float] = (-1.0, 1.0)


def _check_json_target(path: Path) -> str | None:
    """Why ``--json PATH`` must not be written (None if it may): its folder is missing, it is a link,
    not a regular file (a FIFO would block), or an existing file that is not a JSON report."""
    import os
    import stat

    if not path.parent.is_dir():
        return f"--json: folder {path.parent} does not exist"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        return f"--json: cannot use {path} ({getattr(error, 'strerror', None) or error})"
    if stat.S_ISLNK(info.st_mode):
        return f"--json: {path} is a symbolic link; the report is never written through a link"
    if not stat.S_ISREG(info.st_mode):
        return f"--json: {path} exists and is not a regular file"
    try:
        with open(path, "rb") as handle:
            previous = json.loads(handle.read(16_000_001).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        previous = None
    if not isinstance(previous, dict) or "matched_rows" not in previous:
        return f"--json: {path} exists and is not a report of this command; not overwriting it"
    return None


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m evaluation.real_log``."""
    parser = _OneLineParser(
        prog="python -m evaluation.real_log", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Evaluate the project's kinematics, IK solvers and safety model on a real "
                    "OpenManipulator-X log.", epilog=_EPILOG)
    parser.add_argument("directory", type=Path, metavar="DIR", help=f"folder with {JOINT_STATES_FILE} and "
                        f"{KINEMATICS_POSE_FILE}")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON to PATH")
    parser.add_argument("--solvers", metavar="A,B,...", help="comma-separated IK solvers for (b): analytic, "
                        "pybullet-ik, iknet:MODEL (shipped or PATH.pt, optional +refine); default: all shipped")
    parser.add_argument("--time-tolerance-ms", type=float, default=DEFAULT_TIME_TOLERANCE_S * 1e3,
                        help="largest time offset of a pair (default: %(default)g ms)")
    parser.add_argument("--max-unpaired-fraction", type=float, default=DEFAULT_MAX_UNPAIRED_FRACTION,
                        help="largest share of the smaller file's rows that may find no partner within the "
                             "tolerance; more refuses the log (default: %(default)g)")
    parser.add_argument("--table-z-m", type=float, default=0.0,
                        help="table plane height in the base frame for (c) (default: %(default)g m)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, or 2 after one error line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (math.isfinite(args.time_tolerance_ms) and 0 <= args.time_tolerance_ms <= MAX_TIME_TOLERANCE_MS):
        parser.error(f"--time-tolerance-ms must be a finite number within [0, {MAX_TIME_TOLERANCE_MS:g}], got "
                     f"{args.time_tolerance_ms}")
    if not 0.0 <= args.max_unpaired_fraction <= 1.0:
        parser.error(f"--max-unpaired-fraction must lie within [0, 1], got {args.max_unpaired_fraction}")
    if not (math.isfinite(args.table_z_m) and TABLE_Z_RANGE_M[0] <= args.table_z_m <= TABLE_Z_RANGE_M[1]):
        parser.error(f"--table-z-m must be finite and within [{TABLE_Z_RANGE_M[0]:g}, {TABLE_Z_RANGE_M[1]:g}] m, "
                     f"got {args.table_z_m}")
    if args.json is not None and (problem := _check_json_target(args.json)) is not None:
        parser.error(problem)
    solvers = None
    if args.solvers is not None:
        solvers = [name.strip() for name in args.solvers.split(",") if name.strip()]
        if not solvers:
            parser.error("--solvers needs at least one solver name")
    try:
        report = evaluate_real_log(args.directory, solver_names=solvers, time_tolerance_s=args.time_tolerance_ms / 1e3,
                                   max_unpaired_fraction=args.max_unpaired_fraction, table_z_m=args.table_z_m)
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

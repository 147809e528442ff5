"""The results folder's layout: file names and CSV columns, one owner for the writer and every reader.

``episodes.csv`` has :data:`EPISODE_COLUMNS` (the run's key, :class:`~evaluation.metrics.EpisodeMetrics`,
the IK time, the policy's :data:`~agents.ik_policy.interface.EPISODE_INFO_KEYS`, the wall time);
``steps.csv`` has :data:`STEP_COLUMNS` (the episode's key and a
:class:`~evaluation.metrics.StepRecord`); ``shap/traces.csv`` has :data:`TRACE_COLUMNS`.

Which folders a run may write into is decided here too (:func:`check_results_folder`, called by
``run_sim.py`` and by the runner for library callers alike): a new run only into a missing or empty
folder, a resumed run only into a folder that holds nothing but this project's files and a
``run.json`` of the same configuration whose scenarios resolve to the same specs (their digests).
``run.json`` is the run's marker: it
is written after every check has passed, so a refused or failed start leaves no marker behind
(:func:`remove_unstarted_run` takes back what a start that failed before its first episode wrote).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from agents.ik_policy.interface import EPISODE_INFO_KEYS
from evaluation.explain.core import FEATURE_NAMES
from evaluation.metrics import EpisodeMetrics, StepRecord
from evaluation.results_io import LOCK_FILE, read_header, read_rows
from sim.errors import InvalidInputError, OutputFolderError, show_value
from sim.robot.kinematics import JOINT_NAMES

EPISODES_FILE, STEPS_FILE, RUN_FILE, SUMMARY_FILE, REPORT_FILE = (
    "episodes.csv", "steps.csv", "run.json", "summary.json", "report.html")
PLOTS_DIR, SHAP_DIR, VIDEOS_DIR, RECORDINGS_DIR = "plots", "shap", "videos", "recordings"
TRACES_FILE, STUDY_FILE = "traces.csv", "study.csv"  #: inside SHAP_DIR

#: The columns that identify an episode of a run.
KEY_COLUMNS: tuple[str, ...] = ("model", "scenario", "seed", "episode")
EPISODE_COLUMNS: tuple[str, ...] = (
    KEY_COLUMNS + tuple(spec.name for spec in fields(EpisodeMetrics)) + ("ik_time_ms",) + EPISODE_INFO_KEYS
    + ("wall_time_s",)
)
#: Episode columns that measure time: they differ between two runs of the same episodes.
TIMING_COLUMNS: tuple[str, ...] = ("ik_time_ms", "plan_time_ms", "wall_time_s")
#: The episode's key (a sweep's folder holds one policy and episode under several scenarios and seeds).
STEP_COLUMNS: tuple[str, ...] = KEY_COLUMNS + StepRecord.columns()
#: Per-step attributions: ``phi_FEATURE_JOINT`` (rad), the joint target explained at the pose it reaches.
TRACE_COLUMNS: tuple[str, ...] = ("model", "episode", "step") + tuple(
    f"phi_{feature}_{joint}" for feature in FEATURE_NAMES for joint in JOINT_NAMES)


def read_episodes(out_dir: Path) -> list[dict[str, str]]:
    """The finished episodes of the results folder ``out_dir`` (empty if none yet).

    Raises:
        InvalidInputError: ``episodes.csv`` lacks a column of :data:`EPISODE_COLUMNS`.
    """
    return _read(Path(out_dir) / EPISODES_FILE, EPISODE_COLUMNS)


def read_steps(out_dir: Path) -> list[dict[str, str]]:
    """The per-step log of the results folder ``out_dir`` (empty if none yet).

    Raises:
        InvalidInputError: ``steps.csv`` lacks a column of :data:`STEP_COLUMNS`.
    """
    return _read(Path(out_dir) / STEPS_FILE, STEP_COLUMNS)


def _read(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    _check_columns(path, columns)
    return read_rows(path)


def _check_columns(path: Path, columns: tuple[str, ...]) -> None:
    header = read_header(path)
    missing = [column for column in columns if header is not None and column not in header]
    if missing:
        raise InvalidInputError(f"{path} was written by another version or program: no column "
                                f"{', '.join(missing[:3])}")


# ------------------------------------------------------------------------------- results folders
#: Every name this project writes at the top of a results folder.
PROJECT_ENTRIES: frozenset[str] = frozenset(
    (EPISODES_FILE, STEPS_FILE, RUN_FILE, SUMMARY_FILE, REPORT_FILE, PLOTS_DIR, SHAP_DIR, VIDEOS_DIR, RECORDINGS_DIR))
#: Names of the temporary files the writers rename into place (``.write-test``: the write probe), and
#: the lock file of the run writing the folder (left behind by a killed run: not a file of another program).
_TEMPORARY_ENTRIES: frozenset[str] = frozenset(
    {".write-test", LOCK_FILE} | {f"{name}.tmp" for name in (STEPS_FILE, EPISODES_FILE, SUMMARY_FILE, RUN_FILE)})


def check_results_folder(out_dir: str | os.PathLike[str], run: dict[str, Any], *, resume: bool,
                         compare: Sequence[str]) -> None:
    """Refuse a results folder this run must not write into; nothing is written here.

    Args:
        out_dir: the folder (``""`` is refused: it is no folder, not the current one).
        run: the run's ``run.json`` content (:meth:`~evaluation.config.RunConfig.to_json`).
        resume: the run continues the one in ``out_dir``.
        compare: fields of ``run`` that must equal those of the folder's ``run.json`` to resume
            (:meth:`~evaluation.config.RunConfig.resume_fields`); besides, a sweep resumes only a
            sweep, and every scenario both runs use must resolve to the same spec (``scenario_digests``).

    Raises:
        OutputFolderError: ``out_dir`` is empty or not a folder; a new run's folder is not empty
            (it holds a run: pass ``--resume``; or files this project did not write); a resumed
            run's folder holds no run, files this project did not write, CSV files of another
            version or program, a run whose configuration differs (names the field), or a run
            whose scenario file was edited since it began (names the file).
    """
    text = os.fspath(out_dir)
    if not isinstance(text, str) or not text.strip():
        raise OutputFolderError(f"--out: expected a folder name, got {show_value(text)}")
    folder = Path(text)
    try:
        info = folder.stat()
    except FileNotFoundError:
        if resume:
            raise OutputFolderError(f"cannot resume: {folder} does not exist") from None
        return
    except OSError as error:
        raise OutputFolderError(f"cannot write to output folder {folder}: {error.strerror or error}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise OutputFolderError(f"output folder {folder} exists and is not a folder")
    try:
        entries = sorted(os.listdir(folder))
    except OSError as error:
        raise OutputFolderError(f"cannot read output folder {folder}: {error.strerror or error}") from None
    entries = [name for name in entries if name != LOCK_FILE]
    _refuse_links(folder, entries)
    foreign = [name for name in entries if name not in PROJECT_ENTRIES | _TEMPORARY_ENTRIES]
    previous = _read_run_file(folder) if RUN_FILE in entries else None
    if not resume:
        if previous is not None:
            raise OutputFolderError(f"{folder} already holds a run; pass --resume to continue it or choose another "
                                    "--out")
        if entries:
            raise OutputFolderError(f"{folder} holds files this project did not write ({_names(entries)}); "
                                    "choose a new or empty folder")
        return
    if previous is None:
        raise OutputFolderError(f"cannot resume: {folder} holds no run of this project (no {RUN_FILE})")
    if foreign:
        raise OutputFolderError(f"cannot resume: {folder} also holds files this project did not write "
                                f"({_names(foreign)})")
    if ("sweep" in previous) != ("sweep" in run):
        kinds = ("a sweep", "a single run") if "sweep" in previous else ("a single run", "a sweep")
        raise OutputFolderError(f"cannot resume: {folder} holds {kinds[0]}, this is {kinds[1]}; choose another --out")
    for name in compare:
        if previous.get(name) != run.get(name):
            raise OutputFolderError(f"cannot resume: {name} was {show_value(previous.get(name))} in "
                                    f"{folder / RUN_FILE}, now {show_value(run.get(name))}; rerun with the same "
                                    "options or choose another --out")
    _check_scenario_digests(previous.get("scenario_digests"), run.get("scenario_digests"))
    for name, columns in ((EPISODES_FILE, EPISODE_COLUMNS), (STEPS_FILE, STEP_COLUMNS)):
        header = read_header(folder / name)
        if header is not None and header != list(columns):
            raise OutputFolderError(f"cannot resume: {folder / name} was written by another version or program "
                                    "(its columns differ)")


def _refuse_links(folder: Path, entries: Sequence[str]) -> None:
    """Refuse a symbolic link anywhere a run writes (the folder's files, plots/, shap/, videos/, recordings/):
    a run never writes through one into a user's file."""
    for name in entries:
        path = folder / name
        if path.is_symlink():
            raise OutputFolderError(f"{path} is a symbolic link; results are never written through a link "
                                    "(remove it or choose another --out)")
        if name in (PLOTS_DIR, SHAP_DIR, VIDEOS_DIR, RECORDINGS_DIR) and path.is_dir():
            for root, directories, files in os.walk(path):
                for child in directories + files:
                    if os.path.islink(os.path.join(root, child)):
                        raise OutputFolderError(f"{os.path.join(root, child)} is a symbolic link; results are never "
                                                "written through a link (remove it or choose another --out)")


def _check_scenario_digests(previous: Any, current: Any) -> None:
    """Refuse to resume when a scenario both runs use resolves to another spec than when the run
    began (an edited scenario file; a built-in changed by another version of the project). A
    ``run.json`` written before digests were kept has none: nothing to compare."""
    if not isinstance(previous, dict) or not isinstance(current, dict):
        return
    for label, digest in current.items():
        if label in previous and previous[label] != digest:
            if label.lower().endswith(".toml"):
                raise OutputFolderError(f"cannot resume: scenario file {show_value(label, 150)} changed since the run "
                                        "began; put the original file back, or start a new run with another --out")
            raise OutputFolderError(f"cannot resume: scenario {show_value(label)} changed since the run began (this "
                                    "version of the project defines it differently); finish it with the version that "
                                    "began it, or start a new run with another --out")


def _read_run_file(folder: Path) -> dict[str, Any]:
    path = folder / RUN_FILE
    try:
        if path.stat().st_size > 10_000_000:
            raise ValueError("too large")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        data = None
    if not isinstance(data, dict) or "policies" not in data:
        raise OutputFolderError(f"{path} was not written by this project; choose another --out")
    return data


def _names(entries: Sequence[str], shown: int = 3) -> str:
    listed = ", ".join(show_value(name, 40) for name in entries[:shown])
    return listed + (f" and {len(entries) - shown} more" if len(entries) > shown else "")


def remove_unstarted_run(out_dir: str | os.PathLike[str], *, created: bool) -> bool:
    """Take back what a run wrote before it failed, if it finished no episode: its ``run.json``,
    empty or header-only CSV files, and the folder itself if this run ``created`` it and it is now
    empty. A folder with a finished episode (or anything else) is left as it is.

    Returns:
        True if the run's marker was removed (a rerun of the same command then starts afresh).
    """
    folder = Path(out_dir)
    if not folder.is_dir() or _has_rows(folder / EPISODES_FILE):
        return False
    removed = False
    for name in (STEPS_FILE, EPISODES_FILE, RUN_FILE):
        path = folder / name
        if path.is_file() and (name == RUN_FILE or len(path.read_bytes().splitlines()) <= 1):
            path.unlink()
            removed = removed or name == RUN_FILE
    if created:
        try:
            folder.rmdir()  # only if empty
        except OSError:
            pass
    return removed


def _has_rows(path: Path) -> bool:
    """True if ``path`` holds at least one complete row (whatever its columns)."""
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        lines = handle.read(1 << 20).splitlines()
    return len(lines) > 1

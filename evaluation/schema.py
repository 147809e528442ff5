"""The results folder's layout: file names and CSV columns, one owner for the writer and every reader.

``episodes.csv`` has :data:`EPISODE_COLUMNS` (the run's key, :class:`~evaluation.metrics.EpisodeMetrics`,
the IK time, the policy's :data:`~agents.ik_policy.interface.EPISODE_INFO_KEYS`, the wall time);
``steps.csv`` has :data:`STEP_COLUMNS` (policy, episode and a
:class:`~evaluation.metrics.StepRecord`); ``shap/traces.csv`` has :data:`TRACE_COLUMNS`.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from agents.ik_policy.interface import EPISODE_INFO_KEYS
from evaluation.explain.core import FEATURE_NAMES
from evaluation.metrics import EpisodeMetrics, StepRecord
from evaluation.results_io import read_rows
from sim.errors import InvalidInputError
from sim.kinematics import JOINT_NAMES

EPISODES_FILE, STEPS_FILE, RUN_FILE, SUMMARY_FILE, REPORT_FILE = (
    "episodes.csv", "steps.csv", "run.json", "summary.json", "report.html")
PLOTS_DIR, SHAP_DIR, VIDEOS_DIR = "plots", "shap", "videos"
TRACES_FILE, STUDY_FILE = "traces.csv", "study.csv"  #: inside SHAP_DIR

#: The columns that identify an episode of a run.
KEY_COLUMNS: tuple[str, ...] = ("model", "scenario", "seed", "episode")
EPISODE_COLUMNS: tuple[str, ...] = (
    KEY_COLUMNS + tuple(spec.name for spec in fields(EpisodeMetrics)) + ("ik_time_ms",) + EPISODE_INFO_KEYS
    + ("wall_time_s",)
)
STEP_COLUMNS: tuple[str, ...] = ("model", "episode") + StepRecord.columns()
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
    rows = read_rows(path)
    missing = [column for column in columns if rows and column not in rows[0]]
    if missing:
        raise InvalidInputError(f"{path} was written by another version: no column {', '.join(missing[:3])}")
    return rows

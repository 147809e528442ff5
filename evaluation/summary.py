"""Per-policy summary of a results folder, written as ``summary.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.results_io import read_rows
from evaluation.runner import EPISODES_FILE, RUN_FILE

SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class PolicySummary:
    """Aggregate figures of one policy over the run's episodes."""

    policy: str
    episodes: int
    success_rate: float
    collision_rate: float
    target_error_mm_median: float
    target_error_mm_p95: float
    orientation_error_deg_median: float
    min_clearance_mm_median: float
    min_clearance_mm_min: float
    min_clearance_pybullet_mm_min: float
    contact_steps_mean: float
    path_length_m_median: float
    jerk_median: float
    ik_time_ms_per_episode_median: float
    plan_time_ms_median: float
    limit_violations_total: int


def summarise_rows(rows: list[dict[str, str]]) -> list[PolicySummary]:
    """One :class:`PolicySummary` per policy, in first-seen order."""
    order = list(dict.fromkeys(row["model"] for row in rows))
    summaries = []
    for policy in order:
        mine = [row for row in rows if row["model"] == policy]

        def column(name: str) -> np.ndarray:
            return np.array([float(row[name]) for row in mine])

        summaries.append(PolicySummary(
            policy=policy,
            episodes=len(mine),
            success_rate=float(column("success").mean()),
            collision_rate=float(column("collided").mean()),
            target_error_mm_median=float(np.median(column("target_error_mm"))),
            target_error_mm_p95=float(np.percentile(column("target_error_mm"), 95)),
            orientation_error_deg_median=float(np.median(column("orientation_error_deg"))),
            min_clearance_mm_median=float(np.median(column("min_clearance_mm"))),
            min_clearance_mm_min=float(column("min_clearance_mm").min()),
            min_clearance_pybullet_mm_min=float(column("min_clearance_pybullet_mm").min()),
            contact_steps_mean=float(column("contact_steps").mean()),
            path_length_m_median=float(np.median(column("path_length_m"))),
            jerk_median=float(np.median(column("jerk"))),
            ik_time_ms_per_episode_median=float(np.median(column("ik_time_ms"))),
            plan_time_ms_median=float(np.median(column("plan_time_ms"))),
            limit_violations_total=int(column("limit_violations").sum()),
        ))
    return summaries


def write_summary(out_dir: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Summarise ``out_dir/episodes.csv`` into ``out_dir/summary.json`` (merging ``extra``); return it.

    Sections other runs or stages added to an existing summary (e.g. ``shap``, ``videos``) are kept.
    """
    rows = read_rows(out_dir / EPISODES_FILE)
    path = out_dir / SUMMARY_FILE
    summary: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    run_file = out_dir / RUN_FILE
    summary["run"] = json.loads(run_file.read_text()) if run_file.exists() else {}
    summary["policies"] = {item.policy: asdict(item) for item in summarise_rows(rows)}
    summary.update(extra or {})
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(summary, indent=2, sort_keys=False))
    temporary.replace(path)
    return summary


def format_table(summaries: list[PolicySummary]) -> str:
    """A fixed-width text table for the terminal (the policy column fits the longest name)."""
    width = max([28] + [len(s.policy) + 2 for s in summaries])
    header = f"{'policy':<{width}}{'n':>4}{'success':>9}{'collide':>9}{'err mm':>9}{'p95 mm':>9}{'clear mm':>10}{'min mm':>9}{'IK ms':>8}{'plan ms':>9}"
    lines = [header, "-" * len(header)]
    for s in summaries:
        lines.append(
            f"{s.policy:<{width}}{s.episodes:>4}{s.success_rate:>9.0%}{s.collision_rate:>9.0%}"
            f"{s.target_error_mm_median:>9.2f}{s.target_error_mm_p95:>9.2f}{s.min_clearance_mm_median:>10.1f}"
            f"{s.min_clearance_mm_min:>9.1f}{s.ik_time_ms_per_episode_median:>8.1f}{s.plan_time_ms_median:>9.1f}"
        )
    return "\n".join(lines)

"""Per-policy summary of a results folder, written as ``summary.json``."""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from evaluation.schema import RUN_FILE, SUMMARY_FILE, read_episodes


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
    bound_collision_rate: float  #: episodes with a touch of the sphere bound (PyBullet on the spheres)
    min_clearance_bound_mm_median: float  #: the bound's smallest clearance per episode, median
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

        def column(name: str, mine: list[dict[str, str]] = mine) -> np.ndarray:
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
            bound_collision_rate=float((column("bound_contact_steps") > 0).mean()),
            min_clearance_bound_mm_median=float(np.median(column("min_clearance_bound_mm"))),
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
    rows = read_episodes(out_dir)
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


class TableColumn(NamedTuple):
    """One column of the terminal table: header, width, cell format, summary field, meaning."""

    header: str
    width: int
    cell: str
    field: str
    meaning: str


#: The terminal table's columns after the policy name, each explained in :func:`table_legend`.
TABLE_COLUMNS: tuple[TableColumn, ...] = (
    TableColumn("n", 4, "{:>4}", "episodes", "episodes"),
    TableColumn("success", 9, "{:>9.0%}", "success_rate", "goal reached without any contact"),
    TableColumn("contact", 9, "{:>9.0%}", "collision_rate",
                "episodes with any contact (obstacle, table or the arm itself) of ROBOTIS' CAD meshes"),
    TableColumn("err mm", 9, "{:>9.2f}", "target_error_mm_median", "median final goal position error"),
    TableColumn("p95 mm", 9, "{:>9.2f}", "target_error_mm_p95", "its 95th percentile"),
    TableColumn("clear mm", 10, "{:>10.1f}", "min_clearance_mm_median",
                "median over episodes of the smallest signed CAD arm-obstacle distance (negative: penetration)"),
    TableColumn("min mm", 9, "{:>9.1f}", "min_clearance_mm_min", "the smallest over all episodes"),
    TableColumn("IK ms", 8, "{:>8.1f}", "ik_time_ms_per_episode_median", "median IK/inference time per episode"),
    TableColumn("plan ms", 9, "{:>9.1f}", "plan_time_ms_median", "median planning time per episode"),
)


def format_table(summaries: list[PolicySummary]) -> str:
    """A fixed-width text table for the terminal (the policy column fits the longest name)."""
    width = max([28] + [len(s.policy) + 2 for s in summaries])
    header = f"{'policy':<{width}}" + "".join(f"{column.header:>{column.width}}" for column in TABLE_COLUMNS)
    lines = [header, "-" * len(header)]
    for summary in summaries:
        lines.append(f"{summary.policy:<{width}}"
                     + "".join(column.cell.format(getattr(summary, column.field)) for column in TABLE_COLUMNS))
    return "\n".join(lines)


def table_legend(width: int = 100) -> str:
    """The lines under the table that say what each column means, wrapped at ``width`` characters."""
    text = "legend: " + "; ".join(f"{column.header} = {column.meaning}" for column in TABLE_COLUMNS) + "."
    return textwrap.fill(text, width=width, subsequent_indent="        ")

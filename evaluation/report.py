"""The results folder's plots and its self-contained ``report.html``.

Plots are PNG files in ``plots/`` and are also embedded in the page (base64), so ``report.html``
opens in a browser with no server and still works when copied alone. Optional sections (SHAP
heat maps, videos) appear when their files exist in the folder; the page never references a
file that is not there.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from evaluation.schema import (
    EPISODES_FILE,
    PLOTS_DIR,
    REPORT_FILE,
    RUN_FILE,
    SHAP_DIR,
    STEPS_FILE,
    STUDY_FILE,
    SUMMARY_FILE,
    TRACES_FILE,
    read_episodes,
)


def plot_run(out_dir: Path) -> list[Path]:
    """Write the standard plots of a run into ``out_dir/plots``; return their paths.

    Titles wrap to the figure's width and the Pareto plot's legend sits beside the axes, so
    neither is cut off nor hides a point.
    """
    from matplotlib.figure import Figure  # the object API: no pyplot state, no backend to choose

    rows = read_episodes(out_dir)
    if not rows:
        return []
    plots = out_dir / PLOTS_DIR
    plots.mkdir(exist_ok=True)
    policies = list(dict.fromkeys(row["model"] for row in rows))
    by_policy = {p: [r for r in rows if r["model"] == p] for p in policies}
    written = []
    for column, label, name in (
        ("target_error_mm", "goal position error (mm, log)", "goal_error.png"),
        ("min_clearance_mm", "minimum clearance (mm, ROBOTIS' CAD)", "clearance.png"),
    ):
        figure = Figure(figsize=(max(4.8, 1.4 + 1.1 * len(policies)), 4.0), dpi=110, layout="constrained")
        axes = figure.subplots()
        values = [np.array([float(r[column]) for r in by_policy[p]]) for p in policies]
        axes.boxplot(values, showfliers=False)
        for i, v in enumerate(values, start=1):
            jitter = np.linspace(-0.12, 0.12, len(v)) if len(v) > 1 else np.zeros(1)
            collided = np.array([r["collided"] == "1" for r in by_policy[policies[i - 1]]])
            axes.scatter(i + jitter, v, s=14, c=np.where(collided, "#d62728", "#1f77b4"), zorder=3)
        axes.set_xticks(range(1, len(policies) + 1), policies, rotation=25, ha="right", fontsize=8)
        axes.set_ylabel(label)
        if column == "target_error_mm":
            axes.set_yscale("log")
        else:
            axes.axhline(0.0, color="#d62728", lw=0.8, ls="--")
        axes.set_title(label.split(" (")[0] + " per policy (red: episode with contact)", fontsize=9, wrap=True)
        figure.savefig(plots / name)
        written.append(plots / name)
    figure = Figure(figsize=(8.0, 4.2), dpi=110, layout="constrained")
    axes = figure.subplots()
    for policy in policies:
        error = [float(r["target_error_mm"]) for r in by_policy[policy]]
        clearance = [float(r["min_clearance_mm"]) for r in by_policy[policy]]
        axes.scatter(error, clearance, s=18, label=policy, alpha=0.8)
    summary = json.loads((out_dir / SUMMARY_FILE).read_text()) if (out_dir / SUMMARY_FILE).exists() else {}
    front = _pareto_front(summary.get("policies", {}))
    if front:
        xs, ys = zip(*front, strict=True)
        axes.plot(xs, ys, "k--o", lw=1, ms=7, mfc="none", label="Pareto front (policy medians)")
    axes.set_xscale("log")
    axes.set_xlabel("goal position error (mm)")
    axes.set_ylabel("minimum clearance (mm)")
    axes.axhline(0.0, color="#d62728", lw=0.8)
    axes.set_title("accuracy vs safety: upper left is better", fontsize=9, wrap=True)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    figure.savefig(plots / "pareto.png")
    written.append(plots / "pareto.png")
    return written


def _pareto_front(policies: dict) -> list[tuple[float, float]]:
    """Policy medians (error, clearance) not dominated by another (lower error, higher clearance)."""
    points = sorted((p["target_error_mm_median"], p["min_clearance_mm_median"]) for p in policies.values())
    front, best_clearance = [], -np.inf
    for error, clearance in points:
        if clearance > best_clearance:
            front.append((error, clearance))
            best_clearance = clearance
    return front


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f'<figcaption>{html.escape(alt)}</figcaption></figure>')


class ReportColumn(NamedTuple):
    """One column of the report's summary table: summary field, header, cell format, meaning."""

    field: str
    header: str
    cell: str
    meaning: str


_TABLE_COLUMNS: tuple[ReportColumn, ...] = (
    ReportColumn("policy", "policy", "{}", "the policy name (SOLVER[+MODIFIER...] or a baseline)"),
    ReportColumn("episodes", "n", "{}", "episodes run"),
    ReportColumn("success_rate", "success", "{:.0%}",
                 "goal reached within the environment's threshold without any contact"),
    ReportColumn("collision_rate", "any contact", "{:.0%}",
                 "episodes in which ROBOTIS' CAD meshes of the arm touched an obstacle, the table or themselves "
                 "at least once (PyBullet's contacts on the sphere bound, measured again on the meshes)"),
    ReportColumn("bound_collision_rate", "bound contact", "{:.0%}",
                 "the same on the sphere bound the planners and the safety layer use (it encloses the CAD, so it "
                 "touches at least as often)"),
    ReportColumn("target_error_mm_median", "goal error mm (median)", "{:.2f}",
                 "final end-effector position error, median over episodes"),
    ReportColumn("target_error_mm_p95", "goal error mm (p95)", "{:.2f}", "its 95th percentile"),
    ReportColumn("orientation_error_deg_median", "orientation error deg", "{:.2f}",
                 "final geodesic orientation error, median"),
    ReportColumn("min_clearance_mm_median", "clearance mm (median)", "{:.1f}",
                 "each episode's smallest signed distance of ROBOTIS' CAD meshes of the arm to an obstacle "
                 "(negative: penetration), median over episodes"),
    ReportColumn("min_clearance_mm_min", "clearance mm (min)", "{:.1f}", "the smallest of those"),
    ReportColumn("jerk_median", "jerk rad/s3", "{:.0f}", "RMS joint jerk, median: lower is smoother"),
    ReportColumn("ik_time_ms_per_episode_median", "IK ms / episode", "{:.1f}",
                 "time spent in IK or network inference per episode, median"),
    ReportColumn("plan_time_ms_median", "planning ms / episode", "{:.1f}", "path planning time per episode, median"),
    ReportColumn("limit_violations_total", "IK limit violations", "{}",
                 "IK answers (one per Cartesian waypoint, or the planner's goal) whose raw joint angles left "
                 "ROBOTIS' joint limits, summed over the episodes; the policy clamps them before commanding, so "
                 "a non-zero count says the solver (typically a network) answers outside the arm's range"),
)


def _file_links(out_dir: Path) -> str:
    """Links to the run's data files that exist (relative, so the folder can move)."""
    names = [EPISODES_FILE, STEPS_FILE, SUMMARY_FILE, RUN_FILE, f"{SHAP_DIR}/{STUDY_FILE}", f"{SHAP_DIR}/{TRACES_FILE}"]
    return ", ".join(f'<a href="{html.escape(name)}">{html.escape(name)}</a>' for name in names
                     if (out_dir / name).exists())


def write_report(out_dir: Path) -> Path:
    """Write ``plots/`` and ``report.html`` for the results folder; return the report's path."""
    images = plot_run(out_dir)
    summary = json.loads((out_dir / SUMMARY_FILE).read_text()) if (out_dir / SUMMARY_FILE).exists() else {}
    run = summary.get("run", {})
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(column.cell.format(p[column.field]))}</td>" for column in _TABLE_COLUMNS)
        + "</tr>"
        for p in summary.get("policies", {}).values()
    )
    header = "".join(f'<th title="{html.escape(column.meaning)}">{html.escape(column.header)}</th>'
                     for column in _TABLE_COLUMNS)
    legend = "".join(f"<dt>{html.escape(column.header)}</dt><dd>{html.escape(column.meaning)}</dd>"
                     for column in _TABLE_COLUMNS[1:])
    sections = [f"<h2>Summary</h2><table><tr>{header}</tr>{rows}</table><dl class=\"legend\">{legend}</dl>"]
    sections.append("<h2>Plots</h2>" + "".join(_image(path, path.stem.replace("_", " ")) for path in images))
    sections.extend(_optional_sections(out_dir, summary))
    title = f"Neural IK safety report: {run.get('scenario', '')}"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }} th {{ background: #f3f3f3; }}
dl.legend {{ font-size: 0.85em; display: grid; grid-template-columns: max-content auto; gap: 2px 12px; }}
dl.legend dt {{ font-weight: 600; }} dl.legend dd {{ margin: 0; }}
figure {{ display: inline-block; margin: 0.5em; }} img, video {{ max-width: 100%; }}
figcaption {{ font-size: 0.8em; color: #555; text-align: center; }} code {{ background: #f3f3f3; padding: 1px 4px; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Scenario <code>{html.escape(str(run.get('scenario', '')))}</code>, seed {html.escape(str(run.get('seed', '')))},
{html.escape(str(run.get('episodes', '')))} episodes per policy; episode k shows every policy the same scene.
Files: {_file_links(out_dir)}.</p>
{''.join(sections)}
</body></html>
"""
    path = out_dir / REPORT_FILE
    path.write_text(page)
    return path


def _optional_sections(out_dir: Path, summary: dict) -> list[str]:
    """SHAP figures and videos, each only if its file exists in the folder."""
    sections = []
    shap_dir = out_dir / SHAP_DIR
    if shap_dir.is_dir():
        figures = sorted(shap_dir.glob("*.png"))
        if figures:
            images = "".join(_image(p, p.stem.replace("_", " ")) for p in figures)
            sections.append("<h2>Shapley attributions</h2>" + images)
    videos = [Path(v) for v in summary.get("videos", {}).get("comparison", [])]
    existing = [v for v in videos if (out_dir / v).exists()]
    if existing:
        sections.append("<h2>Videos</h2>" + "".join(
            f'<figure><video controls muted loop src="{html.escape(str(v))}"></video>'
            f'<figcaption>{html.escape(v.stem)}</figcaption></figure>'
            for v in existing))
    return sections

"""The results folder's plots and its self-contained ``report.html``.

Plots are PNG files in ``plots/`` and are also embedded in the page (base64), so ``report.html``
opens in a browser with no server and still works when copied alone. Optional sections (SHAP
heat maps, videos) appear when their files exist in the folder; the page never references a
file that is not there.

The page opens with "What this run shows" (:mod:`evaluation.findings`, every sentence computed
from the folder's numbers), then the table, then the figures, each with a one-line caption
saying what to look for (:func:`figure_caption`), the videos and the Rerun recordings.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from evaluation.findings import findings_html, recordings
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


#: Figure file name (a regular expression on the stem) -> its caption: what it shows, what to look for.
#: ``{0}`` is the first group of the match (a network, or a policy and episode).
_CAPTIONS: tuple[tuple[str, str], ...] = (
    (r"goal_error", "Final goal position error of every episode (log scale; red dot: an episode with a contact). "
                    "Look for: low boxes are accurate policies; a red dot high up failed and touched."),
    (r"clearance", "Smallest CAD clearance of every episode; below the dashed red line the arm's meshes went into "
                   "an obstacle. Look for: boxes and dots well above 0 mm."),
    (r"pareto", "Each dot an episode, goal error against clearance; the dashed line joins the policy medians no "
                "other policy beats on both. Look for: policies toward the upper left (accurate and clear)."),
    (r"heatmaps_all_models", "Every network's mean |Shapley value| on one colour scale. Look for: where the "
                             "networks differ in which pose features drive a joint."),
    (r"heatmap_(.+)", "Network {0}: mean |Shapley value| (rad) of each pose feature (rows) on each joint "
                      "(columns). Look for: the bright cells, the features that move a joint most."),
    (r"local_(.+)", "Network {0}, one pose: per joint, each feature's bar moves the answer from the mean output "
                    "(dashed) to this pose's answer (solid), largest first; red raises, blue lowers the angle. "
                    "Look for: one feature dominating a joint."),
    (r"pdp_(.+)", "Network {0}: mean joint angle as one pose feature sweeps its range. Look for: steep curves "
                  "(the joint follows that feature) and flat ones (the feature is ignored)."),
    (r"balance", "Per network: attribution entropy (1: features share equally), Gini (0: equal) and the position "
                 "features' share. Look for: low entropy or high Gini, a network that leans on few features."),
    (r"trace_(.+)_ep(\d+)", "Policy {0}, episode {1}: each pose feature's share of |Shapley value| per joint along "
                            "the episode (black bar at the top: contact). Look for: a shift in the driving feature "
                            "at a contact."),
    (r"safety_vs_balance", "Each IKNet episode's attribution entropy against its clearance and goal error. Look for: "
                           "a trend; the Spearman intervals in summary.json say whether it is more than noise."),
)


def _file_stem(policy: str) -> str:
    """A policy name as the run's figures and videos spell it in file names."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in policy)


def _video_label(stem: str, names: dict[str, str]) -> str:
    """``POLICY_epK`` -> ``POLICY, episode K`` with the policy's own name when the run has it."""
    match = re.fullmatch(r"(.+)_ep(\d+)", stem)
    return f"{names.get(match.group(1), match.group(1))}, episode {match.group(2)}" if match else stem


def figure_caption(path: str | Path, policies: tuple[str, ...] = ()) -> str:
    """One line for the figure ``path``: what it shows and what to look for (a generic line if unknown).

    Args:
        path: the PNG; its name says which figure it is.
        policies: the run's policy names, to name a policy whose file name had its ``:`` and ``+`` replaced.
    """
    stem = Path(path).stem
    by_file_name = {_file_stem(name): name for name in policies}
    for pattern, caption in _CAPTIONS:
        match = re.fullmatch(pattern, stem)
        if match:
            return caption.format(*(by_file_name.get(group, group) for group in match.groups()))
    return f"{stem.replace('_', ' ')} (a figure of this run)."


def _image(path: Path, alt: str, policies: tuple[str, ...] = ()) -> str:
    """The PNG embedded as a figure no wider than the image, so its caption wraps to the image's width."""
    raw = path.read_bytes()
    width = int.from_bytes(raw[16:20], "big") if raw[:8] == b"\x89PNG\r\n\x1a\n" else 0
    style = f' style="max-width: min(100%, {width}px)"' if width else ""
    data = base64.b64encode(raw).decode()
    return (f'<figure{style}><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f'<figcaption>{html.escape(figure_caption(path, policies))}</figcaption></figure>')


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
    sections = [findings_html(out_dir, summary)]
    sections.append(f"<h2>Summary</h2><table><tr>{header}</tr>{rows}</table><dl class=\"legend\">{legend}</dl>")
    sections.append("<h2>Plots</h2>" + "".join(_image(path, path.stem.replace("_", " ")) for path in images))
    sections.extend(_optional_sections(out_dir, summary))
    title = f"Neural IK safety report: {run.get('scenario', '')}"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 4px 6px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }} th {{ background: #f3f3f3; }}
dl.legend {{ font-size: 0.85em; display: grid; grid-template-columns: max-content auto; gap: 2px 12px; }}
dl.legend dt {{ font-weight: 600; }} dl.legend dd {{ margin: 0; }}
figure {{ display: inline-block; margin: 0.5em; vertical-align: top; max-width: 100%; }}
img, video {{ max-width: 100%; display: block; }}
figcaption {{ font-size: 0.85em; color: #444; text-align: left; padding: 2px 4px 8px; }}
code {{ background: #f3f3f3; padding: 1px 4px; }}
#findings ul {{ line-height: 1.45; padding-left: 1.2em; }} #findings li {{ margin-bottom: 0.35em; }}
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


def shap_figures(out_dir: Path, summary: dict) -> list[Path]:
    """The SHAP figures to show, in the order the study wrote them, each once.

    The study's list in ``summary.json`` decides (a figure left from an earlier study in the same
    folder is not shown); without it, the PNGs in ``shap/`` by name. The all-models heat map is left
    out when the run explains one network: it would repeat that network's own heat map.
    """
    listed = summary.get("shap", {}).get("figures")
    if listed:
        paths = [out_dir / name for name in dict.fromkeys(listed)]
    else:
        paths = sorted((out_dir / SHAP_DIR).glob("*.png")) if (out_dir / SHAP_DIR).is_dir() else []
    paths = [path for path in paths if path.suffix == ".png" and path.is_file()]
    if sum(1 for path in paths if path.name.startswith("heatmap_")) <= 1:
        paths = [path for path in paths if path.name != "heatmaps_all_models.png"]
    return paths


def _optional_sections(out_dir: Path, summary: dict) -> list[str]:
    """SHAP figures, videos and Rerun recordings, each only if its file exists in the folder."""
    sections = []
    figures = shap_figures(out_dir, summary)
    if figures:
        sections.append("<h2>Shapley attributions</h2>" + "".join(
            _image(path, path.stem.replace("_", " "), tuple(summary.get("policies", {}))) for path in figures))
    videos = summary.get("videos", {})
    comparison = [Path(v) for v in videos.get("comparison", []) if (out_dir / v).is_file()]
    per_episode = [Path(v) for v in videos.get("per_episode", []) if (out_dir / v).is_file()]
    if comparison or per_episode:
        grids = "".join(
            f'<figure><video controls muted loop src="{html.escape(v.as_posix())}"></video>'
            f"<figcaption>{html.escape(v.stem.replace('comparison_ep', 'Episode '))}: every policy in the same "
            "scene side by side, with goal error and clearance overlaid. Look for: which arm touches first, and "
            "where.</figcaption></figure>"
            for v in comparison)
        names = {_file_stem(name): name for name in summary.get("policies", {})}
        singles = "; ".join(f'<a href="{html.escape(v.as_posix())}">{html.escape(_video_label(v.stem, names))}</a>'
                            for v in per_episode)
        sections.append("<h2>Videos</h2>" + grids + (f"<p>Each episode alone: {singles}.</p>" if singles else ""))
    files = recordings(out_dir)
    if files:
        items = "".join(f'<li><a href="{html.escape(name)}">{html.escape(name)}</a>: '
                        f"<code>rerun {html.escape(name)}</code></li>" for name in files)
        sections.append("<h2>Recordings</h2><p>Rerun recordings of the run, one per scene with every policy (the "
                        "arm's CAD meshes, obstacles, contacts and the time series on one timeline). Open one in "
                        "Rerun's viewer with the command beside it, run from this folder (the viewer comes with "
                        "the project's extra: <code>pip install \".[viz]\"</code>).</p>"
                        f"<ul>{items}</ul>")
    return sections

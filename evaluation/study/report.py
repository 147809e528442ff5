"""The study folder: tables (CSV and Markdown), figures and ``claims.md``.

Layout of ``<out>/study/``: the inputs ``episodes.csv.gz`` (the analysed table), ``networks.csv`` (balance
and accuracy per trained network), ``study.json`` and ``run.json`` (see :mod:`evaluation.study.analysis`),
then what is computed from them: ``variants.csv`` (per variant x scenario set: means with
scene-clustered bootstrap intervals), ``claims.csv``, ``comparisons.csv`` (secondary, Holm within
their own family), ``pareto.csv``, figures ``*.png``, and the claims files (``claims.md`` and
``paper_claims.md`` or ``claims_v1.md``; :mod:`evaluation.study.analysis` says which is which).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.study.claims import ClaimTest
from evaluation.study.design import StudyDesign
from evaluation.study.stats import Comparison, Interval, cluster_bootstrap_mean, holm, naive_bootstrap_mean

STUDY_DIR = "study"
#: The paper's table: target error, minimum clearance (units unstated).
PAPER_TABLE = {"improved": (2.8651, 0.5402), "focused": (3.7536, 1.5604)}
#: PNG metadata of every figure: no software version, so the same numbers give the same bytes.
PNG_METADATA: dict[str, str | None] = {"Software": None}


def _fmt(iv: Interval, digits: int = 2) -> str:
    if not math.isfinite(iv.estimate):
        return "n/a"
    if not (math.isfinite(iv.low) and math.isfinite(iv.high)):
        return f"{iv.estimate:.{digits}f} [n/a]"
    return f"{iv.estimate:.{digits}f} [{iv.low:.{digits}f}, {iv.high:.{digits}f}]"


def variant_table(frame: pd.DataFrame, rng: np.random.Generator, resamples: int) -> pd.DataFrame:
    """Per policy group (variant and kind) and scenario set ("all" and each scenario): outcome means with
    scene-clustered 95% intervals, and the naive row-bootstrap width of clearance for contrast."""
    rows = []
    groups = frame.groupby(["kind", "variant"], sort=False)
    for (kind, variant), group in groups:
        for scenario in ["all", *sorted(group["scenario"].unique())]:
            data = group if scenario == "all" else group[group["scenario"] == scenario]
            row = {"kind": kind, "variant": variant, "scenario": scenario, "networks": data["network"].nunique(),
                   "scenes": data["scene"].nunique(), "episodes": len(data)}
            for outcome in ("target_error_mm", "clearance_ok_mm", "collided", "jerk", "min_clearance_mm"):
                values = data[outcome]
                iv = cluster_bootstrap_mean(values, data["scene"], rng=rng, resamples=resamples)
                row[outcome] = iv.estimate
                row[f"{outcome}_low"], row[f"{outcome}_high"] = iv.low, iv.high
            naive = naive_bootstrap_mean(data["clearance_ok_mm"].dropna(), rng=rng, resamples=resamples)
            row["clearance_ok_mm_naive_width"] = naive.width
            rows.append(row)
    return pd.DataFrame(rows)


def pareto_points(frame: pd.DataFrame) -> pd.DataFrame:
    """One point per network/policy: mean target error and mean minimum clearance (all episodes,
    penetration negative), collision rate; ``pareto`` marks the non-dominated points (low error, high clearance)."""
    points = frame.groupby(["kind", "variant", "network", "policy"], sort=False).agg(
        target_error_mm=("target_error_mm", "mean"), min_clearance_mm=("min_clearance_mm", "mean"),
        collision_rate=("collided", "mean"), episodes=("scene", "count")).reset_index()
    error, clearance = points["target_error_mm"].to_numpy(), points["min_clearance_mm"].to_numpy()
    dominated = [bool(np.any((error <= error[i]) & (clearance >= clearance[i])
                             & ((error < error[i]) | (clearance > clearance[i])))) for i in range(len(points))]
    points["pareto"] = ~np.array(dominated, dtype=bool)
    return points


def _figures(out: Path, frame: pd.DataFrame, networks: pd.DataFrame, variants: pd.DataFrame, points: pd.DataFrame,
             design: StudyDesign) -> list[str]:
    from matplotlib.figure import Figure

    written = []
    colours = {v.name: f"C{i % 10}" for i, v in enumerate(design.variants)}

    figure = Figure(figsize=(7.5, 4.8), dpi=110)
    ax = figure.subplots()
    for _, p in points.iterrows():
        marker = {"raw": "o", "safe": "s", "reference": "*"}[p["kind"]]
        ax.scatter(p["target_error_mm"], p["min_clearance_mm"], marker=marker, s=30 + 200 * p["collision_rate"],
                   color=colours.get(p["variant"], "k"), alpha=0.8, edgecolor="k" if p["pareto"] else "none")
    front = points[points["pareto"]].sort_values("target_error_mm")
    ax.plot(front["target_error_mm"], front["min_clearance_mm"], "k--", lw=1, label="Pareto front")
    for name, colour in colours.items():
        ax.scatter([], [], color=colour, label=name)
    ax.scatter([], [], marker="s", color="grey", label="+safe"), ax.scatter([], [], marker="*", color="grey",
                                                                            label="reference")
    scale = axis_scale(points["target_error_mm"])
    ax.set_xscale(scale)
    ax.set_xlabel("mean target error (mm, log)" if scale == "log" else "mean target error (mm)")
    ax.set_ylabel("mean minimum clearance (mm)")
    ax.set_title("Target error vs clearance: every network and policy (size = collision rate)", fontsize=9)
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    figure.savefig(out / "pareto.png", metadata=PNG_METADATA)
    written.append("pareto.png")

    table = variants[(variants["scenario"] == "all")]
    figure = Figure(figsize=(10, 3.6), dpi=110)
    axes = figure.subplots(1, 3)
    labels = [f"{v}{'' if k == 'raw' else '+' + k[:4]}" for k, v in zip(table["kind"], table["variant"], strict=True)]
    for ax, (outcome, title) in zip(axes, (("clearance_ok_mm", "clearance, no collision (mm)"),
                                           ("target_error_mm", "target error (mm)"),
                                           ("collided", "collision rate")), strict=True):
        y = table[outcome].to_numpy()
        err = np.vstack([y - table[f"{outcome}_low"].to_numpy(), table[f"{outcome}_high"].to_numpy() - y])
        ax.errorbar(np.arange(len(y)), y, yerr=np.nan_to_num(err), fmt="o", capsize=3)
        ax.set_xticks(np.arange(len(y)), labels, rotation=60, ha="right", fontsize=6)
        ax.set_title(title + "\n95% scene-clustered CI", fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "variants.png", metadata=PNG_METADATA)
    written.append("variants.png")

    raw = frame[frame["kind"] == "raw"]
    per_network = raw.groupby("network").agg(clearance=("clearance_ok_mm", "mean")).join(
        networks.set_index("network"))
    figure = Figure(figsize=(9, 3.6), dpi=110)
    axes = figure.subplots(1, 2)
    for variant, group in per_network.groupby("variant"):
        axes[0].scatter(group[design.balance_measure], group["clearance"], color=colours.get(variant, "k"),
                        label=variant)
    axes[0].set_xlabel(f"network balance ({design.balance_measure})")
    axes[0].set_ylabel("mean clearance, no collision (mm)")
    axes[0].legend(fontsize=6)
    axes[0].set_title("network level", fontsize=8)
    if "episode_balance" in raw and raw["episode_balance"].notna().any():
        for variant, group in raw.groupby("variant"):
            axes[1].scatter(group["episode_balance"], group["clearance_ok_mm"], s=6, alpha=0.5,
                            color=colours.get(variant, "k"))
        axes[1].set_xlabel("episode balance")
        axes[1].set_title("episode level", fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "balance_vs_clearance.png", metadata=PNG_METADATA)
    written.append("balance_vs_clearance.png")

    weights = {v.name: v.balance_weight for v in design.variants if v.architecture == "improved"}
    if len(weights) > 1:
        figure = Figure(figsize=(8, 3.4), dpi=110)
        axes = figure.subplots(1, 2)
        for name, weight in weights.items():
            nets = networks[networks["variant"] == name]
            x = np.full(len(nets), max(weight, 0.3))
            axes[0].scatter(x, nets[design.balance_measure], color=colours[name])
            clear = raw[raw["variant"] == name].groupby("network")["clearance_ok_mm"].mean()
            axes[1].scatter(np.full(len(clear), max(weight, 0.3)), clear, color=colours[name])
        for ax, label in zip(axes, (f"network balance ({design.balance_measure})", "mean clearance (mm)"),
                             strict=True):
            ax.set_xscale("log")
            ax.set_xlabel("balance weight (0 drawn at 0.3)")
            ax.set_ylabel(label)
        figure.suptitle("The intervention: regulariser weight -> balance -> clearance (one dot per network)",
                        fontsize=9)
        figure.tight_layout()
        figure.savefig(out / "intervention.png", metadata=PNG_METADATA)
        written.append("intervention.png")
    return written


def axis_scale(values: pd.Series) -> str:
    """``"log"`` where the values span a range a log axis shows (some positive and finite, none at or
    below 0), else ``"linear"``: a degenerate run (zero errors, NaN) still draws its figure."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = numbers[np.isfinite(numbers)]
    return "log" if finite.size and (finite > 0).all() else "linear"


def _markdown_table(frame: pd.DataFrame) -> str:
    columns = list(frame.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.3g}"
    return str(value)


@dataclass(frozen=True)
class StudyTables:
    """What :func:`write_tables` computed and wrote, for the claims file."""

    design: StudyDesign
    frame: pd.DataFrame
    networks: pd.DataFrame
    variants: pd.DataFrame
    points: pd.DataFrame
    tests: list[ClaimTest]
    secondary: pd.DataFrame
    figures: list[str]


def write_tables(folder: Path, design: StudyDesign, frame: pd.DataFrame, networks: pd.DataFrame,
                 tests: list[ClaimTest], comparisons: list[Comparison], *, rng: np.random.Generator) -> StudyTables:
    """Write the v1 tables (``variants``, ``pareto``, ``claims``, ``comparisons`` CSVs) and the figures into
    ``folder``; the input tables (episodes, networks) are :mod:`evaluation.study.analysis`'s."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    variants = variant_table(frame, rng, design.bootstrap_resamples)
    variants.to_csv(out / "variants.csv", index=False)
    points = pareto_points(frame)
    points.to_csv(out / "pareto.csv", index=False)
    claims = pd.DataFrame([{**{k: v for k, v in asdict(t).items() if k != "interval"},
                            "estimate": t.interval.estimate, "low": t.interval.low, "high": t.interval.high,
                            "n": t.interval.n} for t in tests])
    claims.to_csv(out / "claims.csv", index=False)
    adjusted = holm([c.p_value for c in comparisons], alpha=design.alpha)
    secondary = pd.DataFrame([{"comparison": c.name, "outcome": c.outcome, "estimate": c.difference.estimate,
                               "low": c.difference.low, "high": c.difference.high,
                               "scene_bootstrap": _fmt(c.scene_bootstrap), "d_z": _fmt(c.standardised),
                               "p": c.p_value, "p_holm": p, "scenes": c.scenes, "test": c.test}
                              for c, p in zip(comparisons, adjusted, strict=True)])
    secondary.to_csv(out / "comparisons.csv", index=False)
    figures = _figures(out, frame, networks, variants, points, design)
    return StudyTables(design, frame, networks, variants, points, list(tests), secondary, figures)


def claims_v1_markdown(design: StudyDesign, tables: StudyTables, *, command: str, wall_time_s: float,
                       failures: list[str] | tuple[str, ...] = ()) -> str:
    """The v1 claims file (its claim tests, the paper's table, per-variant tables, networks, figures)."""
    return _claims_markdown(design, tables.frame, tables.networks, tables.variants, tables.points, tables.tests,
                            tables.secondary, tables.figures, command, wall_time_s, failures)


def write_study(out_dir: Path, design: StudyDesign, frame: pd.DataFrame, networks: pd.DataFrame,
                tests: list[ClaimTest], comparisons: list[Comparison], *, command: str, wall_time_s: float,
                failures: list[str] | tuple[str, ...] = (),
                rng: np.random.Generator) -> Path:
    """Write every v1 table, figure and ``claims.md`` into ``<out_dir>/study``; return that folder (the
    study command itself goes through :func:`evaluation.study.analysis.analyse_folder`)."""
    out = Path(out_dir) / STUDY_DIR
    tables = write_tables(out, design, frame, networks, tests, comparisons, rng=rng)
    (out / "claims.md").write_text(claims_v1_markdown(design, tables, command=command, wall_time_s=wall_time_s,
                                                      failures=failures), encoding="utf-8")
    return out


def _claims_markdown(design: StudyDesign, frame: pd.DataFrame, networks: pd.DataFrame, variants: pd.DataFrame,
                     points: pd.DataFrame, tests: list[ClaimTest], secondary: pd.DataFrame, figures: list[str],
                     command: str, wall_time_s: float, failures: list[str] | tuple[str, ...]) -> str:
    budget = design.training
    lines = [
        f"# The paper's claims, tested ({design.name})",
        "",
        f"Command: `{command}`  ",
        f"Wall time: {wall_time_s / 60:.1f} min (training, episodes, attribution and statistics).  ",
        f"Design: `{design.source}` ({design.registration}). Primary outcome: **{design.primary_outcome}** of "
        "non-colliding episodes; secondary: " + ", ".join(design.secondary_outcomes) + ". "
        f"Family of claim tests Holm-corrected at alpha = {design.alpha}.",
        "",
        f"Networks: {len(design.variants)} variants x {len(budget.seeds)} training seeds ({list(budget.seeds)}), each "
        f"trained on {budget.data_size:,} poses for {budget.epochs} epochs (data seed = training seed; shipped "
        "checkpoints used 0.5-1M poses and 12-50 epochs; held-out accuracy per network in networks.csv). "
        f"Scenes: " + ", ".join(f"{p.name} x {p.episodes}" for p in design.scenarios) + "; every policy sees the "
        f"same scenes. Episodes analysed: {len(frame)}.",
        "",
        "Verdicts: **holds** = the 95% interval excludes 0 on the claimed side and the Holm-adjusted p < alpha; "
        "**does not hold** = it excludes 0 on the other side, or a clearance effect's whole interval lies within "
        f"+-{design.negligible_clearance_mm:g} mm; **inconclusive** otherwise.",
        "",
        "## Claims",
        "",
        "| claim | verdict | statistic | estimate [95% CI] | n | p (Holm) | what would change it |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in tests:
        lines.append(f"| {t.claim} | **{t.verdict}** | {t.statistic} | {_fmt(t.interval, 3)} | {t.units} | "
                     f"{_cell(t.p_value)} ({_cell(t.p_adjusted)}) | "
                     f"{t.what_would_change(design.alpha, _margin(t, design))} |")
    lines += ["", "Tests behind the rows:", ""]
    lines += [f"- {t.claim}: {t.test}." + (f" Fit notes: {t.note}." if t.note else "") for t in tests]

    lines += ["", "## The paper's table against ours (raw networks, all scenes, mm)", "",
              "| variant | paper target error | ours: target error [CI] | paper min clearance | "
              "ours: clearance of non-colliding episodes [CI] | ours: collision rate [CI] |",
              "|---|---|---|---|---|---|"]
    allrows = variants[(variants["scenario"] == "all") & (variants["kind"] == "raw")]
    for _, row in allrows.iterrows():
        paper = PAPER_TABLE.get(row["variant"], (math.nan, math.nan))
        lines.append(f"| {row['variant']} | {_cell(paper[0])} | {_row_ci(row, 'target_error_mm')} | "
                     f"{_cell(paper[1])} | {_row_ci(row, 'clearance_ok_mm')} | {_row_ci(row, 'collided', 2)} |")
    lines += ["", _paper_sentence(allrows), ""]

    lines += ["## Per variant and scenario (scene-clustered 95% CIs)", "",
              "Clearance is over non-colliding episodes; `naive width` is the row-bootstrap CI width of the same "
              "mean, for comparison with the scene-clustered one.", "",
              "| kind | variant | scenario | nets | scenes | target error mm | clearance mm | naive width | "
              "cluster width | collision rate | jerk |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, row in variants.iterrows():
        lines.append(f"| {row['kind']} | {row['variant']} | {row['scenario']} | {row['networks']} | {row['scenes']} | "
                     f"{_row_ci(row, 'target_error_mm')} | {_row_ci(row, 'clearance_ok_mm')} | "
                     f"{_cell(row['clearance_ok_mm_naive_width'])} | "
                     f"{_cell(row['clearance_ok_mm_high'] - row['clearance_ok_mm_low'])} | "
                     f"{_row_ci(row, 'collided', 2)} | {_row_ci(row, 'jerk', 0)} |")

    lines += ["", "## Secondary paired comparisons against `improved` (own Holm family)", "",
              "Collisions are compared as per-scene rate differences (Wilcoxon signed-rank over scenes); "
              "continuous outcomes with the crossed mixed model.", "",
              _markdown_table(secondary[["comparison", "outcome", "estimate", "low", "high", "d_z", "p", "p_holm",
                                         "scenes"]]) if len(secondary) else "(none)", ""]
    lines += ["## Networks (exact Shapley balance, held-out accuracy)", "",
              _markdown_table(networks.drop(columns=["seed"])), ""]
    lines += ["## Pareto front (target error vs clearance, every network and policy)", "",
              _markdown_table(points[points["pareto"]][["kind", "variant", "network", "target_error_mm",
                                                        "min_clearance_mm", "collision_rate"]]), ""]
    lines += ["## Figures", ""] + [f"![{name}]({name})" for name in figures] + [""]
    lines += ["## Runs that stopped early", ""] + ([f"- {f}" for f in failures] if failures else ["none"]) + [""]
    return "\n".join(lines)


def _row_ci(row: pd.Series, outcome: str, digits: int = 2) -> str:
    return _fmt(Interval(row[outcome], row[f"{outcome}_low"], row[f"{outcome}_high"], 0, ""), digits)


def _paper_sentence(rows: pd.DataFrame) -> str:
    """How our improved/focused numbers compare with the paper's table, read as millimetres."""
    ours = {row["variant"]: row for _, row in rows.iterrows() if row["variant"] in PAPER_TABLE}
    if len(ours) < 2:
        return "The paper's variants are not both in this design; no comparison."
    parts = []
    for name, (error, clearance) in PAPER_TABLE.items():
        row = ours[name]
        parts.append(f"{name}: target error {row['target_error_mm']:.2f} mm (paper {error}), clearance of "
                     f"non-colliding episodes {row['clearance_ok_mm']:.1f} mm (paper {clearance})")
    paper_order = "Focused has both the larger target error and the wider clearance"
    error_same = (ours["focused"]["target_error_mm"] > ours["improved"]["target_error_mm"])
    clearance_same = (ours["focused"]["clearance_ok_mm"] > ours["improved"]["clearance_ok_mm"])
    return ("The paper states no units; read as millimetres: " + "; ".join(parts) + ". In the paper " + paper_order
            + f"; in our point estimates the target-error order is {'the same' if error_same else 'reversed'} and "
            f"the clearance order is {'the same' if clearance_same else 'reversed'} (whether either difference is "
            "real is the paired test in the claims table). The paper's clearances (0.54, 1.56) are one to two "
            "orders below ours, so its clearance is most likely another definition or unit; ours is the "
            "minimum distance (mm) between the arm's sphere model of ROBOTIS' CAD and any obstacle or the table "
            "over the episode.")


def _margin(test: ClaimTest, design: StudyDesign) -> float:
    """The negligible-effect margin that applies to a claim test (clearance tests only)."""
    return design.negligible_clearance_mm if "clearance" in test.test else 0.0

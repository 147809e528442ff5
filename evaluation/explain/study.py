"""``run_sim.py --shap``: attributions of every IKNet in a run, traces, and the safety-attribution study.

For each IKNet model: global importance over fresh poses (the published setup: 20 explained
poses, 50 background poses, exact interventional Shapley values) drawn as heat maps, attribution
balance, a local explanation and partial-dependence curves. For each IKNet policy episode:
per-step attributions of the commanded joint target (the network explained at the pose the
target reaches, against a 16-row k-means background) written beside the step log
(``shap/traces.csv``), and drawn as stacked areas. The study relates each episode's attribution
balance to its minimum clearance and goal error: Spearman correlations with bootstrap 95%
intervals, pooled and per model, and the Pareto front of goal error against clearance.
Everything is computed after the episodes ran, so tracing never slows an episode.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from tqdm import tqdm

from agents.ik_policy.policy import parse_policy
from agents.iknet.checkpoint import load_model
from evaluation.config import RunConfig
from evaluation.explain import plots
from evaluation.explain.balance import attribution_balance, global_importance, partial_dependence
from evaluation.explain.shapley import TraceExplainer, explain, published_setup
from evaluation.results_io import append_rows
from evaluation.schema import SHAP_DIR, STUDY_FILE, TRACE_COLUMNS, TRACES_FILE, read_episodes, read_steps
from sim.errors import InvalidInputError
from sim.robot.kinematics import clamp_to_limits, forward_kinematics, sample_joints

BALANCE_MEASURES = ("entropy_overall", "gini_overall", "position_share_overall")
SAFETY_MEASURES = ("min_clearance_mm", "target_error_mm")


@dataclass(frozen=True)
class Correlation:
    """Spearman rank correlation with a bootstrap 95% interval."""

    balance: str
    safety: str
    group: str  #: "pooled" or a policy name
    episodes: int
    rho: float
    low: float
    high: float


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (``scipy.stats.spearmanr``, average ranks for ties); NaN if either side is
    constant or n < 3."""
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def bootstrap_spearman(a: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                       resamples: int = 1000) -> tuple[float, float, float]:
    """(rho, low, high): rho and its paired percentile bootstrap 95% interval (``scipy.stats.bootstrap``).

    The interval is NaN where rho is, and where a resample has no defined rho (a constant side,
    likely with a handful of episodes): too few episodes for an interval, i.e. inconclusive.
    """
    rho = spearman(a, b)
    if np.isnan(rho):
        return rho, float("nan"), float("nan")
    with warnings.catch_warnings():  # degenerate resamples give NaN, reported as such
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = stats.bootstrap((a, b), spearman, paired=True, vectorized=False, n_resamples=resamples,
                                   method="percentile", confidence_level=0.95, rng=rng).confidence_interval
    return rho, float(interval.low), float(interval.high)


def fresh_poses(seed: int, count: int) -> np.ndarray:
    """Poses of joints drawn uniformly within the limits with the end effector above the table."""
    rng = np.random.default_rng(seed)
    joints = sample_joints(rng, 4 * count)
    poses = forward_kinematics(joints)
    return poses[poses[:, 2] > 0.0][:count]


def iknet_models_of(policies: tuple[str, ...]) -> dict[str, list[str]]:
    """IKNet model name -> policies of the run that use it."""
    models: dict[str, list[str]] = {}
    for policy in policies:
        if policy.split(":", 1)[0] != "iknet":
            continue
        spec = parse_policy(policy)
        models.setdefault(spec.model or "", []).append(policy)
    return models


def attribution_panels(policies: tuple[str, ...], seed: int) -> dict[str, Any]:
    """Per IKNet policy, ``pose (7,) -> (7, 4)`` exact attributions against a 16-row k-means
    background of fresh poses, for the videos' live attribution panel."""
    background = fresh_poses(seed + 20_011, 200)
    panels: dict[str, Any] = {}
    for model_name, users in iknet_models_of(policies).items():
        tracer = TraceExplainer(load_model(model_name), background)
        for policy in users:
            panels[policy] = lambda pose, tracer=tracer: tracer.explain(pose[None])[0]
    return panels


def run_shap_study(config: RunConfig, *, trace_episodes: int | None = None) -> dict[str, Any]:
    """Write ``shap/`` for a finished run and return the ``summary.json["shap"]`` section.

    Only the networks of the run's IKNet policies are explained.

    Args:
        config: the run (its folder, policies, seed and ``progress``).
        trace_episodes: trace only the first K episodes of each policy (all if None).

    Raises:
        InvalidInputError: the run has no IKNet policy.
    """
    out = Path(config.out_dir) / SHAP_DIR
    used = iknet_models_of(config.policies)
    if not used:
        raise InvalidInputError(
            f"Shapley attributions explain IKNet policies; the run has none ({', '.join(config.policies)})")
    out.mkdir(parents=True, exist_ok=True)
    names = list(used)
    pool = fresh_poses(config.seed + 10_007, 2000)
    explained, background = published_setup(pool, seed=config.seed)
    balances, importances, figures = {}, {}, []
    models = {}
    for name in tqdm(names, desc="shap models", disable=not config.progress):
        model = models[name] = load_model(name)
        result = explain(model, explained, background, "exact")
        importances[name] = global_importance(result.values)
        balances[name] = attribution_balance(importances[name])
        stem = name.replace("/", "_").replace(".", "_")
        figures.append(plots.plot_importance_heatmap(importances[name], out / f"heatmap_{stem}.png",
                                                     title=f"{name}: mean |phi| (rad)"))
        figures.append(plots.plot_local_explanation(result.values[0], out / f"local_{stem}.png",
                                                    base_values=result.base_values,
                                                    pose=explained[0], title=f"{name}: one pose"))
        figures.append(plots.plot_partial_dependence(partial_dependence(model, pool[:400]), out / f"pdp_{stem}.png"))
    if len(importances) > 1:  # one network: its own heat map is the whole comparison (no duplicate figure)
        figures.append(plots.plot_importance_comparison(importances, out / "heatmaps_all_models.png"))
    figures.append(plots.plot_balance(balances, out / "balance.png"))

    # Per-step traces of every IKNet policy episode, from the step log.
    steps_by_episode: dict[tuple[str, int], list[dict[str, str]]] = {}
    for row in read_steps(config.out_dir):
        steps_by_episode.setdefault((row["model"], int(row["episode"])), []).append(row)
    outcomes = {(r["model"], int(r["episode"])): r for r in read_episodes(config.out_dir)}
    study_rows = []
    traces_path = out / TRACES_FILE
    if traces_path.exists():
        traces_path.unlink()
    for model_name, policies in used.items():
        tracer = TraceExplainer(models[model_name], background)
        for policy in policies:
            policy_episodes = sorted(episode for name, episode in steps_by_episode if name == policy)
            for episode in policy_episodes[:trace_episodes]:
                rows = steps_by_episode[(policy, episode)]
                targets = np.array([[float(r[f"target_joints_rad_{j}"]) for j in range(4)] for r in rows])
                values = tracer.explain(forward_kinematics(clamp_to_limits(targets)))
                append_rows(traces_path, TRACE_COLUMNS, [
                    {"model": policy, "episode": episode, "step": r["step"],
                     **{TRACE_COLUMNS[3 + k]: v for k, v in enumerate(values[i].reshape(-1))}}
                    for i, r in enumerate(rows)
                ])
                if episode == policy_episodes[0]:
                    times = [float(r["time_s"]) for r in rows]
                    stem = policy.replace(":", "_").replace("+", "_")
                    contacts = [float(r["time_s"]) for r in rows if r["collided"] == "1"]
                    figures.append(plots.plot_attribution_trace(values, out / f"trace_{stem}_ep{episode}.png",
                                                                times_s=times, title=f"{policy}, episode {episode}",
                                                                contact_times_s=contacts))
                balance = attribution_balance(np.abs(values).mean(0))
                outcome = outcomes[(policy, episode)]
                study_rows.append({"model": policy, "episode": episode,
                                   **{m: getattr(balance, m) for m in BALANCE_MEASURES},
                                   **{s: float(outcome[s]) for s in SAFETY_MEASURES}, "collided": outcome["collided"]})
    correlations = _study(study_rows, config.seed)
    if study_rows:
        (out / STUDY_FILE).unlink(missing_ok=True)
        append_rows(out / STUDY_FILE, list(study_rows[0]), study_rows)
        figures.append(_plot_study(study_rows, out / "safety_vs_balance.png"))
    return {
        "method": "exact interventional Shapley values; published setup (20 explained, 50 background poses) "
                  "for global views; 16-row k-means background for per-step traces",
        "balance": {name: balance.to_dict() for name, balance in balances.items()},
        "study": [asdict(c) for c in correlations],
        "figures": [str(Path(f).relative_to(config.out_dir)) for f in figures],
    }


def _study(rows: list[dict[str, Any]], seed: int) -> list[Correlation]:
    rng = np.random.default_rng(seed)
    groups = {"pooled": rows}
    for row in rows:
        groups.setdefault(row["model"], []).append(row)
    found = []
    for group, members in groups.items():
        for balance in BALANCE_MEASURES:
            for safety in SAFETY_MEASURES:
                a = np.array([m[balance] for m in members])
                b = np.array([m[safety] for m in members])
                rho, low, high = bootstrap_spearman(a, b, rng)
                found.append(Correlation(balance, safety, group, len(members), rho, low, high))
    return found


def _plot_study(rows: list[dict[str, Any]], path: Path) -> Path:
    from matplotlib.figure import Figure  # the object API: no pyplot state, no backend to choose

    figure = Figure(figsize=(9, 3.6), dpi=110)
    axes = figure.subplots(1, 2)
    for policy in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == policy]
        for ax, safety in zip(axes, SAFETY_MEASURES, strict=True):
            ax.scatter([r["entropy_overall"] for r in mine], [r[safety] for r in mine], s=16, label=policy)
    for ax, safety in zip(axes, SAFETY_MEASURES, strict=True):
        ax.set_xlabel("attribution balance (normalised entropy)")
        ax.set_ylabel(safety.replace("_", " "))
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    figure.suptitle("Does balanced attribution go with safe motion?", fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    return path

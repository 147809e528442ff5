"""PNG figures of Shapley attributions (matplotlib Agg, no pyplot state; safe in worker processes).

Every function takes the arrays to draw and a path, writes one PNG (creating parent folders) and
returns the path. Features are ``x, y, z, qx, qy, qz, qw``; joints ``joint1..joint4``;
attributions and joint angles in radians, positions in metres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evaluation.explain.balance import AttributionBalance, PartialDependence, check_attributions
from evaluation.explain.core import FEATURE_NAMES, NUM_FEATURES
from sim.errors import InvalidInputError
from sim.robot.kinematics import JOINT_NAMES

_DPI = 110
#: Font sizes (pt) of the figures drawn in the report at about their pixel size: 10 pt at 110 dpi is 15 px.
_TITLE_PT, _LABEL_PT, _TICK_PT = 12, 10, 9
_POSITIVE, _NEGATIVE = "#d6404e", "#3b75af"


def _joint_names(count: int) -> tuple[str, ...]:
    return JOINT_NAMES if count == len(JOINT_NAMES) else tuple(f"output{k + 1}" for k in range(count))


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=_DPI, format="png")
    return path


def _draw_heatmap(axes: Any, table: np.ndarray, vmax: float, title: str) -> Any:
    image = axes.imshow(table, cmap="viridis", vmin=0.0, vmax=vmax, aspect="auto")
    axes.set_xticks(range(table.shape[1]), _joint_names(table.shape[1]), rotation=30)
    axes.set_yticks(range(NUM_FEATURES), FEATURE_NAMES)
    axes.set_title(title)
    for row in range(table.shape[0]):
        for column in range(table.shape[1]):
            shade = "black" if table[row, column] > 0.6 * vmax else "white"
            axes.text(column, row, f"{table[row, column]:.3f}", ha="center", va="center", fontsize=_TICK_PT,
                      color=shade)
    return image


def plot_importance_heatmap(importance: Any, path: str | Path, *, title: str = "Global importance") -> Path:
    """Features x joints heat map of mean ``|phi|``.

    Args:
        importance: (7, D) mean absolute attribution (rad).
        path: PNG to write.
        title: figure title.

    Returns:
        ``path`` as a Path.
    """
    table = check_attributions(importance, 2, "importance")
    figure = Figure(figsize=(4.2, 4.2), layout="constrained")
    axes = figure.add_subplot()
    image = _draw_heatmap(axes, table, max(float(table.max()), 1e-12), title)
    figure.colorbar(image, ax=axes, label="mean |phi| (rad)")
    return _save(figure, path)


def plot_importance_comparison(importances: Mapping[str, Any], path: str | Path) -> Path:
    """Heat maps of several models side by side on one colour scale.

    Args:
        importances: model name -> (7, D) mean ``|phi|`` (rad), at least one entry.
        path: PNG to write.

    Returns:
        ``path`` as a Path.
    """
    if not importances:
        raise InvalidInputError("importances must name at least one model")
    tables = {name: check_attributions(table, 2, f"importance of {name!r}") for name, table in importances.items()}
    vmax = max(max(float(table.max()) for table in tables.values()), 1e-12)
    figure = Figure(figsize=(3.2 * len(tables) + 1.0, 4.2), layout="constrained")
    axes_list = np.atleast_1d(figure.subplots(1, len(tables), sharey=True))
    image = None
    for axes, (name, table) in zip(axes_list, tables.items(), strict=True):
        image = _draw_heatmap(axes, table, vmax, name)
    figure.colorbar(image, ax=list(axes_list), label="mean |phi| (rad)")
    return _save(figure, path)


def plot_local_explanation(values: Any, path: str | Path, *, base_values: Any, pose: Any = None,
                           title: str = "Local explanation") -> Path:
    """Waterfall per joint: from ``E[f(background)]`` through each feature's ``phi`` to ``f(x)``.

    Args:
        values: (7, D) attributions of one pose (rad).
        path: PNG to write.
        base_values: (D,) mean output over the background (rad).
        pose: optional (7,) pose ``[x, y, z, qx, qy, qz, qw]`` whose values label the features.
        title: figure title.

    Returns:
        ``path`` as a Path.
    """
    phi = check_attributions(values, 2, "values")
    base = np.asarray(base_values, dtype=np.float64)
    if base.shape != (phi.shape[1],) or not np.all(np.isfinite(base)):
        raise InvalidInputError(f"base_values must be finite with shape ({phi.shape[1]},), got {base.shape}")
    labels = list(FEATURE_NAMES)
    if pose is not None:
        pose = np.asarray(pose, dtype=np.float64)
        if pose.shape != (NUM_FEATURES,):
            raise InvalidInputError(f"pose must have shape (7,), got {pose.shape}")
        labels = [f"{name} = {value:+.3f}" for name, value in zip(FEATURE_NAMES, pose, strict=True)]
    joints = phi.shape[1]
    columns = min(joints, 2)
    grid_rows = -(-joints // columns)
    # Sized so the PNG is drawn near 1:1 in the report (<= 1,100 px wide at 110 dpi), labels >= 10 pt.
    figure = Figure(figsize=(5.0 * columns, 3.0 * grid_rows + 0.6), layout="constrained")
    figure.suptitle(title, fontsize=_TITLE_PT)
    axes_grid = np.atleast_1d(figure.subplots(grid_rows, columns, squeeze=False)).ravel()
    for joint, (axes, name) in enumerate(zip(axes_grid[:joints], _joint_names(joints), strict=True)):
        order = np.argsort(-np.abs(phi[:, joint]))
        starts = base[joint] + np.concatenate([[0.0], np.cumsum(phi[order, joint])[:-1]])
        colours = [_POSITIVE if phi[i, joint] >= 0 else _NEGATIVE for i in order]
        rows = np.arange(NUM_FEATURES)[::-1]
        axes.barh(rows, phi[order, joint], left=starts, color=colours)
        axes.set_yticks(rows, [labels[i] for i in order], fontsize=_LABEL_PT)
        axes.tick_params(axis="x", labelsize=_TICK_PT)
        output = base[joint] + phi[:, joint].sum()
        axes.axvline(base[joint], color="grey", linestyle="--", linewidth=1.0)
        axes.axvline(output, color="black", linewidth=1.0)
        axes.set_title(f"{name}: E[f] {base[joint]:+.3f} -> f(x) {output:+.3f} rad", fontsize=_LABEL_PT)
        axes.set_xlabel("joint angle (rad)", fontsize=_LABEL_PT)
        axes.use_sticky_edges = False  # bars stick to their base otherwise, and E[f]'s line sits on the frame
        axes.margins(x=0.08)
    for axes in axes_grid[joints:]:
        axes.axis("off")
    return _save(figure, path)


def plot_partial_dependence(dependence: PartialDependence, path: str | Path) -> Path:
    """Partial-dependence curves: one panel per pose feature, one curve per joint (all in rad).

    Args:
        dependence: from :func:`evaluation.explain.balance.partial_dependence`.
        path: PNG to write.

    Returns:
        ``path`` as a Path.
    """
    grid, values = np.asarray(dependence.grid), np.asarray(dependence.values)
    if grid.ndim != 2 or grid.shape[0] != NUM_FEATURES or values.shape[:2] != grid.shape or values.ndim != 3:
        raise InvalidInputError(f"partial dependence needs grid (7, G) and values (7, G, D), got {grid.shape}, "
                                f"{values.shape}")
    figure = Figure(figsize=(11.0, 5.4))
    figure.suptitle("Partial dependence of each joint on each pose feature")
    axes_grid = figure.subplots(2, 4, sharey=True).ravel()
    for feature, axes in enumerate(axes_grid[:NUM_FEATURES]):
        for joint, name in enumerate(_joint_names(values.shape[2])):
            axes.plot(grid[feature], values[feature, :, joint], label=name)
        axes.set_xlabel(f"{FEATURE_NAMES[feature]}{' (m)' if feature < 3 else ''}", fontsize=_LABEL_PT)
        axes.tick_params(labelsize=_TICK_PT)
    for axes in axes_grid[::4]:
        axes.set_ylabel("mean joint angle (rad)", fontsize=_LABEL_PT)
    handles, labels = axes_grid[0].get_legend_handles_labels()
    axes_grid[-1].axis("off")
    axes_grid[-1].legend(handles, labels, loc="center")
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.1, top=0.9, wspace=0.12, hspace=0.35)
    return _save(figure, path)


def _contact_spans(times: np.ndarray, contacts: np.ndarray) -> list[tuple[float, float]]:
    """Intervals covering the contact steps, a step ``(t - dt, t]`` each (``dt`` the median step), touching
    steps merged: a bar per stretch of contact rather than a line per step."""
    if contacts.size == 0:
        return []
    step = float(np.median(np.diff(times))) if times.size > 1 else 1.0
    spans: list[tuple[float, float]] = []
    for time in np.sort(contacts):
        if spans and time - step <= spans[-1][1] + 1e-9 * max(1.0, abs(time)):
            spans[-1] = (spans[-1][0], float(time))
        else:
            spans.append((float(time) - step, float(time)))
    return spans


def plot_attribution_trace(values: Any, path: str | Path, *, times_s: Sequence[float] | None = None,
                           normalise: bool = True, title: str = "Attribution along the episode",
                           contact_times_s: Sequence[float] = ()) -> Path:
    """Stacked areas of ``|phi|`` per feature over time, one panel per joint.

    Args:
        values: (T, 7, D) per-step attributions (rad), T >= 1.
        path: PNG to write.
        times_s: (T,) step times (s); step indices if None.
        normalise: stack each step's shares of ``sum |phi|`` (summing to 1) rather than ``|phi|`` (rad).
        title: figure title.
        contact_times_s: times (s, or step indices when ``times_s`` is None) of the steps with a contact,
            marked by a black bar along the top of every panel.

    Returns:
        ``path`` as a Path.
    """
    phi = np.abs(check_attributions(values, 3, "values"))
    steps = phi.shape[0]
    if steps == 0:
        raise InvalidInputError("an attribution trace needs at least one step")
    times = np.arange(steps, dtype=np.float64) if times_s is None else np.asarray(times_s, dtype=np.float64)
    if times.shape != (steps,):
        raise InvalidInputError(f"times_s must have shape ({steps},), got {times.shape}")
    if normalise:
        total = phi.sum(1, keepdims=True)
        phi = np.where(total > 0, phi / np.where(total > 0, total, 1.0), 1.0 / NUM_FEATURES)
    contacts = np.asarray(contact_times_s, dtype=np.float64).ravel()
    if not np.all(np.isfinite(contacts)):
        raise InvalidInputError("contact_times_s must be finite")
    spans = _contact_spans(times, contacts)
    outputs = phi.shape[2]
    figure = Figure(figsize=(7.5, 1.8 * outputs + 0.8), layout="constrained")
    figure.suptitle(title)
    axes_list = np.atleast_1d(figure.subplots(outputs, 1, sharex=True))
    for joint, (axes, name) in enumerate(zip(axes_list, _joint_names(outputs), strict=True)):
        axes.stackplot(times, phi[:, :, joint].T, labels=FEATURE_NAMES)
        for index, (start, end) in enumerate(spans):
            axes.axvspan(start, end, ymin=0.93, ymax=1.0, color="black", label="contact" if index == 0 else None)
        axes.set_ylabel(f"{name}\n{'share' if normalise else '|phi| (rad)'}", fontsize=_TICK_PT)
        axes.margins(x=0)
    axes_list[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=_TICK_PT)
    axes_list[-1].set_xlabel("time (s)" if times_s is not None else "control step")
    return _save(figure, path)


def plot_balance(balances: Mapping[str, AttributionBalance], path: str | Path) -> Path:
    """Grouped bars per model: overall entropy, Gini and position share (all in [0, 1]).

    Args:
        balances: model name -> :class:`AttributionBalance`, at least one entry.
        path: PNG to write.

    Returns:
        ``path`` as a Path.
    """
    if not balances:
        raise InvalidInputError("balances must name at least one model")
    metrics = ("entropy_overall", "gini_overall", "position_share_overall")
    figure = Figure(figsize=(1.6 * len(balances) + 3.0, 3.4), layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / len(metrics)
    positions = np.arange(len(balances))
    for index, metric in enumerate(metrics):
        heights = [getattr(balance, metric) for balance in balances.values()]
        axes.bar(positions + (index - 1) * width, heights, width, label=metric.replace("_overall", ""))
    axes.set_xticks(positions, list(balances), rotation=15)
    axes.set_ylim(0.0, 1.05)
    axes.set_title("Attribution balance over the 7 pose features")
    axes.legend(fontsize=_TICK_PT)
    return _save(figure, path)

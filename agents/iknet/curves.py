"""Learning curves of trained IKNets: a table (one row per network and epoch) and its figure.

Every checkpoint entry written by :mod:`agents.iknet.train` and the study
(:mod:`evaluation.study.networks`) carries its ``learning_curve`` (the epochs' losses, validation
median error and learning rate) and its ``convergence`` verdict (the criterion of
:func:`agents.iknet.training.convergence`). This module turns entries into the committed CSV and
its plot::

    python -m agents.iknet.curves assets/checkpoints/manifest.json --out docs/learning_curves

writes ``learning_curves.csv`` and ``learning_curves.png`` there (entries without a curve, e.g.
checkpoints trained before curves were recorded, are listed and skipped).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from agents.iknet.training import LEARNING_CURVE_COLUMNS

#: The columns of a learning-curves table: the network's name, then :data:`LEARNING_CURVE_COLUMNS`, then
#: the network's convergence verdict (repeated on each of its rows).
CURVE_COLUMNS: tuple[str, ...] = ("network", *LEARNING_CURVE_COLUMNS, "converged")


def curves_frame(entries: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (network, epoch) from manifest-style entries ``{name: entry}``; entries without a
    ``learning_curve`` are left out."""
    rows = []
    for name, entry in entries.items():
        converged = bool((entry.get("convergence") or {}).get("converged", False))
        for record in entry.get("learning_curve") or ():
            rows.append({"network": name, **{column: record[column] for column in LEARNING_CURVE_COLUMNS},
                         "converged": converged})
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def plot_curves(frame: pd.DataFrame, path: str | Path, *, title: str = "IKNet learning curves") -> Path:
    """Validation loss and median validation error against epoch, one line per network (a group's
    networks share a colour: the name before ``-s<seed>``); a dot marks each network's best epoch.
    The PNG is written without a timestamp, so the same table gives the same bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    groups = sorted({str(name).rsplit("-s", 1)[0] for name in frame["network"]})
    colours = {group: plt.get_cmap("tab10")(index % 10) for index, group in enumerate(groups)}
    labelled: set[str] = set()
    for name, curve in frame.groupby("network", sort=True):
        group = str(name).rsplit("-s", 1)[0]
        style = "-" if bool(curve["converged"].iloc[0]) else ":"
        label = None if group in labelled else group
        labelled.add(group)
        best = curve.loc[curve["validation_loss"].idxmin()]
        for axis, column in zip(axes, ("validation_loss", "validation_position_mm_median"), strict=True):
            axis.plot(curve["epoch"], curve[column], style, color=colours[group], linewidth=1, label=label)
            axis.plot([best["epoch"]], [best[column]], "o", color=colours[group], markersize=3)
    for axis, ylabel in zip(axes, ("validation loss (combined)", "median validation position error (mm)"),
                            strict=True):
        axis.set_xlabel("epoch")
        axis.set_ylabel(ylabel)
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8, title="solid: converged, dotted: not", title_fontsize=8)
    figure.suptitle(title)
    out = Path(path)
    figure.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return out


def write_curves(entries: Mapping[str, Mapping[str, Any]], folder: str | Path, *,
                 title: str = "IKNet learning curves") -> tuple[Path, Path]:
    """Write ``learning_curves.csv`` and ``learning_curves.png`` for ``entries`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frame = curves_frame(entries)
    table = folder / "learning_curves.csv"
    frame.to_csv(table, index=False)
    return table, plot_curves(frame, folder / "learning_curves.png", title=title)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m agents.iknet.curves MANIFEST --out FOLDER``: 0, or 2 with one line for bad input."""
    from agents.iknet.train import read_manifest
    from sim.errors import ProjectError, one_line

    parser = argparse.ArgumentParser(prog="python -m agents.iknet.curves", description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", type=Path, help="a checkpoint manifest.json written by agents.iknet.train")
    parser.add_argument("--out", type=Path, required=True, help="folder for learning_curves.csv and .png")
    args = parser.parse_args(argv)
    try:
        if not args.manifest.is_file():
            print(f"{parser.prog}: error: no manifest file {str(args.manifest)!r}", file=sys.stderr)
            return 2
        models = read_manifest(args.manifest)["models"]
    except ProjectError as error:
        print(f"{parser.prog}: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    without = sorted(name for name, entry in models.items() if not entry.get("learning_curve"))
    table, figure = write_curves({n: e for n, e in models.items() if n not in without}, args.out)
    if without:
        print(f"no learning curve recorded for: {', '.join(without)}", file=sys.stderr)
    print(f"wrote {table} and {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

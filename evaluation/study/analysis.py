"""The study's analysis, from its committed inputs only (issue #24 item 7: every number recomputes).

A study folder (``<out>/study/``, or a copy of it such as ``docs/study_v2/``) holds four *inputs*, written
once by the full run, and everything else is computed from them by :func:`analyse_folder`, in the full
run and again, byte for byte, by ``python -m evaluation.study DESIGN --analyse-only``:

======================  =====================================================================================
input                   what
======================  =====================================================================================
``episodes.csv.gz``     one row per finished episode, with each raw network's (and episode's) exact-Shapley
                        balance; gzip without a time stamp, so the same table gives the same bytes
``networks.csv``        one row per trained network (exact-Shapley balance, held-out accuracy, shares)
``study.json``          when the first run began, the design's SHA-256 and its registration commit: a copy of
                        the run's ``<out>/study.json`` (the suite checks every ``docs/**/study.json``)
``run.json``            the command of the run that finished the study, its start and end (UTC), wall time,
                        workers, backend, CPUs, package versions, and the runs that stopped early
======================  =====================================================================================

The analysis draws its only randomness (bootstrap resamples) from ``numpy.random.default_rng(design.seed)``
and reads the tables back from their files in the full run too, so a rerun sees exactly the numbers the
run saw. Figures are saved without the software version in their metadata.

Which claims file is ``claims.md``: a study whose design's ``[study] name`` starts with ``paper_claims``
(:data:`V2_PREFIX`) answers the paper-claims registry in ``claims.md`` and keeps the v1 tests in
``claims_v1.md``; any other study keeps the v1 ``claims.md`` and writes the registry's answer beside it
as ``paper_claims.md``. ``paper_claims.csv`` is written by both. The v2 file's Deviations section is the
file ``<design stem>.deviations.md`` beside the design, verbatim ("None." when there is none).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evaluation.study.registration import STUDY_START_FILE
from sim.errors import InvalidInputError, OutputFolderError
from sim.files import refuse_link

if TYPE_CHECKING:
    from evaluation.study.design import StudyDesign

EPISODES_FILE = "episodes.csv.gz"
NETWORKS_FILE = "networks.csv"
START_FILE = STUDY_START_FILE  #: "study.json", as in the run's --out (the suite checks docs/**/study.json)
RUN_FILE = "run.json"
#: The networks' learning curves (:func:`evaluation.study.networks.learning_curves`), gzip: an optional
#: input (folders of runs before it lack it); the analysis draws ``learning_curves.png`` from it.
CURVES_FILE = "learning_curves.csv.gz"
#: Inputs read when present (:data:`INPUT_FILES` are required).
OPTIONAL_INPUT_FILES: tuple[str, ...] = (CURVES_FILE,)
#: The inputs of :func:`analyse_folder`, in the order a missing one is named.
INPUT_FILES: tuple[str, ...] = (EPISODES_FILE, NETWORKS_FILE, START_FILE, RUN_FILE)
#: What :func:`analyse_folder` writes (every one recomputed from the inputs; none is written through a link).
OUTPUT_FILES: tuple[str, ...] = ("claims.md", "claims_v1.md", "paper_claims.md", "paper_claims.csv", "claims.csv",
                                 "variants.csv", "comparisons.csv", "pareto.csv", "pareto.png", "variants.png",
                                 "balance_vs_clearance.png", "intervention.png", "learning_curves.png")
#: A design whose ``[study] name`` starts with this writes the v2 answer as ``claims.md``.
V2_PREFIX = "paper_claims"
#: Packages whose versions ``run.json`` records.
VERSIONED_PACKAGES: tuple[str, ...] = ("torch", "pybullet", "numpy", "pandas", "scipy", "statsmodels", "matplotlib")


@dataclass(frozen=True)
class StudyInputs:
    """What the analysis reads: the episode and network tables and the two run records."""

    frame: pd.DataFrame  #: one row per episode (:func:`evaluation.study.episodes.collect` plus balance columns)
    networks: pd.DataFrame  #: one row per network (:class:`~evaluation.study.networks.NetworkBalance` fields)
    start: dict[str, Any]  #: the study start record (``study.json`` of the run's ``--out``)
    run: dict[str, Any]  #: the run record (:func:`run_record`)


def is_v2(design: StudyDesign) -> bool:
    """True when the design's claims file is the paper-claims answer (see the module doc)."""
    return design.name.startswith(V2_PREFIX)


def deviations_path(design_path: str | Path) -> Path:
    """``<design stem>.deviations.md`` beside the design file."""
    path = Path(design_path)
    return path.with_name(f"{path.stem}.deviations.md")


def read_deviations(design_path: str | Path) -> str | None:
    """The deviations file beside the design, verbatim (None when there is none).

    Raises:
        InvalidInputError: it exists but is not a readable UTF-8 regular file.
    """
    path = deviations_path(design_path)
    if not path.exists():
        return None
    try:
        if path.is_symlink() or not path.is_file():
            raise InvalidInputError(f"{path} must be a regular file (the design's deviations, Markdown)")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"cannot read the deviations file {path}: {error}") from None


# ------------------------------------------------------------------------------------------- writing
def _write_bytes(path: Path, data: bytes) -> None:
    """Write ``path`` whole (a temporary file renamed over it), never through a link."""
    refuse_link(path)
    temporary = path.with_name(f".{path.name}.tmp")
    refuse_link(temporary)
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _json_bytes(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, indent=1) + "\n").encode("utf-8")


def _gzip_csv(path: Path, frame: pd.DataFrame) -> None:
    """``frame`` as CSV, gzip with time stamp 0 and no file name (the same table gives the same bytes)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(frame.to_csv(index=False).encode("utf-8"))
    _write_bytes(path, buffer.getvalue())


def write_curves_input(folder: Path, curves: pd.DataFrame) -> None:
    """Write the networks' learning curves (:data:`CURVES_FILE`) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    _gzip_csv(folder / CURVES_FILE, curves)


def write_inputs(folder: Path, frame: pd.DataFrame, networks: pd.DataFrame, start: dict[str, Any]) -> None:
    """Write the episode table (gzip, time stamp 0), the network table and the start record into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    _gzip_csv(folder / EPISODES_FILE, frame)
    _write_bytes(folder / NETWORKS_FILE, networks.to_csv(index=False).encode("utf-8"))
    _write_bytes(folder / START_FILE, _json_bytes(start))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def run_record(*, command: str, started: dt.datetime, wall_time_s: float, workers: int, backend: str,
               small: bool, failures: list[str] | tuple[str, ...], previous: dict[str, Any] | None = None,
               finished: dt.datetime | None = None) -> dict[str, Any]:
    """What ``run.json`` says of the run that finished the study.

    Args:
        started: when this invocation began (UTC).
        wall_time_s: seconds from its start to its last table and figure (the claims files follow).
        previous: the ``run.json`` an earlier invocation left (a ``--resume``), kept under ``earlier_runs``.
    """
    finished = finished or dt.datetime.now(dt.UTC)
    earlier = []
    if previous:
        earlier = [*previous.get("earlier_runs", []), {k: v for k, v in previous.items() if k != "earlier_runs"}]
    return {
        "command": command,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": finished.isoformat(timespec="seconds"),
        "wall_time_s": round(float(wall_time_s), 1),
        "workers": workers,
        "backend": backend,
        "small": small,
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "versions": {package: _version(package) for package in VERSIONED_PACKAGES},
        "failures": list(failures),
        "earlier_runs": earlier,
    }


# ------------------------------------------------------------------------------------------- reading
def find_folder(out: Path) -> Path:
    """The analysed folder of ``--out``: ``out/study`` when it holds the episode table, else ``out`` itself
    (a copy of a study folder, such as ``docs/study_v2``).

    Raises:
        OutputFolderError: neither holds every input (the message names the first missing one).
    """
    from evaluation.study.report import STUDY_DIR

    for folder in (out / STUDY_DIR, out):
        if (folder / EPISODES_FILE).is_file():
            break
    else:
        raise OutputFolderError(f"{out} holds no study inputs ({', '.join(INPUT_FILES)} in it or in "
                                f"{out / STUDY_DIR}); run the study first, or point --out at a study's folder")
    missing = [name for name in INPUT_FILES if not (folder / name).is_file()]
    if missing:
        raise OutputFolderError(f"{folder} lacks the study input {missing[0]} (--analyse-only needs "
                                f"{', '.join(INPUT_FILES)})")
    return folder


def _read_json(path: Path) -> dict[str, Any]:
    try:
        refuse_link(path)
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInputError(f"cannot read {path} as JSON: {error}") from None
    if not isinstance(record, dict):
        raise InvalidInputError(f"{path} must hold a JSON object")
    return record


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        refuse_link(path)
        return pd.read_csv(path)
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InvalidInputError(f"cannot read {path} as a CSV table: {error}") from None


def read_inputs(folder: Path) -> StudyInputs:
    """The four inputs of ``folder`` (floats read back exactly).

    Raises:
        InvalidInputError: an input is unreadable or not what the study writes (one line).
    """
    frame, networks = _read_csv(folder / EPISODES_FILE), _read_csv(folder / NETWORKS_FILE)
    start, run = _read_json(folder / START_FILE), _read_json(folder / RUN_FILE)
    for name, record, keys in ((START_FILE, start, ("started_utc", "design_sha256")),
                               (RUN_FILE, run, ("command", "wall_time_s"))):
        missing = [key for key in keys if key not in record]
        if missing:
            raise InvalidInputError(f"{folder / name} lacks {missing[0]!r}; is it a study's {name}?")
    if frame.empty:
        raise InvalidInputError(f"{folder / EPISODES_FILE} holds no episodes")
    return StudyInputs(frame, networks, start, run)


# ------------------------------------------------------------------------------------------ analysis
def analyse_folder(folder: Path, design: StudyDesign, *, design_path: str | Path,
                   finish_run: Any = None) -> Path:
    """Compute every table, figure and claims file of ``folder`` from its inputs; return ``folder``.

    Args:
        design: the study's design (its seed seeds the bootstraps; alpha, margins and variants).
        design_path: the design file (its deviations file sits beside it).
        finish_run: in the full run, a callable that writes ``run.json`` once the tables and figures are
            written and returns it (so the wall time covers the analysis); None reads ``run.json``.
    """
    from evaluation.study.claims import run_claims
    from evaluation.study.claims_v2 import (
        analyse,
        claims_markdown,
        converged_networks,
        sensitivity_markdown,
        training_markdown,
    )
    from evaluation.study.design import registry_path
    from evaluation.study.paper_claims import load_paper_claims
    from evaluation.study.report import claims_v1_markdown, write_tables

    for name in OUTPUT_FILES:
        refuse_link(folder / name)
    inputs = read_inputs(folder) if finish_run is None else None
    if inputs is None:  # the full run: the tables are written; the run record is not yet
        frame, networks = _read_csv(folder / EPISODES_FILE), _read_csv(folder / NETWORKS_FILE)
        start = _read_json(folder / START_FILE)
    else:
        frame, networks, start = inputs.frame, inputs.networks, inputs.start
    rng = np.random.default_rng(design.seed)
    tests, comparisons = run_claims(frame, networks, design, rng=rng)
    tables = write_tables(folder, design, frame, networks, tests, comparisons, rng=rng)
    registry = load_paper_claims(registry_path(design))
    results = analyse(frame, networks, registry, alpha=design.alpha, balance_column=design.balance_measure)
    pd.DataFrame([{**asdict(result), "lines": " ".join(map(str, result.lines)),
                   "quotes": " / ".join(result.quotes), "readings": len(result.readings)}
                  for result in results]).to_csv(folder / "paper_claims.csv", index=False)
    run = finish_run() if finish_run is not None else inputs.run  # type: ignore[union-attr]
    v1 = claims_v1_markdown(design, tables, command=run["command"], wall_time_s=float(run["wall_time_s"]),
                            failures=run.get("failures", ()))
    curves_figure = None
    if (folder / CURVES_FILE).is_file():
        from agents.iknet.curves import plot_curves

        curves_figure = plot_curves(_read_csv(folder / CURVES_FILE), folder / "learning_curves.png",
                                    title=f"{design.name}: learning curves of every network").name
    training_text = training_markdown(networks, curves_figure=curves_figure)
    kept = converged_networks(networks)
    excluded = [name for name in networks["network"] if name not in kept]
    if excluded and kept:  # the registered sensitivity analysis: the claims without unconverged networks
        again = analyse(frame[~frame["network"].isin(excluded)], networks[networks["network"].isin(kept)], registry,
                        alpha=design.alpha, balance_column=design.balance_measure)
        training_text += "\n\n" + sensitivity_markdown(results, again, excluded)
    v2 = claims_markdown(results, registry, registration=start, run=run,
                         deviations_text=_deviations(design, design_path), training_text=training_text)
    first, second = (("claims.md", v2), ("claims_v1.md", v1)) if is_v2(design) else (
        ("claims.md", v1), ("paper_claims.md", v2))
    for name, text in (first, second):
        _write_bytes(folder / name, text.encode("utf-8"))
    return folder


def _deviations(design: StudyDesign, design_path: Path) -> str:
    """The deviations file's text, led by a changed registry when the design pinned another one."""
    from evaluation.study.design import registry_problem

    listed = read_deviations(design_path) or ""
    changed = registry_problem(design)
    if changed and changed not in listed:
        listed = f"- Unlisted: {changed}.\n" + listed
    return listed or "None."


def finish_full_run(folder: Path, *, command: str, started: dt.datetime, clock_start: float, workers: int,
                    backend: str, small: bool, failures: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Write ``run.json`` (keeping an earlier one's record under ``earlier_runs``) and return it."""
    path = folder / RUN_FILE
    previous = _read_json(path) if path.is_file() else None
    record = run_record(command=command, started=started, wall_time_s=time.perf_counter() - clock_start,
                        workers=workers, backend=backend, small=small, failures=failures, previous=previous)
    _write_bytes(path, _json_bytes(record))
    return record


__all__ = ["CURVES_FILE", "EPISODES_FILE", "INPUT_FILES", "NETWORKS_FILE", "OPTIONAL_INPUT_FILES", "OUTPUT_FILES",
           "RUN_FILE", "START_FILE", "V2_PREFIX", "StudyInputs", "analyse_folder", "deviations_path", "find_folder",
           "finish_full_run", "is_v2", "read_deviations", "read_inputs", "run_record", "write_curves_input",
           "write_inputs"]

"""``python -m evaluation.study DESIGN.toml``: train, run, analyse and write the claims study.

Stages: (1) train every (variant, seed) network missing from the design's checkpoint folder,
(2) measure each network's exact-Shapley balance, (3) run every policy through every scenario
with :func:`evaluation.runner.run` (resumable), (4) explain episode attributions, (5) test the
claims and write ``<out>/study/`` (tables, figures, ``claims.md``). Stages 1 and 3 run on
``--backend local`` (this process, or ``--workers`` processes) or ``ray`` (a private instance of
``--workers`` CPUs, or ``--ray-address``) with the same results.

Everything is checked before any network trains (:func:`check_study`): the design file (see
:mod:`~evaluation.study.design`), the options, every scenario and reference policy, the ``--out``
folder (not a link; new or empty, or a study's folder with ``--resume``; nothing in it the study did
not write) and the checkpoint folder (:func:`~evaluation.study.networks.plan_networks`).
``--check`` stops there: it validates a design and its folders without training or writing
anything. ``--analyse-only`` recomputes every table, figure and claims file of a finished study, byte for
byte, from the inputs it committed (:mod:`evaluation.study.analysis`): nothing trains or runs.
Bad input exits with status 2 and one line, and so does a results file that cannot be
written (disk full, file too large, permission refused: what was written is kept; ``--resume``
continues).
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import os
import shlex
import signal
import stat
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import numpy as np
import pandas as pd

from evaluation.backends import add_backend_arguments
from evaluation.backends.base import BackendName
from evaluation.config import MAX_WORKERS
from sim.errors import InvalidInputError, OutputFolderError, ProjectError, one_line

if TYPE_CHECKING:
    from evaluation.backends import TaskBackend
    from evaluation.study.design import StudyDesign
    from evaluation.study.networks import Network

#: Errors of a write that failed for want of room or rights: reported in one line, exit status 2.
WRITE_ERRNOS: frozenset[int] = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EPERM,
                                          errno.EROFS, errno.EIO})


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def _workers(text: str) -> int:
    """An argparse ``type``: an integer within [1, MAX_WORKERS]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer within [1, {MAX_WORKERS}], got {text!r}") from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected an integer within [1, {MAX_WORKERS}], got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m evaluation.study", description=__doc__.split("\n\n")[0])
    parser.add_argument("design", type=Path, help="pre-registered study design (TOML), e.g. studies/claims.toml")
    parser.add_argument("--out", type=_folder, default=None, help="results folder (default: results/study-<name>)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=False,
                        help="continue the study already in --out (finished episodes and networks are kept)")
    parser.add_argument("--small", action=argparse.BooleanOptionalAction, default=False,
                        help="use the design's [small] configuration (tiny budget; networks under --out)")
    parser.add_argument("--check", action=argparse.BooleanOptionalAction, default=False,
                        help="check the design, the options and the folders, then stop: nothing trains, runs or "
                             "is written")
    parser.add_argument("--analyse-only", action=argparse.BooleanOptionalAction, default=False,
                        help="recompute every table, figure and claims file of the study in --out from its "
                             "committed inputs (episodes.csv.gz, networks.csv, study.json, run.json): "
                             "nothing trains or runs")
    parser.add_argument("--workers", type=_workers, default=1,
                        help="networks trained and episodes run at once: local processes (1 = this process), or "
                             "the CPUs of the private Ray instance (default: 1)")
    add_backend_arguments(parser, work="networks train and episodes run")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars")
    return parser


def _folder(text: str) -> Path:
    """An argparse ``type``: a folder name (``""`` is no folder: refused, not the current one)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a folder name, got {text!r}")
    return Path(text)


#: What a study writes directly in its ``--out`` folder (sub-folders), besides the runner's lock file.
STUDY_ENTRIES: tuple[str, ...] = ("checkpoints", "runs", "study")


@dataclass(frozen=True)
class StudyPlan:
    """A checked study, before anything runs: the design, the output folder and the networks (those
    still to train among them)."""

    design: StudyDesign
    out: Path
    networks: tuple[Network, ...]
    to_train: tuple[Network, ...]


def check_study(design_path: Path, out_dir: Path | None = None, *, resume: bool = False, small: bool = False,
                workers: int = 1, backend: BackendName = "local", ray_address: str | None = None) -> StudyPlan:
    """Check everything a study needs before anything trains, runs or is written; write nothing.

    Raises:
        ProjectError: a bad design file or entry, an option out of range, an unknown scenario or
            reference policy, an unusable ``--out`` (a link, not a folder, someone else's files, a
            study without ``resume``), an unusable checkpoint folder, an unknown backend, Ray missing.
    """
    from agents.policies import validate_policy_name
    from evaluation.backends import BACKEND_NAMES, check_backend_available
    from evaluation.backends.ray_backend import check_ray_address
    from evaluation.study.design import load_design
    from evaluation.study.networks import plan_networks
    from scenarios import get_scenario
    from sim.errors import InvalidInputError, UnknownNameError

    design = load_design(design_path, small=small)
    out = Path(out_dir) if out_dir is not None else Path("results") / f"study-{design.name}"
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise InvalidInputError(f"--workers must be an integer within [1, {MAX_WORKERS}], got {workers!r}")
    if backend not in BACKEND_NAMES:
        raise UnknownNameError("backend", backend, BACKEND_NAMES)
    if ray_address is not None and backend != "ray":
        raise InvalidInputError("--ray-address needs --backend ray")
    check_ray_address(ray_address)
    check_backend_available(backend)
    for plan in design.scenarios:
        get_scenario(plan.name)
    for policy in design.reference_policies:
        validate_policy_name(policy)
    _check_out_folder(out, resume=resume)
    networks, missing = plan_networks(design, out)
    return StudyPlan(design, out, tuple(networks), tuple(missing))


def _check_out_folder(out: Path, *, resume: bool) -> None:
    """``out`` is not a link, is (or can be made) a folder, holds only what a study writes, and holds
    no study unless ``resume``."""
    from agents.iknet.train import check_writable_folder
    from evaluation.results_io import LOCK_FILE, refuse_link

    check_writable_folder(out, "--out")
    try:
        entries = sorted(name for name in os.listdir(out) if name != LOCK_FILE)
    except FileNotFoundError:
        return
    except OSError as error:
        raise OutputFolderError(f"cannot read output folder {out}: {error.strerror or error}") from None
    for name in entries:
        refuse_link(out / name)
    from evaluation.study.registration import STUDY_START_FILE

    foreign = [name for name in entries
               if not (name in STUDY_ENTRIES and stat.S_ISDIR(os.lstat(out / name).st_mode))
               and not (name == STUDY_START_FILE and stat.S_ISREG(os.lstat(out / name).st_mode))]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputFolderError(f"{out} holds files the study did not write ({shown}); choose a new or empty "
                                "folder, or a study's folder with --resume")
    if not resume and "study" in entries:
        raise OutputFolderError(f"{out} already holds a study; pass --resume to continue it or choose another --out")
    if not resume and entries:
        raise OutputFolderError(f"{out} already holds part of a study ({', '.join(entries)}); pass --resume to "
                                "continue it or choose another --out")


def run_study(design_path: Path, out_dir: Path | None = None, *, resume: bool = False, small: bool = False,
              workers: int = 1, backend: BackendName = "local", ray_address: str | None = None,
              progress: bool = False, command: str = "") -> Path:
    """Run the whole study; return ``<out>/study``.

    Networks train and episodes run on ``backend`` (:mod:`evaluation.backends`); the exact-Shapley
    balance, the statistics and every file are made in this process. The same design gives the same
    networks, episodes and verdicts on either backend (timing columns aside).

    Args:
        workers: local: processes (1 = this process); ray without ``ray_address``: CPUs of the private
            local instance (one Ray connection serves the whole study).
        backend: ``local`` or ``ray``.
        ray_address: ``auto``, ``ray://HOST:PORT`` or ``HOST:PORT`` of an existing Ray cluster.

    Raises:
        ProjectError: bad design, unwritable folder, a run in ``out_dir`` without ``resume``, an
            unknown backend, Ray missing, or no Ray cluster at ``ray_address``.
    """
    from evaluation.backends import make_backend

    start, started = time.perf_counter(), dt.datetime.now(dt.UTC)
    plan = check_study(design_path, out_dir, resume=resume, small=small, workers=workers, backend=backend,
                       ray_address=ray_address)
    design, out = plan.design, plan.out
    with make_backend(backend, workers=workers, ray_address=ray_address) as tasks:  # Ray connects here, once
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputFolderError(f"cannot create output folder {out}: {error.strerror or error}") from None
        return _run(design, out, tasks, resume=resume, small=small, design_path=design_path, workers=workers,
                    backend=backend, ray_address=ray_address, progress=progress, command=command, start=start,
                    started=started)


def analyse_only(design_path: Path, out_dir: Path | None = None, *, small: bool = False) -> Path:
    """Recompute the analysis of a finished study from its inputs (:mod:`evaluation.study.analysis`);
    return the folder written. Nothing trains, runs or is explained again.

    Args:
        out_dir: the study's ``--out`` (its ``study/`` sub-folder is analysed) or a copy of that sub-folder
            (such as ``docs/study_v2``); default ``results/study-<name>``.
        small: the design's ``[small]`` configuration (as the run that wrote the inputs used).

    Raises:
        ProjectError: a bad design, no study inputs in the folder, an unreadable input, or a ``--small``
            that differs from the run's (one line).
    """
    import hashlib

    from evaluation.study.analysis import analyse_folder, find_folder, read_inputs
    from evaluation.study.design import load_design
    from sim.errors import InvalidInputError

    design = load_design(design_path, small=small)
    out = Path(out_dir) if out_dir is not None else Path("results") / f"study-{design.name}"
    folder = find_folder(out)
    inputs = read_inputs(folder)
    if bool(inputs.run.get("small", small)) != small:
        ran = "with" if inputs.run.get("small") else "without"
        raise InvalidInputError(f"the study in {folder} ran {ran} --small; analyse it the same way")
    if hashlib.sha256(Path(design_path).read_bytes()).hexdigest() != inputs.start.get("design_sha256"):
        print(f"study: {design_path} differs from the design the run began with (study.json); the analysis "
              "uses the file as it is now", file=sys.stderr)
    return analyse_folder(folder, design, design_path=design_path)


def _run(design: StudyDesign, out: Path, tasks: TaskBackend, *, resume: bool, small: bool, design_path: Path,
         workers: int, backend: BackendName, ray_address: str | None, progress: bool, command: str,
         start: float, started: dt.datetime) -> Path:
    import torch

    from evaluation.study.analysis import analyse_folder, finish_full_run, write_curves_input, write_inputs
    from evaluation.study.episodes import collect, episode_balance, policy_roles, run_design
    from evaluation.study.networks import ensure_networks, learning_curves, network_balance
    from evaluation.study.registration import check_started_after_registration, write_study_start
    from evaluation.study.report import STUDY_DIR
    from sim.errors import InvalidInputError

    command = command or f"python -m evaluation.study {design_path}" + (" --small" if small else "")
    # When the run began, from which design bytes, and the design's registration commit (first, once).
    record = write_study_start(out, design_path)
    for problem in check_started_after_registration(record):
        print(f"study: not a registered run: {problem}", file=sys.stderr)
    print(f"study {design.name}: design {design_path}, scene seed {design.seed}, training seeds "
          f"{', '.join(map(str, design.training.seeds))}, backend {tasks.name}, output {out}", file=sys.stderr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        networks = ensure_networks(design, out, command=command, backend=tasks, progress=progress)
        balance = pd.DataFrame([asdict(b) for b in network_balance(networks, design)])
        roles = policy_roles(design, networks)
        failures = run_design(design, roles, out, resume=resume, workers=workers, backend=backend,
                              ray_address=ray_address, progress=progress)
        for failure in failures:
            print(f"study: {failure}", file=sys.stderr)
        frame = collect(design, roles, out)
        if frame.empty:
            raise InvalidInputError(f"no finished episodes in {out}")
        frame["balance"] = frame["network"].map(balance.set_index("network")[design.balance_measure])
        frame.loc[frame["kind"] != "raw", "balance"] = np.nan
        per_episode = episode_balance(design, roles, networks, out, design.balance_measure)
        frame["episode_balance"] = [per_episode.get((p, s, e), np.nan) for p, s, e in
                                    zip(frame["policy"], frame["scenario"], frame["episode"], strict=True)]
        folder = out / STUDY_DIR
        write_inputs(folder, frame, balance, record)
        write_curves_input(folder, learning_curves(networks))
        return analyse_folder(folder, design, design_path=design_path, finish_run=lambda: finish_full_run(
            folder, command=command, started=started, clock_start=start, workers=workers, backend=backend,
            small=small, failures=failures))
    finally:
        torch.set_num_threads(threads)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: 0, or 2 with one line on stderr for bad input or a results file that cannot
    be written."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    prog = "python -m evaluation.study"
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN) if hasattr(signal, "SIGXFSZ") else None
    try:  # a file over the size limit fails with EFBIG (one line) rather than killing the process
        if args.analyse_only:
            if args.resume or args.check:
                raise InvalidInputError("--analyse-only runs nothing, so it takes neither --resume nor --check; "
                                        "drop one of them")
            folder = analyse_only(args.design, args.out, small=args.small)
            print(f"study analysis recomputed in {folder} from its inputs (claims: {folder / 'claims.md'})")
            return 0
        if args.check:
            plan = check_study(args.design, args.out, resume=args.resume, small=args.small, workers=args.workers,
                               backend=args.backend, ray_address=args.ray_address)
            design = plan.design
            episodes = sum(p.episodes for p in design.scenarios)
            print(f"study {design.name}: {args.design} is valid; {len(plan.networks)} networks "
                  f"({len(plan.to_train)} to train), {len(design.scenarios)} scenarios ({episodes} episodes per "
                  f"policy), output {plan.out}; nothing was trained, run or written")
            return 0
        folder = run_study(args.design, args.out, resume=args.resume, small=args.small, workers=args.workers,
                           backend=args.backend, ray_address=args.ray_address, progress=args.progress,
                           command="python -m evaluation.study " + shlex.join(argv))
    except ProjectError as error:
        print(f"{prog}: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except OSError as error:  # a table, figure or claims.md that cannot be written (rows: ResultsWriteError)
        if error.errno not in WRITE_ERRNOS:
            raise
        message = (f"cannot write {error.filename or args.out}: {error.strerror}; what was written is kept "
                   "(free space or fix the folder, then rerun with --resume)")
        print(f"{prog}: error: {one_line(message)}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGXFSZ, previous)
    print(f"study written to {folder} (claims: {folder / 'claims.md'})")
    return 0

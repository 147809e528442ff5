"""``python -m evaluation.study DESIGN.toml``: train, run, analyse and write the claims study.

Stages: (1) train every (variant, seed) network missing from the design's checkpoint folder,
(2) measure each network's exact-Shapley balance, (3) run every policy through every scenario
with :func:`evaluation.runner.run` (resumable), (4) explain episode attributions, (5) test the
claims and write ``<out>/study/`` (tables, figures, ``claims.md``). Stages 1 and 3 run on
``--backend local`` (this process, or ``--workers`` processes) or ``ray`` (a private instance of
``--workers`` CPUs, or ``--ray-address``) with the same results. Bad input exits with status 2
and one line.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import numpy as np
import pandas as pd

from evaluation.backends import add_backend_arguments
from evaluation.backends.base import BackendName
from sim.errors import ProjectError

if TYPE_CHECKING:
    from evaluation.backends import TaskBackend
    from evaluation.study.design import StudyDesign


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m evaluation.study", description=__doc__.split("\n\n")[0])
    parser.add_argument("design", type=Path, help="pre-registered study design (TOML), e.g. studies/claims.toml")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default: results/study-<name>)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=False,
                        help="continue the study already in --out (finished episodes and networks are kept)")
    parser.add_argument("--small", action=argparse.BooleanOptionalAction, default=False,
                        help="use the design's [small] configuration (tiny budget; networks under --out)")
    parser.add_argument("--workers", type=int, default=1,
                        help="networks trained and episodes run at once: local processes (1 = this process), or "
                             "the CPUs of the private Ray instance (default: 1)")
    add_backend_arguments(parser, work="networks train and episodes run")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars")
    return parser


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
    from evaluation.backends import BACKEND_NAMES, check_backend_available, make_backend
    from evaluation.backends.ray_backend import check_ray_address
    from evaluation.study.design import load_design
    from evaluation.study.report import STUDY_DIR
    from sim.errors import InvalidInputError, UnknownNameError

    start = time.perf_counter()
    design = load_design(design_path, small=small)
    out = Path(out_dir) if out_dir is not None else Path("results") / f"study-{design.name}"
    if (out / STUDY_DIR).exists() and not resume:
        raise InvalidInputError(f"{out} already holds a study; pass --resume to continue it or choose another --out")
    if workers < 1:
        raise InvalidInputError(f"--workers must be >= 1, got {workers}")
    if backend not in BACKEND_NAMES:
        raise UnknownNameError("backend", backend, BACKEND_NAMES)
    if ray_address is not None and backend != "ray":
        raise InvalidInputError("--ray-address needs --backend ray")
    check_ray_address(ray_address)
    check_backend_available(backend)
    with make_backend(backend, workers=workers, ray_address=ray_address) as tasks:  # Ray connects here, once
        out.mkdir(parents=True, exist_ok=True)
        return _run(design, out, tasks, resume=resume, small=small, design_path=design_path, workers=workers,
                    backend=backend, ray_address=ray_address, progress=progress, command=command, start=start)


def _run(design: StudyDesign, out: Path, tasks: TaskBackend, *, resume: bool, small: bool, design_path: Path,
         workers: int, backend: BackendName, ray_address: str | None, progress: bool, command: str,
         start: float) -> Path:
    import torch

    from evaluation.study.claims import run_claims
    from evaluation.study.episodes import collect, episode_balance, policy_roles, run_design
    from evaluation.study.networks import ensure_networks, network_balance
    from evaluation.study.report import write_study
    from sim.errors import InvalidInputError

    command = command or f"python -m evaluation.study {design_path}" + (" --small" if small else "")
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
        rng = np.random.default_rng(design.seed)
        tests, comparisons = run_claims(frame, balance, design, rng=rng)
        return write_study(out, design, frame, balance, tests, comparisons, command=command, failures=failures,
                           wall_time_s=time.perf_counter() - start, rng=rng)
    finally:
        torch.set_num_threads(threads)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: 0, or 2 with one line on stderr for bad input."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        folder = run_study(args.design, args.out, resume=args.resume, small=args.small, workers=args.workers,
                           backend=args.backend, ray_address=args.ray_address, progress=args.progress,
                           command="python -m evaluation.study " + shlex.join(argv))
    except ProjectError as error:
        print(f"python -m evaluation.study: error: {error}", file=sys.stderr)
        return 2
    print(f"study written to {folder} (claims: {folder / 'claims.md'})")
    return 0

#!/usr/bin/env python
"""Run IK policies through an obstacle scenario and write a results folder.

Example:
    python run_sim.py --scenario cluttered
    python run_sim.py --scenario benchmark --models iknet:improved,iknet:improved+safe,analytic+safe --episodes 10
    python run_sim.py --scenario my_scene.toml --out results/mine --workers 2 --shap --video
    python run_sim.py --sweep my_sweep.toml --backend ray --ray-address auto --out results/sweep
    python run_sim.py --scenario cluttered --rerun      # then: rerun results/<run>/recordings/<scene>.rrd

The results folder holds episodes.csv (one row per episode, appended as each finishes),
steps.csv (the per-step log), summary.json (per-policy figures), plots/ and report.html (with
--rerun also recordings/, one Rerun .rrd per scene).
Bad input exits with status 2 and one line naming the problem, and so does a results file that
cannot be written (disk full, file too large, permission refused: every finished episode is kept,
--resume completes the run); Ctrl-C (SIGINT) or SIGTERM keeps every finished episode and exits
with status 130 or 143 and one line; --resume completes the run without duplicates. A new run
writes only into a missing or empty --out folder.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evaluation.config import RunConfig

def _at_least(least: int, most: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer of at least ``least`` (and at most ``most``)."""

    def parse(text: str) -> int:
        from sim.errors import show_value

        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {show_value(text)}") from None
        if value < least or (most is not None and value > most):
            bounds = f"within [{least}, {most}]" if most is not None else f"at least {least}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {show_value(value)}")
        return value

    parse.__name__ = "integer"
    return parse


def _folder(text: str) -> Path:
    """An argparse ``type``: a folder name (``""`` is no folder: refused, not the current one)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a folder name, got {text!r}")
    return Path(text)


class _Parser(argparse.ArgumentParser):
    """argparse with error lines folded to one short line (argparse echoes the values it refuses)."""

    def error(self, message: str):  # type: ignore[no-untyped-def]
        from sim.errors import one_line

        super().error(one_line(message))


class _Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised in the main thread at a safe point (see :func:`_install_stop_handlers`)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _in_destructor_or_callback(frame: FrameType | None) -> bool:
    """True while Python runs a destructor or numba's loader (Python called from compiled code):
    an exception raised there is printed as "Exception ignored in ..." and lost, or turned into a
    SystemError, so the stop waits until that code has returned."""
    depth = 0
    while frame is not None and depth < 200:
        if frame.f_code.co_name == "__del__" or f"{os.sep}numba{os.sep}" in frame.f_code.co_filename:
            return True
        frame, depth = frame.f_back, depth + 1
    return False


def _install_stop_handlers() -> None:
    """SIGINT and SIGTERM raise :class:`_Stopped` at the next safe point (retried every 5 ms by
    SIGALRM while a destructor or numba's loader runs); a second signal during the shutdown that
    follows ends the process at once (every finished episode is already fsync'ed)."""
    state: dict[str, int] = {}

    def stop(signum: int, frame: FrameType | None) -> None:
        if "raised" in state and signum != signal.SIGALRM:
            os.write(2, f"\n{_STOP_WORDS[state['signum']]} again: leaving now\n".encode())
            os._exit(128 + state["signum"])
        if signum != signal.SIGALRM:
            state.setdefault("signum", signum)
        if "signum" not in state or "raised" in state:
            return
        if _in_destructor_or_callback(frame):
            signal.setitimer(signal.ITIMER_REAL, 0.005)
            return
        state["raised"] = 1
        raise _Stopped(state["signum"])

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(signum, stop)


_STOP_WORDS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}

if __name__ == "__mp_main__":  # a worker process of the run's pool (spawn imports this file under that name)
    # Ctrl-C reaches the whole process group; the driver alone stops the run, so a worker never
    # dies of it halfway through an import with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def build_parser() -> argparse.ArgumentParser:
    from agents.ik_policy.policy import EXAMPLE_POLICIES, MODIFIERS, solver_names
    from evaluation.backends import add_backend_arguments
    from evaluation.config import (
        DEFAULT_EPISODES,
        DEFAULT_MAX_STEPS,
        DEFAULT_POLICIES,
        DEFAULT_SCENARIO,
        MAX_EPISODES,
        MAX_EPISODES_PER_TASK,
        MAX_RETRIES,
        MAX_SEED,
        MAX_STEPS,
        MAX_WORKERS,
    )
    from scenarios import scenario_names
    from sim.env.camera import CAMERA_PRESETS, RENDERERS

    parser = _Parser(
        prog="run_sim.py",
        description=__doc__.split("\n\n")[0],
        epilog=(
            f"scenarios: {', '.join(scenario_names())}, or a path to a .toml scene file.\n"
            f"policies: SOLVER[+MODIFIER...] with SOLVER in {', '.join(solver_names())}, iknet:PATH.pt;\n"
            f"  modifiers: {', '.join(MODIFIERS)} (safe: clearance safety layer; straight: no obstacle-aware "
            "planning; refine: damped least-squares refinement of an IKNet answer).\n"
            f"  examples: {', '.join(EXAMPLE_POLICIES)}.\n"
            "baselines: rl:sac:PATH.zip, rl:ppo:PATH.zip (extra 'rl'), ompl:rrtconnect or ompl:PLANNER "
            "(extra 'plan').\n"
            "exit status: 0 done; 2 bad input (one line naming it); 130 (Ctrl-C) or 143 (SIGTERM): finished episodes\n"
            "  are kept and the same command with --resume completes the run."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO,
                        help=f"built-in scenario name or .toml scene file (default: {DEFAULT_SCENARIO})")
    parser.add_argument("--models", default=None,
                        help=f"comma-separated policies (default: {','.join(DEFAULT_POLICIES)}: a network on the "
                             "naive straight path, with obstacle-aware planning, also behind the safety layer, "
                             "and exact IK with both)")
    parser.add_argument("--episodes", type=_at_least(1, MAX_EPISODES), default=DEFAULT_EPISODES,
                        help=f"episodes per policy, in [1, {MAX_EPISODES}]; episode k uses the same scene for every "
                             f"policy (default: {DEFAULT_EPISODES})")
    parser.add_argument("--seed", type=_at_least(0, MAX_SEED), default=0,
                        help=f"base seed in [0, {MAX_SEED}]; episode k is seeded seed + k (default: 0)")
    parser.add_argument("--out", type=_folder, default=None,
                        help="results folder, new or empty (or the run to --resume) "
                             "(default: results/<scenario>-<timestamp>)")
    parser.add_argument("--workers", type=_at_least(1, MAX_WORKERS), default=1,
                        help=f"worker processes running episodes (and recording videos), in [1, {MAX_WORKERS}]; with "
                             "--backend ray and no --ray-address, the CPUs of the private Ray instance (default: 1)")
    parser.add_argument("--max-steps", type=_at_least(1, MAX_STEPS), default=DEFAULT_MAX_STEPS,
                        help=f"control steps per episode before time-out, in [1, {MAX_STEPS}] "
                             f"(default: {DEFAULT_MAX_STEPS})")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=False,
                        help="continue the run already in --out, skipping finished episodes; refused if the "
                             "options (or a sweep's max_steps) differ or a scenario file changed since it began")
    parser.add_argument("--shap", action=argparse.BooleanOptionalAction, default=False,
                        help="Shapley attributions of the IKNet policies' networks (only those in --models): "
                             "heat maps, balance, per-step traces and the safety-attribution study")
    parser.add_argument("--video", action=argparse.BooleanOptionalAction, default=None,
                        help="record per-episode videos and side-by-side comparison videos")
    parser.add_argument("--video-episodes", type=_at_least(0, MAX_EPISODES), default=None, metavar="K",
                        help="record the first K episodes of every policy (default: 1); implies --video")
    parser.add_argument("--camera", choices=tuple(CAMERA_PRESETS), default="front",
                        help="with --video, the camera preset; 'orbit' circles the arm (default: front)")
    parser.add_argument("--renderer", choices=RENDERERS, default="tiny",
                        help="with --video, PyBullet's renderer: 'tiny' (TinyRenderer, CPU, everywhere) or 'egl' "
                             "(OpenGL through the EGL plugin, headless; fast with a GPU driver) (default: tiny)")
    parser.add_argument("--rerun", action=argparse.BooleanOptionalAction, default=False,
                        help="write a Rerun recording (.rrd) of every scene into <out>/recordings/: the arm's CAD "
                             "meshes, obstacles, contacts, clearance, goal error, joints (and with --shap the "
                             "attributions) of every policy on one timeline; open with 'rerun FILE.rrd' "
                             "(needs the extra: pip install '.[viz]')")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="show a progress bar (default: on)")
    add_backend_arguments(parser, work="episodes run")
    parser.add_argument("--episodes-per-task", type=_at_least(1, MAX_EPISODES_PER_TASK), default=None, metavar="N",
                        help="episodes a worker runs per task, with --backend ray or --workers 2 or more: more "
                             "amortise the scheduling cost of a task, fewer balance the load and lose less when a "
                             "worker dies (Ray reruns the whole task) (default: 1)")
    parser.add_argument("--max-retries", type=_at_least(0, MAX_RETRIES), default=None, metavar="N",
                        help="with --backend ray, times Ray reruns a task whose worker died before the driver "
                             "names it lost (exit 2; --resume reruns it); 0: never (default: 3)")
    parser.add_argument("--sweep", type=Path, default=None, metavar="FILE",
                        help="run a sweep TOML file (scenarios x policies x seeds x episodes, see evaluation/sweep.py) "
                             "into one results folder instead of --scenario/--models/--episodes/--seed/--max-steps; "
                             "relative paths in it are relative to its folder; --resume also resumes a grown sweep")
    return parser


def parse_config(parser: argparse.ArgumentParser, argv: list[str] | None) -> RunConfig:
    """Parse and check everything before a run starts: scenario file, policy names, checkpoint
    files, the renderer; every bad value ends in ``parser.error`` (one line, exit status 2)."""
    from agents.policies import validate_policy_name
    from evaluation.config import DEFAULT_POLICIES, RunConfig
    from scenarios import get_scenario
    from sim.errors import ProjectError

    args = parser.parse_args(argv)
    _check_task_options(parser, args)
    if args.sweep is not None:
        return _sweep_config(parser, args)
    if args.video is False and args.video_episodes is not None:
        parser.error("--video-episodes asks for videos; it contradicts --no-video")
    video = bool(args.video) or args.video_episodes is not None
    models = DEFAULT_POLICIES
    if args.models is not None:
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if not models:  # --models "" (or " ", ",,") names no policy: refused, not read as the default
        parser.error(f"--models needs at least one policy name, got {args.models!r}")
    if len(set(models)) != len(models):
        parser.error(f"--models lists a policy twice: {args.models}")
    if args.shap and not any(model.startswith("iknet:") for model in models):
        parser.error(f"--shap explains IKNet policies (iknet:MODEL...); --models has none: {','.join(models)}")
    scenario_label = Path(args.scenario).stem if args.scenario.endswith(".toml") else args.scenario
    out = args.out or Path("results") / f"{scenario_label}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        get_scenario(args.scenario)
        for model in models:
            validate_policy_name(model)
        from evaluation.backends import check_backend_available

        check_backend_available(args.backend)
        _check_rerun(args)
        if video and args.renderer == "egl":  # fail now, not after the episodes
            from sim.env.world import World

            World(renderer="egl").close()
        return RunConfig(
            scenario=args.scenario, policies=models, episodes=args.episodes, seed=args.seed, out_dir=out,
            workers=args.workers, max_steps=args.max_steps, resume=args.resume, shap=args.shap, video=video,
            video_episodes=1 if args.video_episodes is None else args.video_episodes, camera=args.camera,
            renderer=args.renderer, progress=args.progress, backend=args.backend, ray_address=args.ray_address,
            rerun=args.rerun, **_task_options(args),
        )
    except ProjectError as error:
        parser.error(str(error))


def _check_rerun(args: argparse.Namespace) -> None:
    """``--rerun`` needs rerun-sdk: without it, :class:`~sim.errors.DependencyNotInstalled` names the extra."""
    if args.rerun:
        from evaluation.rerun_recording import import_rerun

        import_rerun()


def _check_task_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--max-retries`` needs Ray (the local pool reruns nothing); ``--episodes-per-task`` needs
    worker processes (in this process episodes run one by one): given elsewhere, the user most likely
    forgot ``--backend ray``, so it is refused rather than ignored."""
    if args.max_retries is not None and args.backend != "ray":
        parser.error("--max-retries reruns tasks of Ray workers that died; it needs --backend ray "
                     "(the local backend reruns nothing)")
    if args.episodes_per_task is not None and args.backend == "local" and args.workers < 2:
        parser.error("--episodes-per-task batches episodes for worker processes; it needs --workers 2 or more, "
                     "or --backend ray")


def _task_options(args: argparse.Namespace) -> dict[str, int]:
    """The task options given on the command line (the others keep RunConfig's defaults)."""
    return {name: getattr(args, name) for name in ("episodes_per_task", "max_retries")
            if getattr(args, name) is not None}


def _sweep_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> RunConfig:
    """The run of ``--sweep FILE``: the file defines the episodes; options it replaces are refused."""
    from evaluation.backends import check_backend_available
    from evaluation.config import RunConfig
    from evaluation.sweep import load_sweep
    from sim.errors import ProjectError

    replaced = [f"--{name.replace('_', '-')}" for name in ("scenario", "models", "episodes", "seed", "max_steps")
                if getattr(args, name) != parser.get_default(name)]
    if replaced:
        parser.error(f"{', '.join(replaced)} cannot be combined with --sweep: the sweep file sets them")
    if args.shap or args.video or args.video_episodes is not None:
        parser.error("--shap and --video explain or record a single run, not a sweep")
    try:
        sweep = load_sweep(args.sweep)
        sweep.validate_names()
        check_backend_available(args.backend)
        _check_rerun(args)
        out = args.out or Path("results") / f"{sweep.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        return RunConfig.from_sweep(sweep, out, workers=args.workers, resume=args.resume, progress=args.progress,
                                    backend=args.backend, ray_address=args.ray_address, rerun=args.rerun,
                                    **_task_options(args))
    except ProjectError as error:
        parser.error(str(error))


def _check_before_writing(parser: argparse.ArgumentParser, config: RunConfig) -> bool:
    """Refuse, before anything is written (one line, exit 2), a scenario that yields no scene for the
    run's first seed and an --out folder this run must not write into; True if that folder does not
    exist yet."""
    import numpy as np

    from evaluation.runner import check_output_folder
    from scenarios import get_scenario
    from sim.errors import ProjectError
    from sim.scene.scene_sampling import sample_scene

    sweep = getattr(config, "sweep", None)
    try:
        scenarios = sweep.scenarios() if sweep is not None else (config.scenario,)
        for scenario in scenarios:  # sampling is bounded: an impossible scenario fails within seconds
            sample_scene(get_scenario(scenario), np.random.default_rng(config.seed))
    except ProjectError as error:
        parser.error(str(error))

    # The runner checks the same before it writes (evaluation.runner.prepare); here it is checked
    # before the run starts, the CLI's stricter way (a single run resumes only with the same episodes).
    try:
        check_output_folder(config, cli=True)
    except ProjectError as error:
        parser.error(str(error))
    return not config.out_dir.exists()


#: Errors of a write that failed for want of room or rights: reported in one line, exit status 2.
WRITE_ERRNOS: frozenset[int] = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EPERM,
                                          errno.EROFS, errno.EIO})


def main(argv: list[str] | None = None) -> int:
    _install_stop_handlers()
    if hasattr(signal, "SIGXFSZ"):  # a file over the size limit fails with EFBIG (one line) rather than killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window; set once, here
    parser = build_parser()
    config = parse_config(parser, argv)
    created = _check_before_writing(parser, config)
    from evaluation.pipeline import run_pipeline
    from evaluation.results_io import locked_folder
    from evaluation.runner import check_output_folder
    from evaluation.schema import remove_unstarted_run
    from sim.errors import ProjectError, one_line

    if config.sweep is not None:
        print(f"sweep {config.sweep.name} | {len(config.episode_keys())} episodes | seeds "
              f"{', '.join(map(str, config.sweep.seeds()))} | backend {config.backend} | output {config.out_dir}",
              flush=True)
    else:
        print(f"scenario {config.scenario} | seed {config.seed} | {config.episodes} episodes x "
              f"{len(config.policies)} policies | output {config.out_dir}", flush=True)
    try:
        # One writer per folder: a run started on the same --out meanwhile is refused and touches nothing.
        with locked_folder(config.out_dir):
            check_output_folder(config, cli=True)  # again, now that no other run can change the folder
            try:
                report = run_pipeline(config)
            except ProjectError:
                if not config.resume:  # a start that failed before its first episode leaves no run behind
                    remove_unstarted_run(config.out_dir, created=created)
                raise
    except ProjectError as error:
        parser.exit(2, f"{parser.prog}: error: {one_line(str(error))}\n")
    except OSError as error:  # a summary, plot or report that cannot be written (rows are ResultsWriteError)
        if error.errno not in WRITE_ERRNOS:
            raise
        message = (f"cannot write {error.filename or config.out_dir}: {error.strerror}; finished episodes are kept "
                   f"in {config.out_dir} (free space or fix the folder, then rerun with --resume)")
        parser.exit(2, f"{parser.prog}: error: {one_line(message)}\n")
    except KeyboardInterrupt as stop:
        signum = getattr(stop, "signum", signal.SIGINT)
        parser.exit(128 + signum, f"\n{_STOP_WORDS[signum]}: finished episodes are saved in {config.out_dir}; "
                                  f"rerun the same command with --resume --out {config.out_dir} to complete it\n")
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    try:
        status = main()
    except KeyboardInterrupt as stop:  # before the run started: nothing to keep
        signum = getattr(stop, "signum", signal.SIGINT)
        sys.stderr.write(f"\n{_STOP_WORDS[signum]} before the run started\n")
        status = 128 + signum
    finally:  # the outcome is decided: a signal during the interpreter's shutdown must not change the status
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
    sys.exit(status)

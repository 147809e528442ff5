#!/usr/bin/env python
"""Run IK policies through an obstacle scenario and write a results folder.

Example:
    python run_sim.py --scenario cluttered
    python run_sim.py --scenario benchmark --models iknet:improved,iknet:improved+safe,analytic+safe --episodes 10
    python run_sim.py --scenario my_scene.toml --out results/mine --workers 2 --shap --video

The results folder holds episodes.csv (one row per episode, appended as each finishes),
steps.csv (the per-step log), summary.json (per-policy figures), plots/ and report.html.
Bad input exits with status 2 and one line naming the problem; Ctrl-C keeps every finished
episode, and --resume completes the run without duplicates.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evaluation.config import RunConfig


def _at_least(least: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer of at least ``least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def build_parser() -> argparse.ArgumentParser:
    from agents.ik_policy.policy import EXAMPLE_POLICIES, MODIFIERS, solver_names
    from evaluation.config import DEFAULT_EPISODES, DEFAULT_MAX_STEPS, DEFAULT_POLICIES, DEFAULT_SCENARIO
    from scenarios import scenario_names
    from sim.camera import CAMERA_PRESETS, RENDERERS

    parser = argparse.ArgumentParser(
        prog="run_sim.py",
        description=__doc__.split("\n\n")[0],
        epilog=(
            f"scenarios: {', '.join(scenario_names())}, or a path to a .toml scene file.\n"
            f"policies: SOLVER[+MODIFIER...] with SOLVER in {', '.join(solver_names())}, iknet:PATH.pt;\n"
            f"  modifiers: {', '.join(MODIFIERS)} (safe: clearance safety layer; straight: no obstacle-aware "
            "planning; refine: damped least-squares refinement of an IKNet answer).\n"
            f"  examples: {', '.join(EXAMPLE_POLICIES)}.\n"
            "baselines: rl:sac:PATH.zip, rl:ppo:PATH.zip (extra 'rl'), ompl:rrtconnect or ompl:PLANNER (extra 'plan')."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO,
                        help=f"built-in scenario name or .toml scene file (default: {DEFAULT_SCENARIO})")
    parser.add_argument("--models", default=None,
                        help=f"comma-separated policies (default: {','.join(DEFAULT_POLICIES)}: a network on the "
                             "naive straight path, with obstacle-aware planning, also behind the safety layer, "
                             "and exact IK with both)")
    parser.add_argument("--episodes", type=_at_least(1), default=DEFAULT_EPISODES,
                        help="episodes per policy; episode k uses the same scene for every policy "
                             f"(default: {DEFAULT_EPISODES})")
    parser.add_argument("--seed", type=int, default=0, help="base seed; episode k is seeded seed + k (default: 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default: results/<scenario>-<timestamp>)")
    parser.add_argument("--workers", type=_at_least(1), default=1,
                        help="worker processes running episodes (default: 1)")
    parser.add_argument("--max-steps", type=_at_least(1), default=DEFAULT_MAX_STEPS,
                        help=f"control steps per episode before time-out (default: {DEFAULT_MAX_STEPS})")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=False,
                        help="continue the run already in --out, skipping finished episodes")
    parser.add_argument("--shap", action=argparse.BooleanOptionalAction, default=False,
                        help="Shapley attributions of the IKNet policies' networks (only those in --models): "
                             "heat maps, balance, per-step traces and the safety-attribution study")
    parser.add_argument("--video", action=argparse.BooleanOptionalAction, default=None,
                        help="record per-episode videos and side-by-side comparison videos")
    parser.add_argument("--video-episodes", type=_at_least(0), default=None, metavar="K",
                        help="record the first K episodes of every policy (default: 1); implies --video")
    parser.add_argument("--camera", choices=tuple(CAMERA_PRESETS), default="front",
                        help="with --video, the camera preset; 'orbit' circles the arm (default: front)")
    parser.add_argument("--renderer", choices=RENDERERS, default="tiny",
                        help="with --video, PyBullet's renderer: 'tiny' (TinyRenderer, CPU, everywhere) or 'egl' "
                             "(OpenGL through the EGL plugin, headless; fast with a GPU driver) (default: tiny)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="show a progress bar (default: on)")
    return parser


def parse_config(parser: argparse.ArgumentParser, argv: list[str] | None) -> RunConfig:
    """Parse and check everything before a run starts: scenario file, policy names, checkpoint
    files, the renderer; every bad value ends in ``parser.error`` (one line, exit status 2)."""
    from agents.policies import validate_policy_name
    from evaluation.config import DEFAULT_POLICIES, RunConfig
    from scenarios import get_scenario
    from sim.errors import ProjectError

    args = parser.parse_args(argv)
    if args.video is False and args.video_episodes is not None:
        parser.error("--video-episodes asks for videos; it contradicts --no-video")
    video = bool(args.video) or args.video_episodes is not None
    models = tuple(m.strip() for m in args.models.split(",") if m.strip()) if args.models else DEFAULT_POLICIES
    if not models:
        parser.error("--models needs at least one policy name")
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
        if video and args.renderer == "egl":  # fail now, not after the episodes
            from sim.world import World

            World(renderer="egl").close()
        return RunConfig(
            scenario=args.scenario, policies=models, episodes=args.episodes, seed=args.seed, out_dir=out,
            workers=args.workers, max_steps=args.max_steps, resume=args.resume, shap=args.shap, video=video,
            video_episodes=1 if args.video_episodes is None else args.video_episodes, camera=args.camera,
            renderer=args.renderer, progress=args.progress,
        )
    except ProjectError as error:
        parser.error(str(error))


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window; set once, here
    parser = build_parser()
    config = parse_config(parser, argv)
    from evaluation.pipeline import run_pipeline
    from sim.errors import ProjectError

    print(f"scenario {config.scenario} | seed {config.seed} | {config.episodes} episodes x "
          f"{len(config.policies)} policies | output {config.out_dir}", flush=True)
    try:
        report = run_pipeline(config)
    except ProjectError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"\ninterrupted: finished episodes are saved in {config.out_dir}; "
                         f"rerun the same command with --resume --out {config.out_dir} to complete it\n")
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

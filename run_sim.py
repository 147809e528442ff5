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
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SCENARIO = "cluttered"
DEFAULT_EPISODES = 5
DEFAULT_MAX_STEPS = 150


@dataclass(frozen=True)
class CliConfig:
    """The parsed command line."""

    scenario: str
    models: tuple[str, ...]
    episodes: int
    seed: int
    out: Path
    workers: int
    max_steps: int
    resume: bool
    shap: bool
    video: bool
    video_episodes: int
    progress: bool
    camera: str = "front"
    renderer: str = "tiny"


def default_models() -> tuple[str, ...]:
    """Every shipped IKNet variant plus the analytic baseline."""
    from agents import MODEL_NAMES

    return tuple(f"iknet:{name}" for name in MODEL_NAMES) + ("analytic",)


def build_parser() -> argparse.ArgumentParser:
    from agents.ik_policy.policy import EXAMPLE_POLICIES, MODIFIERS, solver_names
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
                        help="comma-separated policies (default: every shipped IKNet variant plus 'analytic')")
    parser.add_argument("--episodes", type=int, default=DEFAULT_EPISODES,
                        help=f"episodes per policy; episode k uses the same scene for every policy (default: {DEFAULT_EPISODES})")
    parser.add_argument("--seed", type=int, default=0, help="base seed; episode k is seeded seed + k (default: 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default: results/<scenario>-<timestamp>)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes running episodes (default: 1)")
    parser.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS,
                        help=f"control steps per episode before time-out (default: {DEFAULT_MAX_STEPS})")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=False,
                        help="continue the run already in --out, skipping finished episodes")
    parser.add_argument("--shap", action=argparse.BooleanOptionalAction, default=False,
                        help="Shapley attributions: heat maps, balance, per-step traces and the safety-attribution study")
    parser.add_argument("--video", action=argparse.BooleanOptionalAction, default=False,
                        help="record per-episode videos and side-by-side comparison videos")
    parser.add_argument("--video-episodes", type=int, default=1,
                        help="with --video, record the first K episodes (default: 1)")
    parser.add_argument("--camera", choices=tuple(CAMERA_PRESETS), default="front",
                        help="with --video, the camera preset; 'orbit' circles the arm (default: front)")
    parser.add_argument("--renderer", choices=RENDERERS, default="tiny",
                        help="with --video, PyBullet's renderer: 'tiny' (TinyRenderer, CPU, everywhere) or 'egl' "
                             "(OpenGL through the EGL plugin, headless; fast with a GPU driver) (default: tiny)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="show a progress bar (default: on)")
    return parser


def parse_config(parser: argparse.ArgumentParser, argv: list[str] | None) -> CliConfig:
    """Parse and validate; every bad value ends in ``parser.error`` (one line, exit status 2)."""
    from agents.policies import validate_policy_name
    from scenarios import get_scenario
    from sim.errors import ProjectError

    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be at least 1, got {args.episodes}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    if args.max_steps < 1:
        parser.error(f"--max-steps must be at least 1, got {args.max_steps}")
    if args.video_episodes < 0:
        parser.error(f"--video-episodes must be 0 or more, got {args.video_episodes}")
    models = tuple(m.strip() for m in args.models.split(",") if m.strip()) if args.models else default_models()
    if not models:
        parser.error("--models needs at least one policy name")
    if len(set(models)) != len(models):
        parser.error(f"--models lists a policy twice: {args.models}")
    try:
        scenario = get_scenario(args.scenario)
        for model in models:
            validate_policy_name(model)
        if args.video and args.renderer == "egl":  # fail now, not after the episodes
            from sim.world import World

            World(renderer="egl").close()
    except ProjectError as error:
        parser.error(str(error))
    scenario_label = Path(args.scenario).stem if args.scenario.endswith(".toml") else args.scenario
    out = args.out or Path("results") / f"{scenario_label}-{time.strftime('%Y%m%d-%H%M%S')}"
    del scenario
    return CliConfig(args.scenario, models, args.episodes, args.seed, out, args.workers, args.max_steps,
                     args.resume, args.shap, args.video, args.video_episodes, args.progress, args.camera,
                     args.renderer)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    config = parse_config(parser, argv)
    from evaluation.pipeline import run_pipeline
    from sim.errors import ProjectError

    print(f"scenario {config.scenario} | seed {config.seed} | {config.episodes} episodes x {len(config.models)} policies "
          f"| output {config.out}", flush=True)
    try:
        report = run_pipeline(config)
    except ProjectError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"\ninterrupted: finished episodes are saved in {config.out}; "
                         f"rerun the same command with --resume --out {config.out} to complete it\n")
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

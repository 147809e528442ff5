"""Baselines in the same arena: the OMPL planner, the RL agent and the best IKNet policy.

Runs every policy through the runner (same env, same metrics, same seeds: episode k of every
policy is the same scene) on ``benchmark`` and ``narrow`` and prints, per scenario and policy:
success %, collision % (any contact), median minimum clearance (capsule model) and median goal
error (mm), and the median decision time per episode (planning + IK / inference, ms) and wall
time per episode (s), with each figure's ratio to the planner measured in the same run.
Policies whose extra or checkpoint is missing are reported and skipped.

Run: ``python benchmarks/baselines.py [--episodes 20] [--seed 0] [--rl rl:sac:PATH.zip]
[--iknet iknet:improved+safe] [--out DIR]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import assets
from evaluation.config import RunConfig
from evaluation.runner import run
from evaluation.schema import read_episodes
from sim.errors import ProjectError

SCENARIOS = ("benchmark", "narrow")
PLANNER = "ompl:rrtconnect"
SHIPPED_RL = assets.RL_AGENT_PATH


def available(name: str) -> bool:
    """True if ``name`` can be built here; otherwise say why (missing extra or checkpoint)."""
    from agents.policies import make_policy

    try:
        make_policy(name).close()
    except ProjectError as error:
        print(f"skipping {name}: {error}")
        return False
    return True


def summarise(rows: list[dict[str, str]]) -> dict[str, float]:
    """Figures of one policy's episode rows (see the module docstring)."""

    def column(name: str) -> np.ndarray:
        return np.array([float(row[name]) if row.get(name) not in (None, "") else 0.0 for row in rows])

    return {
        "episodes": len(rows),
        "success_pct": 100 * column("success").mean(),
        "collision_pct": 100 * column("collided").mean(),
        "clearance_mm": float(np.median(column("min_clearance_mm"))),
        "goal_error_mm": float(np.median(column("target_error_mm"))),
        "decision_ms": float(np.median(column("plan_time_ms") + column("ik_time_ms"))),
        "wall_s": float(np.median(column("wall_time_s"))),
    }


def short(policy: str) -> str:
    """The policy name with any checkpoint path cut to its file name (for the table)."""
    head, _, path = policy.rpartition(":")
    return f"{head}:{Path(path).name}" if "/" in path else policy


def print_table(scenario: str, figures: dict[str, dict[str, float]]) -> None:
    peer = figures.get(PLANNER)
    print(f"\n{scenario}: {next(iter(figures.values()))['episodes']} episodes per policy")
    header = (f"{'policy':34s} {'success':>8s} {'collide':>8s} {'clear mm':>9s} {'err mm':>8s} "
              f"{'decide ms':>10s} {'x planner':>9s} {'wall s':>7s}")
    print(header)
    print("-" * len(header))
    for policy, values in figures.items():
        ratio = values["decision_ms"] / peer["decision_ms"] if peer and peer["decision_ms"] > 0 else float("nan")
        print(f"{short(policy)[:34]:34s} {values['success_pct']:7.0f}% {values['collision_pct']:7.0f}% "
              f"{values['clearance_mm']:9.1f} {values['goal_error_mm']:8.2f} {values['decision_ms']:10.1f} "
              f"{ratio:9.3f} {values['wall_s']:7.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20, help="episodes per policy and scenario (default: 20)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; episode k uses seed + k (default: 0)")
    parser.add_argument("--rl", default=f"rl:sac:{SHIPPED_RL}", help="the RL agent (default: the shipped one)")
    parser.add_argument("--iknet", default="iknet:improved+safe", help="the IKNet policy (default: %(default)s)")
    parser.add_argument("--planner", default=PLANNER, help="the planner policy (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default: a temporary folder)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be at least 1, got {args.episodes}")
    policies = tuple(name for name in (args.planner, args.rl, args.iknet) if available(name))
    if not policies:
        print("nothing to run", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="baselines-"))
    print(f"seed {args.seed} | output {out}")
    for scenario in SCENARIOS:
        config = RunConfig(scenario, policies, args.episodes, args.seed, out / scenario,
                           resume=(out / scenario / "run.json").exists(), progress=args.progress)
        try:
            run(config)
        except ProjectError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        rows = read_episodes(out / scenario)
        print_table(scenario, {policy: summarise([row for row in rows if row["model"] == policy])
                               for policy in policies})
    return 0


if __name__ == "__main__":
    sys.exit(main())

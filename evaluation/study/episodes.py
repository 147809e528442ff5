"""Run the design's policies through its scenarios (the runner's public API) and collect one table.

Every network runs raw (``iknet:<checkpoint>``); the design's ``safe_variants`` also run behind
the clearance safety layer (``+safe``); reference policies run as named. One
:func:`evaluation.runner.run` per scenario and policy writes ``<out>/runs/<scenario>/<policy>/``
and resumes there, so an interrupted study loses at most the episode in flight. Episode ``k`` of a scenario is the same
scene for every policy, which is what makes the comparisons paired.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.backends.base import BackendName
from evaluation.config import RunConfig
from evaluation.results_io import ResultsWriteError
from evaluation.runner import run as run_episodes
from evaluation.schema import RUN_FILE, read_episodes, read_steps
from evaluation.study.design import StudyDesign
from evaluation.study.networks import Network
from sim.errors import ProjectError

RUNS_DIR = "runs"


@dataclass(frozen=True)
class PolicyRole:
    """What a policy name stands for in the study."""

    policy: str
    kind: str  #: "raw", "safe" or "reference"
    variant: str  #: variant name, or the reference policy's name
    network: str  #: network name (variant-sSEED), or the reference policy's name
    seed: int  #: training seed (-1 for references)


def policy_roles(design: StudyDesign, networks: list[Network]) -> list[PolicyRole]:
    """Every policy of the study, raw networks first."""
    roles = [PolicyRole(f"iknet:{n.path}", "raw", n.variant, n.name, n.seed) for n in networks]
    roles += [PolicyRole(f"iknet:{n.path}+safe", "safe", n.variant, n.name, n.seed)
              for n in networks if n.variant in design.safe_variants]
    roles += [PolicyRole(name, "reference", name, name, -1) for name in design.reference_policies]
    return roles


def policy_folder(out_dir: Path, scenario: str, role: PolicyRole) -> Path:
    """``<out>/runs/<scenario>/<kind>-<network>``: one runner results folder per policy and scenario."""
    label = f"{role.kind}-{role.network}"
    for separator in (":", "+", "/", "\\"):  # one folder name: a reference policy's path cannot nest or leave it
        label = label.replace(separator, "_")
    return Path(out_dir) / RUNS_DIR / scenario / label


def run_design(design: StudyDesign, roles: list[PolicyRole], out_dir: Path, *, resume: bool, workers: int = 1,
               backend: BackendName = "local", ray_address: str | None = None, progress: bool = False) -> list[str]:
    """Run (or resume) every scenario of the design with every policy; return failure messages.

    Each (scenario, policy) is one :func:`evaluation.runner.run` into its own folder (same scene
    seed, so episode ``k`` is the same scene for every policy) on ``backend`` (``workers`` and
    ``ray_address`` as in :class:`~evaluation.config.RunConfig`; a process already connected to
    Ray keeps its one connection for every run): an error raised inside one policy's episode stops
    that policy's remaining episodes of that scenario only; it is reported, not hidden.
    """
    failures = []
    for plan in design.scenarios:
        for role in roles:
            folder = policy_folder(out_dir, plan.name, role)
            config = RunConfig(scenario=plan.name, policies=(role.policy,), episodes=plan.episodes, seed=design.seed,
                               out_dir=folder, workers=workers, max_steps=design.max_steps,
                               resume=resume or (folder / RUN_FILE).exists(), progress=progress,
                               backend=backend, ray_address=ray_address)
            try:
                run_episodes(config)
            except ResultsWriteError:  # a full disk stops the study (one line), not one policy
                raise
            except ProjectError as error:
                finished = len(read_episodes(folder))
                failures.append(f"{plan.name} / {role.network} ({role.kind}): stopped after {finished} of "
                                f"{plan.episodes} episodes: {type(error).__name__}: {error}")
    return failures


def collect(design: StudyDesign, roles: list[PolicyRole], out_dir: Path) -> pd.DataFrame:
    """One row per finished episode of the design's policies, with study columns.

    Columns: ``policy, kind, variant, network, train_seed, scenario, episode, scene`` (scenario:episode, or
    scenario:index of the fixed scene for scenarios of fixed scenes such as ``benchmark``),
    the outcomes (``min_clearance_mm``, ``target_error_mm``, ``collided`` 0/1, ``jerk``, ``steps``),
    ``clearance_ok_mm`` (clearance of non-colliding episodes, NaN if collided) and ``log_steps``.
    """
    from scenarios import get_scenario

    by_policy = {role.policy: role for role in roles}
    rows = []
    for plan in design.scenarios:
        fixed = len(get_scenario(plan.name).fixed_scenes)  # episode k of n fixed scenes is scene k mod n
        for row in (row for role in roles for row in read_episodes(policy_folder(out_dir, plan.name, role))):
            role = by_policy.get(row["model"])
            if role is None or int(row["episode"]) >= plan.episodes:
                continue
            collided = row["collided"] in ("True", "true", "1")
            clearance = float(row["min_clearance_mm"])
            rows.append({
                "policy": role.policy, "kind": role.kind, "variant": role.variant, "network": role.network,
                "train_seed": role.seed, "scenario": plan.name, "episode": int(row["episode"]),
                "scene": f"{plan.name}:{int(row['episode']) % fixed if fixed else int(row['episode'])}",
                "min_clearance_mm": clearance, "target_error_mm": float(row["target_error_mm"]),
                "collided": float(collided), "jerk": float(row["jerk"]), "steps": int(row["steps"]),
                "clearance_ok_mm": np.nan if collided else clearance,
            })
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["log_steps"] = np.log(frame["steps"].clip(lower=1))
    return frame


def episode_balance(design: StudyDesign, roles: list[PolicyRole], networks: list[Network], out_dir: Path,
                    measure: str) -> dict[tuple[str, str, int], float]:
    """Balance of each raw-network episode: exact Shapley attributions of the commanded joint targets
    at up to ``design.episode_balance_steps`` evenly spaced steps (16-row k-means background), condensed
    like the network balance. Keyed by (policy, scenario, episode)."""
    from agents.iknet.checkpoint import load_checkpoint
    from evaluation.explain.balance import attribution_balance
    from evaluation.explain.shapley import TraceExplainer
    from evaluation.explain.study import fresh_poses
    from sim.robot.kinematics import clamp_to_limits, forward_kinematics

    count = design.episode_balance_steps
    if count <= 0:
        return {}
    background = fresh_poses(design.seed + 20_011, 200)
    paths = {n.name: n.path for n in networks}
    values: dict[tuple[str, str, int], float] = {}
    tracers = {}
    for plan in design.scenarios:
        for role in roles:
            if role.kind != "raw":
                continue
            steps: dict[tuple[str, int], list[dict[str, str]]] = {}
            for row in read_steps(policy_folder(out_dir, plan.name, role)):
                steps.setdefault((row["model"], int(row["episode"])), []).append(row)
            if role.network not in tracers:
                tracers[role.network] = TraceExplainer(load_checkpoint(paths[role.network]), background)
            for episode in range(plan.episodes):
                rows = steps.get((role.policy, episode))
                if not rows:
                    continue
                picks = np.unique(np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(int))
                targets = np.array([[float(rows[i][f"target_joints_rad_{j}"]) for j in range(4)] for i in picks])
                phi = tracers[role.network].explain(forward_kinematics(clamp_to_limits(targets)))
                balance = attribution_balance(np.abs(phi).mean(0))
                values[(role.policy, plan.name, episode)] = (
                    float(np.mean(balance.entropy)) if measure == "entropy_joint_mean" else balance.entropy_overall)
    return values

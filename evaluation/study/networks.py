"""The study's trained networks: train what is missing (one shared data budget), measure balance.

Each network is one variant trained with one seed; it is written to
``<checkpoint_dir>/<variant>-s<seed>.pt`` with an entry in ``<checkpoint_dir>/manifest.json``
(seed, data budget, held-out accuracy, wall time and the command that made it). A checkpoint that
exists with the design's recipe is reused, so a study resumes without retraining. The checkpoint
folder may hold only what the study writes (checkpoints, ``manifest.json``, temporary files): a
file of someone else's, a symbolic link, or a checkpoint of the study's name trained with another
recipe is refused before any training (:func:`plan_networks`), never overwritten; files are written
to a new temporary file and renamed into place. Networks train
as tasks of an execution backend (:mod:`evaluation.backends`: in process, a process pool, Ray),
one torch thread each, so the weights do not depend on where they were trained.

A network's attribution balance is computed from exact interventional Shapley values
(:func:`evaluation.explain.shapley.explain`, ``method="exact"``) over fresh poses, the same
explained/background poses for every network.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from agents.iknet.checkpoint import MANIFEST_NAME, load_checkpoint
from agents.iknet.dataset import DatasetSplits, make_splits
from agents.iknet.models import IKNet
from agents.iknet.train import (
    TrainConfig,
    check_writable_folder,
    held_out_accuracy,
    read_manifest,
    save_checkpoint_file,
    train,
    write_manifest_entry,
)
from agents.iknet.training import convergence_record, learning_curve_entry
from evaluation.explain.balance import attribution_balance, global_importance
from evaluation.explain.shapley import explain
from evaluation.explain.study import fresh_poses
from evaluation.study.design import BALANCE_POSE_POOL, StudyDesign, Variant
from sim.errors import CheckpointError, OutputFolderError
from sim.robot.kinematics import JOINT_NAMES

if TYPE_CHECKING:
    from evaluation.backends import TaskBackend

FEATURES = ("x", "y", "z", "qx", "qy", "qz", "qw")


@dataclass(frozen=True)
class Network:
    """One trained network of the study."""

    variant: str
    seed: int
    path: Path

    @property
    def name(self) -> str:
        return f"{self.variant}-s{self.seed}"


@dataclass(frozen=True)
class NetworkBalance:
    """Exact-Shapley attribution facts of one network (importance in rad, shares in [0, 1])."""

    network: str
    variant: str
    seed: int
    entropy_joint_mean: float
    entropy_overall: float
    orientation_share_overall: float
    qz_share_joint3: float
    qz_share_joint4: float
    orientation_share_joint3: float
    orientation_share_joint4: float
    position_error_mm_median: float
    #: Joints 3-4 pooled (their mean |SHAP| summed over the two joints), as the paper's claims read them:
    orientation_share_j34: float = float("nan")  #: qx, qy, qz, qw's share of joints 3-4's mean |SHAP|
    qz_share_j34: float = float("nan")  #: qz's share of joints 3-4's mean |SHAP|
    qz_mean_abs_shap_j34_rad: float = float("nan")  #: qz's mean |SHAP| averaged over joints 3 and 4 (rad)
    qz_rank_j34: int = 0  #: qz's rank among the 7 features for joints 3-4 (1 = largest; ties share the best)
    z_share_j34: float = float("nan")  #: z's share of joints 3-4's mean |SHAP|
    concentration: float = float("nan")  #: largest single-feature share per joint, averaged over the 4 joints
    parameter_count: int = 0  #: trainable parameters of the network
    #: Training facts from the checkpoint's entry (the convergence criterion of agents.iknet.training):
    epochs_run: int = 0
    best_epoch: int = 0
    converged: bool = False  #: the criterion held at the run's end (False when the entry predates it)
    convergence_improvement: float = float("nan")  #: best validation loss gain over the final window


def joint34_facts(importance: np.ndarray) -> dict[str, float | int]:
    """The joints 3-4 and concentration facts of one network's global importance table.

    Args:
        importance: (7, 4) mean |SHAP| per pose feature (``FEATURES`` order) and joint (rad), non-negative.

    Returns:
        ``orientation_share_j34``, ``qz_share_j34``, ``z_share_j34`` (shares of the importance of joints
        3 and 4 summed, in [0, 1]), ``qz_mean_abs_shap_j34_rad`` (rad), ``qz_rank_j34`` (1 = largest of
        the 7 on joints 3-4 summed; a tie counts as the better rank) and ``concentration`` (each joint's
        largest feature share, averaged over the joints; 1/7 = uniform, 1 = one feature carries all).
    """
    table = np.asarray(importance, dtype=float)
    joints = [JOINT_NAMES.index("joint3"), JOINT_NAMES.index("joint4")]
    pooled = table[:, joints].sum(axis=1)  # (7,)
    total = float(pooled.sum())
    qz, z = FEATURES.index("qz"), FEATURES.index("z")
    orientation = [FEATURES.index(name) for name in ("qx", "qy", "qz", "qw")]
    per_joint = table.sum(axis=0)
    shares = table / np.where(per_joint > 0, per_joint, 1.0)
    share = (lambda value: float(value) / total) if total > 0 else (lambda value: float("nan"))
    return {
        "orientation_share_j34": share(pooled[orientation].sum()),
        "qz_share_j34": share(pooled[qz]),
        "qz_mean_abs_shap_j34_rad": float(table[qz, joints].mean()),
        "qz_rank_j34": int(1 + np.count_nonzero(pooled > pooled[qz])),
        "z_share_j34": share(pooled[z]),
        "concentration": float(shares.max(axis=0).mean()) if np.all(per_joint > 0) else float("nan"),
    }


def train_config(design: StudyDesign, variant: Variant, seed: int) -> TrainConfig:
    """The paper's recipe at the design's shared budget (data seed = training seed)."""
    budget = design.training
    dropout_epochs = None if budget.dropout_epochs is None else min(budget.dropout_epochs, budget.epochs)
    return TrainConfig(model=variant.architecture, data_size=budget.data_size, data_seed=seed, seed=seed,
                       epochs=budget.epochs, batch_size=budget.batch_size, balance_weight=variant.balance_weight,
                       schedule=budget.schedule, stop=budget.stop, dropout_epochs=dropout_epochs,
                       min_epochs=budget.min_epochs, patience=budget.patience,
                       min_learning_rate=budget.min_learning_rate)


def checkpoint_dir(design: StudyDesign, out_dir: Path) -> Path:
    """Where the design's networks live (``<out>/checkpoints`` when the design names none)."""
    return Path(design.training.checkpoint_dir) if design.training.checkpoint_dir else Path(out_dir) / "checkpoints"


def plan_networks(design: StudyDesign, out_dir: Path) -> tuple[list[Network], list[Network]]:
    """Every network of the design and those still to train, after checking the checkpoint folder;
    nothing is written.

    Raises:
        OutputFolderError: the checkpoint folder (or a path above it) is not a folder or is a
            symbolic link, or it holds an entry the study did not write: another file, a folder, a
            link, a manifest that is not the project's, or a checkpoint of a network's name that is
            not an IKNet checkpoint of the design's recipe (the message names it; nothing is
            overwritten).
    """
    folder = checkpoint_dir(design, out_dir)
    what = "the study's checkpoint"
    check_writable_folder(folder, what)
    networks = [Network(variant.name, seed, folder / f"{variant.name}-s{seed}.pt")
                for seed in design.training.seeds for variant in design.variants]
    try:
        entries = sorted(os.listdir(folder))
    except FileNotFoundError:
        return networks, networks
    except OSError as error:
        raise OutputFolderError(f"cannot read {what} folder {folder}: {error.strerror or error}") from None
    foreign = [name for name in entries if not _study_entry(folder / name)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputFolderError(f"{what} folder {folder} holds files the study did not write ({shown}); not "
                                "writing there: move them away or set another checkpoint_dir")
    if MANIFEST_NAME in entries:
        read_manifest(folder / MANIFEST_NAME)  # refused unless it is a manifest this project writes
    missing = []
    variants = {variant.name: variant for variant in design.variants}
    for network in networks:
        if network.path.name not in entries:
            missing.append(network)
            continue
        config = train_config(design, variants[network.variant], network.seed)
        try:
            model = load_checkpoint(network.path, architecture=config.model)
        except CheckpointError as error:
            raise OutputFolderError(f"{what} folder holds {network.path.name}, which is not a checkpoint the study can "
                                    f"reuse ({error}); not overwriting it: move it away or set another "
                                    "checkpoint_dir") from None
        if model.checkpoint_metadata.get("config") != asdict(config):
            raise OutputFolderError(f"{what} folder holds {network.path}, trained with another recipe than the "
                                    "design's; not overwriting it: move it away or set another checkpoint_dir")
    return networks, missing


def _study_entry(path: Path) -> bool:
    """True for what the study writes in its checkpoint folder: regular files named ``*.pt``, the
    manifest, or temporary files of :func:`agents.iknet.train.new_file` (never a link or a folder)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    name = path.name
    return stat.S_ISREG(info.st_mode) and (name.endswith(".pt") or name == MANIFEST_NAME
                                           or (name.startswith(".") and name.endswith(".tmp")))


@dataclass(frozen=True)
class TrainingTask:
    """One network to train wherever a backend puts it: its name, recipe and the command recorded."""

    network: str
    variant: Variant
    config: TrainConfig
    command: str
    progress: bool = False


@dataclass(frozen=True)
class TrainedNetwork:
    """A trained network (eval mode) and its manifest entry; nothing written yet."""

    network: str
    model: IKNet
    entry: dict[str, Any]


def train_network(splits_by_seed: dict[int, DatasetSplits], task: TrainingTask) -> TrainedNetwork:
    """Train ``task`` on its seed's data with one torch thread (restored after) and measure it on the
    held-out split. Writes nothing, so a backend may run it in another process or on a Ray worker;
    same task and data give the same weights wherever it runs."""
    config = task.config
    splits = splits_by_seed[config.data_seed]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        result = train(config, splits, progress=task.progress)
        plain = held_out_accuracy(result.model, splits.test)
        wall_time_s = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    entry = {
        "variant": task.variant.name, "architecture": task.variant.architecture,
        "balance_weight": task.variant.balance_weight, "seed": config.seed, "config": asdict(config),
        "data": {"seed": config.data_seed, "size": config.data_size, "train": len(splits.train),
                 "test": len(splits.test)},
        "epochs_run": len(result.history), "best_epoch": result.best_epoch,
        "convergence": convergence_record(result.history),
        "learning_curve": learning_curve_entry(result.history),
        "wall_time_s": round(wall_time_s, 1), "threads": 1,
        "held_out": {"position_error_mm_median": round(plain.position_error_mm_median, 4),
                     "position_error_mm_p95": round(plain.position_error_mm_p95, 4),
                     "orientation_error_deg_median": round(plain.orientation_error_deg_median, 4),
                     "out_of_limits_pct": round(plain.out_of_limits_pct, 4)},
        "command": task.command,
    }
    return TrainedNetwork(task.network, result.model, entry)


def ensure_networks(design: StudyDesign, out_dir: Path, *, command: str, backend: TaskBackend | None = None,
                    progress: bool = False) -> list[Network]:
    """Train every (variant, seed) network the design needs and is not on disk yet; return them all.

    The networks to train are tasks of ``backend`` (default: one after another in this process;
    a process pool or Ray tasks train several at once). Data splits are made once per seed, here,
    and shared by the variants (same data budget and draw); the backend ships them to its workers
    once. This process alone writes the checkpoints and manifest entries, as networks finish.
    """
    from evaluation.backends import InProcessBackend

    backend = backend if backend is not None else InProcessBackend()
    folder = checkpoint_dir(design, out_dir)
    networks, missing = plan_networks(design, out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputFolderError(f"cannot create the study's checkpoint folder {folder}: {error.strerror}") from None
    tasks = [TrainingTask(network.name, design.variant(network.variant),
                          train_config(design, design.variant(network.variant), network.seed), command,
                          progress=progress and backend.runs_in_driver) for network in missing]
    if not tasks:
        return networks
    splits = {}
    for seed in dict.fromkeys(task.config.data_seed for task in tasks):
        config = next(task.config for task in tasks if task.config.data_seed == seed)
        splits[seed] = make_splits(config.data_size, seed, reject_self_collision=config.reject_self_collision,
                                   reject_below_table=config.reject_below_table)
    print(f"study: training {len(tasks)} network(s) on {backend.name}: {', '.join(t.network for t in tasks)}",
          file=sys.stderr)
    paths = {network.name: network.path for network in networks}
    with closing(backend.run(train_network, splits, tasks)) as stream:
        for task, trained in stream:
            path = paths[task.network]
            save_checkpoint_file(trained.model, path, trained.entry)
            write_manifest_entry(folder / "manifest.json", task.network,
                                 dict(trained.entry, checkpoint=path.name, size_bytes=path.stat().st_size))
            print(f"study: trained {task.network} ({task.variant.architecture}, balance weight "
                  f"{task.variant.balance_weight:g}): median error "
                  f"{trained.entry['held_out']['position_error_mm_median']:.2f} mm in "
                  f"{trained.entry['wall_time_s']:.0f} s", file=sys.stderr)
    return networks


def learning_curves(networks: list[Network]) -> pd.DataFrame:
    """Every network's learning curve (:func:`agents.iknet.curves.curves_frame`), from its checkpoint."""
    from agents.iknet.curves import curves_frame

    return curves_frame({network.name: load_checkpoint(network.path).checkpoint_metadata for network in networks})


def _training_facts(entry: dict[str, Any]) -> dict[str, Any]:
    """The epochs and convergence columns of a network's row, from its checkpoint entry."""
    record = entry.get("convergence") or {}
    improvement = record.get("relative_improvement")
    return {"epochs_run": int(entry.get("epochs_run", 0)), "best_epoch": int(entry.get("best_epoch", 0)),
            "converged": bool(record.get("converged", False)),
            "convergence_improvement": float("nan") if improvement is None else float(improvement)}


def network_balance(networks: list[Network], design: StudyDesign) -> list[NetworkBalance]:
    """Exact-Shapley balance of every network on one shared set of explained and background poses."""
    pool = fresh_poses(design.seed + 10_007, BALANCE_POSE_POOL)
    order = np.random.default_rng(design.seed).permutation(len(pool))
    explained = pool[order[:design.explained_poses]]
    background = pool[order[design.explained_poses:design.explained_poses + design.background_poses]]
    rows = []
    joint3, joint4 = JOINT_NAMES.index("joint3"), JOINT_NAMES.index("joint4")
    qz = FEATURES.index("qz")
    for network in networks:
        model = load_checkpoint(network.path)
        importance = global_importance(explain(model, explained, background, "exact").values)  # (7, 4)
        balance = attribution_balance(importance)
        shares = importance / np.where(importance.sum(0) > 0, importance.sum(0), 1.0)
        rows.append(NetworkBalance(
            network.name, network.variant, network.seed,
            entropy_joint_mean=float(np.mean(balance.entropy)), entropy_overall=balance.entropy_overall,
            orientation_share_overall=balance.orientation_share_overall,
            qz_share_joint3=float(shares[qz, joint3]), qz_share_joint4=float(shares[qz, joint4]),
            orientation_share_joint3=balance.orientation_share[joint3],
            orientation_share_joint4=balance.orientation_share[joint4],
            position_error_mm_median=float(model.checkpoint_metadata.get("held_out", {})
                                           .get("position_error_mm_median", float("nan"))),
            **joint34_facts(importance),
            parameter_count=int(sum(parameter.numel() for parameter in model.parameters())),
            **_training_facts(model.checkpoint_metadata),
        ))
    return rows

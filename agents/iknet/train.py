"""Train an IKNet on synthetic pose-joint pairs and ship it with a manifest entry.

    python -m agents.iknet.train --model improved --epochs 40

Loss (per batch mean) = ``joint_weight * MSE(q, q_label)`` (rad^2; not wrapped, so joint 1 stays
inside its limits) + ``position_weight * |p_FK(q) - p|`` (m) + ``orientation_weight * d(quat_FK(q), quat)`` with
``d`` the chordal quaternion distance ``min(|a - b|, |a + b|)`` (about half the geodesic angle in
rad), all through the differentiable torch forward kinematics. Adam (lr 1e-3, weight decay 1e-5)
with a cosine decay of the learning rate to ``--min-learning-rate`` over the epochs (or
ReduceLROnPlateau, or constant), validation every epoch, early stopping with ``--patience`` and
the best validation weights restored. ``--balance-weight W`` adds ``W *`` the attribution-balance
penalty of :mod:`agents.iknet.balance` on the first ``--balance-samples`` poses of every batch
(default 0: the recipe above, unchanged).

Dropout schedule: the modules keep their declared rates (0.1, 0.05), which are active for the
first ``1 - --dropout-off-fraction`` of the epochs and switched off for the rest. Measured on
this task, dropout left on to the end holds the eval-mode median position error near 10 mm
(train/eval mismatch of a precise regressor), against about 2 mm with the last epochs run
without it. Patience counts only from the epoch dropout is switched off (the noisier dropout
phase must not stop the run).

Reproducibility: data come from ``--data-seed`` (a NumPy generator), initial weights and batch
order from ``--seed`` (``torch.Generator``s). Dropout draws from torch's global generator, so
:func:`train` seeds it inside ``torch.random.fork_rng``: the caller's global RNG state is restored
afterwards. The command-line entry also sets ``torch.set_num_threads(--threads)`` (default 1, to
leave a core to others); same seed and thread count give the same weights.

Seed replicates: ``--seeds 0,1,2`` trains one network per seed (weights, batch order, dropout; the
data are shared: generated once from ``--data-seed``), one after another here (``--backend local``)
or as Ray tasks of ``--threads`` CPUs each (``--backend ray [--ray-address ...]``, extra ``ray``; the
data go to Ray's object store once). Checkpoints go to ``--out`` with ``{seed}`` (and ``{model}``)
filled in, default ``assets/checkpoints/seeds/{model}-s{seed}.pt``, with entries ``<model>-s<seed>``
in the manifest beside them. Only this process writes files. Same seed and threads: same weights on
either backend.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
import torch

from agents.iknet.balance import balance_penalty
from agents.iknet.checkpoint import save_checkpoint
from agents.iknet.dataset import DatasetSplits, PoseJointSet, make_splits
from agents.iknet.ik_eval import IKAccuracy, accuracy_of_answers
from agents.iknet.models import MODEL_NAMES, IKNet, build_model, count_parameters
from agents.iknet.parallel import TRAIN_BACKENDS, check_backend, run_tasks
from agents.iknet.refine import refine
from sim.errors import InvalidInputError, ProjectError, UnknownNameError
from sim.kinematics import forward_kinematics

Schedule = Literal["cosine", "plateau", "constant"]
SCHEDULES: tuple[str, ...] = ("cosine", "plateau", "constant")
_EVAL_BATCH = 65_536


@dataclass(frozen=True)
class TrainConfig:
    """Every option of a training run (the command line maps onto it one to one)."""

    model: str = "improved"
    data_size: int = 1_000_000
    data_seed: int = 0
    seed: int = 0
    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    schedule: Schedule = "cosine"
    min_learning_rate: float = 1e-5
    joint_weight: float = 1.0
    position_weight: float = 10.0
    orientation_weight: float = 1.0
    patience: int = 10
    dropout_off_fraction: float = 0.75
    reject_self_collision: bool = True
    reject_below_table: bool = True
    balance_weight: float = 0.0
    balance_samples: int = 128

    def validate(self) -> None:
        """Raise :class:`InvalidInputError` / :class:`UnknownNameError` for values out of range."""
        if self.model not in MODEL_NAMES:
            raise UnknownNameError("model", self.model, MODEL_NAMES)
        if self.schedule not in SCHEDULES:
            raise UnknownNameError("schedule", self.schedule, SCHEDULES)
        positive = {"data_size": self.data_size, "epochs": self.epochs, "batch_size": self.batch_size,
                    "learning_rate": self.learning_rate, "patience": self.patience,
                    "balance_samples": self.balance_samples}
        for name, value in positive.items():
            if not value > 0:
                raise InvalidInputError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.data_size < 100:
            raise InvalidInputError(f"--data-size must be at least 100, got {self.data_size}")
        if not 0.0 <= self.dropout_off_fraction <= 1.0:
            raise InvalidInputError(f"--dropout-off-fraction must lie in [0, 1], got {self.dropout_off_fraction}")
        non_negative = {"weight_decay": self.weight_decay, "min_learning_rate": self.min_learning_rate,
                        "joint_weight": self.joint_weight, "position_weight": self.position_weight,
                        "orientation_weight": self.orientation_weight, "balance_weight": self.balance_weight}
        for name, value in non_negative.items():
            if not (value >= 0 and math.isfinite(value)):
                raise InvalidInputError(f"--{name.replace('_', '-')} must be finite and >= 0, got {value}")


@dataclass(frozen=True)
class EpochRecord:
    """One epoch's numbers (losses are the combined loss of :func:`combined_loss`)."""

    epoch: int
    train_loss: float
    validation_loss: float
    validation_position_mm_median: float
    learning_rate: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """A finished run: the best model (eval mode) and its history."""

    model: IKNet
    history: tuple[EpochRecord, ...]
    initial_validation_loss: float
    best_validation_loss: float
    best_epoch: int
    stopped_early: bool
    wall_time_s: float


def combined_loss(
    joints: torch.Tensor, target_joints: torch.Tensor, target_poses: torch.Tensor, config: TrainConfig
) -> torch.Tensor:
    """Scalar training loss of predicted ``joints`` (N, 4) rad for targets (N, 4) rad and (N, 7) poses."""
    delta = joints - target_joints
    loss = config.joint_weight * (delta * delta).mean()
    if config.position_weight or config.orientation_weight:
        reached = forward_kinematics(joints, validate=False)
        position = torch.sqrt(((reached[:, :3] - target_poses[:, :3]) ** 2).sum(1) + 1e-14)
        quat, target_quat = reached[:, 3:], target_poses[:, 3:]
        chordal = torch.minimum(((quat - target_quat) ** 2).sum(1), ((quat + target_quat) ** 2).sum(1))
        loss = loss + config.position_weight * position.mean()
        loss = loss + config.orientation_weight * torch.sqrt(chordal + 1e-14).mean()
    return loss


def _set_dropout_active(model: torch.nn.Module, active: bool) -> None:
    """Switch every ``nn.Dropout`` between its declared rate and 0 (the rate is kept aside)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            if not hasattr(module, "declared_p"):
                module.declared_p = module.p
            module.p = module.declared_p if active else 0.0


def _as_tensors(data: PoseJointSet) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.ascontiguousarray(data.poses)), torch.from_numpy(np.ascontiguousarray(data.joints))


def _evaluate(model: IKNet, poses: torch.Tensor, joints: torch.Tensor, config: TrainConfig) -> tuple[float, float]:
    """Mean combined loss and median position error (mm) of ``model`` in eval mode."""
    model.eval()
    total, errors = 0.0, []
    with torch.no_grad():
        for pose_chunk, joint_chunk in zip(poses.split(_EVAL_BATCH), joints.split(_EVAL_BATCH), strict=True):
            predicted = model(pose_chunk)
            total += float(combined_loss(predicted, joint_chunk, pose_chunk, config)) * len(pose_chunk)
            reached = forward_kinematics(predicted, validate=False)[:, :3]
            errors.append((reached - pose_chunk[:, :3]).norm(dim=1))
    return total / len(poses), float(torch.cat(errors).median()) * 1000.0


def train(config: TrainConfig, splits: DatasetSplits | None = None, *, progress: bool = True) -> TrainResult:
    """Train ``config.model`` and return the weights of its best validation epoch.

    Args:
        config: the run's options.
        splits: prepared data (must match ``config``'s data options); generated when None.
        progress: show a tqdm bar (stderr) with the validation loss and median error.

    Returns:
        :class:`TrainResult` with the model in eval mode.

    Raises:
        InvalidInputError, UnknownNameError: an option out of range.
    """
    from tqdm import tqdm

    config.validate()
    start = time.perf_counter()
    if splits is None:
        splits = make_splits(config.data_size, config.data_seed, reject_self_collision=config.reject_self_collision,
                             reject_below_table=config.reject_below_table)
    train_poses, train_joints = _as_tensors(splits.train)
    val_poses, val_joints = _as_tensors(splits.validation)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # dropout masks only; restored on exit
        model = build_model(config.model, splits.stats.mean, splits.stats.std, seed=config.seed)
        optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        steps_per_epoch = math.ceil(len(train_poses) / config.batch_size)
        scheduler: Any = None
        if config.schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimiser, T_max=config.epochs * steps_per_epoch, eta_min=config.min_learning_rate)
        elif config.schedule == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimiser, factor=0.3, patience=max(1, config.patience // 3), min_lr=config.min_learning_rate)
        shuffle = torch.Generator().manual_seed(config.seed + 1)
        initial_loss, _ = _evaluate(model, val_poses, val_joints, config)
        best_loss, best_epoch, stale = initial_loss, 0, 0
        best_state = {k: v.clone() for k, v in model.state_dict().items()}
        history: list[EpochRecord] = []
        bar = tqdm(range(1, config.epochs + 1), desc=f"train {config.model}", unit="epoch", disable=not progress,
                   file=sys.stderr, dynamic_ncols=True)
        dropout_from_epoch = config.epochs - round(config.dropout_off_fraction * config.epochs) + 1
        for epoch in bar:
            epoch_start = time.perf_counter()
            model.train()
            _set_dropout_active(model, epoch < dropout_from_epoch)
            order = torch.randperm(len(train_poses), generator=shuffle)
            running = 0.0
            for batch in order.split(config.batch_size):
                if len(batch) < 2:  # BatchNorm cannot train on one sample
                    continue
                poses, joints = train_poses[batch], train_joints[batch]
                loss = combined_loss(model(poses), joints, poses, config)
                if config.balance_weight:  # attribution-balance regulariser (agents.iknet.balance)
                    loss = loss + config.balance_weight * balance_penalty(model, poses[:config.balance_samples])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                if config.schedule == "cosine":
                    scheduler.step()
                running += float(loss.detach()) * len(batch)
            validation_loss, median_mm = _evaluate(model, val_poses, val_joints, config)
            if config.schedule == "plateau":
                scheduler.step(validation_loss)
            history.append(EpochRecord(epoch, running / len(train_poses), validation_loss, median_mm,
                                       optimiser.param_groups[0]["lr"], time.perf_counter() - epoch_start))
            bar.set_postfix(val_loss=f"{validation_loss:.3g}", val_median_mm=f"{median_mm:.3g}")
            if validation_loss < best_loss:
                best_loss, best_epoch, stale = validation_loss, epoch, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            elif epoch >= dropout_from_epoch:  # patience counts only once dropout is off
                stale += 1
                if stale >= config.patience:
                    break
        bar.close()
    _set_dropout_active(model, True)
    model.load_state_dict(best_state)
    model.eval()
    stopped_early = len(history) < config.epochs
    return TrainResult(model, tuple(history), initial_loss, best_loss, best_epoch, stopped_early,
                       time.perf_counter() - start)


def held_out_accuracy(model: IKNet, test: PoseJointSet, *, refine_steps: int = 0) -> IKAccuracy:
    """Accuracy of ``model`` (optionally refined) on a held-out split."""
    with torch.inference_mode():
        answers = torch.cat([model(chunk) for chunk in torch.from_numpy(test.poses).split(_EVAL_BATCH)])
    answers_np = answers.double().numpy()
    if refine_steps:
        answers_np = refine(answers_np, test.poses.astype(np.float64), refine_steps)
    name = f"{model.architecture}+refine{refine_steps}" if refine_steps else model.architecture
    return accuracy_of_answers(answers_np, test.poses, reference_joints=test.joints, name=name)


def write_manifest_entry(manifest_path: str | Path, name: str, entry: dict[str, Any]) -> None:
    """Insert or replace ``models[name]`` in the JSON manifest (written atomically)."""
    path = Path(manifest_path)
    manifest: dict[str, Any] = {"models": {}}
    if path.is_file():
        try:
            manifest = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"manifest {str(path)!r} is not valid JSON: {error}") from error
    manifest.setdefault("models", {})[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def _summary(accuracy: IKAccuracy) -> dict[str, float]:
    keys = ("position_error_mm_median", "position_error_mm_p95", "position_error_mm_max",
            "orientation_error_deg_median", "within_1mm_pct", "within_5mm_pct", "out_of_limits_pct")
    return {key: round(getattr(accuracy, key), 6) for key in keys}


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m agents.iknet.train``."""
    d = TrainConfig()
    parser = _OneLineParser(
        prog="python -m agents.iknet.train",
        description="Train one IKNet variant on synthetic OpenManipulator-X pose-joint pairs (labels from the "
                    "analytic IK's 'closest' branch), write its checkpoint and a manifest entry with the held-out "
                    "errors and this command line.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--model", default=d.model, help=f"architecture: {', '.join(MODEL_NAMES)}")
    add("--data-size", type=int, default=d.data_size, help="pose-joint pairs in all (90%% train, 5%% val, 5%% test)")
    add("--data-seed", type=int, default=d.data_seed, help="seed of the data sampler")
    add("--seed", type=int, default=d.seed, help="seed of the initial weights, batch order and dropout")
    add("--epochs", type=int, default=d.epochs, help="maximum number of epochs")
    add("--batch-size", type=int, default=d.batch_size, help="poses per optimiser step")
    add("--learning-rate", type=float, default=d.learning_rate, help="Adam's initial learning rate")
    add("--weight-decay", type=float, default=d.weight_decay, help="Adam's L2 weight decay")
    add("--schedule", default=d.schedule, help=f"learning-rate schedule: {', '.join(SCHEDULES)}")
    add("--min-learning-rate", type=float, default=d.min_learning_rate, help="floor of the schedule")
    add("--joint-weight", type=float, default=d.joint_weight, help="weight of the joint MSE (rad^2)")
    add("--position-weight", type=float, default=d.position_weight, help="weight of the FK position error (per m)")
    add("--orientation-weight", type=float, default=d.orientation_weight,
        help="weight of the FK chordal quaternion distance")
    add("--patience", type=int, default=d.patience, help="epochs without validation improvement before stopping")
    add("--dropout-off-fraction", type=float, default=d.dropout_off_fraction,
        help="share of the last epochs trained with dropout switched off (the modules keep their declared rate)")
    add("--reject-self-collision", action=argparse.BooleanOptionalAction, default=d.reject_self_collision,
        help="drop sampled configurations whose links touch")
    add("--reject-below-table", action=argparse.BooleanOptionalAction, default=d.reject_below_table,
        help="drop sampled configurations with the end effector below z = 0")
    add("--balance-weight", type=float, default=d.balance_weight,
        help="weight of the attribution-balance penalty (agents.iknet.balance; 0 = the paper's recipe)")
    add("--balance-samples", type=int, default=d.balance_samples,
        help="poses of each batch the balance penalty is computed on")
    add("--threads", type=int, default=1, help="torch CPU threads (1 leaves the other cores free)")
    add("--out", type=Path, default=None, help="checkpoint path (default: assets/checkpoints/<model>.pt)")
    add("--manifest", type=Path, default=None, help="manifest to update (default: assets/checkpoints/manifest.json)")
    add("--write-manifest", action=argparse.BooleanOptionalAction, default=True, help="add/replace the manifest entry")
    add("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    add("--seeds", type=_seed_list, default=None, metavar="S1,S2,...",
        help="train one network per seed (instead of --seed); --out then holds {seed}, default "
             "assets/checkpoints/seeds/{model}-s{seed}.pt, manifest beside it")
    add("--backend", choices=TRAIN_BACKENDS, default="local",
        help="with --seeds: 'local' (one after another here) or 'ray' (one Ray task of --threads CPUs per seed; "
             "extra 'ray')")
    add("--ray-address", default=None, help="with --backend ray: an existing cluster (auto, ray://HOST:PORT, "
                                            "HOST:PORT); default a private local instance")
    return parser


def _seed_list(text: str) -> list[int]:
    """An argparse ``type``: comma-separated distinct integers >= 0."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct integers >= 0, got {text!r}")
    return seeds


@dataclass(frozen=True)
class NetworkTask:
    """One network to train, here or in a Ray worker: its options, torch threads, the command line
    recorded in its entry, whether to show the epoch bar, and seconds already spent on its data."""

    config: TrainConfig
    threads: int
    command: str
    progress: bool = False
    data_seconds: float = 0.0


@dataclass(frozen=True)
class TrainedNetwork:
    """A trained network (eval mode), its held-out accuracy and its manifest entry; nothing written yet."""

    config: TrainConfig
    model: IKNet
    plain: IKAccuracy
    refined: IKAccuracy
    entry: dict[str, Any]


def data_key(config: TrainConfig) -> tuple[int, int, bool, bool]:
    """The options that decide a configuration's data: configurations with one key share one split."""
    return config.data_size, config.data_seed, config.reject_self_collision, config.reject_below_table


def make_shared_splits(configs: Sequence[TrainConfig]) -> dict[tuple[int, int, bool, bool], DatasetSplits]:
    """The data of every configuration, each distinct :func:`data_key` generated once."""
    return {key: make_splits(key[0], key[1], reject_self_collision=key[2], reject_below_table=key[3])
            for key in dict.fromkeys(data_key(config) for config in configs)}


def train_network(splits_by_key: dict[tuple[int, int, bool, bool], DatasetSplits], task: NetworkTask) -> TrainedNetwork:
    """Train ``task.config`` on its data with ``task.threads`` torch threads (restored after), measure it
    on the held-out split and build its manifest entry. Writes nothing, so it runs in a Ray worker too."""
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(task.threads)
    try:
        config, splits = task.config, splits_by_key[data_key(task.config)]
        start = time.perf_counter()
        result = train(config, splits, progress=task.progress)
        wall_time = task.data_seconds + time.perf_counter() - start
        plain = held_out_accuracy(result.model, splits.test)
        refined = held_out_accuracy(result.model, splits.test, refine_steps=3)
    finally:
        torch.set_num_threads(previous_threads)
    entry = {
        "architecture": config.model,
        "parameter_count": count_parameters(result.model),
        "config": asdict(config),
        "data": {"seed": config.data_seed, "size": config.data_size, "train": len(splits.train),
                 "validation": len(splits.validation), "test": len(splits.test),
                 "labels": "analytic_ik closest branch"},
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "wall_time_s": round(wall_time, 1),
        "threads": task.threads,
        "held_out": {"network": _summary(plain), "network+refine3": _summary(refined)},
        "validation_loss": {"initial": result.initial_validation_loss, "best": result.best_validation_loss},
        "command": task.command,
        "torch_version": str(torch.__version__),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return TrainedNetwork(config, result.model, plain, refined, entry)


def ship(network: TrainedNetwork, out: Path, manifest: Path | None, name: str) -> Path:
    """Write ``network``'s checkpoint to ``out`` and (unless ``manifest`` is None) its entry ``name``."""
    save_checkpoint(network.model, out, metadata=network.entry)
    if manifest is not None:
        write_manifest_entry(manifest, name, dict(network.entry, checkpoint=out.name, size_bytes=out.stat().st_size))
    print(IKAccuracy.table_header(), network.plain.table_row(), network.refined.table_row(), sep="\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {network.entry['wall_time_s']:.0f} s", file=sys.stderr)
    return out


def run(argv: Sequence[str]) -> Path | list[Path]:
    """Parse ``argv``, train, write the checkpoint(s) and manifest entries; return the checkpoint path
    (one per seed, in completion order, with ``--seeds``)."""
    import assets

    args = build_parser().parse_args(list(argv))
    options = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    config = TrainConfig(**options)
    config.validate()
    if args.threads < 1:
        raise InvalidInputError(f"--threads must be >= 1, got {args.threads}")
    if args.ray_address is not None and args.backend != "ray":
        raise InvalidInputError("--ray-address needs --backend ray")
    command = " ".join(["python -m agents.iknet.train", shlex.join(argv)])
    if args.seeds is not None:
        return _run_seeds(config, args, command)
    if args.backend != "local":
        raise InvalidInputError("--backend ray trains several seeds: give them with --seeds")
    out = args.out if args.out is not None else assets.checkpoint_path(config.model)
    manifest = args.manifest if args.manifest is not None else assets.MANIFEST_PATH
    _make_folder(out.parent)
    print(f"model {config.model}: data seed {config.data_seed}, seed {config.seed}, checkpoint {out}", file=sys.stderr)
    start = time.perf_counter()
    splits = make_shared_splits([config])
    network = train_network(splits, NetworkTask(config, args.threads, command, args.progress,
                                                time.perf_counter() - start))
    return ship(network, out, manifest if args.write_manifest else None, config.model)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInputError(f"cannot create output folder {str(folder)!r}: {error.strerror}") from error


def _run_seeds(config: TrainConfig, args: argparse.Namespace, command: str) -> list[Path]:
    """``--seeds``: one network per seed on ``--backend``; this process writes every file."""
    from tqdm import tqdm

    import assets

    if args.seed != TrainConfig().seed:
        raise InvalidInputError("--seed and --seeds exclude each other")
    check_backend(args.backend)
    template = str(args.out) if args.out is not None else str(assets.CHECKPOINT_DIR / "seeds" / "{model}-s{seed}.pt")
    try:
        outs = {seed: Path(template.format(model=config.model, seed=seed)) for seed in args.seeds}
    except (KeyError, IndexError, ValueError):
        raise InvalidInputError(f"--out may hold only {{model}} and {{seed}} placeholders, got {template!r}") from None
    if len(set(outs.values())) != len(outs):
        raise InvalidInputError(f"with --seeds, --out must contain {{seed}} (e.g. runs/{{model}}-s{{seed}}.pt), "
                                f"got {template!r}")
    manifest = args.manifest if args.manifest is not None else outs[args.seeds[0]].parent / "manifest.json"
    for out in outs.values():
        _make_folder(out.parent)
    print(f"model {config.model}: seeds {', '.join(map(str, args.seeds))} on {args.backend}, data seed "
          f"{config.data_seed}, checkpoints {template}", file=sys.stderr)
    configs = [replace(config, seed=seed) for seed in args.seeds]
    splits = make_shared_splits(configs)  # once; Ray ships it to the workers once
    local = args.backend == "local"
    tasks = [NetworkTask(c, args.threads, command, progress=args.progress and local) for c in configs]
    bar = tqdm(total=len(tasks), unit="network", desc=f"train {config.model} seeds", file=sys.stderr,
               disable=not args.progress or local, dynamic_ncols=True)
    written = []
    try:
        for task, network in run_tasks(train_network, splits, tasks, backend=args.backend,
                                       ray_address=args.ray_address, cpus_per_task=args.threads):
            seed = task.config.seed
            written.append(ship(network, outs[seed], manifest if args.write_manifest else None,
                                f"{config.model}-s{seed}"))
            bar.update(1)
    finally:
        bar.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: exit status 0, or 2 with one line on stderr for bad input."""
    try:
        run(sys.argv[1:] if argv is None else argv)
    except ProjectError as error:
        print(f"python -m agents.iknet.train: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

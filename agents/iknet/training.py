"""The IKNet training recipe: loss, optimiser, learning-rate schedule, dropout schedule, early stopping.

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
afterwards. Same seed and torch thread count give the same weights.

The command line, seed replicates and shipping are in :mod:`agents.iknet.train`.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from agents.iknet.balance import balance_penalty
from agents.iknet.dataset import DatasetSplits, PoseJointSet, make_splits
from agents.iknet.ik_eval import IKAccuracy, accuracy_of_answers
from agents.iknet.models import MODEL_NAMES, IKNet, build_model
from agents.iknet.refine import refine
from sim.errors import InvalidInputError, UnknownNameError
from sim.robot.kinematics import forward_kinematics

Schedule = Literal["cosine", "plateau", "constant"]
SCHEDULES: tuple[str, ...] = ("cosine", "plateau", "constant")
Stop = Literal["patience", "converged"]
STOPS: tuple[str, ...] = ("patience", "converged")
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
    dropout_epochs: int | None = None
    stop: Stop = "patience"
    min_epochs: int = 20
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
        if self.stop not in STOPS:
            raise UnknownNameError("stop", self.stop, STOPS)
        if self.dropout_epochs is not None and not 0 <= self.dropout_epochs <= self.epochs:
            raise InvalidInputError(f"--dropout-epochs must lie in [0, --epochs], got {self.dropout_epochs}")
        if not 5 <= self.min_epochs:
            raise InvalidInputError(f"--min-epochs must be at least 5, got {self.min_epochs}")
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


def dropout_off_epoch(config: TrainConfig) -> int:
    """The first epoch run without dropout: after ``dropout_epochs`` epochs when set (a fixed phase, so
    a longer run does not lengthen it), else after the first ``1 - dropout_off_fraction`` of the epochs."""
    if config.dropout_epochs is not None:
        return config.dropout_epochs + 1
    return config.epochs - round(config.dropout_off_fraction * config.epochs) + 1


def at_floor(learning_rate: float, config: TrainConfig) -> bool:
    """Whether the learning rate can fall no further: at ``min_learning_rate`` under a plateau or cosine
    schedule, always under a constant one (the ``stop="converged"`` rule waits for it, so a plateau
    seen at a large step size, which the next reduction would break, does not end a run)."""
    if config.schedule == "constant":
        return True
    return learning_rate <= config.min_learning_rate * (1 + 1e-6)


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
        dropout_from_epoch = dropout_off_epoch(config)
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
                if config.stop == "patience" and stale >= config.patience:
                    break
            if (config.stop == "converged" and epoch >= max(config.min_epochs, dropout_from_epoch)
                    and at_floor(optimiser.param_groups[0]["lr"], config) and convergence(history).converged):
                break
        bar.close()
    _set_dropout_active(model, True)
    model.load_state_dict(best_state)
    model.eval()
    stopped_early = len(history) < config.epochs
    return TrainResult(model, tuple(history), initial_loss, best_loss, best_epoch, stopped_early,
                       time.perf_counter() - start)


#: The convergence criterion (issue #24): over the last :data:`CONVERGENCE_WINDOW` of the epochs
#: run, the best validation loss improved by less than :data:`CONVERGENCE_TOLERANCE` of itself.
CONVERGENCE_WINDOW: float = 0.2
CONVERGENCE_TOLERANCE: float = 0.01


@dataclass(frozen=True)
class Convergence:
    """Whether a run met the convergence criterion (see :func:`convergence`)."""

    converged: bool
    window_epochs: int  #: epochs in the final window
    best_before: float  #: best validation loss before the window
    best_after: float  #: best validation loss at the end (window included)
    relative_improvement: float  #: (best_before - best_after) / best_before

    def describe(self) -> str:
        verdict = "converged" if self.converged else "NOT converged"
        return (f"{verdict}: best validation loss {self.best_before:.4g} -> {self.best_after:.4g} over the last "
                f"{self.window_epochs} epochs ({100 * self.relative_improvement:.2f}% improvement; criterion < "
                f"{100 * CONVERGENCE_TOLERANCE:g}% over the last {100 * CONVERGENCE_WINDOW:g}% of the epochs)")


def convergence(history: tuple[EpochRecord, ...] | list[EpochRecord], *, window: float = CONVERGENCE_WINDOW,
                tolerance: float = CONVERGENCE_TOLERANCE) -> Convergence:
    """The convergence criterion of a training run: the best validation loss of the final
    ``window`` of the epochs run (at least 2 epochs) is less than ``tolerance`` (relative) below the
    best before it. A run of fewer than 5 epochs cannot show it (not converged).

    The criterion reads the best-so-far validation loss, not the last epoch's, so a noisy final
    epoch neither hides nor fakes a plateau. Under a cosine schedule the learning rate is small in
    the final window by design: a run still improving there by 1% or more is under-trained, one
    improving by less may still gain from more epochs, which the learning curves
    (:func:`learning_curve_rows`) show.
    """
    losses = [record.validation_loss for record in history]
    if len(losses) < 5:
        best = min(losses, default=math.inf)
        return Convergence(False, 0, best, best, math.nan)
    size = max(2, math.ceil(window * len(losses)))
    best_before, best_after = min(losses[:-size]), min(losses)
    improvement = (best_before - best_after) / best_before if best_before > 0 else 0.0
    return Convergence(improvement < tolerance, size, best_before, best_after, improvement)


#: The columns of a learning-curve CSV (one row per epoch).
LEARNING_CURVE_COLUMNS: tuple[str, ...] = ("epoch", "train_loss", "validation_loss", "validation_position_mm_median",
                                           "learning_rate", "seconds")


def learning_curve_rows(history: tuple[EpochRecord, ...] | list[EpochRecord]) -> list[dict[str, float]]:
    """One row per epoch (:data:`LEARNING_CURVE_COLUMNS`), for a CSV beside the checkpoint."""
    return [{column: getattr(record, column) for column in LEARNING_CURVE_COLUMNS} for record in history]


def convergence_record(history: tuple[EpochRecord, ...] | list[EpochRecord]) -> dict[str, Any]:
    """The convergence criterion's verdict on ``history`` as a manifest entry (JSON-ready)."""
    verdict = convergence(history)
    return {"converged": verdict.converged, "window_epochs": verdict.window_epochs,
            "relative_improvement": None if math.isnan(verdict.relative_improvement)
            else round(verdict.relative_improvement, 6),
            "final_learning_rate": history[-1].learning_rate if history else None,
            "criterion": f"best validation loss improved < {100 * CONVERGENCE_TOLERANCE:g}% over the last "
                         f"{100 * CONVERGENCE_WINDOW:g}% of the epochs run"}


def learning_curve_entry(history: tuple[EpochRecord, ...] | list[EpochRecord]) -> list[dict[str, float]]:
    """:func:`learning_curve_rows` rounded for a manifest entry (7 significant digits are plenty)."""
    return [{key: float(f"{value:.7g}") for key, value in row.items()} for row in learning_curve_rows(history)]


def held_out_accuracy(model: IKNet, test: PoseJointSet, *, refine_steps: int = 0) -> IKAccuracy:
    """Accuracy of ``model`` (optionally refined) on a held-out split."""
    with torch.inference_mode():
        answers = torch.cat([model(chunk) for chunk in torch.from_numpy(test.poses).split(_EVAL_BATCH)])
    answers_np = answers.double().numpy()
    if refine_steps:
        answers_np = refine(answers_np, test.poses.astype(np.float64), refine_steps)
    name = f"{model.architecture}+refine{refine_steps}" if refine_steps else model.architecture
    return accuracy_of_answers(answers_np, test.poses, reference_joints=test.joints, name=name)


__all__ = ["CONVERGENCE_TOLERANCE", "CONVERGENCE_WINDOW", "LEARNING_CURVE_COLUMNS", "SCHEDULES", "STOPS",
           "Convergence", "EpochRecord", "Schedule", "Stop", "TrainConfig", "TrainResult", "at_floor",
           "combined_loss", "convergence", "convergence_record", "dropout_off_epoch", "held_out_accuracy",
           "learning_curve_entry", "learning_curve_rows", "train"]

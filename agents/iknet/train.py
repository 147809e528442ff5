"""Train an IKNet on synthetic pose-joint pairs and ship it with a manifest entry (the command line).

    python -m agents.iknet.train --model improved --epochs 40

The recipe (loss, optimiser, schedules, early stopping, reproducibility) is
:mod:`agents.iknet.training`'s; this module adds the command line, the held-out measurement and
manifest entry, and seed replicates. It sets ``torch.set_num_threads(--threads)`` (default 1, to
leave a core to others).

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
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import torch

from agents.iknet.checkpoint import save_checkpoint
from agents.iknet.dataset import DatasetSplits, make_splits
from agents.iknet.ik_eval import IKAccuracy
from agents.iknet.models import MODEL_NAMES, IKNet, count_parameters
from agents.iknet.parallel import TRAIN_BACKENDS, check_backend, run_tasks
from agents.iknet.training import SCHEDULES, TrainConfig, held_out_accuracy, train
from sim.errors import InvalidInputError, ProjectError


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

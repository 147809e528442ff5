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

Every option is checked before any data are made (integers within their bounds, numbers finite),
and so is every file the run will write: a checkpoint path ends in ``.pt``, is not a symbolic link
and, if it exists, is an IKNet checkpoint (a user's file is never overwritten); its folder holds
only checkpoints, manifests and sub-folders (a folder of someone else's files is refused); a
manifest is a JSON object with a ``models`` table. Files are written to a new temporary file and
renamed into place, never through a link. Bad input: one line, exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import os
import shlex
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import torch

from agents.iknet.checkpoint import MANIFEST_NAME, load_checkpoint, save_checkpoint
from agents.iknet.dataset import DatasetSplits, make_splits
from agents.iknet.ik_eval import IKAccuracy
from agents.iknet.models import MODEL_NAMES, IKNet, count_parameters
from agents.iknet.parallel import TRAIN_BACKENDS, check_backend, run_tasks
from agents.iknet.training import (
    SCHEDULES,
    STOPS,
    TrainConfig,
    convergence_record,
    held_out_accuracy,
    learning_curve_entry,
    train,
)
from sim.errors import InvalidInputError, OutputFolderError, ProjectError, invalid_value, one_line, show_value

#: Bounds of the counts a training run takes (a typo of a few digits ends in one line, not in a run
#: that never finishes or a seed torch refuses halfway).
MAX_SEED: int = 2**32 - 1
MAX_DATA_SIZE: int = 100_000_000
MAX_EPOCHS: int = 10_000
MAX_BATCH_SIZE: int = 1_000_000
MAX_BALANCE_SAMPLES: int = 100_000
MAX_THREADS: int = 1024
#: The largest manifest read (bytes); the shipped one takes ~8 kB.
MAX_MANIFEST_BYTES: int = 16_000_000


def read_manifest(manifest_path: str | Path) -> dict[str, Any]:
    """The manifest at ``manifest_path`` (``{"models": {}}`` if missing), checked to be one this
    project writes: a regular UTF-8 file of at most :data:`MAX_MANIFEST_BYTES` holding a JSON object
    with a ``models`` table; never read through a symbolic link.

    Raises:
        OutputFolderError: anything else is there (it is not overwritten).
    """
    from sim.files import refuse_link

    path = Path(manifest_path)
    refuse_link(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        return {"models": {}}
    except (OSError, ValueError) as error:
        raise OutputFolderError(f"cannot read manifest {str(path)!r}: {getattr(error, 'strerror', None) or error}"
                                ) from None
    what = f"manifest {str(path)!r} was not written by this project"
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
        raise OutputFolderError(f"{what} (not a regular file of at most {MAX_MANIFEST_BYTES} bytes); not "
                                "overwriting it: move it away or choose another --manifest")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            manifest = json.loads(handle.read(MAX_MANIFEST_BYTES + 1).decode("utf-8"))
    except OSError as error:
        raise OutputFolderError(f"cannot read manifest {str(path)!r}: {error.strerror or error}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise OutputFolderError(f"{what} (not JSON: {type(error).__name__}); not overwriting it: move it away or "
                                "choose another --manifest") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models", {}), dict):
        raise OutputFolderError(f"{what} (expected a JSON object with a 'models' table); not overwriting it: move "
                                "it away or choose another --manifest")
    manifest.setdefault("models", {})
    return manifest


@contextlib.contextmanager
def new_file(path: str | Path) -> Iterator[Path]:
    """A new temporary file beside ``path`` (created here, exclusively, never through a link) to write;
    renamed onto ``path`` when the block ends without error, removed otherwise, so ``path`` is never
    written through a symbolic link and a failed write leaves it as it was.

    Raises:
        OutputFolderError: ``path`` is a symbolic link, or the write fails (disk full, file too
            large, permission refused: the message says which).
    """
    from sim.files import open_no_follow, refuse_link, write_error

    path = Path(path)
    refuse_link(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)  # a leftover of a process with this id (unlink removes a link, never its target)
    os.close(open_no_follow(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise write_error(path, error) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def save_checkpoint_file(model: IKNet, path: str | Path, metadata: dict[str, Any]) -> Path:
    """:func:`~agents.iknet.checkpoint.save_checkpoint` through :func:`new_file` (atomic, never through a link)."""
    with new_file(path) as temporary:
        try:
            save_checkpoint(model, temporary, metadata=metadata)
        except RuntimeError:  # torch's zip writer reports a failed write (disk full, file too large) this way,
            # in words of its internals ("unexpected pos 6080 vs 5968")
            raise OSError(errno.EIO, "the checkpoint could not be written whole (disk full or file too large?)"
                          ) from None
    return Path(path)


def write_manifest_entry(manifest_path: str | Path, name: str, entry: dict[str, Any]) -> None:
    """Insert or replace ``models[name]`` in the JSON manifest (written atomically, never through a link).

    Raises:
        OutputFolderError: the manifest exists but is not one this project writes (see
            :func:`read_manifest`), or it cannot be written.
    """
    path = Path(manifest_path)
    manifest = read_manifest(path)
    manifest["models"][name] = entry
    _make_folder(path.parent)
    with new_file(path) as temporary:
        temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def check_checkpoint_target(path: Path, *, what: str = "--out") -> None:
    """Refuse, before training, a checkpoint path this run must not write: not ending in ``.pt``, a
    symbolic link, an existing file that is not an IKNet checkpoint (a user's file), or in a folder
    (or below a path) that is not a folder.

    Raises:
        OutputFolderError: the message names the path and why.
    """
    from sim.files import refuse_link

    if path.suffix != ".pt" or not path.stem:
        raise invalid_value(what, str(path), "a checkpoint path ending in .pt")
    refuse_link(path)
    try:
        exists = path.exists()
    except (OSError, ValueError) as error:
        raise invalid_value(what, str(path), f"a usable path ({getattr(error, 'strerror', None) or error})") from None
    if exists:
        try:
            load_checkpoint(path)
        except ProjectError:
            raise OutputFolderError(f"{what} {path} exists and is not an IKNet checkpoint this project can read; "
                                    "not overwriting it (move it away or choose another path)") from None
    _check_folder_can_hold(path.parent, what)


def check_checkpoint_folder(folder: Path, what: str = "--out") -> None:
    """Refuse a checkpoint folder holding files this project did not write: only ``.pt`` files,
    ``manifest.json``, temporary files of :func:`new_file` and sub-folders may be in it (nothing is
    written or read here but the folder's listing).

    Raises:
        OutputFolderError: the message names up to three foreign entries.
    """
    try:
        entries = sorted(os.listdir(folder))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as error:
        raise OutputFolderError(f"cannot read {what} folder {folder}: {getattr(error, 'strerror', None) or error}"
                                ) from None
    foreign = [name for name in entries if not _ours(folder / name)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputFolderError(f"{what} folder {folder} holds files this project did not write ({shown}); choose a "
                                "folder of checkpoints or a new one")


def _ours(path: Path) -> bool:
    """True for an entry a checkpoint folder may hold: a ``.pt`` file, a manifest, a temporary file of
    :func:`new_file` or a sub-folder (never a link, a FIFO or another file)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    if stat.S_ISDIR(info.st_mode):
        return True
    if not stat.S_ISREG(info.st_mode):
        return False
    name = path.name
    return name.endswith(".pt") or name in (MANIFEST_NAME, MANIFEST_NAME + ".tmp") or (
        name.startswith(".") and name.endswith(".tmp"))


def _check_folder_can_hold(folder: Path, what: str) -> None:
    """``folder`` can hold a checkpoint (:func:`check_writable_folder`) and holds nothing foreign."""
    check_writable_folder(folder, what)
    check_checkpoint_folder(folder, what)


def check_writable_folder(folder: Path, what: str) -> None:
    """Refuse (one line) a folder that is a symbolic link or cannot be made: its nearest existing
    ancestor must be a writable folder. Nothing is created.

    Raises:
        OutputFolderError: the message names ``what``, the folder and why.
    """
    from sim.files import refuse_link

    refuse_link(folder)
    probe = Path(folder)
    while True:
        try:
            info = probe.stat()
        except (FileNotFoundError, NotADirectoryError):  # missing, or below a file: look further up
            if probe.parent == probe:
                return
            probe = probe.parent
            continue
        except (OSError, ValueError) as error:
            raise OutputFolderError(f"cannot use {what} folder {folder}: {getattr(error, 'strerror', None) or error}"
                                    ) from None
        if not stat.S_ISDIR(info.st_mode):
            raise OutputFolderError(f"cannot use {what} folder {folder}: {probe} is not a folder")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise OutputFolderError(f"cannot use {what} folder {folder}: {probe} is not writable")
        return


def _summary(accuracy: IKAccuracy) -> dict[str, float]:
    keys = ("position_error_mm_median", "position_error_mm_p95", "position_error_mm_max",
            "orientation_error_deg_median", "within_1mm_pct", "within_5mm_pct", "out_of_limits_pct")
    return {key: round(getattr(accuracy, key), 6) for key in keys}


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


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
    add("--patience", type=int, default=d.patience,
        help="epochs without validation improvement before stopping (--stop patience); the plateau schedule "
             "cuts the learning rate x0.3 once more than max(1, patience // 3) such epochs run in a row")
    add("--dropout-off-fraction", type=float, default=d.dropout_off_fraction,
        help="share of the last epochs trained with dropout switched off (the modules keep their declared rate)")
    add("--dropout-epochs", type=int, default=d.dropout_epochs,
        help="train the first N epochs with dropout, the rest without (overrides --dropout-off-fraction)")
    add("--stop", default=d.stop, help=f"when the run ends: {', '.join(STOPS)} ('patience': --patience epochs "
        "without improvement after dropout; 'converged': the convergence criterion holds with the learning rate "
        "at its floor, after --min-epochs; --epochs caps either)")
    add("--min-epochs", type=int, default=d.min_epochs, help="the fewest epochs a --stop converged run takes")
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
    if not seeds or min(seeds) < 0 or max(seeds) > MAX_SEED or len(set(seeds)) != len(seeds) or len(seeds) > 1000:
        raise argparse.ArgumentTypeError(f"expected at most 1000 distinct integers within [0, {MAX_SEED}], "
                                         f"got {show_value(text)}")
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
        "convergence": convergence_record(result.history),
        "learning_curve": learning_curve_entry(result.history),
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
    save_checkpoint_file(network.model, out, network.entry)
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
    check_options(config, args.threads)
    if args.ray_address is not None and args.backend != "ray":
        raise InvalidInputError("--ray-address needs --backend ray")
    command = " ".join(["python -m agents.iknet.train", shlex.join(argv)])
    if args.seeds is not None:
        return _run_seeds(config, args, command)
    if args.backend != "local":
        raise InvalidInputError("--backend ray trains several seeds: give them with --seeds")
    out = args.out if args.out is not None else assets.checkpoint_path(config.model)
    manifest = args.manifest if args.manifest is not None else assets.MANIFEST_PATH
    if args.write_manifest:
        _check_manifest_target(manifest)
    check_checkpoint_target(out)
    _make_folder(out.parent)
    print(f"model {config.model}: data seed {config.data_seed}, seed {config.seed}, checkpoint {out}", file=sys.stderr)
    start = time.perf_counter()
    splits = make_shared_splits([config])
    network = train_network(splits, NetworkTask(config, args.threads, command, args.progress,
                                                time.perf_counter() - start))
    return ship(network, out, manifest if args.write_manifest else None, config.model)


def check_options(config: TrainConfig, threads: int) -> None:
    """The bounds :meth:`TrainConfig.validate` leaves open: seeds, counts at most their maximum,
    every number finite, ``threads`` within [1, :data:`MAX_THREADS`].

    Raises:
        InvalidInputError: the message names the option, the value and the valid range.
    """
    integers = {"--seed": (config.seed, 0, MAX_SEED), "--data-seed": (config.data_seed, 0, MAX_SEED),
                "--data-size": (config.data_size, 100, MAX_DATA_SIZE), "--epochs": (config.epochs, 1, MAX_EPOCHS),
                "--batch-size": (config.batch_size, 1, MAX_BATCH_SIZE), "--patience": (config.patience, 1, MAX_EPOCHS),
                "--min-epochs": (config.min_epochs, 5, MAX_EPOCHS),
                **({} if config.dropout_epochs is None
                   else {"--dropout-epochs": (config.dropout_epochs, 0, MAX_EPOCHS)}),
                "--balance-samples": (config.balance_samples, 1, MAX_BALANCE_SAMPLES),
                "--threads": (threads, 1, MAX_THREADS)}
    for flag, (value, least, most) in integers.items():
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
            raise invalid_value(flag, value, f"an integer within [{least}, {most}]")
    for flag in ("learning_rate", "min_learning_rate", "weight_decay", "joint_weight", "position_weight",
                 "orientation_weight", "balance_weight", "dropout_off_fraction"):
        value = getattr(config, flag)
        if not math.isfinite(value):
            raise invalid_value(f"--{flag.replace('_', '-')}", value, "a finite number")
    if config.min_learning_rate > config.learning_rate:
        raise InvalidInputError(f"--min-learning-rate ({show_value(config.min_learning_rate)}) must not exceed "
                                f"--learning-rate ({show_value(config.learning_rate)})")


def _check_manifest_target(manifest: Path) -> None:
    """The manifest the run will update: ends in ``.json``, not a link, one this project writes, in a usable folder."""
    if manifest.suffix != ".json":
        raise invalid_value("--manifest", str(manifest), "a path ending in .json")
    read_manifest(manifest)
    _check_folder_can_hold(manifest.parent, "--manifest")


def _make_folder(folder: Path) -> None:
    from sim.files import refuse_link

    refuse_link(folder)
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
    if args.write_manifest:
        _check_manifest_target(manifest)
    for out in outs.values():
        check_checkpoint_target(out)
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

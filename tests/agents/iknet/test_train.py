"""Training: the loss falls, runs are reproducible, the command line writes what it promises."""

from __future__ import annotations

import json

import pytest
import torch

from agents.iknet import load_checkpoint
from agents.iknet.dataset import make_splits
from agents.iknet.train import build_parser, main
from agents.iknet.training import TrainConfig, combined_loss, train

SMALL = dict(model="improved", data_size=3000, data_seed=4, seed=11, epochs=12, batch_size=128, patience=50)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny batches train fastest on one thread, and OpenMP's spinning on a busy machine makes
    two threads erratic; the test process's setting is restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def small_splits():
    return make_splits(SMALL["data_size"], SMALL["data_seed"])


def test_short_training_lowers_validation_loss_tenfold_and_is_reproducible(small_splits) -> None:
    config = TrainConfig(**SMALL)
    global_state = torch.random.get_rng_state()
    first = train(config, small_splits, progress=False)
    assert torch.equal(torch.random.get_rng_state(), global_state)  # no global seeding leaks out
    assert first.best_validation_loss * 10 <= first.initial_validation_loss, (
        first.initial_validation_loss, first.best_validation_loss)
    assert first.history[-1].validation_position_mm_median < first.history[0].validation_position_mm_median
    second = train(config, small_splits, progress=False)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    other = train(TrainConfig(**{**SMALL, "seed": 12, "epochs": 1}), small_splits, progress=False)
    assert not torch.equal(other.model.body[0].weight, first.model.body[0].weight)
    dropout_rates = {m.p for m in first.model.modules() if isinstance(m, torch.nn.Dropout)}
    assert dropout_rates == {0.1}  # switched off during fine-tuning, restored for saving


def test_combined_loss_is_zero_at_the_labels_and_weights_its_parts(small_splits) -> None:
    poses = torch.from_numpy(small_splits.validation.poses)
    joints = torch.from_numpy(small_splits.validation.joints).double()
    config = TrainConfig()
    assert float(combined_loss(joints, joints, poses.double(), config)) < 1e-5
    shifted = joints + torch.tensor([0.0, 0.01, 0.0, 0.0], dtype=torch.float64)
    joint_only = TrainConfig(position_weight=0.0, orientation_weight=0.0)
    assert float(combined_loss(shifted, joints, poses.double(), joint_only)) == pytest.approx(0.01**2 / 4, rel=1e-9)
    fk_only = TrainConfig(joint_weight=0.0, orientation_weight=0.0, position_weight=1.0)
    assert 0.001 < float(combined_loss(shifted, joints, poses.double(), fk_only)) < 0.01


def test_command_line_writes_checkpoint_and_manifest_entry(tmp_path, capsys) -> None:
    out, manifest = tmp_path / "tiny.pt", tmp_path / "manifest.json"
    argv = ["--model", "focused", "--data-size", "1500", "--epochs", "2", "--batch-size", "256",
            "--out", str(out), "--manifest", str(manifest), "--no-progress"]
    assert main(argv) == 0
    entry = json.loads(manifest.read_text())["models"]["focused"]
    assert entry["command"] == "python -m agents.iknet.train " + " ".join(argv)
    assert entry["data"]["seed"] == 0 and entry["data"]["size"] == 1500 and entry["epochs_run"] == 2
    assert entry["parameter_count"] == sum(p.numel() for p in load_checkpoint(out).parameters())
    for key in ("position_error_mm_median", "position_error_mm_p95", "within_1mm_pct", "out_of_limits_pct"):
        assert key in entry["held_out"]["network"] and key in entry["held_out"]["network+refine3"]
    assert load_checkpoint(out).checkpoint_metadata["command"] == entry["command"]
    assert "| focused |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "improvd"], "unknown model 'improvd'; valid choices: focused, improved, improved_noresidual, "
                                 "original. Did you mean 'improved'?"),
        (["--epochs", "0"], "--epochs must be positive"),
        (["--data-size", "10"], "--data-size must be at least 100"),
        (["--schedule", "linear"], "unknown schedule 'linear'"),
        (["--dropout-off-fraction", "2"], "--dropout-off-fraction must lie in [0, 1]"),
        (["--joint-weight", "nan"], "--joint-weight must be finite and >= 0"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(argv, message, capsys, tmp_path) -> None:
    assert main(argv + ["--out", str(tmp_path / "x.pt"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.pt").exists()


def test_argparse_errors_are_one_line_too(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--epochs", "many"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid int value: 'many'" in err


def test_help_explains_every_option() -> None:
    text = build_parser().format_help()
    for flag in ("--model", "--data-size", "--data-seed", "--seed", "--epochs", "--batch-size", "--joint-weight",
                 "--position-weight", "--orientation-weight", "--patience", "--schedule", "--threads", "--out"):
        assert flag in text
    assert "original, improved, improved_noresidual, focused" in " ".join(text.split())

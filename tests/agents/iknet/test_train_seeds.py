"""Seed replicates: ``python -m agents.iknet.train --seeds`` trains one network per seed, locally or as
Ray tasks, with the same weights on both; the driver alone writes checkpoints and the manifest.

The Ray test uses a local instance (``ray.init(num_cpus=2)``) started and stopped by a module-scoped
fixture; it is skipped only where Ray is not installed (the extra ``ray``).
"""

from __future__ import annotations

import json
import sys

import pytest
import torch

from agents.iknet import load_checkpoint
from agents.iknet.train import main

TINY = ["--model", "focused", "--data-size", "400", "--epochs", "1", "--batch-size", "128", "--no-progress"]



def train_seeds(tmp_path, *extra: str) -> dict[str, dict]:
    assert main([*TINY, "--seeds", "0,1", "--out", str(tmp_path / "{model}-s{seed}.pt"), *extra]) == 0
    return json.loads((tmp_path / "manifest.json").read_text())["models"]


def weights(path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).state_dict()


def test_local_seeds_write_one_checkpoint_and_entry_each(tmp_path):
    entries = train_seeds(tmp_path)
    assert set(entries) == {"focused-s0", "focused-s1"}
    assert [entries[f"focused-s{s}"]["config"]["seed"] for s in (0, 1)] == [0, 1]
    assert entries["focused-s1"]["checkpoint"] == "focused-s1.pt"
    first, second = weights(tmp_path / "focused-s0.pt"), weights(tmp_path / "focused-s1.pt")
    assert any(not torch.equal(first[key], second[key]) for key in first), "seeds give different networks"


def test_ray_seeds_give_the_local_weights(ray_instance, tmp_path):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    train_seeds(local)
    entries = train_seeds(on_ray, "--backend", "ray")
    assert set(entries) == {"focused-s0", "focused-s1"} and "--backend ray" in entries["focused-s0"]["command"]
    for seed in (0, 1):
        expected, got = weights(local / f"focused-s{seed}.pt"), weights(on_ray / f"focused-s{seed}.pt")
        assert all(torch.equal(expected[key], got[key]) for key in expected), seed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0,1", "--seed", "3"], "--seed and --seeds exclude each other"),
        (["--seeds", "0,1", "--out", "one.pt"], "--out must contain {seed}"),
        (["--backend", "ray"], "--backend ray trains several seeds"),
        (["--seeds", "0,1", "--ray-address", "auto"], "--ray-address needs --backend ray"),
    ],
)
def test_bad_seed_options_give_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main([*TINY, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not list(tmp_path.iterdir()), "nothing is written"


def test_seeds_on_ray_without_ray_name_the_extra(tmp_path, monkeypatch, capsys):
    for module in [name for name in sys.modules if name.split(".")[0] == "ray"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main([*TINY, "--seeds", "0,1", "--backend", "ray", "--out", str(tmp_path / "{seed}.pt")]) == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and "pip install '.[ray]'" in error_lines[0]
    assert not list(tmp_path.glob("*.pt"))

"""The study on Ray: the small design gives the same networks, episodes and verdicts as on the local
backend; bad backend input (unknown name, malformed or unreachable address) is one line, exit 2.

The Ray test starts one local instance (``ray.init(num_cpus=2)``) for this module and stops it; it
is skipped only where Ray is not installed (the extra ``ray``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from agents.iknet.checkpoint import load_checkpoint
from evaluation.study.cli import main

ROOT = Path(__file__).resolve().parents[3]
DESIGN = ROOT / "studies" / "claims.toml"
TABLES = ("episodes.csv.gz", "networks.csv", "claims.csv", "comparisons.csv", "variants.csv", "pareto.csv")



def _table(folder: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(folder / "study" / name)
    if "policy" in frame:  # policy names hold the checkpoint's path under --out
        frame["policy"] = frame["policy"].str.replace(str(folder), "<out>", regex=False)
    return frame


def test_the_small_study_on_ray_equals_the_local_one(ray_instance, small_study, tmp_path):
    out = tmp_path / "ray"
    assert main([str(DESIGN), "--small", "--out", str(out), "--no-progress", "--backend", "ray"]) == 0
    assert ray_instance.is_initialized()  # the study used this connection and left it open
    for name in TABLES:
        pd.testing.assert_frame_equal(_table(out, name), _table(small_study, name), check_exact=True, obj=name)
    local = sorted((small_study / "checkpoints").glob("*.pt"))
    assert [p.name for p in local] == sorted(p.name for p in (out / "checkpoints").glob("*.pt")) and len(local) == 8
    for path in local:
        expected = load_checkpoint(path).state_dict()
        trained = load_checkpoint(out / "checkpoints" / path.name).state_dict()
        assert all(torch.equal(trained[key], value) for key, value in expected.items()), path.name
    # Resuming on the other backend reuses every network and episode.
    before = _table(out, "episodes.csv.gz")
    assert main([str(DESIGN), "--small", "--out", str(out), "--no-progress", "--resume"]) == 0
    pd.testing.assert_frame_equal(_table(out, "episodes.csv.gz"), before)


@pytest.mark.parametrize(("options", "message"), [
    (["--backend", "spark"], "invalid choice: 'spark'"),
    (["--ray-address", "auto"], "--ray-address needs --backend ray"),
    (["--backend", "ray", "--ray-address", "head:port"], "--ray-address must be"),
])
def test_bad_backend_options_are_one_line_exit_2(tmp_path, capsys, options, message):
    out = tmp_path / "out"
    try:
        status = main([str(DESIGN), "--small", "--out", str(out), "--no-progress", *options])
    except SystemExit as stop:  # argparse's choices
        status = stop.code
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and message in lines[0], lines
    assert not out.exists()


def test_an_unreachable_ray_address_is_one_line_exit_2_in_seconds(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "evaluation.study", str(DESIGN), "--small", "--out", str(out),
                           "--backend", "ray", "--ray-address", f"127.0.0.1:{port}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"cannot connect to the Ray cluster at 127.0.0.1:{port}" in lines[0]
    assert not out.exists()

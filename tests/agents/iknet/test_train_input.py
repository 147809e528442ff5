"""``python -m agents.iknet.train`` holds bad input to run_sim.py's standard (issue 25): every flag
checked before any data are made, one line and exit status 2, and the checkpoint and manifest it
writes never overwrite a user's file, never go through a link, never land in a folder of someone
else's files. Every refused case below would otherwise train (a tiny network: ~1 s)."""

from __future__ import annotations

import json
import os

import pytest
import torch

from agents.iknet.checkpoint import load_checkpoint
from agents.iknet.train import main
from sim.errors import MAX_MESSAGE_CHARS

#: The quickest training: 200 poses, one epoch.
TINY = ["--model", "focused", "--data-size", "200", "--epochs", "1", "--batch-size", "64", "--no-progress"]


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def refused(argv: list[str], capsys, *fragments: str) -> str:
    """``main(argv)`` exits 2 with one short error line holding every fragment (argparse errors too)."""
    try:
        status = main(argv)
    except SystemExit as exit_info:
        status = exit_info.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert status == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert len(lines[0]) <= MAX_MESSAGE_CHARS + 40, len(lines[0])
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--seed", "-1"], "--seed"),
    (["--data-seed", "4294967296"], "--data-seed"),
    (["--learning-rate", "inf"], "--learning-rate"),
    (["--patience", "100000"], "--patience"),
    (["--threads", "100000"], "--threads"),
    (["--min-learning-rate", "0.5"], "--min-learning-rate"),
    (["--seeds", "0,4294967296"], "--seeds"),
    (["--epochs", "9" * 5000], "--epochs"),  # argparse's own message, folded to one short line
])
def test_flags_out_of_range_are_refused_before_training(tmp_path, capsys, argv, fragment):
    out = tmp_path / "net-{seed}.pt"  # a valid --out with --seeds too
    refused([*TINY, *argv, "--out", str(out), "--manifest", str(tmp_path / "manifest.json")], capsys, fragment)
    assert os.listdir(tmp_path) == [], "nothing written"


def test_a_users_file_at_out_is_never_overwritten(tmp_path, capsys):
    user = tmp_path / "weights.pt"
    user.write_bytes(b"my own weights")
    refused([*TINY, "--out", str(user), "--no-write-manifest"], capsys, "not an IKNet checkpoint")
    assert user.read_bytes() == b"my own weights"
    notes = tmp_path / "notes.txt"
    notes.write_text("lab notes")
    refused([*TINY, "--out", str(notes), "--no-write-manifest"], capsys, ".pt")
    assert notes.read_text() == "lab notes"


def test_nothing_is_written_through_a_symbolic_link(tmp_path, capsys):
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"precious")
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "net.pt").symlink_to(precious)
    refused([*TINY, "--out", str(folder / "net.pt"), "--no-write-manifest"], capsys, "symbolic link")
    (folder / "net.pt").unlink()
    (folder / "manifest.json").symlink_to(precious)
    refused([*TINY, "--out", str(folder / "net.pt"), "--manifest", str(folder / "manifest.json")], capsys,
            "symbolic link")
    assert precious.read_bytes() == b"precious"
    assert sorted(os.listdir(folder)) == ["manifest.json"], "no checkpoint was written"


def test_a_folder_of_someone_elses_files_is_refused(tmp_path, capsys):
    (tmp_path / "thesis.tex").write_text("mine")
    refused([*TINY, "--out", str(tmp_path / "net.pt"), "--no-write-manifest"], capsys, "thesis.tex")
    refused([*TINY, "--seeds", "0,1", "--out", str(tmp_path / "{seed}.pt")], capsys, "thesis.tex")
    assert os.listdir(tmp_path) == ["thesis.tex"]


def test_a_manifest_that_is_not_the_projects_is_refused_before_training(tmp_path, capsys):
    for body in ("[1, 2, 3]", '{"models": "x"}', "not json", '{"a": {"b": 1}} trailing'):
        manifest = tmp_path / "manifest.json"
        manifest.write_text(body)
        refused([*TINY, "--out", str(tmp_path / "net.pt"), "--manifest", str(manifest)], capsys, "manifest")
        assert manifest.read_text() == body and not (tmp_path / "net.pt").exists()


def test_valid_runs_write_atomically_and_keep_other_manifest_entries(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": {"other": {"checkpoint": "other.pt"}}}))
    out = tmp_path / "net.pt"
    assert main([*TINY, "--out", str(out), "--manifest", str(manifest)]) == 0
    assert set(json.loads(manifest.read_text())["models"]) == {"other", "focused"}
    assert load_checkpoint(out).architecture == "focused"
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "net.pt"], "no temporary file is left"
    # Training again over the project's own checkpoint replaces it (it is ours).
    assert main([*TINY, "--seed", "1", "--out", str(out), "--manifest", str(manifest)]) == 0
    assert load_checkpoint(out).checkpoint_metadata["config"]["seed"] == 1
    capsys.readouterr()

"""``python -m evaluation.study`` holds bad input to run_sim.py's standard (issue 25): one line, exit
status 2, nothing trained, run or written, and no user file touched. One test per class of bad
input; every check runs before any training (``check_study`` / ``--check``), so nothing here trains
except the one test that shows a user's file survives the training stage."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from evaluation.study.cli import main
from evaluation.study.design import load_design, parse_design
from sim.errors import MAX_MESSAGE_CHARS, InvalidInputError, OutputFolderError, UnknownNameError

ROOT = Path(__file__).resolve().parents[3]
DESIGN = ROOT / "studies" / "claims.toml"
#: The smallest design that trains: one network of 200 poses and one epoch (~1 s).
TINY = """\
[study]
name = "tiny"
max_steps = 20
[outcomes]
primary = "min_clearance_mm"
[training]
seeds = [0]
data_size = 200
epochs = 1
checkpoint_dir = ""
[[variants]]
name = "focused"
[[scenarios]]
name = "empty"
episodes = 1
[analysis]
explained_poses = 5
background_poses = 5
episode_balance_steps = 0
bootstrap_resamples = 99
"""


def write(path: Path, body: str | bytes) -> Path:
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return path


def refused(path: Path, *fragments: str, error: type[Exception] = InvalidInputError, small: bool = False) -> str:
    """``load_design(path)`` fails with ``error``: one short line holding every fragment."""
    with pytest.raises(error) as caught:
        load_design(path, small=small)
    message = str(caught.value)
    assert "\n" not in message and len(message) <= MAX_MESSAGE_CHARS, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def edited(tmp_path: Path, old: str, new: str, name: str = "design.toml") -> Path:
    text = DESIGN.read_text()
    assert old in text, old
    return write(tmp_path / name, text.replace(old, new, 1))


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_design_that_is_not_utf8_gives_one_line(tmp_path, capsys):
    path = write(tmp_path / "latin1.toml", DESIGN.read_text().replace("claims", "caf\xe9").encode("latin-1"))
    refused(path, "not UTF-8", str(path))
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    assert "not UTF-8" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_a_fifo_a_folder_or_a_huge_file_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "design.toml"
    os.mkfifo(fifo)
    # In a child process: reading a FIFO without a writer would block this test forever.
    code = ("from evaluation.study.design import load_design\nfrom sim.errors import InvalidInputError\n"
            f"try:\n    load_design({str(fifo)!r})\nexcept InvalidInputError as error:\n    print(error)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "is a FIFO" in done.stdout, (done.stdout, done.stderr[-400:])
    refused(tmp_path, "is a folder")
    refused(write(tmp_path / "big.toml", DESIGN.read_text() + "#" * 1_000_001), "bytes")


@pytest.mark.parametrize(("old", "new", "fragments"), [
    ("bootstrap_resamples = 2000", "bootstrap_resample = 2000", ("bootstrap_resample", "Did you mean "
                                                                "'bootstrap_resamples'?")),
    ("[analysis]", "[analysys]", ("analysys", "Did you mean 'analysis'?")),
    ('name = "original"\narchitecture', 'name = "original"\narchitectur', ("architectur", "Did you mean")),
    ("epochs = 10", "epochs = 10\nepoch = 3", ("'epoch'", "Did you mean 'epochs'?")),
])
def test_misspelled_or_unknown_keys_are_refused_with_the_valid_choices(tmp_path, old, new, fragments):
    message = refused(edited(tmp_path, old, new), *fragments, error=UnknownNameError)
    assert "valid choices" in message


@pytest.mark.parametrize(("old", "new", "fragment"), [
    ("episodes = 40", "episodes = 40.5", "episodes"),
    ("seeds = [0, 1, 2, 3, 4]", "seeds = [0, 1.5, 2]", "seeds"),
    ("epochs = 10", "epochs = 9.9", "epochs"),
    ("max_steps = 150", "max_steps = true", "max_steps"),
    ("seed = 0   ", "seed = false", "seed"),
    ("alpha = 0.05", "alpha = true", "alpha"),
    ("data_size = 100000", 'data_size = "100000"', "data_size"),
    ("data_size = 2000", "data_size = 2000.0", "data_size"),  # in [small]: checked without --small too
])
def test_fractional_counts_and_bools_are_refused_not_truncated(tmp_path, old, new, fragment):
    refused(edited(tmp_path, old, new), fragment, "expected")


@pytest.mark.parametrize(("old", "new", "fragment"), [
    ("bootstrap_resamples = 2000", "bootstrap_resamples = 0", "bootstrap_resamples"),
    ("bootstrap_resamples = 199", "bootstrap_resamples = -5", "bootstrap_resamples"),
    ("explained_poses = 100", "explained_poses = 0", "explained_poses"),
    ("background_poses = 50", "background_poses = 1950", "at most 2000"),
    ("negligible_clearance_mm = 1.0", "negligible_clearance_mm = nan", "negligible_clearance_mm"),
    ("balance_weight = 10.0", "balance_weight = 1e7", "balance_weight"),
    ("seeds = [0, 1, 2, 3, 4]", "seeds = [0, -1]", "seeds"),
    ("seeds = [0, 1, 2, 3, 4]", "seeds = [0, 4294967296]", "seeds"),
    ("episodes = 40", "episodes = 100001", "episodes"),
    ("data_size = 100000", "data_size = 1000000000000", "data_size"),
    ("data_size = 100000", "data_size = 100000\npatience = 0", "patience"),
    ("data_size = 100000", "data_size = 100000\nmin_learning_rate = 0.0", "min_learning_rate"),
    ("data_size = 100000", "data_size = 100000\nmin_learning_rate = 0.01", "min_learning_rate"),
    ('variants = ["original"', 'variants = ["orignal"', "orignal"),
])
def test_out_of_range_values_are_refused_when_the_design_is_read(tmp_path, old, new, fragment):
    refused(edited(tmp_path, old, new), fragment)


@pytest.mark.parametrize(("old", "new", "fragment"), [
    ('name = "claims"', 'name = "../escape"', "name"),
    ('name = "claims"', 'name = "a/b"', "name"),
    ('name = "claims"', 'name = "nul\\u0000"', "name"),
    ('name = "original"\narchitecture = "original"', 'name = "../../evil"\narchitecture = "original"', "name"),
    ('name = "cluttered"', 'name = "/tmp/elsewhere.toml"', "name"),
    ('name = "cluttered"', 'name = "../../up.toml"', "name"),
    ('checkpoint_dir = "assets/study"', 'checkpoint_dir = "/tmp/elsewhere"', "checkpoint_dir"),
    ('checkpoint_dir = "assets/study"', 'checkpoint_dir = "assets/../../up"', "checkpoint_dir"),
])
def test_names_from_the_design_cannot_leave_their_folder(tmp_path, old, new, fragment):
    refused(edited(tmp_path, old, new), fragment)


def test_every_check_runs_before_training_and_check_writes_nothing(tmp_path, capsys):
    from evaluation.study.cli import check_study

    out = tmp_path / "out"
    unknown_scenario = edited(tmp_path, 'name = "cluttered"', 'name = "clutered"', "scenario.toml")
    with pytest.raises(UnknownNameError, match="Did you mean 'cluttered'"):
        check_study(unknown_scenario, out, small=True)
    unknown_policy = edited(tmp_path, 'reference_policies = ["analytic+safe"]', 'reference_policies = ["analytc"]',
                            "policy.toml")
    with pytest.raises(InvalidInputError, match="analytc"):
        check_study(unknown_policy, out)
    assert not out.exists()
    # --check validates the whole study and its folders, then stops: nothing trained or written.
    assert main([str(DESIGN), "--small", "--check", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "is valid" in printed and "8 to train" in printed and "nothing was trained" in printed
    assert not out.exists()
    for argv in (["--workers", "0"], ["--workers", "1.5"], ["--out", ""]):
        with pytest.raises(SystemExit) as caught:
            main([str(DESIGN), "--small", "--check", *argv])
        assert caught.value.code == 2


def test_an_unwritable_or_linked_output_folder_is_found_before_training(tmp_path):
    from evaluation.study.cli import check_study

    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(OutputFolderError, match="symbolic link"):
        check_study(DESIGN, link, small=True)
    blocker = write(tmp_path / "file", "a user's file")
    with pytest.raises(OutputFolderError, match="not a folder"):
        check_study(DESIGN, blocker / "out", small=True)
    with pytest.raises(OutputFolderError, match="not a folder"):
        check_study(DESIGN, blocker, small=True)
    user = tmp_path / "user"
    user.mkdir()
    write(user / "thesis.tex", "mine")
    with pytest.raises(OutputFolderError, match="did not write.*thesis.tex"):
        check_study(DESIGN, user, small=True, resume=True)
    assert blocker.read_text() == "a user's file" and (user / "thesis.tex").read_text() == "mine"


def test_a_checkpoint_folder_holding_a_users_files_is_refused_and_left_alone(tmp_path):
    from evaluation.study.networks import ensure_networks

    out = tmp_path / "out"
    checkpoints = out / "checkpoints"  # checkpoint_dir = "": the networks live under --out
    checkpoints.mkdir(parents=True)
    design = parse_design(tomllib.loads(TINY), "tiny.toml")
    # A file of the network's own name that is not the study's checkpoint: never overwritten.
    user_file = write(checkpoints / "focused-s0.pt", b"my own weights, not an IKNet checkpoint")
    with pytest.raises(OutputFolderError, match="focused-s0.pt"):
        ensure_networks(design, out, command="test")
    assert user_file.read_bytes() == b"my own weights, not an IKNet checkpoint"
    # Any other file the study did not write: refused too.
    user_file.unlink()
    write(checkpoints / "notes.txt", "lab notes")
    with pytest.raises(OutputFolderError, match="notes.txt"):
        ensure_networks(design, out, command="test")
    assert (checkpoints / "notes.txt").read_text() == "lab notes" and os.listdir(checkpoints) == ["notes.txt"]
    # A link where a checkpoint belongs is not written through.
    (checkpoints / "notes.txt").unlink()
    target = write(tmp_path / "precious.bin", b"precious")
    (checkpoints / "focused-s0.pt").symlink_to(target)
    with pytest.raises(OutputFolderError, match="symbolic link|did not write"):
        ensure_networks(design, out, command="test")
    assert target.read_bytes() == b"precious"
    # A manifest that is not the project's is not rewritten.
    (checkpoints / "focused-s0.pt").unlink()
    write(checkpoints / "manifest.json", "[1, 2, 3]")
    with pytest.raises(OutputFolderError, match="manifest"):
        ensure_networks(design, out, command="test")
    assert (checkpoints / "manifest.json").read_text() == "[1, 2, 3]"
    # Once the folder holds only the study's own files, it trains and writes them (no temporary left).
    (checkpoints / "manifest.json").unlink()
    networks = ensure_networks(design, out, command="test")
    assert [n.path.name for n in networks] == ["focused-s0.pt"]
    assert sorted(os.listdir(checkpoints)) == ["focused-s0.pt", "manifest.json"]


def test_the_schedules_patience_and_floor_reach_every_network_and_default_to_the_recipe(tmp_path):
    from evaluation.study.networks import train_config

    default = load_design(write(tmp_path / "default.toml", TINY))
    assert (default.training.patience, default.training.min_learning_rate) == (10, 1e-5)
    tuned = load_design(write(tmp_path / "tuned.toml", TINY.replace(
        "epochs = 1\n", "epochs = 1\npatience = 3\nmin_learning_rate = 1e-6\n")))
    config = train_config(tuned, tuned.variants[0], 0)
    assert (config.patience, config.min_learning_rate) == (3, 1e-6)
    config.validate()

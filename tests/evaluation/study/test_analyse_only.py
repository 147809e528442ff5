"""``--analyse-only`` (issue #24 item 7): a finished study's tables, figures and claims files recompute byte for
byte from its committed inputs alone, and the claims files say when, from which registration and how long."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evaluation.study.analysis import INPUT_FILES, OPTIONAL_INPUT_FILES, write_inputs
from evaluation.study.cli import main

DESIGN = Path(__file__).resolve().parents[3] / "studies" / "claims.toml"


def _hashes(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


def _inputs_only(source: Path, folder: Path) -> dict[str, str]:
    """Copy the study folder ``source`` to ``folder``, delete all but its inputs; return the copy's hashes before."""
    shutil.copytree(source, folder)
    before = _hashes(folder)
    for path in folder.iterdir():
        if path.name not in INPUT_FILES + OPTIONAL_INPUT_FILES:
            path.unlink()
    assert sorted(path.name for path in folder.iterdir()) == sorted(INPUT_FILES + OPTIONAL_INPUT_FILES)
    return before


def test_analyse_only_regenerates_every_file_byte_for_byte(small_study, tmp_path, capsys):
    before = _inputs_only(small_study / "study", tmp_path / "out" / "study")
    assert {"claims.md", "paper_claims.md", "paper_claims.csv", "claims.csv", "variants.csv", "comparisons.csv",
            "pareto.csv", "pareto.png", "variants.png", "balance_vs_clearance.png",
            "learning_curves.png"} <= set(before)
    assert main([str(DESIGN), "--small", "--analyse-only", "--out", str(tmp_path / "out")]) == 0
    assert _hashes(tmp_path / "out" / "study") == before  # the same files, the same bytes
    assert "recomputed" in capsys.readouterr().out
    folder = tmp_path / "out" / "study"
    for png in folder.glob("*.png"):
        assert b"Matplotlib version" not in png.read_bytes(), png.name  # no version stamp in the metadata
    packed = (folder / "episodes.csv.gz").read_bytes()
    assert packed[4:8] == b"\0\0\0\0"  # gzip without a time stamp
    run = json.loads((folder / "run.json").read_text())
    assert run["command"].startswith("python -m evaluation.study") and run["wall_time_s"] > 0 and run["small"]
    assert {"torch", "pybullet", "numpy"} <= set(run["versions"])
    start = json.loads((folder / "study.json").read_text())
    v1, v2 = (folder / "claims.md").read_text(), (folder / "paper_claims.md").read_text()
    assert f"Command: `{run['command']}`" in v1 and f"Wall time: {run['wall_time_s'] / 60:.1f} min" in v1
    commit = start["registration"]["commit"]
    assert (f"Registration: commit {commit} ({start['registration']['committed_utc']}) is this design's "
            f"registration; the first run started {start['started_utc']}.") in v2
    assert f"Run: `{run['command']}` took {run['wall_time_s'] / 60:.1f} min wall time" in v2
    assert v2.endswith("## Deviations\n\nNone.\n")  # studies/claims.deviations.md does not exist


def test_a_paper_claims_design_answers_in_claims_md_with_its_deviations(small_study, tmp_path, capsys):
    text = DESIGN.read_text(encoding="utf-8")
    assert text.count('name = "claims"') == 1
    design = tmp_path / "paper_claims_check.toml"
    design.write_text(text.replace('name = "claims"', 'name = "paper_claims_check"'), encoding="utf-8")
    deviations = "- The replanning fix moved `improved-optimal` (before: inconclusive, after: holds).\n"
    (tmp_path / "paper_claims_check.deviations.md").write_text(deviations, encoding="utf-8")
    folder = tmp_path / "docs_copy"
    _inputs_only(small_study / "study", folder)
    assert main([str(design), "--small", "--analyse-only", "--out", str(folder)]) == 0  # the folder itself
    assert "differs from the design the run began with" in capsys.readouterr().err
    claims = (folder / "claims.md").read_text()
    assert claims.startswith("# The paper's claims (v2)\n\nRegistration: commit ")
    assert claims.endswith("## Deviations\n\n" + deviations)  # verbatim
    for section in ("## Primary", "## Every statement", "## The paper's table beside ours",
                    "| variant | the paper's target error | ours: held-out IK error (mm) [95% CI] |",
                    "| improved | 2.8651 |", "| focused | 3.7536 |"):
        assert section in claims, section
    answered = pd.read_csv(folder / "paper_claims.csv")
    rows = [line for line in claims.split("## Every statement")[1].split("## The paper's table")[0].splitlines()
            if line.startswith("| ") and not line.startswith("| id ")]
    assert [row.split(" | ")[0][2:] for row in rows] == list(answered["id"])
    assert (folder / "claims_v1.md").read_text().startswith("# The paper's claims, tested")
    assert not (folder / "paper_claims.md").exists()


def test_inputs_are_written_the_same_way_every_time(tmp_path):
    frame = pd.DataFrame({"network": ["a-s0", "b-s1"], "min_clearance_mm": [0.1 + 0.2, 1 / 3], "collided": [0.0, 1.0]})
    networks = pd.DataFrame({"network": ["a-s0", "b-s1"], "entropy_joint_mean": [0.9123456789012345, 0.7]})
    for name in ("one", "two"):
        write_inputs(tmp_path / name, frame, networks, {"started_utc": "2026-12-07T00:00:00+00:00"})
    assert _hashes(tmp_path / "one") == _hashes(tmp_path / "two")
    back = pd.read_csv(gzip.open(tmp_path / "one" / "episodes.csv.gz"))
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


@pytest.mark.parametrize(("present", "options", "message"), [
    ((), [], "holds no study inputs"),
    (("episodes.csv.gz",), [], "lacks the study input networks.csv"),
    (INPUT_FILES, [], "ran with --small; analyse it the same way"),  # the inputs of a --small run, without it
    (INPUT_FILES, ["--small", "--resume"], "takes neither --resume nor --check"),
])
def test_analyse_only_refuses_in_one_line(small_study, tmp_path, capsys, present, options, message):
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in present:
        shutil.copy(small_study / "study" / name, folder / name)
    assert main([str(DESIGN), "--analyse-only", "--out", str(folder), *options]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1 and not captured.out
    assert sorted(path.name for path in folder.iterdir()) == sorted(present)  # nothing written


def test_analyse_only_never_writes_through_a_link(small_study, tmp_path, capsys):
    folder = tmp_path / "copy"
    _inputs_only(small_study / "study", folder)
    user_file = tmp_path / "mine.csv"
    user_file.write_text("my data\n")
    (folder / "variants.csv").symlink_to(user_file)
    assert main([str(DESIGN), "--small", "--analyse-only", "--out", str(folder)]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert user_file.read_text() == "my data\n" and not (folder / "claims.md").exists()

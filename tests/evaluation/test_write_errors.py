"""A full disk, a file over the size limit or a refused permission while results are written ends in
one line (exit status 2) with every row written so far kept whole, for run_sim.py and the study
(issue 25). Real limits on real processes: ``RLIMIT_FSIZE`` makes writes past a size fail with EFBIG
("File too large", the way a full disk fails with ENOSPC), and a real "Permission denied" (EACCES)
is had even as root by dropping ``CAP_DAC_OVERRIDE`` (and its kin) from the child's capability
bounding set, so permission bits bind it. No mocks."""

from __future__ import annotations

import csv
import ctypes
import io
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sim.errors import MAX_MESSAGE_CHARS
from tests.evaluation.study.test_study_input import TINY

ROOT = Path(__file__).resolve().parents[2]
QUICK = ("--models", "analytic", "--episodes", "3", "--max-steps", "3", "--no-progress")
#: Bytes a process of the tests below may write to one file: episodes.csv (3 rows, ~800 bytes) fits,
#: steps.csv (~1,100 bytes an episode) fills up during the second episode.
FILE_SIZE_LIMIT = 2000
#: Linux capabilities that let root ignore permission bits (prctl PR_CAPBSET_DROP = 24).
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3


def limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # SIGXFSZ is left at its default: the
        # program must ignore it itself, or the kernel kills it instead of failing the write

    return apply


def drop_permission_override() -> None:
    """In the child before exec: permission bits bind it, even as root."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if libc.prctl(24, capability, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # EINVAL: unknown here
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def can_drop_permission_override() -> bool:
    if os.geteuid() != 0:
        return True  # permission bits already bind a normal user
    probe = subprocess.run([sys.executable, "-c", "pass"], preexec_fn=drop_permission_override, capture_output=True)
    return probe.returncode == 0


def run(argv: list[str], *, preexec: Callable[[], None] | None = None, module: str | None = None
        ) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", module] if module else [sys.executable, str(ROOT / "run_sim.py")]
    return subprocess.run([*command, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          preexec_fn=preexec)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-1500:])
    assert "Traceback" not in done.stderr, done.stderr[-1500:]
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, done.stderr[-1500:]
    assert len(lines[0]) <= MAX_MESSAGE_CHARS + 40, lines[0]
    return lines[0]


def whole_rows(path: Path) -> list[dict[str, str]]:
    """The rows of CSV ``path``, checked to be whole: it ends in a newline and every row has every field."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path} ends in a torn row"
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    header, *rows = list(reader)
    assert all(len(row) == len(header) for row in rows), f"{path} has a torn row"
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_run_sim_a_file_too_large_ends_in_one_line_and_keeps_every_row(tmp_path):
    out = tmp_path / "run"
    done = run([*QUICK, "--out", str(out)], preexec=limit_file_size(FILE_SIZE_LIMIT))
    line = one_error_line(done)
    assert "File too large" in line and "steps.csv" in line and "--resume" in line, line
    episodes, steps = whole_rows(out / "episodes.csv"), whole_rows(out / "steps.csv")
    assert 1 <= len(episodes) < 3, "the run stopped partway, its finished episodes kept"
    assert {row["episode"] for row in steps} == {row["episode"] for row in episodes}, \
        "the steps of the episode in flight were cut off whole"
    # Room again: --resume completes the run without duplicates.
    done = run([*QUICK, "--out", str(out), "--resume"])
    assert done.returncode == 0, done.stderr[-1500:]
    assert sorted(row["episode"] for row in whole_rows(out / "episodes.csv")) == ["0", "1", "2"]


@pytest.mark.skipif(not can_drop_permission_override(),
                    reason="as root without CAP_SETPCAP, permission bits cannot be made to bind a child")
def test_run_sim_a_permission_refused_ends_in_one_line_and_keeps_every_row(tmp_path):
    out = tmp_path / "run"
    assert run([*QUICK, "--out", str(out)]).returncode == 0
    # Drop the last episode (a run killed before it finished), and take away the right to write plots.
    lines = (out / "episodes.csv").read_bytes().splitlines(keepends=True)
    (out / "episodes.csv").write_bytes(b"".join(lines[:-1]))
    plots = [out / "plots", *(out / "plots").iterdir()]
    for path in plots:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        done = run([*QUICK, "--out", str(out), "--resume"], preexec=drop_permission_override)
    finally:
        for path in plots:
            path.chmod(0o755 if path.is_dir() else 0o644)
    line = one_error_line(done)
    assert "Permission denied" in line and "plots" in line, line
    assert sorted(row["episode"] for row in whole_rows(out / "episodes.csv")) == ["0", "1", "2"], \
        "the episode run before the failure is kept"
    whole_rows(out / "steps.csv")


TINY_STUDY = TINY.replace("episodes = 1", "episodes = 2")  # the smallest design that trains, 2 episodes


def test_study_a_file_too_large_ends_in_one_line_and_leaves_no_torn_checkpoint(tmp_path):
    design = tmp_path / "tiny.toml"
    design.write_text(TINY_STUDY)
    out = tmp_path / "study"
    # The network's checkpoint (~42 kB) is larger than the limit: its write fails.
    done = run([str(design), "--out", str(out), "--no-progress"], module="evaluation.study",
               preexec=limit_file_size(20_000))
    line = one_error_line(done)
    assert "cannot write" in line and "focused-s0.pt" in line and "too large" in line, line
    assert os.listdir(out / "checkpoints") == [], "no torn checkpoint or temporary file is left"


@pytest.mark.skipif(not can_drop_permission_override(),
                    reason="as root without CAP_SETPCAP, permission bits cannot be made to bind a child")
def test_study_a_permission_refused_ends_in_one_line_and_keeps_every_row(tmp_path):
    design = tmp_path / "tiny.toml"
    design.write_text(TINY_STUDY)
    out = tmp_path / "study"
    (out / "study").mkdir(parents=True, mode=0o555)  # the tables' folder cannot be written
    try:
        done = run([str(design), "--out", str(out), "--no-progress", "--resume"], module="evaluation.study",
                   preexec=drop_permission_override)
    finally:
        (out / "study").chmod(0o755)
    line = one_error_line(done)
    assert "Permission denied" in line, line
    episodes = whole_rows(out / "runs" / "empty" / "raw-focused-s0" / "episodes.csv")
    assert len(episodes) == 2, "every episode run before the failure is kept"

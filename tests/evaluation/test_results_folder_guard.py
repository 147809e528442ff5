"""Results folders under concurrency and damage: one writer per folder, no writes through links,
malformed tails repaired (or refused) on --resume. Real processes, real files, no mocks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: A small run, quick enough for the in-process ``cli`` fixture (no warnings from its metrics).
QUICK = ("--models", "analytic", "--episodes", "2", "--max-steps", "3")
#: The race's run: long enough (several seconds) that two processes started together overlap.
RACE = ("--scenario", "empty", "--episodes", "2", "--models", "analytic+safe", "--no-progress")


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "run_sim.py"), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if "error:" in line]


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def rows(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_two_runs_started_on_one_folder_at_once_one_wins_the_other_touches_nothing(tmp_path):
    out = tmp_path / "run"
    processes = [start(*RACE, "--out", str(out)) for _ in range(2)]
    results = [(process.wait(timeout=300), *process.communicate()) for process in processes]
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [0, 2], [(status, stderr[-400:]) for status, _, stderr in results]
    loser = next(stderr for status, _, stderr in results if status == 2)
    assert len(error_lines(loser)) == 1 and str(out) in error_lines(loser)[0], loser
    # The winner's run is whole: every episode once, its steps, summary and report.
    episodes = rows(out / "episodes.csv")
    assert len(episodes) == 1 + 2 and len(set(episodes)) == len(episodes)
    assert {"steps.csv", "summary.json", "report.html", "run.json"} <= set(os.listdir(out))
    assert ".lock" not in os.listdir(out), "the lock file goes with the run that held it"


def test_a_folder_being_written_refuses_a_second_run_and_a_resume(tmp_path, cli):
    from evaluation.results_io import LOCK_FILE, locked_folder

    out = tmp_path / "run"
    status, _, stderr = cli(*QUICK, "--out", str(out))
    assert status == 0, stderr[-400:]
    before = tree(out)
    with locked_folder(out):  # this process is the writer; the runs below are other processes
        held = tree(out)
        assert set(held) == set(before) | {LOCK_FILE}
        for workers in ("1", "2"):
            process = start(*QUICK, "--no-progress", "--out", str(out), "--resume", "--workers", workers)
            status = process.wait(timeout=300)
            _, stderr = process.communicate()
            lines = error_lines(stderr)
            assert status == 2 and len(lines) == 1, stderr[-400:]
            assert "being written by another run" in lines[0] and str(out) in lines[0]
            assert tree(out) == held, "the refused run wrote and removed nothing"
    assert tree(out) == before and LOCK_FILE not in os.listdir(out)
    fresh = tmp_path / "fresh"
    with locked_folder(fresh):
        process = start(*QUICK, "--no-progress", "--out", str(fresh))
        assert process.wait(timeout=300) == 2 and "being written" in process.communicate()[1]
        assert os.listdir(fresh) == [LOCK_FILE]
    assert not fresh.exists(), "the lock took back the folder it created"


def test_resume_never_writes_through_a_symbolic_link(tmp_path, cli):
    out = tmp_path / "run"
    status, _, stderr = cli(*QUICK, "--out", str(out))
    assert status == 0, stderr[-400:]
    for target in ("episodes.csv", "steps.csv", "summary.json", "plots/pareto.png"):
        # A user's file outside the folder, linked where a results file belongs (a copy of it: the
        # run would otherwise accept it and append or write through the link).
        user_file = tmp_path / f"user_{Path(target).name}"
        (out / target).rename(user_file)
        (out / target).symlink_to(user_file)
        before = user_file.read_bytes()
        status, _, stderr = cli(*QUICK, "--out", str(out), "--resume")
        lines = error_lines(stderr)
        assert status == 2 and len(lines) == 1 and "symbolic link" in lines[0] and target in lines[0], stderr
        assert user_file.read_bytes() == before, f"{target}: the user's file is unchanged"
        (out / target).unlink()
        user_file.rename(out / target)
    status, _, stderr = cli(*QUICK, "--out", str(out), "--resume")
    assert status == 0, stderr[-400:]


def test_resume_repairs_a_malformed_tail_and_keeps_every_complete_row(tmp_path, cli):
    out = tmp_path / "run"
    status, _, stderr = cli(*QUICK, "--out", str(out))
    assert status == 0, stderr[-400:]
    complete = rows(out / "episodes.csv")
    # The last episode row carries NUL bytes; steps.csv ends in a truncated row (with its newline).
    damaged = complete[:-1] + [complete[-1][:10] + b"\x00\x00" + complete[-1][10:]]
    (out / "episodes.csv").write_bytes(b"".join(damaged))
    steps = rows(out / "steps.csv")
    (out / "steps.csv").write_bytes(b"".join(steps + [steps[-1][:15] + b"\n"]))
    status, _, stderr = cli(*QUICK, "--out", str(out), "--resume")
    assert status == 0 and "Traceback" not in stderr, stderr[-400:]
    repaired = [line for line in stderr.splitlines() if line.startswith("repaired")]
    assert len(repaired) == 2 and "episodes.csv" in repaired[0] and "steps.csv" in repaired[1], stderr
    again = rows(out / "episodes.csv")
    assert again[:-1] == complete[:-1], "every complete row kept, as it was"
    assert len(again) == len(complete) and b"\x00" not in b"".join(again), "the damaged episode ran again"
    assert rows(out / "steps.csv")[: len(steps) - 3] == steps[: len(steps) - 3]


def test_resume_refuses_a_malformed_row_followed_by_complete_rows(tmp_path, cli):
    out = tmp_path / "run"
    status, _, stderr = cli(*QUICK, "--out", str(out))
    assert status == 0, stderr[-400:]
    complete = rows(out / "episodes.csv")
    damaged = [complete[0], complete[1][:12] + b"\n", *complete[1:]]
    (out / "episodes.csv").write_bytes(b"".join(damaged))
    before = tree(out)
    status, _, stderr = cli(*QUICK, "--out", str(out), "--resume")
    lines = error_lines(stderr)
    assert status == 2 and len(lines) == 1 and "row 2 is malformed" in lines[0], stderr
    assert tree(out) == before, "a damaged middle is not repaired: nothing changed"

"""run_sim.py end to end: results folder, bad input, interruption and resume."""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESIGN_COLUMNS = ["model", "scenario", "seed", "episode", "success", "collided", "target_error_mm",
                  "min_clearance_mm", "path_length_m", "jerk", "steps"]


def run_sim(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run_sim.py"), *args, "--no-progress"], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def episodes(folder: Path) -> list[dict[str, str]]:
    return read_csv(folder / "episodes.csv")


def test_small_run_writes_the_results_folder(tmp_path):
    out = tmp_path / "run"
    result = run_sim("--scenario", "cluttered", "--models", "analytic,analytic+straight", "--episodes", "2",
                     "--seed", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "seed 3" in result.stdout and str(out) in result.stdout
    rows = episodes(out)
    assert len(rows) == 4
    assert list(rows[0])[: len(DESIGN_COLUMNS)] == DESIGN_COLUMNS
    expected = {(m, e) for m in ("analytic", "analytic+straight") for e in "01"}
    assert {(r["model"], r["episode"]) for r in rows} == expected
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["policies"]) == {"analytic", "analytic+straight"}
    assert summary["run"]["seed"] == 3
    steps = read_csv(out / "steps.csv")
    assert len(steps) == sum(int(r["steps"]) for r in rows)
    report = (out / "report.html").read_text()
    assert "analytic+straight" in report
    for reference in re.findall(r'(?:src|href)="([^"]+)"', report):
        assert reference.startswith("data:") or (out / reference).exists(), reference


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "clutterd"], "cluttered"),
        (["--models", "iknet:improvd"], "improved"),
        (["--models", "analytic+turbo"], "safe"),
        (["--episodes", "0"], "--episodes"),
        (["--workers", "0"], "--workers"),
        (["--models", ""], "--models needs at least one policy"),
        (["--models", "  "], "--models needs at least one policy"),
        (["--models", ",,"], "--models needs at least one policy"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, tmp_path):
    result = run_sim(*args, "--out", str(tmp_path / "out"), timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith("usage:") and not line.startswith("  ")]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists(), "nothing is written on bad input"


def test_malformed_scene_file_and_unwritable_output(tmp_path):
    scene = tmp_path / "bad.toml"
    scene.write_text('name = "bad"\n[obstacles]\ncount = "many"\n')
    result = run_sim("--scenario", str(scene), "--out", str(tmp_path / "out"), timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "bad.toml" in result.stderr or "count" in result.stderr
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_sim("--models", "analytic", "--episodes", "1", "--out", str(blocker / "run"), timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot write" in result.stderr


def test_an_existing_run_is_never_overwritten(tmp_path):
    out = tmp_path / "run"
    assert run_sim("--models", "analytic", "--episodes", "1", "--out", str(out)).returncode == 0
    before = (out / "episodes.csv").read_text()
    again = run_sim("--models", "analytic", "--episodes", "1", "--out", str(out))
    assert again.returncode == 2 and "--resume" in again.stderr
    other_seed = run_sim("--models", "analytic", "--episodes", "2", "--seed", "9", "--out", str(out), "--resume")
    assert other_seed.returncode == 2 and "seed" in other_seed.stderr
    assert (out / "episodes.csv").read_text() == before


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_run_keeps_finished_episodes_and_resumes_without_duplicates(tmp_path, sig):
    out = tmp_path / "run"
    args = ["--scenario", "cluttered", "--models", "analytic,analytic+safe", "--episodes", "6", "--out", str(out)]
    process = subprocess.Popen([sys.executable, str(ROOT / "run_sim.py"), *args, "--no-progress"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        if (out / "episodes.csv").exists() and len(episodes(out)) >= 3:
            break
        time.sleep(0.05)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert process.returncode == 130 and "--resume" in stderr and "Traceback" not in stderr, \
            (process.returncode, stderr[-3000:])
    finished = episodes(out)
    assert 3 <= len(finished) < 12, (len(finished), stderr[-3000:])
    assert all(row["steps"] for row in finished)
    result = run_sim(*args, "--resume")
    assert result.returncode == 0, result.stderr
    rows = episodes(out)
    keys = [(r["model"], r["episode"]) for r in rows]
    assert len(keys) == len(set(keys)) == 12
    assert rows[: len(finished)] == finished, "finished episodes are kept as written"
    steps = read_csv(out / "steps.csv")
    assert len(steps) == sum(int(r["steps"]) for r in rows), "no duplicated or orphaned step rows"


@pytest.mark.parametrize(
    ("package", "model", "extra"),
    [("ompl", "ompl:rrtconnect", "plan"), ("stable_baselines3", "rl:sac:agent.zip", "rl")],
)
def test_a_missing_extra_is_named_in_one_line(monkeypatch, capsys, package, model, extra):
    import runpy

    for module in [name for name in sys.modules if name.split(".")[0] == package]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, package, None)  # makes ``import package`` raise ImportError
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["run_sim.py", "--scenario", "benchmark", "--models", model])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "run_sim.py"), run_name="__main__")
    assert exit_info.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and f"pip install '.[{extra}]'" in error_lines[0]

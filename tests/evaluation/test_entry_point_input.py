"""Sweep names, ``python -m evaluation.real_log`` and ``python -m agents.baselines.rl`` flags held to
run_sim.py's standard (issue 25): one line, exit status 2, nothing run, no user file touched."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.sweep import load_sweep
from sim.errors import MAX_MESSAGE_CHARS, InvalidInputError
from tests.evaluation.test_real_log import good_log

ROOT = Path(__file__).resolve().parents[2]
SWEEP = """\
name = "{name}"
[[grid]]
scenarios = ["empty"]
policies = ["analytic"]
seeds = [0]
episodes = 1
"""


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr[-1500:]
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, stderr[-1500:]
    assert len(lines[0]) <= MAX_MESSAGE_CHARS + 60, lines[0]
    return lines[0]


@pytest.mark.parametrize("name", ["../escape", "a/b", "/tmp/abs", "nul\\u0000byte", "..", "tab\\tname"])
def test_a_sweep_name_cannot_leave_the_results_folder(tmp_path, name):
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(name=name))
    with pytest.raises(InvalidInputError, match="name: expected a file name") as caught:
        load_sweep(path)
    assert "\n" not in str(caught.value)


def test_run_sim_refuses_an_escaping_sweep_name_and_writes_nothing(tmp_path):
    work = tmp_path / "work"  # the working directory: results/ would be made here
    work.mkdir()
    (tmp_path / "sweep.toml").write_text(SWEEP.format(name="../escaped"))
    done = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "--sweep", str(tmp_path / "sweep.toml"),
                           "--no-progress"], cwd=work, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "name" in one_error_line(done.stderr)
    assert os.listdir(work) == [] and sorted(os.listdir(tmp_path)) == ["sweep.toml", "work"], "nothing written"


# --------------------------------------------------------------------------------- real_log flags
def real_log(argv: list[str], capsys) -> tuple[int, str]:
    from evaluation.real_log import main

    try:
        status = main(argv)
    except SystemExit as exit_info:
        status = exit_info.code
    return status, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--time-tolerance-ms", "1e9"], "--time-tolerance-ms"),
    (["--table-z-m", "50"], "--table-z-m"),
    (["--table-z-m", "-5"], "--table-z-m"),
])
def test_real_log_flags_out_of_range_are_refused(tmp_path, capsys, argv, fragment):
    status, err = real_log([str(good_log(tmp_path / "log")), "--solvers", "analytic", *argv], capsys)
    assert status == 2 and fragment in one_error_line(err)


def test_real_log_never_writes_its_json_through_a_link_a_fifo_or_over_a_users_file(tmp_path, capsys):
    log = good_log(tmp_path / "log")
    precious = tmp_path / "precious.json"
    precious.write_text('{"mine": true}')
    link = tmp_path / "link.json"
    link.symlink_to(precious)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # writing it would block until a reader comes
    for target, fragment in ((link, "symbolic link"), (fifo, "not a regular file"), (precious, "not overwriting")):
        status, err = real_log([str(log), "--solvers", "analytic", "--json", str(target)], capsys)
        assert status == 2 and fragment in one_error_line(err), err
    assert precious.read_text() == '{"mine": true}'
    # Its own report it replaces.
    report = tmp_path / "report.json"
    for _ in range(2):
        status, err = real_log([str(log), "--solvers", "analytic", "--json", str(report)], capsys)
        assert status == 0, err


# --------------------------------------------------------------------------------- rl flags
needs_sb3 = pytest.mark.skipif(importlib.util.find_spec("stable_baselines3") is None,
                               reason="the 'rl' extra (stable-baselines3) is not installed")
#: A run that would end within seconds if a refused flag were taken.
SHORT = ["train", "--steps", "20", "--eval-every", "0", "--learning-starts", "10", "--no-progress"]


@needs_sb3
@pytest.mark.parametrize(("argv", "fragment"), [
    (["--gamma", "nan"], "--gamma"),
    (["--tau", "2"], "--tau"),
    (["--learning-rate", "inf"], "--learning-rate"),
    (["--collision-penalty", "-1"], "--collision-penalty"),
    (["--net-arch", "0"], "--net-arch"),
    (["--seed", "-5"], "--seed"),
    (["--time-limit-min", "nan"], "--time-limit-min"),
])
def test_rl_flags_out_of_range_are_refused_before_training(tmp_path, capsys, argv, fragment):
    from agents.baselines.rl import main

    status = main([*SHORT, *argv, "--out", str(tmp_path / "agent")])
    assert status == 2 and fragment in one_error_line(capsys.readouterr().err)
    assert os.listdir(tmp_path) == [], "nothing trained or written"


@needs_sb3
def test_rl_train_never_overwrites_a_users_file_or_writes_through_a_link(tmp_path, capsys):
    from agents.baselines.rl import main

    (tmp_path / "agent.json").write_text('{"my": "notes"}')
    assert main([*SHORT, "--out", str(tmp_path / "agent")]) == 2
    assert "not from a training run" in one_error_line(capsys.readouterr().err)
    assert (tmp_path / "agent.json").read_text() == '{"my": "notes"}' and os.listdir(tmp_path) == ["agent.json"]
    precious = tmp_path / "precious"
    precious.write_bytes(b"precious")
    (tmp_path / "other.zip").symlink_to(precious)
    assert main([*SHORT, "--out", str(tmp_path / "other")]) == 2
    assert "symbolic link" in one_error_line(capsys.readouterr().err)
    assert precious.read_bytes() == b"precious"

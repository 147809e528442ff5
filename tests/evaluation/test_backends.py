"""Execution backends: local and Ray give the same episodes, a killed Ray worker loses and duplicates
nothing, Ctrl-C keeps what finished, resume works across backends, workers need no project files.

The Ray tests share one local instance (``ray.init(num_cpus=2)``) started and stopped by a
module-scoped fixture; they are skipped only where Ray is not installed (the extra ``ray``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evaluation.backends import BackendError, InProcessBackend, build_resources, make_backend
from evaluation.config import RunConfig
from evaluation.runner import EpisodeBatch, run, run_episode_batch
from evaluation.schema import KEY_COLUMNS, TIMING_COLUMNS, read_episodes, read_steps
from evaluation.sweep import EpisodeKey, load_sweep

ROOT = Path(__file__).resolve().parents[2]
SWEEP = """
name = "backends"

[[grid]]
scenarios = ["empty", "single"]
policies = ["analytic"]
seeds = [0, 50]
episodes = 2
"""




@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "backends.toml"
    path.write_text(SWEEP)
    return path


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory, sweep_file) -> Path:
    """The sweep run in process: what every backend must reproduce."""
    out = tmp_path_factory.mktemp("local") / "run"
    run(RunConfig.from_sweep(load_sweep(sweep_file), out, progress=False))
    return out


def values(folder: Path) -> dict[tuple[str, ...], dict[str, str]]:
    """episodes.csv by key, without the timing columns."""
    return {tuple(row[c] for c in KEY_COLUMNS): {k: v for k, v in row.items() if k not in TIMING_COLUMNS}
            for row in read_episodes(folder)}


def keys_of(folder: Path) -> list[tuple[str, ...]]:
    return [tuple(row[c] for c in KEY_COLUMNS) for row in read_episodes(folder)]


def assert_complete_without_duplicates(folder: Path, reference: Path) -> None:
    keys = keys_of(folder)
    assert len(keys) == len(set(keys)), "a key was written twice"
    assert values(folder) == values(reference), "lost, extra or different episodes"
    steps = read_steps(folder)
    assert len(steps) == sum(int(row["steps"]) for row in read_episodes(folder)), "duplicated or orphaned steps"


def _descendants(root: int) -> set[int]:
    """Process ids below ``root`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _running_task_pids(task_name: str) -> list[int]:
    """Ray workers of this test's instance busy with ``task_name`` (their title is ``ray::<task>``)."""
    pids = []
    for pid in _descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                title = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith(f"ray::{task_name}"):
            pids.append(pid)
    return pids


# ----------------------------------------------------------------------------------------- no Ray needed
def test_backend_ray_without_ray_fails_in_one_line_naming_the_extra(monkeypatch, capsys, tmp_path):
    import runpy

    for module in [name for name in sys.modules if name.split(".")[0] == "ray"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "ray", None)  # makes ``import ray`` raise ImportError
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["run_sim.py", "--scenario", "empty", "--models", "analytic", "--backend", "ray",
                                      "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "run_sim.py"), run_name="__main__")
    assert exit_info.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and "pip install '.[ray]'" in error_lines[0]
    assert not (tmp_path / "out").exists()


def test_in_process_backend_streams_in_order_and_a_task_error_propagates():
    with make_backend("local") as backend:
        assert isinstance(backend, InProcessBackend) and backend.runs_in_driver
        assert list(backend.run(lambda shared, task: shared * task, 3, [1, 2])) == [(1, 3), (2, 6)]
        with pytest.raises(ZeroDivisionError):
            list(backend.run(lambda shared, task: shared / task, 1, [1, 0]))


# ----------------------------------------------------------------------------------------- on Ray
def test_the_same_sweep_on_local_and_ray_gives_identical_values_and_ships_once(
        ray_instance, sweep_file, local_reference, tmp_path, monkeypatch):
    puts = []
    original_put = ray_instance.put
    monkeypatch.setattr(ray_instance, "put", lambda value, **kw: puts.append(value) or original_put(value, **kw))
    out = tmp_path / "ray"
    config = RunConfig.from_sweep(load_sweep(sweep_file), out, backend="ray", progress=False)
    run(config)
    assert len(config.episode_keys()) == 8
    assert len(puts) == 1, "scenario specs and model files go to the object store once, not per task"
    assert set(puts[0].scenarios) == {"empty", "single"}
    assert_complete_without_duplicates(out, local_reference)
    steps = {tuple(s[c] for c in KEY_COLUMNS + ("step",)): s for s in read_steps(out)}
    reference = {tuple(s[c] for c in KEY_COLUMNS + ("step",)): s for s in read_steps(local_reference)}
    assert steps.keys() == reference.keys()
    assert all({k: v for k, v in steps[key].items() if k != "ik_time_s"}
               == {k: v for k, v in reference[key].items() if k != "ik_time_s"} for key in steps)


def test_a_killed_ray_worker_loses_nothing_and_duplicates_nothing(ray_instance, sweep_file, local_reference,
                                                                  tmp_path):
    killed: list[int] = []
    stop = threading.Event()

    def kill_one_busy_worker() -> None:
        while not stop.is_set() and not killed:
            for pid in _running_task_pids("run_episode_batch"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.002)

    killer = threading.Thread(target=kill_one_busy_worker, daemon=True)
    killer.start()
    out = tmp_path / "ray"
    try:
        # Two episodes per task: the killed task's finished first episode must not reach the file twice.
        run(RunConfig.from_sweep(load_sweep(sweep_file), out, backend="ray", episodes_per_task=2, max_retries=2,
                                 progress=False))
    finally:
        stop.set()
        killer.join(timeout=5)
    assert killed, "no busy worker was found to kill"
    assert_complete_without_duplicates(out, local_reference)


def test_workers_need_neither_the_checkpoint_nor_the_scenario_file(ray_instance, tmp_path):
    checkpoint = tmp_path / "net.pt"
    shutil.copy(ROOT / "assets" / "checkpoints" / "improved.pt", checkpoint)
    scene = tmp_path / "scene.toml"
    shutil.copy(ROOT / "scenarios" / "examples" / "desk_clutter.toml", scene)
    keys = (EpisodeKey(f"iknet:{checkpoint}+safe", str(scene), 3, 0), EpisodeKey("iknet:improved", str(scene), 3, 0))
    batch = EpisodeBatch(keys, 60)
    expected = run_episode_batch(build_resources([str(scene)], [k.policy for k in keys], ship_files=False), batch)
    shipped = build_resources([str(scene)], [k.policy for k in keys], ship_files=True)
    assert set(shipped.files) == {str(checkpoint), "improved"}
    checkpoint.unlink()
    scene.unlink()
    with make_backend("ray") as backend:
        ((_, results),) = list(backend.run(run_episode_batch, shipped, [batch]))
    for got, want in zip(results, expected, strict=True):
        assert got.row["model"] == want.row["model"] and got.row["scenario"] == str(scene)
        assert {k: v for k, v in got.row.items() if k not in TIMING_COLUMNS} == \
               {k: v for k, v in want.row.items() if k not in TIMING_COLUMNS}


def test_a_task_error_on_ray_reaches_the_driver_as_the_project_error(ray_instance):
    from evaluation.runner import EpisodeBatch as Batch
    from sim.errors import UnknownNameError

    resources = build_resources(["empty"], [], ship_files=True)
    with make_backend("ray") as backend, pytest.raises(UnknownNameError, match="policy"):
        list(backend.run(run_episode_batch, resources, [Batch((EpisodeKey("nonsense", "empty", 0, 0),), 10)]))
    assert isinstance(BackendError("x"), Exception)


def test_ctrl_c_on_a_ray_driver_keeps_what_finished_and_resume_completes_on_local(
        ray_instance, sweep_file, local_reference, tmp_path):
    address = ray_instance.get_runtime_context().gcs_address
    for attempt in range(2):
        out = tmp_path / f"run{attempt}"
        command = [sys.executable, str(ROOT / "run_sim.py"), "--sweep", str(sweep_file), "--out", str(out),
                   "--no-progress"]
        driver = subprocess.Popen([*command, "--backend", "ray", "--ray-address", address], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 180
        while time.time() < deadline and driver.poll() is None:
            if (out / "episodes.csv").exists() and len(read_episodes(out)) >= 2:
                break
            time.sleep(0.02)
        driver.send_signal(signal.SIGINT)
        _, stderr = driver.communicate(timeout=120)
        # Ray 2.60's core worker sometimes aborts on a check while tasks are being cancelled
        # ("An unexpected system state has occurred", exit 1; seen about 1 in 10 under load): a
        # fault of Ray's, retried once; any other outcome is judged below.
        if "An unexpected system state has occurred" not in stderr:
            break
    assert driver.returncode == 130 and "--resume" in stderr and "Traceback" not in stderr, \
        (driver.returncode, stderr[-3000:])
    finished = read_episodes(out)
    assert 2 <= len(finished) < 8, len(finished)
    run(RunConfig.from_sweep(load_sweep(sweep_file), out, resume=True, progress=False))  # local, in process
    assert read_episodes(out)[: len(finished)] == finished, "finished episodes are kept as written"
    assert_complete_without_duplicates(out, local_reference)


def test_a_local_run_resumes_on_ray(ray_instance, sweep_file, local_reference, tmp_path):
    out = tmp_path / "run"
    spec = load_sweep(sweep_file)
    run(RunConfig.from_sweep(spec, out, progress=False))
    rows = read_episodes(out)
    # Keep the first three episodes (and their steps), as an interrupted local run would have.
    kept = {tuple(row[c] for c in KEY_COLUMNS) for row in rows[:3]}
    from evaluation.results_io import filter_csv

    filter_csv(out / "episodes.csv", lambda row: tuple(row[c] for c in KEY_COLUMNS) in kept)
    before = (out / "episodes.csv").read_text()
    run(RunConfig.from_sweep(spec, out, backend="ray", resume=True, progress=False))
    assert (out / "episodes.csv").read_text().startswith(before)
    assert_complete_without_duplicates(out, local_reference)

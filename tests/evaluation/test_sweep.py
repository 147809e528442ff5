"""Sweep files: parsing, deterministic expansion into episode keys, bad files, runs and resume on local backends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.config import RunConfig
from evaluation.runner import run
from evaluation.schema import KEY_COLUMNS, TIMING_COLUMNS, read_episodes, read_steps
from evaluation.sweep import EpisodeKey, SweepGrid, load_sweep, sweep_from_dict
from sim.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[2]

SMALL_SWEEP = """
name = "small"
max_steps = 150

[[grid]]
scenarios = ["empty", "single"]
policies = ["analytic"]
seeds = [0, 50]
episodes = 2
"""


def write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def values(folder: Path) -> dict[tuple[str, ...], dict[str, str]]:
    """episodes.csv by key, without the timing columns (what two runs of the same keys share)."""
    return {tuple(row[c] for c in KEY_COLUMNS): {k: v for k, v in row.items() if k not in TIMING_COLUMNS}
            for row in read_episodes(folder)}


def test_a_grid_expands_seed_then_episode_then_scenario_then_policy():
    grid = SweepGrid(("empty", "single"), ("analytic", "analytic+safe"), (0, 10), 2)
    keys = grid.keys()
    assert len(keys) == 16 == len(set(keys))
    assert keys[:5] == [EpisodeKey("analytic", "empty", 0, 0), EpisodeKey("analytic+safe", "empty", 0, 0),
                        EpisodeKey("analytic", "single", 0, 0), EpisodeKey("analytic+safe", "single", 0, 0),
                        EpisodeKey("analytic", "empty", 0, 1)]
    assert keys[-1] == EpisodeKey("analytic+safe", "single", 10, 1)
    assert EpisodeKey("a", "b", 3, 4).as_strings() == ("a", "b", "3", "4")


def test_a_file_expands_to_one_deterministic_list_with_checkpoint_sets(tmp_path):
    path = write(tmp_path, """
[checkpoints]
improved = ["runs/a.pt", "runs/b.pt"]

[[grid]]
scenarios = ["empty"]
policies = ["analytic", "iknet:{improved}+safe"]
seeds = [0]
episodes = 2

[[grid]]  # overlaps the first grid in (analytic, empty, 0, 0..1) and adds episodes 2..3 and a scenario
scenarios = ["empty", "single"]
policies = ["analytic"]
seeds = [0]
episodes = 4
""")
    spec = load_sweep(path)
    assert spec.name == "sweep" and spec.max_steps is None and spec.source == str(path)
    a, b = tmp_path / "runs" / "a.pt", tmp_path / "runs" / "b.pt"  # relative to the sweep file's folder
    assert spec.grids[0].policies == ("analytic", f"iknet:{a}+safe", f"iknet:{b}+safe")
    keys = spec.keys()
    assert keys == load_sweep(path).keys(), "the same file gives the same list"
    assert len(keys) == len(set(keys)) == 2 * 3 + (4 * 2 - 2)
    assert keys[:3] == [EpisodeKey(p, "empty", 0, 0) for p in ("analytic", f"iknet:{a}+safe", f"iknet:{b}+safe")]
    assert spec.scenarios() == ("empty", "single") and spec.seeds() == (0,)
    assert spec.to_json()["checkpoints"] == {"improved": [str(a), str(b)]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[grid]]\nscenarios = ['empty']\npolicies = ['analytic']\nseeds = [0]\n", "missing episodes"),
        ("[[grid]]\nscenarios = ['empty']\npolicies = ['analytic']\nseeds = [0]\nepisodes = 0\n", "episodes"),
        ("[[grid]]\nscenarios = []\npolicies = ['analytic']\nseeds = [0]\nepisodes = 1\n", "scenarios"),
        ("[[grid]]\nscenarios = ['empty']\npolicies = ['analytic']\nseeds = [-1]\nepisodes = 1\n", "seeds"),
        ("[[grid]]\nscenarios = ['empty']\npolicies = ['analytic']\nseeds = [0]\nepisodes = 1\nseed = 3\n",
         "unknown key 'seed'"),
        ("episodes = 3\n", "unknown key 'episodes'"),
        ("name = 'x'\n", "at least one [[grid]]"),
        ("max_steps = 0\n[[grid]]\nscenarios = ['empty']\npolicies = ['a']\nseeds = [0]\nepisodes = 1\n",
         "max_steps"),
        ("[[grid]]\nscenarios = ['empty']\npolicies = ['iknet:{nets}']\nseeds = [0]\nepisodes = 1\n",
         "unknown checkpoint set 'nets'"),
        ("[[grid]]\nscenarios = ['empty']\npolicies = ['analytic']\nseeds = [0, 3]\nepisodes = 5\n", "share scenes"),
        ("[[grid]\n", "not valid TOML"),
    ],
)
def test_a_malformed_file_names_the_file_and_the_field(tmp_path, text, message):
    path = write(tmp_path, text, "bad.toml")
    with pytest.raises(InvalidInputError, match="bad.toml") as error:
        load_sweep(path)
    assert message in str(error.value)


def test_a_missing_file_and_unknown_names_are_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="not found"):
        load_sweep(tmp_path / "none.toml")
    spec = sweep_from_dict({"grid": [{"scenarios": ["clutterd"], "policies": ["analytic"], "seeds": [0],
                                      "episodes": 1}]})
    with pytest.raises(Exception, match="cluttered"):
        spec.validate_names()


def test_a_sweep_config_refuses_videos_and_a_second_max_steps(tmp_path):
    spec = sweep_from_dict({"max_steps": 40, "grid": [{"scenarios": ["empty"], "policies": ["analytic"],
                                                       "seeds": [0], "episodes": 1}]})
    config = RunConfig.from_sweep(spec, tmp_path)
    assert config.max_steps == 40 and config.episode_keys() == spec.keys()
    assert config.to_json()["sweep"]["grids"][0]["episodes"] == 1
    with pytest.raises(InvalidInputError, match="sweep"):
        RunConfig("empty", ("analytic",), 1, 0, tmp_path, max_steps=40, video=True, sweep=spec)
    with pytest.raises(InvalidInputError, match="max_steps"):
        RunConfig("empty", ("analytic",), 1, 0, tmp_path, max_steps=41, sweep=spec)
    with pytest.raises(InvalidInputError, match="--ray-address needs --backend ray"):
        RunConfig("empty", ("analytic",), 1, 0, tmp_path, ray_address="auto")
    with pytest.raises(InvalidInputError, match="ray-address"):
        RunConfig("empty", ("analytic",), 1, 0, tmp_path, backend="ray", ray_address="http://x")


def test_the_same_sweep_in_process_and_on_a_process_pool_gives_the_same_values(tmp_path):
    spec = load_sweep(write(tmp_path, SMALL_SWEEP))
    run(RunConfig.from_sweep(spec, tmp_path / "serial", progress=False))
    run(RunConfig.from_sweep(spec, tmp_path / "pool", workers=2, episodes_per_task=2, progress=False))
    serial = values(tmp_path / "serial")
    assert set(serial) == {key.as_strings() for key in spec.keys()}
    assert values(tmp_path / "pool") == serial
    for folder in ("serial", "pool"):
        steps = read_steps(tmp_path / folder)
        rows = read_episodes(tmp_path / folder)
        assert len(steps) == sum(int(row["steps"]) for row in rows)
        assert {tuple(s[c] for c in KEY_COLUMNS) for s in steps} == set(serial), "steps carry the whole key"


def test_resume_runs_only_the_keys_a_grown_sweep_adds(tmp_path):
    small = load_sweep(write(tmp_path, SMALL_SWEEP))
    out = tmp_path / "run"
    run(RunConfig.from_sweep(small, out, progress=False))
    before = (out / "episodes.csv").read_text()
    grown = load_sweep(write(tmp_path, SMALL_SWEEP.replace("episodes = 2", "episodes = 3"), "grown.toml"))
    with pytest.raises(InvalidInputError, match="--resume"):
        run(RunConfig.from_sweep(grown, out, progress=False))
    run(RunConfig.from_sweep(grown, out, resume=True, progress=False))
    after = (out / "episodes.csv").read_text()
    assert after.startswith(before), "finished rows are kept as written"
    keys = [tuple(row[c] for c in KEY_COLUMNS) for row in read_episodes(out)]
    assert len(keys) == len(set(keys)) == len(grown.keys()) == 12
    single = RunConfig("empty", ("analytic",), 1, 0, out, resume=True, progress=False)
    with pytest.raises(InvalidInputError, match="holds a sweep"):
        run(single)


def test_run_sim_sweep_end_to_end(tmp_path):
    path = write(tmp_path, SMALL_SWEEP.replace("seeds = [0, 50]", "seeds = [7]"))
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "run_sim.py"), "--sweep", str(path), "--out", str(out), "--no-progress"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sweep small" in result.stdout and "scenario single" in result.stdout
    assert len(read_episodes(out)) == 4 and (out / "report.html").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--episodes", "3"], "--episodes cannot be combined with --sweep"),
        (["--models", "analytic"], "--models cannot be combined with --sweep"),
        (["--video"], "not a sweep"),
        (["--ray-address", "auto"], "--ray-address needs --backend ray"),
        (["--backend", "ray", "--ray-address", "localhost"], "--ray-address must be"),
    ],
)
def test_run_sim_refuses_options_a_sweep_replaces_in_one_line(tmp_path, monkeypatch, capsys, extra, message):
    import runpy

    path = write(tmp_path, SMALL_SWEEP)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["run_sim.py", "--sweep", str(path), "--out", str(tmp_path / "out"), *extra])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "run_sim.py"), run_name="__main__")
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_paths_in_a_sweep_file_are_relative_to_its_folder_not_the_working_directory(tmp_path, monkeypatch):
    import shutil

    import assets

    sweeps = tmp_path / "project" / "sweeps"
    (sweeps / "nets").mkdir(parents=True)
    shutil.copyfile(ROOT / "scenarios" / "examples" / "desk_clutter.toml", sweeps / "desk.toml")
    shutil.copyfile(assets.checkpoint_path("improved"), sweeps / "nets" / "improved.pt")
    absolute_net = tmp_path / "elsewhere.pt"
    shutil.copyfile(assets.checkpoint_path("improved"), absolute_net)
    write(sweeps, f"""
max_steps = 3
[checkpoints]
mine = ["nets/improved.pt", "{absolute_net}"]
[[grid]]
scenarios = ["empty", "desk.toml"]
policies = ["analytic", "iknet:{{mine}}", "iknet:nets/improved.pt+safe"]
seeds = [0]
episodes = 1
""")
    monkeypatch.chdir(tmp_path)  # neither desk.toml nor nets/ is here
    spec = load_sweep(Path("project/sweeps/sweep.toml"))
    assert spec.scenarios() == ("empty", "project/sweeps/desk.toml")
    assert spec.policies() == ("analytic", "iknet:project/sweeps/nets/improved.pt", f"iknet:{absolute_net}",
                               "iknet:project/sweeps/nets/improved.pt+safe")
    spec.validate_names()
    run(RunConfig.from_sweep(spec, tmp_path / "out", progress=False))
    assert {key.as_strings() for key in spec.keys()} == {tuple(row[c] for c in KEY_COLUMNS)
                                                         for row in read_episodes(tmp_path / "out")}
    monkeypatch.chdir(sweeps)  # a sweep file in the working directory keeps its paths as written
    same_folder = load_sweep("sweep.toml")
    assert same_folder.scenarios() == ("empty", "desk.toml") and "iknet:nets/improved.pt+safe" in same_folder.policies()
    unknown = load_sweep(write(sweeps, SMALL_SWEEP.replace('"single"', '"clutterd"'), "typo.toml"))
    assert "clutterd" in unknown.scenarios(), "a name that is no file stays a name (and is refused with choices)"

"""What a run checks before it writes, whichever way it starts (the leftovers of issues 16 and 17).

- The library entry (:func:`evaluation.runner.run`) refuses the results folders ``run_sim.py``
  refuses: a file, a folder of someone else's files, a run of another kind; nothing is written.
- ``--resume`` refuses a run whose scenario file was edited since the run began (the resolved
  spec's digest is saved in ``run.json``), naming the scenario; restoring the file resumes.
- :class:`~evaluation.config.RunConfig` bounds every count the way ``run_sim.py`` does.
- ``--episodes-per-task`` and ``--max-retries``: validated, refused where they mean nothing.
"""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path

import pytest

from evaluation.config import MAX_EPISODES, MAX_RETRIES, MAX_SEED, MAX_WORKERS, RunConfig
from evaluation.runner import run
from evaluation.schema import RUN_FILE, read_episodes
from evaluation.sweep import load_sweep
from sim.errors import MAX_MESSAGE_CHARS, InvalidInputError, OutputFolderError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SCENE = ROOT / "scenarios" / "examples" / "desk_clutter.toml"


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def quick(out: Path, **changes) -> RunConfig:
    options = {"scenario": "empty", "policies": ("analytic",), "episodes": 1, "seed": 0, "out_dir": out,
               "max_steps": 3, "progress": False, **changes}
    return RunConfig(**options)



def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, stderr
    assert len(lines[0]) <= MAX_MESSAGE_CHARS + 40, lines[0]
    return lines[0]


# ----------------------------------------------------------------- 1. the library checks folders too
def test_the_library_refuses_the_folders_the_cli_refuses_and_writes_nothing(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("mine")
    with pytest.raises(OutputFolderError, match="not a folder"):
        run(quick(blocker))
    assert blocker.read_text() == "mine"

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("my notes")
    (foreign / "report.html").write_text("<html>my own report</html>")  # a name this project writes too
    before = tree(foreign)
    for resume in (False, True):
        with pytest.raises(OutputFolderError, match="did not write|no run"):
            run(quick(foreign, resume=resume))
        assert tree(foreign) == before, "nothing written, nothing changed, no run.json"

    out = tmp_path / "run"
    run(quick(out))
    (out / "notes.txt").write_text("my notes")
    before = tree(out)
    with pytest.raises(OutputFolderError, match="notes.txt"):
        run(quick(out, resume=True))
    assert tree(out) == before


def test_the_library_resumes_only_the_same_scenario_seed_and_steps_and_may_start_a_missing_folder(tmp_path):
    out = tmp_path / "run"
    run(quick(out, resume=True))  # the study resumes every folder: a missing one starts
    assert len(read_episodes(out)) == 1
    before = tree(out)
    for change in ({"seed": 5}, {"scenario": "single"}, {"max_steps": 4}):
        with pytest.raises(OutputFolderError, match=f"cannot resume: {next(iter(change))}"):
            run(quick(out, resume=True, **change))
        assert tree(out) == before
    run(quick(out, resume=True, episodes=2))  # a longer run of the same episodes (keys name the episode)
    assert len(read_episodes(out)) == 2


# ------------------------------------------------------------ 2. resume notices an edited scenario
def edit(scene: Path) -> None:
    text = scene.read_text()
    assert "radius_m = [0.12, 0.36]" in text
    scene.write_text(text.replace("radius_m = [0.12, 0.36]", "radius_m = [0.12, 0.35]"))


def test_resume_refuses_an_edited_scenario_file_and_resumes_once_it_is_restored(cli, tmp_path):
    scene = tmp_path / "desk.toml"
    shutil.copyfile(EXAMPLE_SCENE, scene)
    out = tmp_path / "run"
    quick_args = ("--scenario", str(scene), "--models", "analytic", "--max-steps", "3", "--out", str(out))
    status, _, stderr = cli(*quick_args, "--episodes", "1")
    assert status == 0, stderr[-500:]
    assert "scenario_digests" in json.loads((out / RUN_FILE).read_text())
    original = scene.read_text()
    edit(scene)
    before = tree(out)
    status, _, stderr = cli(*quick_args, "--episodes", "1", "--resume")
    line = one_error_line(stderr)
    assert status == 2 and "changed" in line and str(scene) in line and "--out" in line, line
    assert tree(out) == before
    with pytest.raises(OutputFolderError, match="changed"):  # the library path refuses it as well
        run(RunConfig(str(scene), ("analytic",), 1, 0, out, max_steps=3, resume=True, progress=False))
    assert tree(out) == before
    # The original file back (with a new comment and description: labels, no part of a scene): resumes.
    assert 'description = "Boxes' in original
    scene.write_text("# my comment\n" + original.replace('description = "Boxes', 'description = "My boxes'))
    status, _, stderr = cli(*quick_args, "--episodes", "1", "--resume")
    assert status == 0, stderr[-500:]


def test_a_sweep_resume_refuses_an_edited_scenario_file(tmp_path):
    scene = tmp_path / "desk.toml"
    shutil.copyfile(EXAMPLE_SCENE, scene)
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text('max_steps = 3\n[[grid]]\nscenarios = ["empty", "desk.toml"]\npolicies = ["analytic"]\n'
                          "seeds = [0]\nepisodes = 1\n")
    out = tmp_path / "run"
    run(RunConfig.from_sweep(load_sweep(sweep_file), out, progress=False))
    edit(scene)
    before = tree(out)
    with pytest.raises(OutputFolderError, match="desk.toml.* changed"):
        run(RunConfig.from_sweep(load_sweep(sweep_file), out, resume=True, progress=False))
    assert tree(out) == before


def test_a_run_json_without_digests_still_resumes(tmp_path):
    """Folders written before the digests existed resume as before."""
    out = tmp_path / "run"
    run(quick(out))
    data = json.loads((out / RUN_FILE).read_text())
    del data["scenario_digests"]
    (out / RUN_FILE).write_text(json.dumps(data))
    run(quick(out, resume=True, episodes=2))
    assert len(read_episodes(out)) == 2


# ------------------------------------------------------------------ 3. the library's counts are bounded
@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("episodes", 10**12, f"[1, {MAX_EPISODES}]"),
        ("workers", 10**6, f"[1, {MAX_WORKERS}]"),
        ("max_steps", 10**9, "max_steps"),
        ("seed", -1, f"[0, {MAX_SEED}]"),
        ("seed", 2**40, f"[0, {MAX_SEED}]"),
        ("seed", "0", "seed"),
        ("seed", True, "seed"),
        ("video_episodes", 10**9, "video_episodes"),
        ("episodes_per_task", 10**9, "episodes_per_task"),
        ("max_retries", 10**6, f"[0, {MAX_RETRIES}]"),
        ("max_retries", -1, "max_retries"),
    ],
)
def test_run_config_bounds_every_count_like_the_cli(tmp_path, field, value, fragment):
    with pytest.raises(InvalidInputError) as caught:
        quick(tmp_path / "never", **{field: value})
    message = str(caught.value)
    assert field in message and fragment in message and "\n" not in message, message
    assert not (tmp_path / "never").exists()


def test_sweep_files_are_bounded_like_the_cli(tmp_path):
    cases = [
        ("seeds = [4294967296]\nepisodes = 1", "seeds"),
        ("seeds = [0]\nepisodes = 1000000000000", "episodes"),
        (f"seeds = {list(range(0, 20_000_000, 100_000))}\nepisodes = 100000", "episodes in all"),
    ]
    for grid, fragment in cases:
        path = tmp_path / "big.toml"
        path.write_text(f'[[grid]]\nscenarios = ["empty"]\npolicies = ["analytic"]\n{grid}\n')
        with pytest.raises(InvalidInputError, match="big.toml") as caught:
            load_sweep(path)
        assert fragment in str(caught.value), str(caught.value)
    path.write_text('max_steps = 1000000000\n[[grid]]\nscenarios = ["empty"]\npolicies = ["analytic"]\n'
                    "seeds = [0]\nepisodes = 1\n")
    with pytest.raises(InvalidInputError, match="max_steps"):
        load_sweep(path)


# ------------------------------------------------------- 4. --episodes-per-task and --max-retries
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--backend", "ray", "--episodes-per-task", "0"], "--episodes-per-task"),
        (["--backend", "ray", "--episodes-per-task", "abc"], "--episodes-per-task"),
        (["--backend", "ray", "--episodes-per-task", str(10**9)], "--episodes-per-task"),
        (["--backend", "ray", "--max-retries", "-1"], "--max-retries"),
        (["--backend", "ray", "--max-retries", str(10**6)], "--max-retries"),
        (["--max-retries", "2"], "--backend ray"),
        (["--workers", "2", "--max-retries", "2"], "--backend ray"),
        (["--episodes-per-task", "4"], "--workers"),
    ],
)
def test_task_options_refuse_bad_values_and_meaningless_combinations(cli, tmp_path, argv, fragment):
    status, _, stderr = cli("--models", "analytic", "--episodes", "1", *argv, "--out", str(tmp_path / "never"))
    assert status == 2 and fragment in one_error_line(stderr), stderr[-300:]
    assert not (tmp_path / "never").exists()


def test_task_options_reach_the_run_config():
    namespace = runpy.run_path(str(ROOT / "run_sim.py"), run_name="run_sim_under_test")
    parser = namespace["build_parser"]()
    help_text = parser.format_help()
    for flag in ("--episodes-per-task", "--max-retries"):
        assert flag in help_text
    parse = namespace["parse_config"]
    config = parse(parser, ["--backend", "ray", "--episodes-per-task", "4", "--max-retries", "0", "--out", "x"])
    assert (config.episodes_per_task, config.max_retries) == (4, 0)
    config = parse(parser, ["--workers", "2", "--episodes-per-task", "3", "--out", "x"])
    assert (config.backend, config.episodes_per_task) == ("local", 3)
    config = parse(parser, ["--out", "x"])
    assert (config.episodes_per_task, config.max_retries) == (1, 3)


def test_help_explains_every_flag_and_states_the_bounds():
    namespace = runpy.run_path(str(ROOT / "run_sim.py"), run_name="run_sim_under_test")
    parser = namespace["build_parser"]()
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help and len(action.help) >= 30, action.option_strings
    help_text = " ".join(parser.format_help().split())
    for bound in (f"[1, {MAX_EPISODES}]", f"[1, {MAX_WORKERS}]", f"[0, {MAX_SEED}]", "relative to its folder",
                  "scenario file changed", "exit status"):
        assert bound in help_text, bound


def test_a_library_start_that_fails_before_its_first_episode_leaves_no_run_behind(tmp_path):
    crowded = tmp_path / "crowded.toml"  # valid file, but more obstacles than the env takes: fails at episode 0
    crowded.write_text('name = "crowded"\nclearance_margin_m = 0.0\n[[obstacles]]\nkinds = ["sphere"]\n'
                       'count = [9, 9]\nradius_m = [0.005, 0.006]\nplacement = "uniform"\n')
    out = tmp_path / "run"
    with pytest.raises(InvalidInputError, match="max_obstacles"):
        run(quick(out, scenario=str(crowded)))
    assert not out.exists(), "the failed start took back its folder and run.json"
    out.mkdir()
    with pytest.raises(InvalidInputError, match="max_obstacles"):
        run(quick(out, scenario=str(crowded)))
    assert out.is_dir() and not any(out.iterdir()), "a folder it did not make stays, emptied of what it wrote"
    run(quick(out))  # the same folder takes a new run
    assert len(read_episodes(out)) == 1

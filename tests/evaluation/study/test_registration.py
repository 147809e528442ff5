"""Registration that the history proves (issue #24), on a real git repository made in the test."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest

from evaluation.study.registration import (
    STUDY_START_FILE,
    check_started_after_registration,
    registration_of,
    write_study_start,
)

ROOT = Path(__file__).resolve().parents[3]


def git(repo: Path, *args: str, when: str = "2026-12-01T10:00:00+00:00") -> str:
    environment = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "t",
                   "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
                   "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=environment).stdout


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "studies").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "README.md").write_text("x\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "start", when="2026-11-30T10:00:00+00:00")
    return repo


def register(repo: Path, name: str, *, with_results: bool = False, when: str = "2026-12-01T10:00:00+00:00") -> Path:
    design = repo / "studies" / name
    design.write_text("[study]\nname = 'x'\n")
    git(repo, "add", str(design))
    if with_results:
        (repo / "results").mkdir(exist_ok=True)
        (repo / "results" / "episodes.csv").write_text("a\n1\n")
        git(repo, "add", "results/episodes.csv")
    git(repo, "commit", "-q", "-m", "register", when=when)
    return design


def test_a_run_after_a_clean_registration_passes(repo, tmp_path):
    design = register(repo, "claims.toml")
    registration = registration_of(design, repo)
    assert registration is not None and registration.carries_results == ()
    assert registration.committed_utc == "2026-12-01T10:00:00+00:00"
    out = tmp_path / "run"
    out.mkdir()
    record = write_study_start(out, design, repo, now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    assert json.loads((out / STUDY_START_FILE).read_text()) == record
    assert check_started_after_registration(record) == []
    # a resumed run keeps the first start
    again = write_study_start(out, design, repo, now=dt.datetime(2026, 12, 5, tzinfo=dt.UTC))
    assert again["started_utc"] == record["started_utc"]


def test_a_run_that_began_before_its_registration_fails(repo, tmp_path):
    design = register(repo, "claims.toml", when="2026-12-03T10:00:00+00:00")
    record = write_study_start(tmp_path, design, repo, now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    problems = check_started_after_registration(record)
    assert len(problems) == 1 and "before its registration commit" in problems[0]


def test_a_registration_that_carries_results_or_a_changed_design_fails(repo, tmp_path):
    design = register(repo, "claims.toml", with_results=True)
    design.write_text("[study]\nname = 'changed after registration'\n")
    record = write_study_start(tmp_path, design, repo, now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    problems = " ".join(check_started_after_registration(record))
    assert "carried results: results/episodes.csv" in problems
    assert "differs from the registered one" in problems


def test_an_uncommitted_design_is_exploratory(repo, tmp_path):
    design = repo / "studies" / "draft.toml"
    design.write_text("[study]\n")
    assert registration_of(design, repo) is None
    record = write_study_start(tmp_path, design, repo)
    assert record["registration"] is None
    assert "exploratory" in check_started_after_registration(record)[0]


def test_every_committed_study_results_folder_began_after_its_registration():
    """The suite's check of the repository itself: any committed study.json passes."""
    records = sorted(ROOT.glob(f"docs/**/{STUDY_START_FILE}"))
    for path in records:
        assert check_started_after_registration(json.loads(path.read_text())) == [], path


def test_a_design_that_pins_its_registry_reports_a_changed_registry_as_a_deviation(tmp_path):
    """The registered v2 design pins the paper-claims registry by SHA-256: today's registry is the pinned
    one or its deviations file lists the change; a registry edited after registration is reported."""
    import dataclasses

    from evaluation.study.analysis import read_deviations
    from evaluation.study.design import load_design, registry_problem

    design_path = Path(__file__).resolve().parents[3] / "studies" / "paper_claims_v2.toml"
    design = load_design(design_path)
    assert design.registry_sha256, "the v2 design must pin its registry"
    problem = registry_problem(design)
    assert problem is None or problem in (read_deviations(design_path) or "")
    changed = registry_problem(dataclasses.replace(design, registry_sha256="0" * 64))
    assert changed is not None and "has changed since the design pinned it" in changed
    missing = registry_problem(dataclasses.replace(design, registry="studies/no_such_registry.toml"))
    assert missing is not None and "cannot be read" in missing

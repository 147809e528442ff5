"""The study command end to end on the shipped design's [small] configuration, and its input checks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evaluation.study.cli import main
from evaluation.study.design import load_design
from sim.errors import InvalidInputError

DESIGN = Path(__file__).resolve().parents[3] / "studies" / "claims.toml"


def test_shipped_design_states_its_outcomes_and_variants():
    design = load_design(DESIGN)
    assert design.primary_outcome == "min_clearance_mm"
    assert set(design.secondary_outcomes) == {"target_error_mm", "collided", "jerk"}
    assert {"dynamic", "benchmark"} <= {plan.name for plan in design.scenarios}
    assert {"original", "improved", "improved_noresidual", "focused"} <= {v.name for v in design.variants}
    assert len([v for v in design.variants if v.balance_weight > 0]) >= 3
    assert len(design.training.seeds) >= 2 and design.correction == "holm"


def test_study_runs_end_to_end_small(small_study, capsys):
    out = small_study  # the [small] configuration run by the fixture on the local backend
    folder = out / "study"
    for name in ("claims.md", "claims.csv", "variants.csv", "comparisons.csv", "pareto.csv", "networks.csv",
                 "pareto.png", "variants.png", "balance_vs_clearance.png", "intervention.png"):
        assert (folder / name).is_file(), name
    episodes = pd.read_csv(folder / "episodes.csv.gz")
    small = load_design(DESIGN, small=True)
    raw = episodes[episodes["kind"] == "raw"]
    assert raw["network"].nunique() == len(small.variants) * 2
    assert set(raw["scenario"]) == {plan.name for plan in small.scenarios}
    # Every raw network saw the same scenes (paired design).
    assert raw.groupby("network")["scene"].apply(frozenset).nunique() == 1
    claims = pd.read_csv(folder / "claims.csv")
    assert set(claims["verdict"]) <= {"holds", "does not hold", "inconclusive"}
    assert (claims["p_adjusted"].dropna() >= claims.loc[claims["p_adjusted"].notna(), "p_value"] - 1e-12).all()
    text = (folder / "claims.md").read_text()
    assert "Original IKNet is orientation-heavy" in text and "Holm" in text and "2.8651" in text
    # The paper-claims registry answered too (issue #24): one row per statement, the run's start recorded.
    from evaluation.study.paper_claims import load_paper_claims

    registry = load_paper_claims()
    answered = pd.read_csv(folder / "paper_claims.csv")
    assert list(answered["id"]) == [claim.id for claim in registry.claims]
    start = json.loads((out / "study.json").read_text())
    commit = start["registration"]["commit"]  # studies/claims.toml is committed: its registration is cited
    assert f"Registration: commit {commit} (" in (folder / "paper_claims.md").read_text()
    # A second call without --resume refuses; with --resume it reuses networks and episodes.
    assert main([str(DESIGN), "--small", "--out", str(out), "--no-progress"]) == 2
    assert "already holds a study" in capsys.readouterr().err
    before = len(episodes)
    assert main([str(DESIGN), "--small", "--out", str(out), "--no-progress", "--resume"]) == 0
    assert len(pd.read_csv(folder / "episodes.csv.gz")) == before


@pytest.mark.parametrize(("text", "message"), [
    ("[outcomes]\nprimary = 'speed'\n", "missing entry"),
    ("not toml = = 1", "not valid TOML"),
])
def test_bad_designs_fail_with_one_line(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=message):
        load_design(path)


def test_unknown_outcome_is_named(tmp_path):
    text = DESIGN.read_text().replace('primary = "min_clearance_mm"', 'primary = "speed"')
    path = tmp_path / "design.toml"
    path.write_text(text)
    with pytest.raises(Exception, match="speed"):
        load_design(path)
    assert main([str(path), "--out", str(tmp_path / "o")]) == 2

"""Known-answer tests of the v2 claims analysis (issue #24) on synthetic, seeded study tables.

The tables are built here in the layout the study writes: an episode table (one row per network,
scene and policy kind, :func:`evaluation.study.episodes.collect`'s columns) and a network table of
:class:`~evaluation.study.networks.NetworkBalance` rows. Effects are planted in them (a balance to
clearance slope, a Focused-Improved held-out error gap, a flat held-out error) and the analysis
must find them through the registry's tests. No training, no simulation: the file runs in seconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.study.claims_v2 import ClaimResult, analyse, claims_markdown, variant_mean
from evaluation.study.networks import NetworkBalance, joint34_facts
from evaluation.study.paper_claims import PaperClaims, load_paper_claims
from sim.errors import InvalidInputError

VARIANTS = ("original", "improved", "improved_noresidual", "focused", "balanced_w1", "balanced_w3")
SEEDS = 5
SCENES = 12  # per scenario (cluttered and dynamic)
REGISTRY = load_paper_claims()


def study_tables(seed: int = 0, *, clearance_slope_mm: float = 3.0, heldout_slope_mm: float = 0.0,
                 heldout_mm: dict[str, float] | None = None, heldout_noise_mm: float = 0.05,
                 clearance_base_mm: float = 5.4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(episodes, networks) with planted effects.

    Each network's balance is drawn around its variant's level (the regularised variants higher);
    CAD minimum clearance = base + ``clearance_slope_mm`` x (balance in SDs of the networks' balance)
    + scene + network + residual noise; held-out error = the variant's level (``heldout_mm``) +
    ``heldout_slope_mm`` x balance in SDs + noise. Safety-layered rows ("safe") carry +50 mm of
    clearance under the same network names: the analysis must leave them out.
    """
    rng = np.random.default_rng(seed)
    levels = {"original": 0.55, "improved": 0.62, "improved_noresidual": 0.60, "focused": 0.64,
              "balanced_w1": 0.67, "balanced_w3": 0.70}
    errors = {"original": 3.4, "improved": 2.87, "improved_noresidual": 3.3, "focused": 2.87, "balanced_w1": 3.0,
              "balanced_w3": 3.1} | (heldout_mm or {})
    networks = [(variant, s) for variant in VARIANTS for s in range(SEEDS)]
    balance = np.array([levels[variant] + rng.normal(0, 0.03) for variant, _ in networks])
    z = (balance - balance.mean()) / balance.std(ddof=1)
    rows = []
    for (variant, s), b, zb in zip(networks, balance, z, strict=True):
        importance = rng.uniform(0.05, 0.3, (7, 4))
        if variant == "original":  # qz carries ~0.6 of joints 3-4's attribution, ~0.2 rad each
            importance[:, 2:] = 0.2 / 6 * 0.4 / 0.6 * rng.uniform(0.97, 1.03, (7, 2))
            importance[5, 2:] = 0.2 * rng.uniform(0.99, 1.01, 2)
        facts = joint34_facts(importance)
        rows.append(NetworkBalance(
            network=f"{variant}-s{s}", variant=variant, seed=s, entropy_joint_mean=float(b), entropy_overall=float(b),
            orientation_share_overall=0.5, qz_share_joint3=0.1, qz_share_joint4=0.1, orientation_share_joint3=0.5,
            orientation_share_joint4=0.5,
            position_error_mm_median=float(errors[variant] + heldout_slope_mm * zb + rng.normal(0, heldout_noise_mm)),
            **facts, parameter_count=12_345 if variant != "original" else 222_222))
    table = pd.DataFrame([asdict(row) for row in rows])
    scene_effect = {f"{scenario}:{k}": rng.normal(0, 2.0)
                    for scenario in ("cluttered", "dynamic") for k in range(SCENES)}
    episodes = []
    for (variant, s), zb in zip(networks, z, strict=True):
        network_effect = rng.normal(0, 0.3)
        for scene, effect in scene_effect.items():
            clearance = clearance_base_mm + clearance_slope_mm * zb + effect + network_effect + rng.normal(0, 0.5)
            common = {"variant": variant, "network": f"{variant}-s{s}", "train_seed": s,
                      "scenario": scene.split(":")[0], "episode": int(scene.split(":")[1]), "scene": scene,
                      "target_error_mm": 3.0, "steps": 100, "jerk": float(np.exp(3 + rng.normal(0, 0.2))),
                      "collided": float(rng.random() < 0.2)}
            episodes.append({**common, "kind": "raw", "policy": f"iknet:{variant}-s{s}", "min_clearance_mm": clearance})
            if variant in ("improved", "focused"):
                episodes.append({**common, "kind": "safe", "policy": f"iknet:{variant}-s{s}+safe",
                                 "min_clearance_mm": clearance + 50.0})
    return pd.DataFrame(episodes), table


def by_id(results: list[ClaimResult]) -> dict[str, ClaimResult]:
    return {result.id: result for result in results}


def test_joint34_facts_from_a_known_importance_table():
    importance = np.ones((7, 4))
    importance[5, 2], importance[5, 3] = 4.0, 2.0  # qz on joints 3 and 4
    importance[2, 0] = 7.0  # z dominates joint 1: 7 of 13
    facts = joint34_facts(importance)
    assert facts["qz_share_j34"] == pytest.approx(6 / 18)
    assert facts["qz_mean_abs_shap_j34_rad"] == pytest.approx(3.0)
    assert facts["orientation_share_j34"] == pytest.approx((6 + 6) / 18)
    assert facts["z_share_j34"] == pytest.approx(2 / 18)
    assert facts["qz_rank_j34"] == 1
    assert facts["concentration"] == pytest.approx((7 / 13 + 1 / 7 + 4 / 10 + 2 / 8) / 4)
    importance[0, 2:] = 10.0  # x now outranks qz on joints 3-4
    assert joint34_facts(importance)["qz_rank_j34"] == 2


def test_planted_balance_clearance_slope_holds_and_opens_the_gate():
    frame, networks = study_tables(0, clearance_slope_mm=3.0)
    results = by_id(analyse(frame, networks, REGISTRY))
    primary = results["balance-clearance"]
    assert primary.family == "primary" and primary.verdict == "holds"
    assert primary.low < 3.0 < primary.high and primary.low > 1.2  # per SD of balance, beyond the margin
    assert primary.p_adjusted == primary.p < 0.05  # tested alone
    secondary = [r for r in results.values() if r.kind == "secondary"]
    assert secondary and {r.family for r in secondary} == {"secondary confirmatory"}
    assert results["regulariser-raises-balance"].family == "manipulation"
    assert math.isnan(results["regulariser-raises-balance"].p_adjusted)
    # Holm within the secondary family only: adjusted >= raw, never above 1.
    for result in secondary:
        if math.isfinite(result.p):
            assert result.p - 1e-12 <= result.p_adjusted <= 1.0


def test_flat_balance_clearance_slope_closes_the_gate():
    frame, networks = study_tables(1, clearance_slope_mm=0.0)
    results = by_id(analyse(frame, networks, REGISTRY))
    primary = results["balance-clearance"]
    assert primary.verdict == "does not hold"  # the whole interval within +-1.2 mm per SD
    assert -1.2 < primary.low and primary.high < 1.2
    assert {r.family for r in results.values() if r.kind == "secondary"} == {"secondary exploratory"}
    assert "exploratory" in results["focused-less-accurate"].what_would_change


def test_planted_focused_improved_heldout_gap_is_found():
    frame, networks = study_tables(2, heldout_mm={"focused": 4.87})  # Focused 2 mm worse than Improved
    found = by_id(analyse(frame, networks, REGISTRY))["focused-less-accurate"]
    assert found.verdict == "holds" and found.low < 2.0 < found.high
    assert found.n.startswith("10 networks") and "focused" in found.n
    frame, networks = study_tables(2, heldout_mm={"focused": 2.87})  # no gap
    assert by_id(analyse(frame, networks, REGISTRY))["focused-less-accurate"].verdict == "does not hold"


def test_flat_heldout_error_slope_shows_accuracy_not_compromised():
    frame, networks = study_tables(3, heldout_mm=dict.fromkeys(VARIANTS, 3.0), heldout_noise_mm=0.05)
    flat = by_id(analyse(frame, networks, REGISTRY))["balance-accuracy-not-compromised"]
    assert flat.verdict == "holds" and -0.5 < flat.low and flat.high < 0.5
    frame, networks = study_tables(3, heldout_mm=dict.fromkeys(VARIANTS, 3.0), heldout_slope_mm=1.0)
    steep = by_id(analyse(frame, networks, REGISTRY))["balance-accuracy-not-compromised"]
    assert steep.verdict == "does not hold" and steep.low > 0.5  # balance costs about 1 mm per SD


def test_every_claim_gets_one_row_and_the_markdown_one_row_per_statement():
    frame, networks = study_tables(4)
    results = analyse(frame, networks, REGISTRY)
    assert [r.id for r in results] == [claim.id for claim in REGISTRY.claims]
    for result, claim in zip(results, REGISTRY.claims, strict=True):
        assert result.lines == claim.lines and result.quotes == claim.quotes and result.what_would_change
        expected = {"primary": {"holds", "does not hold", "inconclusive"}, "descriptive": {"descriptive"},
                    "untestable": {"untestable"}}.get(claim.kind, {"holds", "does not hold", "inconclusive"})
        assert result.verdict in expected
        if claim.kind == "untestable":
            assert claim.why in result.what_would_change
    deviations = ["the replanning fix moved one verdict (before: inconclusive, after: holds)"]
    text = claims_markdown(results, REGISTRY, deviations=deviations)
    section = text.split("## Every statement")[1].split("## The paper's table")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| id ")]
    assert len(rows) == len(REGISTRY.claims)
    for row, claim in zip(rows, REGISTRY.claims, strict=True):
        assert row.startswith(f"| {claim.id} | {', '.join(map(str, claim.lines))} |")
        assert claim.quotes[0].replace("|", "\\|") in row
    assert text.index("## Primary") < text.index("## Every statement") < text.index("## Deviations")
    assert "unregistered" in text.lower() or "registration: none" in text.lower()
    assert text.rstrip().endswith(f"- {deviations[0]}")
    record = {"started_utc": "2026-12-06T10:00:00+00:00",
              "registration": {"commit": "e68cb72" + "0" * 33, "committed_utc": "2026-12-06T09:00:00+00:00"}}
    registered = claims_markdown(results, REGISTRY, registration=record)
    assert re.search(r"Registration: commit e68cb720{33} \(.*\) is this design's registration; the first run "
                     r"started 2026-12-06T10:00:00", registered)


def test_descriptive_readings_say_which_reading_the_interval_contains():
    frame, networks = study_tables(5, clearance_base_mm=5.4)  # improved: 2.87 mm held out, ~5.4 mm clearance
    results = by_id(analyse(frame, networks, REGISTRY, alpha=0.05))
    readings = {r.name: r for r in results["improved-numbers"].readings}
    assert readings["target error in mm"].support == "contains"
    assert readings["target error in cm"].support == "excludes"
    assert readings["minimum clearance in cm"].support == "contains"  # 5.402 mm
    assert readings["minimum clearance in mm"].support == "excludes"
    for reading in readings.values():
        assert (reading.low <= reading.value <= reading.high) == (reading.support == "contains")
    table = claims_markdown(list(results.values()), REGISTRY).split("## The paper's table beside ours")[1]
    assert "| improved-numbers | minimum clearance in cm (mm) | 5.402 |" in table and "contains" in table


def test_qz_readings_each_get_an_equivalence_check():
    frame, networks = study_tables(6)  # original: qz share ~0.6 of joints 3-4, ~0.2 rad, ranked first
    result = by_id(analyse(frame, networks, REGISTRY))["qz-0.6"]
    readings = {r.name: r for r in result.readings}
    assert readings["share"].verdict == "holds" and abs(readings["share"].estimate - 0.6) < 0.02
    assert readings["magnitude"].verdict == "does not hold"  # 0.2 rad is not within 0.1 of 0.6
    assert readings["top-feature"].support == "no interval"  # every network ranks qz first: no spread
    assert result.verdict == "holds" and result.family.startswith("secondary")


def test_safety_layered_rows_are_left_out():
    frame, networks = study_tables(7)
    raw_only = by_id(analyse(frame[frame["kind"] == "raw"], networks, REGISTRY))
    both = by_id(analyse(frame, networks, REGISTRY))
    for claim_id in ("balance-clearance", "focused-wider-clearance"):
        assert both[claim_id].estimate == raw_only[claim_id].estimate


def test_missing_variant_is_inconclusive_not_an_error():
    frame, networks = study_tables(8)
    frame = frame[frame["variant"] != "improved_noresidual"]
    networks = networks[networks["variant"] != "improved_noresidual"]
    results = by_id(analyse(frame, networks, REGISTRY))
    for claim_id in ("residual-avoidance", "residual-training"):
        assert results[claim_id].verdict == "inconclusive"
        assert any("improved_noresidual" in note for note in results[claim_id].notes)


def test_a_network_without_heldout_error_makes_only_its_claims_inconclusive():
    frame, networks = study_tables(12, heldout_mm={"focused": 4.87})
    networks.loc[networks["network"] == "original-s0", "position_error_mm_median"] = math.nan
    results = by_id(analyse(frame, networks, REGISTRY))
    for claim_id in ("improved-optimal", "balance-accuracy-not-compromised", "balance-clearance-at-equal-accuracy"):
        assert results[claim_id].verdict == "inconclusive"
        assert any("finite" in note for note in results[claim_id].notes)
    assert results["focused-less-accurate"].verdict == "holds"  # its networks are all measured
    assert results["balance-clearance"].verdict == "holds"


def test_variant_mean_interval_covers_a_planted_mean():
    rng = np.random.default_rng(9)
    y = 4.0 + rng.normal(0, 0.5, (5, 1)) + rng.normal(0, 1.0, (1, 30)) + rng.normal(0, 0.3, (5, 30))
    result = variant_mean(y)
    assert result.low < 4.0 < result.high and result.estimate == pytest.approx(y.mean())


@pytest.mark.parametrize(("change", "message"), [
    (lambda frame, table: (frame.drop(columns="scene"), table), "frame: missing column 'scene'"),
    (lambda frame, table: (frame, table.drop(columns="qz_rank_j34")), "missing column 'qz_rank_j34'"),
    (lambda frame, table: (frame, pd.concat([table, table.head(1)])), "a network appears twice"),
    (lambda frame, table: (frame.to_dict(), table), "frame: expected a pandas DataFrame"),
])
def test_bad_tables_are_refused_in_one_line(change, message):
    frame, table = change(*study_tables(10))
    with pytest.raises(InvalidInputError, match=re.escape(message)) as caught:
        analyse(frame, table, REGISTRY)
    assert "\n" not in str(caught.value)


def test_a_registry_claim_without_an_analysis_is_refused():
    claim = replace(REGISTRY.claims[1], id="new-claim")
    registry = PaperClaims(REGISTRY.paper, REGISTRY.arxiv, (*REGISTRY.claims, claim))
    frame, table = study_tables(11)
    with pytest.raises(InvalidInputError, match="new-claim"):
        analyse(frame, table, registry)
    with pytest.raises(InvalidInputError, match="alpha"):
        analyse(frame, table, REGISTRY, alpha=1.5)


def test_analyse_on_the_small_study(small_study: Path):
    """The real [small] study's tables (written by the shared session fixture) go through v2 end to end."""
    folder = small_study / "study"
    frame, networks = pd.read_csv(folder / "episodes.csv.gz"), pd.read_csv(folder / "networks.csv")
    assert (networks["parameter_count"] > 0).all() and networks["qz_rank_j34"].between(1, 7).all()
    assert ((networks["qz_share_j34"] >= 0) & (networks["qz_share_j34"] <= 1)).all()
    results = analyse(frame, networks, REGISTRY)
    assert [r.id for r in results] == [claim.id for claim in REGISTRY.claims]
    residual = by_id(results)["residual-avoidance"]  # the small design has no improved_noresidual
    assert residual.verdict == "inconclusive"
    assert "## Deviations" in claims_markdown(results, REGISTRY)


def test_training_section_counts_converged_networks_and_says_whether_the_intervention_matched_accuracy():
    from evaluation.study.claims_v2 import training_markdown

    rows = []
    for variant, error, shift in (("improved", 2.9, 0.0), ("balanced_w3", 3.5, 0.05), ("original", 1.3, -0.02)):
        for seed in range(5):
            rows.append({"network": f"{variant}-s{seed}", "variant": variant, "seed": seed,
                         "entropy_joint_mean": 0.7 + shift + 0.004 * seed,
                         "position_error_mm_median": error + 0.02 * seed,
                         "epochs_run": 50 + seed, "best_epoch": 45 + seed, "converged": seed != 2})
    text = training_markdown(pd.DataFrame(rows))
    assert "**12 of 15 networks met it.**" in text
    assert "Not converged: improved-s2, balanced_w3-s2, original-s2." in text
    row = [line for line in text.splitlines() if line.startswith("| balanced_w3 |")][-1]  # the intervention table
    assert "0.6 [" in row and "no: the interval reaches beyond +-0.5 mm" in row  # +0.6 mm: accuracy not matched
    assert "no convergence verdicts" in training_markdown(pd.DataFrame(rows).drop(columns=["converged"]))


def test_the_registered_sensitivity_reads_the_claims_again_without_unconverged_networks():
    """A network that did not converge is dropped with its episodes and every tested claim is answered
    again; the table shows both verdicts and flags a moved one."""
    from evaluation.study.claims_v2 import converged_networks, sensitivity_markdown

    frame, networks = study_tables(3)
    networks["converged"] = ~networks["network"].isin(["original-s0", "improved-s1"])
    kept = converged_networks(networks)
    assert len(kept) == len(networks) - 2 and "original-s0" not in kept
    assert converged_networks(networks.drop(columns=["converged"])) == list(networks["network"])
    every = analyse(frame, networks, REGISTRY)
    again = analyse(frame[frame["network"].isin(kept)], networks[networks["network"].isin(kept)], REGISTRY)
    text = sensitivity_markdown(every, again, ["original-s0", "improved-s1"])
    assert "without the 2 network(s) that did not converge (original-s0, improved-s1" in text
    tested = [r for r in every if r.family not in ("descriptive", "untestable")]
    assert len([line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| id")]) \
        == len(tested)
    primary = next(r for r in again if r.id == "balance-clearance")
    assert "9 networks" not in primary.n and str(len(kept)) in primary.n  # the estimate rests on the kept ones
    assert sensitivity_markdown(every, every, []) == ""

"""Known-answer checks of the study's statistics on synthetic data."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from evaluation.study.stats import (
    Interval,
    cluster_bootstrap_mean,
    holm,
    mixed_effects,
    naive_bootstrap_mean,
    paired_comparison,
    verdict,
)


def synthetic(seed: int, effect: float, *, scenes: int = 20, networks: int = 3, episodes_per_scene: int = 1,
              scene_sd: float = 5.0, network_sd: float = 0.5, noise_sd: float = 1.0) -> pd.DataFrame:
    """Two groups, each of ``networks`` networks, on the same scenes; group B adds ``effect``."""
    rng = np.random.default_rng(seed)
    scene_effect = rng.normal(0, scene_sd, scenes)
    rows = []
    for group, shift in (("A", 0.0), ("B", effect)):
        for network in range(networks):
            network_effect = rng.normal(0, network_sd)
            for scene in range(scenes):
                for _ in range(episodes_per_scene):
                    rows.append({"group": group, "network": f"{group}{network}", "scene": f"s{scene}",
                                 "y": 10 + shift + scene_effect[scene] + network_effect + rng.normal(0, noise_sd)})
    return pd.DataFrame(rows)


def test_planted_effect_is_found():
    frame = synthetic(0, effect=2.0)
    result = paired_comparison(frame, "y", "group", "A", "B", rng=np.random.default_rng(1), resamples=999)
    assert 0 < result.difference.low < 2.0 < result.difference.high < 4.0
    assert abs(result.scene_bootstrap.estimate - 2.0) < 1.2
    assert result.p_value < 0.05
    assert result.scenes == 20 and result.networks_a == 3 and result.networks_b == 3
    assert verdict(result.difference, +1, p_adjusted=result.p_value) == "holds"
    assert verdict(result.difference, -1, p_adjusted=result.p_value) == "does not hold"


def test_null_effect_is_rarely_found():
    """Over 20 seeds a true null is declared at most a few times (nominal 5% -> expect ~1; allow 3)."""
    found = 0
    for seed in range(20):
        frame = synthetic(100 + seed, effect=0.0, scenes=12, networks=3)
        result = paired_comparison(frame, "y", "group", "A", "B", rng=np.random.default_rng(seed), resamples=499)
        found += verdict(result.difference, +1, p_adjusted=result.p_value) != "inconclusive"
    assert found <= 3


def test_binary_outcome_paired():
    rng = np.random.default_rng(3)
    rows = []
    for scene in range(40):
        hard = rng.random() < 0.5
        for group, rate in (("A", 0.1), ("B", 0.6)):
            for network in range(2):
                rows.append({"group": group, "network": f"{group}{network}", "scene": scene,
                             "collided": float(rng.random() < (rate + 0.3 * hard))})
    result = paired_comparison(pd.DataFrame(rows), "collided", "group", "A", "B", rng=np.random.default_rng(0),
                               binary=True, resamples=999)
    assert 0.3 < result.difference.estimate < 0.7
    assert result.difference.low > 0 and result.p_value < 0.001


def test_clustered_interval_is_wider_than_naive_when_scenes_repeat():
    frame = synthetic(5, effect=0.0, scenes=10, networks=8, scene_sd=5.0, noise_sd=1.0)
    data = frame[frame.group == "A"]
    clustered = cluster_bootstrap_mean(data.y, data.scene, rng=np.random.default_rng(0), resamples=1999)
    naive = naive_bootstrap_mean(data.y, rng=np.random.default_rng(0), resamples=1999)
    assert clustered.estimate == pytest.approx(naive.estimate)
    assert clustered.n == 10 and naive.n == 80
    assert clustered.width > 1.8 * naive.width


def test_clustered_interval_matches_naive_without_cluster_structure():
    rng = np.random.default_rng(2)
    values = rng.normal(size=400)
    clustered = cluster_bootstrap_mean(values, np.arange(400), rng=np.random.default_rng(0), resamples=1999)
    naive = naive_bootstrap_mean(values, rng=np.random.default_rng(0), resamples=1999)
    assert clustered.width == pytest.approx(naive.width, rel=0.2)


def test_mixed_model_recovers_a_planted_slope_and_episode_covariate():
    rng = np.random.default_rng(7)
    rows = []
    scene_effect = rng.normal(0, 3, 15)
    for network in range(8):
        balance = rng.uniform(0.5, 0.9)
        network_effect = rng.normal(0, 0.3)
        for scene in range(15):
            steps = rng.integers(20, 80)
            rows.append({"network": f"n{network}", "scene": f"s{scene}", "balance": balance, "log_steps": np.log(steps),
                         "y": 5 + 10 * balance - 2 * np.log(steps) + scene_effect[scene] + network_effect
                         + rng.normal(0, 0.5)})
    fit = mixed_effects(pd.DataFrame(rows), "y ~ balance + log_steps", "balance")
    assert fit.interval.low < 10 < fit.interval.high
    assert fit.interval.low > 5
    assert fit.scenes == 15 and fit.networks == 8 and fit.observations == 120


def test_holm_matches_hand_computed_values():
    adjusted = holm([0.01, 0.04, 0.03, np.nan])
    np.testing.assert_allclose(adjusted[:3], [0.03, 0.06, 0.06])
    assert np.isnan(adjusted[3])


@pytest.mark.parametrize(("low", "high", "p", "expected"), [
    (0.1, 0.5, 0.01, "holds"), (-0.5, -0.1, 0.01, "does not hold"), (-0.1, 0.5, 0.2, "inconclusive"),
    (0.1, 0.5, 0.2, "inconclusive"), (float("nan"), 1.0, 0.01, "inconclusive")])
def test_verdict(low, high, p, expected):
    assert verdict(Interval(0.3, low, high, 10, "x"), +1, p_adjusted=p) == expected


def test_verdict_negligible_margin():
    assert verdict(Interval(0.0, -0.05, 0.04, 10, "x"), +1, margin=0.1) == "does not hold"


def test_the_pareto_axis_is_logarithmic_only_where_a_log_axis_can_show_the_errors():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from evaluation.study.report import axis_scale

    assert axis_scale(pd.Series([0.8, 3.0, 40.0])) == "log"
    for degenerate in ([0.0, 0.0], [float("nan")] * 2, [0.0, 2.0], []):
        assert axis_scale(pd.Series(degenerate, dtype=float)) == "linear"
        ax = Figure().subplots()  # draws with the chosen scale (a log axis of zeros warns: an error here)
        ax.scatter(degenerate, degenerate)
        ax.set_xscale(axis_scale(pd.Series(degenerate, dtype=float)))
        ax.figure.savefig(io.BytesIO(), format="png")

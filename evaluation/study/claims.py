"""The paper's claims as pre-stated tests on the study's table, with one Holm-corrected family.

Each :class:`ClaimTest` names a claim, the statistic tested, its interval, the unit count behind
it, the unadjusted and family-adjusted p, and the verdict of :func:`evaluation.study.stats.verdict`.
Clearance (the primary outcome) is the minimum clearance of non-colliding episodes
(``clearance_ok_mm``); collisions are a separate family of rate comparisons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from evaluation.study.design import StudyDesign
from evaluation.study.stats import (
    Comparison,
    Interval,
    difference_t_interval,
    holm,
    mean_t_interval,
    mixed_effects,
    paired_comparison,
    verdict,
)
from sim.errors import InvalidInputError

#: Entropy differences are reported per 0.1 (a tenth of the balance scale).
BALANCE_UNIT = 0.1


@dataclass(frozen=True)
class ClaimTest:
    """One pre-stated test of one claim."""

    claim: str
    test: str
    statistic: str
    interval: Interval
    expected_sign: int
    p_value: float
    units: str  #: what n counts
    primary: bool = True  #: member of the claims family (Holm) rather than a secondary family
    p_adjusted: float = math.nan
    verdict: str = "inconclusive"
    note: str = ""

    def what_would_change(self, alpha: float = 0.05, margin: float = 0.0) -> str:
        """A plain sentence on what evidence would flip the verdict."""
        from scipy import stats as scipy_stats

        iv = self.interval
        if not (math.isfinite(iv.low) and math.isfinite(iv.high)):
            return "an interval at all: more units (seeds/scenes) than this run had"
        half = iv.width / 2
        if margin > 0 and -margin <= iv.low and iv.high <= margin:
            return (f"the whole interval lies within +-{margin:g} (negligible); an interval reaching beyond it, "
                    "e.g. from a larger effect in another scenario")
        if self.verdict == "inconclusive" and not iv.straddles_zero():
            k = self.p_adjusted / self.p_value if self.p_value > 0 else 1.0
            needed = scipy_stats.norm.isf(alpha / (2 * max(k, 1.0)))
            observed = scipy_stats.norm.isf(self.p_value / 2)
            claimed = (iv.low > 0) == (self.expected_sign > 0)
            side = "on the claimed side" if claimed else "on the side OPPOSITE the claim"
            return (f"the interval excludes 0 {side} but the Holm-adjusted p ({self.p_adjusted:.3g}) is above "
                    f"{alpha:g}; about {(needed / observed) ** 2:.2f}x the {self.units} at the same effect would pass")
        if self.verdict == "inconclusive":
            if iv.estimate == 0 or not math.isfinite(iv.estimate):
                return f"the interval (half-width {half:.3g}) straddles 0; a much larger n is needed"
            factor = (half / abs(iv.estimate)) ** 2
            return (f"the interval straddles 0 (half-width {half:.3g} vs estimate {iv.estimate:.3g}); "
                    f"an effect of this size needs about {max(factor, 1.0):.1f}x the {self.units} to resolve")
        edge = min(abs(iv.low), abs(iv.high))
        return f"a replication whose interval moves {edge:.3g} toward 0 (its nearer end) would make it inconclusive"


def _comparison_test(claim: str, comparison: Comparison, expected_sign: int, unit: str, *,
                     primary: bool = True) -> ClaimTest:
    return ClaimTest(claim, f"{comparison.b} - {comparison.a}: {comparison.outcome} ({comparison.test})",
                     f"difference {unit}", comparison.difference, expected_sign, comparison.p_value,
                     f"{comparison.scenes} scenes x {comparison.networks_a}+{comparison.networks_b} networks",
                     primary, note=comparison.note)


def _raw(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["kind"] == "raw"]


def run_claims(frame: pd.DataFrame, balance: pd.DataFrame, design: StudyDesign, *,
               rng: np.random.Generator) -> tuple[list[ClaimTest], list[Comparison]]:
    """Every claim test of the design (family-adjusted), and the secondary paired comparisons.

    Args:
        frame: episodes (see :func:`evaluation.study.episodes.collect`), with ``balance`` (network)
            and ``episode_balance`` columns on raw-network rows.
        balance: one row per network (:class:`~evaluation.study.networks.NetworkBalance` fields).
        design: the pre-registered design.
        rng: bootstrap generator.

    Returns:
        (claim tests with ``p_adjusted`` and ``verdict`` set, secondary comparisons incl. collision rates).
    """
    raw = _raw(frame)
    resamples = design.bootstrap_resamples
    tests: list[ClaimTest] = []
    by_variant = {v: g for v, g in balance.groupby("variant")}

    # C1: the original network is orientation-heavy, qz ~ 0.6 for joints 3-4.
    if "original" in by_variant:
        qz = by_variant["original"][["qz_share_joint3", "qz_share_joint4"]].mean(axis=1).to_numpy()
        shifted = mean_t_interval(qz - 0.5)
        p = _one_sample_p(qz - 0.5)
        iv = mean_t_interval(qz)
        tests.append(ClaimTest(
            "Original IKNet is orientation-heavy: qz carries ~0.6 of joints 3-4's attribution",
            "qz share of joints 3-4 (exact Shapley) minus 0.5, one-sample t over original networks",
            f"qz share {iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}] (paper: ~0.6; "
            f"0.6 {'inside' if iv.low <= 0.6 <= iv.high else 'outside'} the interval)",
            shifted, +1, p, f"{len(qz)} original networks"))

    # C2: the improved network is more balanced than the original.
    if {"original", "improved"} <= set(by_variant):
        measure = design.balance_measure
        interval, p = difference_t_interval(by_variant["original"][measure], by_variant["improved"][measure])
        tests.append(ClaimTest("Improved IKNet is more balanced than the original",
                               f"{measure} improved - original, Welch t over networks", "entropy difference",
                               interval, +1, p, f"{interval.n} networks"))

    # C3: balanced attribution goes with wider clearance (network level and episode level).
    ok = raw.dropna(subset=["clearance_ok_mm", "balance"]).copy()
    if ok["network"].nunique() >= 3:
        tests.append(_balance_clearance_test(ok, "balance", "network balance"))
        if "episode_balance" in ok and ok["episode_balance"].notna().sum() > 10:
            tests.append(_balance_clearance_test(ok.dropna(subset=["episode_balance"]), "episode_balance",
                                                 "episode balance"))

        collisions = raw.dropna(subset=["balance"]).copy()
        if collisions["collided"].nunique() == 2:
            tests.append(_collision_gee(collisions))

    # C4: the intervention. Manipulation check (balance rises) and effect on clearance, per weight.
    balanced = sorted((v for v in design.variants if v.balance_weight > 0), key=lambda v: v.balance_weight)
    if "improved" in by_variant:
        for variant in balanced:
            if variant.name not in by_variant:
                continue
            measure = design.balance_measure
            interval, p = difference_t_interval(by_variant["improved"][measure], by_variant[variant.name][measure])
            claim = f"Regulariser (weight {variant.balance_weight:g}) raises balance (manipulation check)"
            tests.append(ClaimTest(claim,
                                   f"{measure} {variant.name} - improved, Welch t over networks", "entropy difference",
                                   interval, +1, p, f"{interval.n} networks"))
            comparison = _safe_compare(raw, "clearance_ok_mm", "improved", variant.name, rng, resamples)
            if comparison is not None:
                tests.append(_comparison_test(
                    f"Raising balance by regularisation (weight {variant.balance_weight:g}) widens clearance",
                    comparison, +1, "mm"))

    # C5: the paper's table, focused vs improved (focused: wider clearance, larger target error).
    paper_claims = (("clearance_ok_mm", "Focused keeps wider clearance than Improved (paper: 1.5604 vs 0.5402)"),
                    ("target_error_mm", "Focused has larger target error than Improved (paper: 3.7536 vs 2.8651)"))
    for outcome, claim in paper_claims:
        comparison = _safe_compare(raw, outcome, "improved", "focused", rng, resamples)
        if comparison is not None:
            tests.append(_comparison_test(claim, comparison, +1, "mm"))

    # C6: the residual ablation: removing the skip connections costs accuracy.
    comparison = _safe_compare(raw, "target_error_mm", "improved", "improved_noresidual", rng, resamples)
    if comparison is not None:
        tests.append(_comparison_test("Residual connections lower target error (ablation)", comparison, +1, "mm"))

    # C7: dynamic obstacles: the focused-vs-improved clearance claim with moving obstacles.
    dynamic = raw[raw["scenario"] == "dynamic"]
    comparison = _safe_compare(dynamic, "clearance_ok_mm", "improved", "focused", rng, resamples)
    if comparison is not None:
        tests.append(_comparison_test("With dynamic obstacles, Focused keeps wider clearance than Improved",
                                      replace(comparison, name="dynamic"), +1, "mm"))

    tests = _adjust(tests, design)
    return tests, secondary_comparisons(frame, design, rng)


def secondary_comparisons(frame: pd.DataFrame, design: StudyDesign, rng: np.random.Generator) -> list[Comparison]:
    """Every variant against ``improved`` on collision rate, target error, clearance and jerk (raw networks)."""
    raw = _raw(frame)
    found = []
    for variant in design.variants:
        if variant.name == "improved" or not design.has("improved"):
            continue
        for outcome in ("collided", "clearance_ok_mm", "target_error_mm", "jerk"):
            comparison = _safe_compare(raw, outcome, "improved", variant.name, rng, design.bootstrap_resamples,
                                       binary=outcome == "collided")
            if comparison is not None:
                found.append(comparison)
    return found


def _safe_compare(frame: pd.DataFrame, outcome: str, a: str, b: str, rng: np.random.Generator, resamples: int, *,
                  binary: bool = False) -> Comparison | None:
    if not ((frame["variant"] == a).any() and (frame["variant"] == b).any()):
        return None
    try:
        return paired_comparison(frame, outcome, "variant", a, b, rng=rng, binary=binary, resamples=resamples,
                                 name=f"{b} - {a}")
    except InvalidInputError:
        return None


def _one_sample_p(values: np.ndarray) -> float:
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.std(values) == 0:
        return math.nan
    return float(stats.ttest_1samp(values, 0.0).pvalue)


def _adjust(tests: list[ClaimTest], design: StudyDesign) -> list[ClaimTest]:
    """Holm across the primary family; verdicts from the interval and the adjusted p."""
    adjusted = holm([t.p_value for t in tests], alpha=design.alpha)
    out = []
    for test, p_adjusted in zip(tests, adjusted, strict=True):
        margin = design.negligible_clearance_mm if "clearance" in test.test else 0.0
        decided = verdict(test.interval, test.expected_sign, p_adjusted=p_adjusted, alpha=design.alpha, margin=margin)
        out.append(replace(test, p_adjusted=float(p_adjusted), verdict=decided))
    return out


def _balance_clearance_test(episodes: pd.DataFrame, column: str, label: str) -> ClaimTest:
    """Mixed model of non-colliding episodes' clearance on ``column`` (per +0.1 entropy) and log(steps)."""
    frame = episodes.copy()
    frame[f"{column}_tenths"] = frame[column] / BALANCE_UNIT
    fit = mixed_effects(frame, f"clearance_ok_mm ~ {column}_tenths + log_steps", f"{column}_tenths")
    return ClaimTest(
        f"Balanced attribution goes with wider clearance ({label})",
        f"mixedlm clearance_ok_mm ~ {label} + log(steps), crossed scene + network intercepts",
        "mm per +0.1 entropy", fit.interval, +1, fit.p_value,
        f"{fit.observations} non-colliding episodes, {fit.networks} networks, {fit.scenes} scenes",
        note=fit.note)


def _collision_gee(frame: pd.DataFrame) -> ClaimTest:
    """Collisions apart from clearance: logistic GEE of ``collided`` on network balance and log(steps),
    clusters = networks (balance varies between networks), exchangeable working correlation.
    Reported as a log odds ratio per +0.1 entropy (expected negative: balance, fewer collisions)."""
    import warnings

    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from scipy import stats as scipy_stats

    data = frame.copy()
    data["balance_tenths"] = data["balance"] / BALANCE_UNIT
    note = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = smf.gee("collided ~ balance_tenths + log_steps", groups="network", data=data,
                      family=sm.families.Binomial(), cov_struct=sm.cov_struct.Exchangeable()).fit()
    if caught:
        note = "warnings: " + ", ".join(sorted({w.category.__name__ for w in caught}))
    coefficient, error = float(fit.params["balance_tenths"]), float(fit.bse["balance_tenths"])
    z = scipy_stats.norm.ppf(0.975)
    interval = Interval(coefficient, coefficient - z * error, coefficient + z * error, len(data), "GEE Wald")
    return ClaimTest("Balanced attribution goes with fewer collisions (collisions apart from clearance)",
                     "logistic GEE collided ~ network balance + log(steps), clusters = networks, exchangeable",
                     "log odds ratio per +0.1 entropy", interval, -1, float(fit.pvalues["balance_tenths"]),
                     f"{len(data)} episodes, {data['network'].nunique()} networks", note=note)

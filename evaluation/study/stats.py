"""Statistics of the claims study: paired within-scene comparisons, scene-clustered bootstrap,
crossed mixed-effects models, Holm correction and the three-way verdict.

Every test here comes from scipy or statsmodels; this module only arranges the data for them.

Units of analysis (the study's episodes share scenes, and a variant is several trained networks):

- a *scene* is one (scenario, episode) pair; every policy of a study sees the same scenes, so
  comparisons are paired within scene;
- a *network* is one trained model (variant x training seed); a claim about a variant is a
  claim about the population of networks its recipe produces, so networks are a random effect.

:func:`cluster_bootstrap_mean` resamples scenes, never rows (``scipy.stats.bootstrap`` over
per-scene sums and counts). :func:`mixed_effects` fits ``statsmodels`` ``MixedLM`` with crossed
random intercepts for scene and network (one all-covering group with two variance components,
the statsmodels idiom for crossed effects). :func:`paired_comparison` compares two groups of
policies on the same scenes. :func:`holm` adjusts a family of p-values
(``statsmodels.stats.multitest.multipletests``). :func:`verdict` turns an interval and an adjusted
p-value into "holds", "does not hold" or "inconclusive".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from sim.errors import InvalidInputError

Verdict = Literal["holds", "does not hold", "inconclusive"]
DEFAULT_RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval and the number of independent units behind it.

    Attributes:
        estimate: the point estimate.
        low: lower bound of the interval (NaN if it cannot be computed).
        high: upper bound.
        n: independent units (clusters for a clustered interval, rows otherwise).
        method: how the interval was made.
    """

    estimate: float
    low: float
    high: float
    n: int
    method: str

    @property
    def width(self) -> float:
        return self.high - self.low

    def straddles_zero(self) -> bool:
        """True when the interval holds 0 (or is undefined)."""
        return not (self.low > 0 or self.high < 0)


# ------------------------------------------------------------------------------------ bootstrap
def _ratio_of_sums(sums: np.ndarray, counts: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sum(sums, axis=axis) / np.sum(counts, axis=axis)


def cluster_bootstrap_mean(values: Sequence[float], clusters: Sequence[object], *, rng: np.random.Generator,
                           resamples: int = DEFAULT_RESAMPLES, confidence: float = CONFIDENCE) -> Interval:
    """Mean of ``values`` with a percentile bootstrap interval that resamples whole clusters.

    Args:
        values: (n,) observations (e.g. one per episode).
        clusters: (n,) cluster labels (e.g. the scene of each episode).
        rng: the resampling generator.
        resamples: bootstrap resamples.
        confidence: interval coverage.

    Returns:
        The row mean, its interval, and ``n`` = number of clusters. With one cluster the interval is NaN.
    """
    frame = pd.DataFrame({"value": np.asarray(values, dtype=float), "cluster": list(clusters)}).dropna()
    if frame.empty:
        return Interval(math.nan, math.nan, math.nan, 0, "cluster bootstrap (no data)")
    grouped = frame.groupby("cluster", sort=False)["value"]
    sums, counts = grouped.sum().to_numpy(), grouped.count().to_numpy().astype(float)
    estimate = float(sums.sum() / counts.sum())
    if len(sums) < 2 or np.ptp(grouped.mean().to_numpy()) == 0:
        return Interval(estimate, math.nan if len(sums) < 2 else estimate,
                        math.nan if len(sums) < 2 else estimate, len(sums), "cluster bootstrap")
    result = stats.bootstrap((sums, counts), _ratio_of_sums, paired=True, vectorized=True, n_resamples=resamples,
                             confidence_level=confidence, method="percentile", rng=rng)
    return Interval(estimate, float(result.confidence_interval.low), float(result.confidence_interval.high),
                    len(sums), "scene-clustered percentile bootstrap")


def naive_bootstrap_mean(values: Sequence[float], *, rng: np.random.Generator, resamples: int = DEFAULT_RESAMPLES,
                         confidence: float = CONFIDENCE) -> Interval:
    """Mean with a row-resampling percentile bootstrap (wrong when rows share scenes; kept to show it)."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    if len(array) < 2 or np.ptp(array) == 0:
        value = float(array.mean()) if len(array) else math.nan
        return Interval(value, value, value, len(array), "row bootstrap (degenerate)")
    result = stats.bootstrap((array,), np.mean, vectorized=True, n_resamples=resamples, confidence_level=confidence,
                             method="percentile", rng=rng)
    return Interval(float(array.mean()), float(result.confidence_interval.low),
                    float(result.confidence_interval.high), len(array), "row percentile bootstrap")


def mean_t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of independent units (e.g. one number per trained network) with a Student-t interval."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    if len(array) < 2:
        value = float(array.mean()) if len(array) else math.nan
        return Interval(value, math.nan, math.nan, len(array), "t interval (n < 2)")
    result = stats.ttest_1samp(array, 0.0)
    interval = result.confidence_interval(confidence)
    return Interval(float(array.mean()), float(interval.low), float(interval.high), len(array), "t interval")


def difference_t_interval(a: Sequence[float], b: Sequence[float],
                          confidence: float = CONFIDENCE) -> tuple[Interval, float]:
    """``mean(b) - mean(a)`` of two sets of independent units (Welch), its interval and two-sided p."""
    first, second = (np.asarray(x, dtype=float) for x in (a, b))
    if len(first) < 2 or len(second) < 2:
        return Interval(float(second.mean() - first.mean()), math.nan, math.nan, len(first) + len(second),
                        "Welch t (n < 2)"), math.nan
    result = stats.ttest_ind(second, first, equal_var=False)
    interval = result.confidence_interval(confidence)
    return (Interval(float(second.mean() - first.mean()), float(interval.low), float(interval.high),
                     len(first) + len(second), "Welch t interval"), float(result.pvalue))


# -------------------------------------------------------------------------------- mixed effects
@dataclass(frozen=True)
class MixedEffect:
    """One fixed-effect coefficient of a crossed random-intercepts model.

    Attributes:
        term: the coefficient's name in the formula.
        formula: the fixed-effects formula.
        coefficient: the estimate (outcome units per unit of the term).
        interval: Wald interval of the coefficient (``n`` = observations).
        p_value: two-sided Wald p.
        observations: rows fitted.
        scenes: distinct scenes (random intercept).
        networks: distinct networks (random intercept).
        converged: the optimiser's flag.
        note: warnings raised while fitting, or how the fit fell back.
    """

    term: str
    formula: str
    coefficient: float
    interval: Interval
    p_value: float
    observations: int
    scenes: int
    networks: int
    converged: bool
    note: str = ""


def mixed_effects(frame: pd.DataFrame, formula: str, term: str, *, scene_column: str = "scene",
                  network_column: str = "network", confidence: float = CONFIDENCE) -> MixedEffect:
    """Fit ``formula`` with crossed random intercepts for scene and network; report ``term``.

    Uses ``statsmodels.formula.api.mixedlm`` with one group spanning all rows and variance
    components ``0 + C(scene)`` and ``0 + C(network)`` (crossed random effects). A random effect
    with a single level is dropped. If the mixed model cannot be fitted (singular design), falls
    back to OLS with scene-clustered standard errors and says so in ``note``.

    Raises:
        InvalidInputError: ``term`` is not a coefficient of the fit.
    """
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    data = frame.copy()
    data["_all"] = 1
    components = {name: f"0 + C({column})" for name, column in (("scene", scene_column), ("network", network_column))
                  if data[column].nunique() > 1}
    notes: list[str] = []
    z = stats.norm.ppf(0.5 + confidence / 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = smf.mixedlm(formula, data, groups="_all", vc_formula=components, re_formula="0")
            fit = model.fit(reml=True, method=["lbfgs", "powell"])
            coefficient, error, p_value = float(fit.fe_params[term]), float(fit.bse_fe[term]), float(fit.pvalues[term])
            converged = bool(fit.converged)
        except (np.linalg.LinAlgError, ValueError, KeyError) as failure:
            if isinstance(failure, KeyError) and term not in str(failure):
                raise
            clusters = pd.factorize(data[scene_column])[0]
            ols = smf.ols(formula, data).fit(cov_type="cluster", cov_kwds={"groups": clusters})
            if term not in ols.params:
                raise InvalidInputError(f"{term!r} is not a coefficient of {formula!r}") from failure
            coefficient, error, p_value = float(ols.params[term]), float(ols.bse[term]), float(ols.pvalues[term])
            converged = False
            notes.append(f"mixed model failed ({type(failure).__name__}); OLS with scene-clustered SE")
    warned = sorted({f"{w.category.__name__}" for w in caught
                     if issubclass(w.category, (ConvergenceWarning, RuntimeWarning, UserWarning))})
    if warned:
        notes.append("warnings: " + ", ".join(warned))
    if not math.isfinite(error):
        low = high = math.nan
    else:
        low, high = coefficient - z * error, coefficient + z * error
    return MixedEffect(term, formula, coefficient, Interval(coefficient, low, high, len(data), "mixed-model Wald"),
                       p_value, len(data), int(data[scene_column].nunique()), int(data[network_column].nunique()),
                       converged, "; ".join(notes))


# --------------------------------------------------------------------------- paired comparisons
@dataclass(frozen=True)
class Comparison:
    """Group ``b`` minus group ``a`` on one outcome, paired within scene.

    Attributes:
        name: a label for tables.
        outcome: the column compared.
        a, b: the two group labels (``b - a`` is reported).
        difference: mixed-model coefficient of ``b`` (continuous outcomes) or the mean per-scene
            difference (binary outcomes), with its interval.
        scene_bootstrap: the mean per-scene difference (networks averaged within scene) with a
            percentile bootstrap over scenes.
        standardised: mean / sd of the per-scene differences (Cohen's d_z) with a scene bootstrap interval.
        p_value: unadjusted two-sided p (mixed model, or Wilcoxon signed-rank for binary outcomes).
        scenes: scenes with both groups present.
        networks_a, networks_b: networks per group.
        test: the test behind ``p_value``.
        note: fit notes.
    """

    name: str
    outcome: str
    a: str
    b: str
    difference: Interval
    scene_bootstrap: Interval
    standardised: Interval
    p_value: float
    scenes: int
    networks_a: int
    networks_b: int
    test: str
    note: str = ""


def _d_z(differences: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(differences, axis=axis) / np.std(differences, axis=axis, ddof=1)


def paired_comparison(frame: pd.DataFrame, outcome: str, group_column: str, a: str, b: str, *,
                      rng: np.random.Generator, name: str = "", binary: bool = False,
                      resamples: int = DEFAULT_RESAMPLES, confidence: float = CONFIDENCE) -> Comparison:
    """Compare group ``b`` against group ``a`` on ``outcome`` over the scenes both saw.

    Rows are episodes with columns ``scene``, ``network``, ``group_column`` and ``outcome``.
    Rows with a NaN outcome are ignored (e.g. clearance of colliding episodes, set NaN by the caller).

    Continuous outcomes: ``outcome ~ C(group, Treatment(a))`` with crossed random intercepts for
    scene and network (:func:`mixed_effects`); binary outcomes (rates): per-scene differences
    of the network-averaged rate, Wilcoxon signed-rank p (``zero_method="zsplit"``) and a scene
    bootstrap interval. Both report the per-scene mean difference with a scene bootstrap and d_z.

    Raises:
        InvalidInputError: a group has no rows, or fewer than 2 scenes are shared.
    """
    data = frame[frame[group_column].isin([a, b])][["scene", "network", group_column, outcome]].dropna()
    if not (data[group_column] == a).any() or not (data[group_column] == b).any():
        raise InvalidInputError(f"comparison {a!r} vs {b!r} on {outcome!r}: a group has no usable episodes")
    per_scene = data.groupby(["scene", group_column])[outcome].mean().unstack(group_column).dropna()
    if len(per_scene) < 2:
        raise InvalidInputError(f"comparison {a!r} vs {b!r} on {outcome!r}: fewer than 2 shared scenes")
    differences = (per_scene[b] - per_scene[a]).to_numpy()
    bootstrap = _bootstrap_1d(differences, np.mean, rng, resamples, confidence, "scene percentile bootstrap")
    spread = np.std(differences, ddof=1)
    standardised = (_bootstrap_1d(differences, _d_z, rng, resamples, confidence, "scene percentile bootstrap")
                    if spread > 0 else Interval(math.nan, math.nan, math.nan, len(differences), "d_z (no spread)"))
    networks_a = int(data.loc[data[group_column] == a, "network"].nunique())
    networks_b = int(data.loc[data[group_column] == b, "network"].nunique())
    shared = data[data["scene"].isin(per_scene.index)].copy()
    if binary:
        if np.all(differences == 0):
            p_value = 1.0
        else:
            p_value = float(stats.wilcoxon(differences, zero_method="zsplit").pvalue)
        return Comparison(name or f"{b} - {a}", outcome, a, b, bootstrap, bootstrap, standardised, p_value,
                          len(differences), networks_a, networks_b, "Wilcoxon signed-rank over scenes")
    shared["_group"] = shared[group_column].astype(str)
    formula = f"{outcome} ~ C(_group, Treatment({a!r}))"
    term = f"C(_group, Treatment({a!r}))[T.{b}]"
    fit = mixed_effects(shared, formula, term)
    return Comparison(name or f"{b} - {a}", outcome, a, b, fit.interval, bootstrap, standardised, fit.p_value,
                      len(differences), networks_a, networks_b,
                      "mixed model, crossed scene and network intercepts (Wald)", fit.note)


def _bootstrap_1d(values: np.ndarray, statistic, rng: np.random.Generator, resamples: int, confidence: float,
                  method: str) -> Interval:
    estimate = float(statistic(values))
    if len(values) < 2 or np.ptp(values) == 0:
        return Interval(estimate, estimate, estimate, len(values), method + " (degenerate)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.bootstrap((values,), statistic, vectorized=True, n_resamples=resamples,
                                 confidence_level=confidence, method="percentile", rng=rng)
    return Interval(estimate, float(result.confidence_interval.low), float(result.confidence_interval.high),
                    len(values), method)


# ------------------------------------------------------------------------- family and verdicts
def holm(p_values: Sequence[float], alpha: float = 0.05) -> np.ndarray:
    """Holm-adjusted p-values (``multipletests(method="holm")``); NaN entries stay NaN and are not counted."""
    from statsmodels.stats.multitest import multipletests

    array = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(array, np.nan)
    finite = np.isfinite(array)
    if finite.any():
        adjusted[finite] = multipletests(array[finite], alpha=alpha, method="holm")[1]
    return adjusted


def verdict(interval: Interval, expected_sign: int, *, p_adjusted: float = math.nan, alpha: float = 0.05,
            margin: float = 0.0) -> Verdict:
    """The three-way verdict on a claim that an effect has sign ``expected_sign`` (+1 or -1).

    "holds": the interval excludes 0 on the claimed side (and the adjusted p, if given, is below
    ``alpha``). "does not hold": the interval excludes 0 on the other side, or lies entirely
    within ``[-margin, margin]`` (a pre-stated negligible effect). Otherwise "inconclusive"
    (the interval straddles 0, or the correction removed significance).
    """
    if expected_sign not in (1, -1):
        raise InvalidInputError(f"expected_sign must be +1 or -1, got {expected_sign}")
    low, high = interval.low, interval.high
    if not (math.isfinite(low) and math.isfinite(high)):
        return "inconclusive"
    if margin > 0 and -margin <= low and high <= margin:
        return "does not hold"
    significant = not math.isfinite(p_adjusted) or p_adjusted < alpha
    if interval.straddles_zero() or not significant:
        return "inconclusive"
    side = 1 if low > 0 else -1
    return "holds" if side == expected_sign else "does not hold"

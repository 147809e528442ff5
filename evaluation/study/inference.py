"""Small-sample inference for the claims study, with trained networks and scenes both random.

The design. ``V`` variants; variant ``v`` has ``n_v`` trained networks (one per training seed);
every network runs the *same* ``S`` scenes, one episode per network and scene. One outcome of
one variant is therefore a matrix ``y_v`` of shape ``(n_v, S)``: row = network, column = scene,
column ``s`` the same scene in every variant.

The model. Both networks and scenes are random samples from the populations a claim is about
(the recipe's networks, the scenario's scenes)::

    y[v][n, s] = mu_v + a_n(v) + b_s + c_vs + e_vns

with independent zero-mean terms: ``a`` the network (nested in its variant, variance
``sigma_a,v^2``, allowed to differ between variants), ``b`` the scene (``sigma_b^2``), ``c`` the
scene-by-variant interaction (``sigma_c^2``: a scene that is hard for one variant need not be
hard for another) and ``e`` the residual (``sigma_e^2``).

What is here:

- :func:`compare_variants`: ``mean(A) - mean(B)`` over episodes with a conservative
  moment-based variance from the balanced design's mean squares, Satterthwaite degrees of
  freedom and a t interval (no likelihood fit, so nothing that can fail to converge or land on a
  boundary: a component that cannot be estimated makes the result inconclusive, never a
  fake interval).
- :func:`network_contrast`: outcomes measured once per network (held-out IK error): Welch t with
  an exact permutation p-value beside it.
- :func:`network_slope`: slope of network-mean outcome on a network-level predictor
  (attribution balance), pooled or within variant.
- :func:`two_way_bootstrap`: the pigeonhole bootstrap (networks within variant and shared
  scenes resampled with replacement) for statistics without a closed form, and as a
  cross-check of :func:`compare_variants`.
- :func:`verdict` and :func:`gatekeep`: the three-way verdict (with an equivalence margin in the
  estimand's own unit) and the serial gatekeeping of a primary outcome before a Holm-corrected
  secondary family.

Everything is NumPy/SciPy; results are frozen dataclasses. Bad input raises
:class:`sim.errors.InvalidInputError` with one line naming the problem.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats

from sim.errors import InvalidInputError, invalid_value, show_value

Verdict = Literal["holds", "does not hold", "inconclusive"]
Label = Literal["primary", "confirmatory", "exploratory", "manipulation check"]

#: Largest number of relabelings :func:`network_contrast` enumerates (10 + 10 networks: 184,756).
MAX_PERMUTATIONS: int = 1_000_000
#: Largest share of bootstrap resamples whose statistic may be non-finite before the interval is refused.
MAX_NONFINITE_SHARE: float = 0.01


@dataclass(frozen=True)
class Estimate:
    """An effect estimate with its small-sample interval, as one row of a claims table.

    Attributes:
        estimate: the point estimate, in the outcome's unit (a slope: outcome unit per predictor unit).
        low, high: the ``1 - alpha`` confidence interval; NaN when it cannot be made (see ``estimable``).
        se: standard error of the estimate (NaN for a percentile bootstrap: not used there).
        df: degrees of freedom of the t reference (NaN for the bootstrap).
        p: two-sided p-value of "no effect" (unadjusted; NaN when not estimable).
        alpha: ``1 - confidence`` of the interval.
        method: how the interval was made.
        estimable: False when a variance component could not be estimated (one network in a
            variant, one scene, zero variance...): the interval and p are NaN and the verdict is
            "inconclusive"; ``notes`` says why.
        n_networks: networks behind the estimate, per variant (or per group).
        n_scenes: scenes behind it (0 for per-network outcomes).
        components: the variance components (squared outcome units) or other intermediate numbers.
        notes: plain-language remarks a reader of the claims table should see.
        margin: the equivalence margin stated for this estimand (its own unit), if any.
        p_permutation: exact permutation p-value (``network_contrast`` only; NaN otherwise).
    """

    estimate: float
    low: float
    high: float
    se: float
    df: float
    p: float
    alpha: float
    method: str
    estimable: bool
    n_networks: tuple[int, ...]
    n_scenes: int
    components: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    margin: float | None = None
    p_permutation: float = math.nan

    @property
    def width(self) -> float:
        return self.high - self.low


# ------------------------------------------------------------------------------------ input checks
def _alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < float(alpha) < 1:
        raise invalid_value("alpha", alpha, "a number strictly between 0 and 1")
    return float(alpha)


def _margin(margin: object) -> float | None:
    if margin is None:
        return None
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not (
            math.isfinite(float(margin)) and float(margin) > 0):
        raise invalid_value("margin", margin, "None or a positive finite number in the estimand's unit")
    return float(margin)


def _array(name: str, value: object, ndim: tuple[int, ...], *, allow_nan: bool = False) -> np.ndarray:
    """``value`` as a float array of one of the dimensions ``ndim``, non-empty, finite unless ``allow_nan``."""
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged nested lists and the like
        raise invalid_value(name, value, "a numeric array") from error
    if array.dtype.kind not in "iuf":
        raise invalid_value(name, value, f"a real numeric array (dtype {array.dtype} is not)")
    array = array.astype(float)
    if array.ndim not in ndim:
        shapes = " or ".join({1: "(N,)", 2: "(networks, scenes)"}[dim] for dim in ndim)
        raise InvalidInputError(f"{name}: expected an array of shape {shapes}, got shape {array.shape}")
    if array.size == 0:
        raise InvalidInputError(f"{name}: expected at least one value, got an empty array of shape {array.shape}")
    if np.isinf(array).any() or (not allow_nan and np.isnan(array).any()):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InvalidInputError(f"{name}: expected finite values, got {bad} NaN or infinite of {array.size}")
    return array


def _variant_pair(y_a: object, y_b: object, *, allow_nan: bool = False) -> tuple[np.ndarray, np.ndarray]:
    a = _array("y_a", y_a, (2,), allow_nan=allow_nan)
    b = _array("y_b", y_b, (2,), allow_nan=allow_nan)
    if a.shape[1] != b.shape[1]:
        raise InvalidInputError(f"y_a and y_b: expected the same scenes (columns), got {a.shape[1]} and "
                                f"{b.shape[1]} (shapes {a.shape} and {b.shape})")
    return a, b


def _inconclusive(estimate: float, alpha: float, method: str, n_networks: tuple[int, ...], n_scenes: int,
                  notes: list[str], margin: float | None = None, components: dict[str, float] | None = None,
                  p_permutation: float = math.nan) -> Estimate:
    return Estimate(estimate=estimate, low=math.nan, high=math.nan, se=math.nan, df=math.nan, p=math.nan,
                    alpha=alpha, method=method, estimable=False, n_networks=n_networks, n_scenes=n_scenes,
                    components=dict(components or {}), notes=tuple(notes), margin=margin,
                    p_permutation=p_permutation)


def satterthwaite_df(components: Sequence[float], dfs: Sequence[float]) -> float:
    """Satterthwaite's degrees of freedom of a sum of independent scaled chi-square variance estimates.

    ``df = (sum V_i)^2 / sum(V_i^2 / df_i)``; a component equal to 0 adds nothing to the
    denominator. NaN when every component is 0.
    """
    values = np.asarray(components, dtype=float)
    degrees = np.asarray(dfs, dtype=float)
    denominator = float(np.sum(values**2 / degrees))
    return float(np.sum(values)) ** 2 / denominator if denominator > 0 else math.nan


def _t_result(estimate: float, variance: float, df: float, alpha: float) -> tuple[float, float, float, float]:
    se = math.sqrt(variance)
    quantile = float(stats.t.ppf(1 - alpha / 2, df))
    p = float(2 * stats.t.sf(abs(estimate) / se, df))
    return se, estimate - quantile * se, estimate + quantile * se, p


# ------------------------------------------------------------------------------ variant contrast
def compare_variants(y_a: object, y_b: object, *, alpha: float = 0.05, margin: float | None = None) -> Estimate:
    """The contrast ``D = mean(A) - mean(B)`` of two variants run on the same scenes, networks and
    scenes both random, with a conservative variance and a Satterthwaite t interval.

    Under the crossed model of this module (``y = mu_v + a_n(v) + b_s + c_vs + e``), write bars for
    means. The scene main effect ``b`` cancels (both variants see the same scenes)::

        D_hat - D = (a_bar_A - a_bar_B) + (c_bar_A - c_bar_B) + (e_bar_A - e_bar_B)
        Var(D_hat) = sigma_aA^2/n_A + sigma_aB^2/n_B + 2 sigma_c^2/S + sigma_e^2 (1/n_A + 1/n_B)/S

    Two mean squares of the balanced design estimate it:

    - ``V1 = s2(m_A)/n_A + s2(m_B)/n_B``, ``m_v`` the network means (each network's mean over the
      S scenes): ``E s2(m_v) = sigma_av^2 + sigma_e^2/S``, so
      ``E V1 = sigma_aA^2/n_A + sigma_aB^2/n_B + sigma_e^2 (1/n_A + 1/n_B)/S``;
    - ``V2 = s2(d)/S``, ``d_s = mean_n y_A[n, s] - mean_n y_B[n, s]`` the per-scene difference of
      the two variants' network-averaged outcomes: ``Var d_s = 2 sigma_c^2 + sigma_e^2 (1/n_A + 1/n_B)``,
      so ``E V2 = 2 sigma_c^2/S + sigma_e^2 (1/n_A + 1/n_B)/S``.

    Hence ``E[V1 + V2] = Var(D_hat) + sigma_e^2 (1/n_A + 1/n_B)/S >= Var(D_hat)``: the residual is
    counted twice, so the estimate is conservative by that (usually small: it is divided by
    ``n S``) amount. Subtracting an estimated residual would remove the bias but can make the
    variance negative with five networks; we keep the sum, which is never negative.

    V1 is made of contrasts between networks of scene-averaged data, V2 of contrasts between
    scenes of network-averaged data; in a balanced layout these are orthogonal, so under
    normality ``s2(m_A)``, ``s2(m_B)`` and ``V2`` are independent scaled chi-squares with
    ``n_A - 1``, ``n_B - 1`` and ``S - 1`` degrees of freedom, and the interval is
    ``D_hat +- t(1 - alpha/2, df) sqrt(V1 + V2)`` with Satterthwaite's ``df`` for that sum
    (:func:`satterthwaite_df`). Without the scene-by-variant term (``V1`` alone, roughly what a
    mixed model without it gives) the interval undercovers whenever ``sigma_c > 0``.

    Args:
        y_a: (n_A, S) outcome of variant A, row = network, column = scene; finite values.
        y_b: (n_B, S) outcome of variant B on the same S scenes (same column order).
        alpha: 1 - confidence of the interval.
        margin: the equivalence margin stated for this estimand, in the outcome's own unit (kept
            on the result for :func:`verdict`).

    Returns:
        An :class:`Estimate` (``components``: ``V1_a``, ``V1_b``, ``V2``). When ``n_A < 2``,
        ``n_B < 2`` or ``S < 2`` (a component cannot be estimated) or ``V1 + V2 = 0``, the
        estimate is kept but the result is marked not ``estimable`` with a note.

    Raises:
        InvalidInputError: not two 2-D finite arrays with the same number of scenes; bad alpha or margin.
    """
    alpha, margin = _alpha(alpha), _margin(margin)
    a, b = _variant_pair(y_a, y_b)
    (n_a, scenes), n_b = a.shape, b.shape[0]
    method = "crossed networks x scenes, moment variance V1 + V2, Satterthwaite t"
    estimate = float(a.mean() - b.mean())
    notes = []
    if n_a < 2 or n_b < 2:
        notes.append(f"between-network variance not estimable: {n_a} and {n_b} networks (need >= 2 per variant)")
    if scenes < 2:
        notes.append(f"scene-by-variant variance not estimable: {scenes} scene (need >= 2)")
    if notes:
        return _inconclusive(estimate, alpha, method, (n_a, n_b), scenes, notes, margin)
    v1_a = float(a.mean(axis=1).var(ddof=1)) / n_a
    v1_b = float(b.mean(axis=1).var(ddof=1)) / n_b
    v2 = float((a.mean(axis=0) - b.mean(axis=0)).var(ddof=1)) / scenes
    components = {"V1_a": v1_a, "V1_b": v1_b, "V2": v2}
    variance = v1_a + v1_b + v2
    if not variance > 0:
        notes.append("zero variance between networks and between scenes: no interval")
        return _inconclusive(estimate, alpha, method, (n_a, n_b), scenes, notes, margin, components)
    df = satterthwaite_df([v1_a, v1_b, v2], [n_a - 1, n_b - 1, scenes - 1])
    se, low, high, p = _t_result(estimate, variance, df, alpha)
    return Estimate(estimate=estimate, low=low, high=high, se=se, df=df, p=p, alpha=alpha, method=method,
                    estimable=True, n_networks=(n_a, n_b), n_scenes=scenes, components=components,
                    notes=tuple(notes), margin=margin)


# ------------------------------------------------------------------------- per-network outcomes
def network_contrast(x_a: object, x_b: object, *, alpha: float = 0.05, margin: float | None = None) -> Estimate:
    """``mean(x_a) - mean(x_b)`` of an outcome measured once per network (the network is the unit),
    e.g. each network's held-out IK error in mm.

    The interval and ``p`` are Welch's (unequal variances, Satterthwaite degrees of freedom
    ``(V_a + V_b)^2 / (V_a^2/(n_a-1) + V_b^2/(n_b-1))``, ``V = s2/n``). Beside it,
    ``p_permutation`` is the exact two-sided permutation p-value of the difference in means over
    all ``C(n_a + n_b, n_a)`` relabelings of the networks (252 for 5 + 5; the smallest possible
    two-sided value there is 2/252 = 0.0079). The permutation p assumes the two variants' networks
    are exchangeable under the null (same distribution), Welch only equal means; report both.

    Args:
        x_a: (n_a,) one value per network of variant A (finite).
        x_b: (n_b,) the same for variant B.
        alpha: 1 - confidence of the Welch interval.
        margin: the estimand's equivalence margin (its own unit), kept for :func:`verdict`.

    Returns:
        An :class:`Estimate` with ``n_scenes = 0``; not ``estimable`` with fewer than 2 networks in a
        variant or zero variance in both. ``p_permutation`` is NaN (with a note) beyond
        :data:`MAX_PERMUTATIONS` relabelings.

    Raises:
        InvalidInputError: not two 1-D finite arrays; bad alpha or margin.
    """
    alpha, margin = _alpha(alpha), _margin(margin)
    a = _array("x_a", x_a, (1,))
    b = _array("x_b", x_b, (1,))
    n_a, n_b = a.size, b.size
    method = "per-network Welch t (Satterthwaite df), exact permutation p beside it"
    estimate = float(a.mean() - b.mean())
    notes: list[str] = []
    p_permutation = _permutation_p(a, b, notes)
    if n_a < 2 or n_b < 2:
        notes.append(f"between-network variance not estimable: {n_a} and {n_b} networks (need >= 2 per variant)")
        return _inconclusive(estimate, alpha, method, (n_a, n_b), 0, notes, margin, p_permutation=p_permutation)
    v_a, v_b = float(a.var(ddof=1)) / n_a, float(b.var(ddof=1)) / n_b
    components = {"V_a": v_a, "V_b": v_b}
    if not v_a + v_b > 0:
        notes.append("zero variance between networks: no interval")
        return _inconclusive(estimate, alpha, method, (n_a, n_b), 0, notes, margin, components, p_permutation)
    df = satterthwaite_df([v_a, v_b], [n_a - 1, n_b - 1])
    se, low, high, p = _t_result(estimate, v_a + v_b, df, alpha)
    return Estimate(estimate=estimate, low=low, high=high, se=se, df=df, p=p, alpha=alpha, method=method,
                    estimable=True, n_networks=(n_a, n_b), n_scenes=0, components=components,
                    notes=tuple(notes), margin=margin, p_permutation=p_permutation)


def _permutation_p(a: np.ndarray, b: np.ndarray, notes: list[str]) -> float:
    """Exact two-sided permutation p of the difference in means (every relabeling, the observed one included)."""
    pooled = np.concatenate([a, b])
    total, n_a = pooled.size, a.size
    count = math.comb(total, n_a)
    if count > MAX_PERMUTATIONS:
        notes.append(f"permutation p not computed: {count} relabelings exceed {MAX_PERMUTATIONS}")
        return math.nan
    members = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(total), n_a)),
                          dtype=np.int64, count=count * n_a).reshape(count, n_a)
    sum_a = pooled[members].sum(axis=1)
    differences = sum_a / n_a - (pooled.sum() - sum_a) / (total - n_a)
    observed = a.mean() - b.mean()
    tolerance = 1e-9 * max(1.0, float(np.abs(pooled).max()))  # ties in exact arithmetic stay ties
    return float(np.mean(np.abs(differences) >= abs(observed) - tolerance))


def network_slope(y: object, x: object, groups: Sequence[object] | None = None, *, alpha: float = 0.05,
                  margin: float | None = None) -> Estimate:
    """Slope of the network-mean outcome on a network-level predictor (e.g. attribution balance).

    Each network's outcome is first averaged over the scenes (``m_n = mean_s y[n, s]``). Every
    network ran the same scenes, so the scene main effects add the same ``b_bar`` to every
    ``m_n`` and cancel into the intercept; the network is the unit, and the slope is the OLS
    slope of ``m`` on ``x``:

    - pooled (``groups=None``): networks of all variants together, ``t`` with ``N - 2`` df. This
      reading mixes the association *between* variants with the one *within* them: with two
      variants that differ in both ``x`` and outcome, the pooled slope mostly measures the
      variant difference (and each variant's scene-by-variant average ``c_bar_v`` is shared by its
      networks, so pooled residuals are not independent across variants);
    - within variant (``groups`` = each network's variant): variant fixed effects (``x`` and ``m``
      centred within each group), ``t`` with ``N - 1 - G`` df; a variant effect correlated with
      ``x`` (and ``c_bar_v``) cannot bias it. A group of one network contributes nothing.

    Args:
        y: (N, S) outcome of N networks on the same S scenes, or (N,) one value per network.
        x: (N,) the predictor, one value per network (finite).
        groups: (N,) optional group (variant) label of each network.
        alpha: 1 - confidence of the interval.
        margin: equivalence margin in outcome unit per predictor unit, kept for :func:`verdict`.

    Returns:
        An :class:`Estimate` of the slope (``components``: ``intercept`` (pooled only),
        ``residual_variance``, ``sxx``); not ``estimable`` when the degrees of freedom are < 1 or
        ``x`` does not vary (within a group, for the within reading).

    Raises:
        InvalidInputError: shapes that disagree, non-finite values, bad alpha or margin.
    """
    alpha, margin = _alpha(alpha), _margin(margin)
    outcome = _array("y", y, (1, 2))
    predictor = _array("x", x, (1,))
    networks = outcome.shape[0]
    scenes = outcome.shape[1] if outcome.ndim == 2 else 0
    if predictor.size != networks:
        raise InvalidInputError(f"x: expected one value per network ({networks}), got {predictor.size}")
    means = outcome.mean(axis=1) if outcome.ndim == 2 else outcome
    notes: list[str] = []
    if groups is None:
        method = "OLS slope of network means on x, pooled over variants, t with N - 2 df"
        labels = np.zeros(networks, dtype=np.int64)
        df = networks - 2
        n_networks: tuple[int, ...] = (networks,)
    else:
        method = "OLS slope of network means on x within variants (variant fixed effects), t with N - 1 - G df"
        label_list = list(groups) if not isinstance(groups, (str, bytes)) else None
        if label_list is None or len(label_list) != networks:
            raise InvalidInputError(f"groups: expected one label per network ({networks}), got {show_value(groups)}")
        names = {label: index for index, label in enumerate(dict.fromkeys(label_list))}
        labels = np.array([names[label] for label in label_list], dtype=np.int64)
        df = networks - 1 - len(names)
        n_networks = tuple(int(count) for count in np.bincount(labels))
    centred_x = predictor - (np.bincount(labels, predictor) / np.bincount(labels))[labels]
    centred_m = means - (np.bincount(labels, means) / np.bincount(labels))[labels]
    sxx = float(np.sum(centred_x**2))
    slope = float(np.sum(centred_x * centred_m) / sxx) if sxx > 0 else math.nan
    if df < 1:
        notes.append(f"residual variance not estimable: {df} degrees of freedom from {networks} networks")
    if not sxx > 1e-12 * max(1.0, float(np.sum(predictor**2))):
        notes.append("x does not vary" + (" within any group" if groups is not None else ""))
    if notes:
        return _inconclusive(slope, alpha, method, n_networks, scenes, notes, margin, {"sxx": sxx})
    residuals = centred_m - slope * centred_x
    residual_variance = float(np.sum(residuals**2)) / df
    components = {"residual_variance": residual_variance, "sxx": sxx}
    if groups is None:
        components["intercept"] = float(means.mean() - slope * predictor.mean())
    if not residual_variance > 0:
        notes.append("network means lie exactly on a line: no interval")
        return _inconclusive(slope, alpha, method, n_networks, scenes, notes, margin, components)
    se, low, high, p = _t_result(slope, residual_variance / sxx, float(df), alpha)
    return Estimate(estimate=slope, low=low, high=high, se=se, df=float(df), p=p, alpha=alpha, method=method,
                    estimable=True, n_networks=n_networks, n_scenes=scenes, components=components,
                    notes=tuple(notes), margin=margin)


# ------------------------------------------------------------------------------------- bootstrap
def two_way_bootstrap(y_a: object, y_b: object, statistic: Callable[[np.ndarray, np.ndarray], float],
                      resamples: int, rng: np.random.Generator, *, alpha: float = 0.05,
                      margin: float | None = None) -> Estimate:
    """Percentile interval of ``statistic(y_a, y_b)`` from the pigeonhole (two-way cluster) bootstrap.

    Each resample draws, with replacement, ``n_A`` networks of A, ``n_B`` networks of B and ``S``
    scenes; the *same* scene draw is used for both variants (so scene main effects still cancel
    in a difference, as in the data), and the statistic is evaluated on the two resampled
    matrices ``y_a[rows_a][:, scenes]`` and ``y_b[rows_b][:, scenes]``. For a mean this
    bootstrap is known to be mildly conservative in the scene and residual terms (Owen 2007,
    "The pigeonhole bootstrap") and, with five networks, a percentile interval is somewhat short
    in the network term (the plug-in variance of a mean of 5 is 4/5 of the unbiased one and
    normal rather than t quantiles are implied); use it for statistics without a closed form
    (a ratio of means) and as a cross-check of :func:`compare_variants`, not in its place.

    ``p`` is the two-sided percentile-bootstrap p-value ``min(1, 2 min(#(T* <= 0) + 1,
    #(T* >= 0) + 1) / (B + 1))``: the smallest alpha at which the percentile interval excludes 0,
    resolved only to ``2 / (B + 1)``.

    Args:
        y_a: (n_A, S) outcome of variant A (NaN allowed: the statistic decides what it means).
        y_b: (n_B, S) outcome of variant B on the same scenes.
        statistic: ``f(y_a, y_b) -> float`` on two matrices of the input layout.
        resamples: number of bootstrap resamples B (>= 100).
        rng: the generator that draws them.
        alpha: 1 - confidence of the percentile interval.
        margin: equivalence margin in the statistic's unit, kept for :func:`verdict`.

    Returns:
        An :class:`Estimate` (``se`` is the bootstrap standard deviation, ``df`` NaN). Not
        ``estimable`` with fewer than 2 networks in a variant or 2 scenes, or when more than
        :data:`MAX_NONFINITE_SHARE` of the resampled statistics are not finite (fewer are dropped,
        with a note).

    Raises:
        InvalidInputError: bad arrays, resamples, generator, alpha or margin, or a statistic that
            does not return one real number.
    """
    alpha, margin = _alpha(alpha), _margin(margin)
    a, b = _variant_pair(y_a, y_b, allow_nan=True)
    if isinstance(resamples, bool) or not isinstance(resamples, numbers.Integral) or resamples < 100:
        raise invalid_value("resamples", resamples, "an integer >= 100")
    if not isinstance(rng, np.random.Generator):
        raise invalid_value("rng", rng, "a numpy.random.Generator")
    if not callable(statistic):
        raise invalid_value("statistic", statistic, "a function f(y_a, y_b) -> float")
    (n_a, scenes), n_b = a.shape, b.shape[0]
    method = f"pigeonhole bootstrap (networks within variant, shared scenes), {resamples} resamples, percentile"
    estimate = _call(statistic, a, b)
    notes: list[str] = []
    if n_a < 2 or n_b < 2 or scenes < 2:
        notes.append(f"cannot resample: {n_a} and {n_b} networks, {scenes} scenes (need >= 2 of each)")
        return _inconclusive(estimate, alpha, method, (n_a, n_b), scenes, notes, margin)
    count = int(resamples)
    rows_a = rng.integers(0, n_a, (count, n_a, 1))
    rows_b = rng.integers(0, n_b, (count, n_b, 1))
    columns = rng.integers(0, scenes, (count, 1, scenes))  # one scene draw, shared by both variants
    replicates = np.array([_call(statistic, a[rows_a[index], columns[index]], b[rows_b[index], columns[index]])
                           for index in range(count)])
    finite = replicates[np.isfinite(replicates)]
    dropped = replicates.size - finite.size
    if dropped > MAX_NONFINITE_SHARE * replicates.size or not math.isfinite(estimate):
        notes.append(f"statistic not finite on the data or on {dropped} of {replicates.size} resamples")
        return _inconclusive(estimate, alpha, method, (n_a, n_b), scenes, notes, margin)
    if dropped:
        notes.append(f"{dropped} of {replicates.size} resamples gave a non-finite statistic and were dropped")
    low, high = (float(value) for value in np.quantile(finite, [alpha / 2, 1 - alpha / 2]))
    tail = min(np.count_nonzero(finite <= 0), np.count_nonzero(finite >= 0)) + 1
    p = min(1.0, 2 * tail / (finite.size + 1))
    return Estimate(estimate=estimate, low=low, high=high, se=float(finite.std(ddof=1)), df=math.nan, p=p,
                    alpha=alpha, method=method, estimable=True, n_networks=(n_a, n_b), n_scenes=scenes,
                    components={"resamples_used": float(finite.size)}, notes=tuple(notes), margin=margin)


def _call(statistic: Callable[[np.ndarray, np.ndarray], float], a: np.ndarray, b: np.ndarray) -> float:
    value = statistic(a, b)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) and not (
            isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf"):
        raise invalid_value("statistic", value, "a function returning one real number")
    return float(value)


# -------------------------------------------------------------------------- verdicts and families
def verdict(result: Estimate, direction: int, margin: float | None = None, p_adjusted: float | None = None, *,
            alpha: float = 0.05) -> Verdict:
    """The three-way verdict on a claim about the estimand of ``result``.

    ``direction`` is the claimed sign: +1 (the estimand is positive), -1 (negative), or 0 (an
    equivalence claim: "no effect larger than the margin", e.g. "without compromising accuracy").
    ``margin`` (default: ``result.margin``) is the largest effect the study calls negligible,
    stated before the run in the estimand's own physical unit (mm for a difference in mm, mm per
    unit of balance for a slope).

    For direction +1 or -1, in this order:

    1. not estimable (NaN interval) -> "inconclusive";
    2. the whole interval inside ``[-margin, margin]`` -> "does not hold" (the effect is shown to
       be negligible; this wins even over a significant effect on the claimed side that is
       smaller than the margin: it is not the effect the claim is about);
    3. the interval excludes 0 on the claimed side and ``p_adjusted < alpha`` -> "holds";
    4. the interval excludes 0 on the opposite side -> "does not hold";
    5. otherwise -> "inconclusive".

    For direction 0: inside ``[-margin, margin]`` -> "holds"; entirely beyond the margin (``low >
    margin`` or ``high < -margin``) -> "does not hold"; otherwise "inconclusive" (a margin is required).

    The equivalence test uses the reported ``1 - alpha`` interval, which is stricter than TOST
    at level alpha (that uses the ``1 - 2 alpha`` interval).

    Args:
        result: the estimate and interval.
        direction: +1, -1 or 0.
        margin: positive number, or None for ``result.margin`` (None there too: no equivalence branch).
        p_adjusted: the family-adjusted p-value (from :func:`gatekeep`); None means ``result.p``.
        alpha: the level the adjusted p is compared with.

    Raises:
        InvalidInputError: result not an Estimate; direction not in {+1, -1, 0}; direction 0 without a
            margin; bad margin or alpha.
    """
    if not isinstance(result, Estimate):
        raise invalid_value("result", result, "an Estimate (from compare_variants, network_contrast, ...)")
    if isinstance(direction, bool) or direction not in (1, -1, 0):
        raise invalid_value("direction", direction, "+1, -1 or 0 (equivalence)")
    alpha = _alpha(alpha)
    margin = _margin(result.margin if margin is None else margin)
    if direction == 0 and margin is None:
        raise InvalidInputError("margin: an equivalence claim (direction 0) needs a positive margin, got None")
    p = result.p if p_adjusted is None else float(p_adjusted)
    low, high = result.low, result.high
    if not (result.estimable and math.isfinite(low) and math.isfinite(high)):
        return "inconclusive"
    inside = margin is not None and -margin <= low and high <= margin
    if direction == 0:
        if inside:
            return "holds"
        return "does not hold" if low > margin or high < -margin else "inconclusive"
    if inside:
        return "does not hold"
    claimed = low > 0 if direction == 1 else high < 0
    opposite = high < 0 if direction == 1 else low > 0
    if claimed and math.isfinite(p) and p < alpha:
        return "holds"
    return "does not hold" if opposite else "inconclusive"


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values: sorted ascending, ``p_(i) (m - i + 1)``, running maximum, capped at 1.

    A NaN entry (a test that could not be made) counts in the family size ``m`` as if its p were
    1, the conservative reading of a family registered before the run, and stays NaN.
    """
    values = list(p_values) if not isinstance(p_values, (str, bytes)) else [p_values]
    if not all(isinstance(value, numbers.Real) and not isinstance(value, bool) for value in values):
        raise invalid_value("p_values", p_values, "a flat sequence of p-values within [0, 1] (NaN allowed)")
    raw = np.array(values, dtype=float)
    if np.any((raw < 0) | (raw > 1)):
        raise invalid_value("p_values", p_values, "a flat sequence of p-values within [0, 1] (NaN allowed)")
    filled = np.where(np.isnan(raw), 1.0, raw)
    order = np.argsort(filled, kind="stable")
    size = filled.size
    stepped = np.maximum.accumulate(np.minimum(1.0, filled[order] * (size - np.arange(size))))
    adjusted = np.empty(size)
    adjusted[order] = stepped
    adjusted[np.isnan(raw)] = math.nan
    return adjusted


@dataclass(frozen=True)
class Gatekeeping:
    """The adjusted p-values and labels of a registered primary outcome and its secondary family.

    Attributes:
        alpha: the familywise level.
        primary_p: the primary outcome's p-value, tested alone at ``alpha``.
        gate_open: True when the primary rejected its null at ``alpha`` on the claimed side.
        adjusted: Holm-adjusted p of each secondary claim (within the secondary family only).
        labels: "primary", "confirmatory" / "exploratory" (each secondary) or "manipulation check".
        manipulation_checks: the manipulation checks' own unadjusted p-values (in no family).
    """

    alpha: float
    primary_p: float
    gate_open: bool
    adjusted: dict[str, float]
    labels: dict[str, Label]
    manipulation_checks: dict[str, float]


def gatekeep(primary: float, secondary_family: Mapping[str, float], alpha: float = 0.05, *,
             primary_on_claimed_side: bool = True, primary_name: str = "primary",
             manipulation_checks: Mapping[str, float] | None = None) -> Gatekeeping:
    """Serial gatekeeping: the primary outcome first, alone, then the secondary family with Holm.

    The primary's p is compared with the full ``alpha`` (no correction: it is one pre-registered
    test). Only if it rejects (``p < alpha``) on the claimed side does the gate open and the
    secondary claims become confirmatory, Holm-adjusted among themselves at the same ``alpha``;
    this procedure keeps the familywise error of primary + secondaries at ``alpha``. When the
    gate stays closed the secondary adjusted p's are still reported but labelled "exploratory":
    no confirmatory statement may rest on them. Manipulation checks (did the intervention move
    what it targets) are not claims of the paper: they are in no family, returned unadjusted.

    Args:
        primary: the primary outcome's two-sided p-value (NaN: not estimable, the gate stays closed).
        secondary_family: claim name -> raw p-value (NaN allowed: counted, see :func:`holm`).
        alpha: the familywise level.
        primary_on_claimed_side: False when the primary's estimate lies on the side opposite to
            the claim (a significant result against the claim does not open the gate).
        primary_name: the primary's key in ``labels``.
        manipulation_checks: check name -> raw p-value, reported apart.

    Raises:
        InvalidInputError: p-values outside [0, 1], bad alpha, a name used twice.
    """
    alpha = _alpha(alpha)
    primary_p = float(primary) if isinstance(primary, numbers.Real) and not isinstance(primary, bool) else -1.0
    if not (math.isnan(primary_p) or 0 <= primary_p <= 1):
        raise invalid_value("primary", primary, "a p-value within [0, 1] or NaN")
    checks = dict(manipulation_checks or {})
    names = [primary_name, *secondary_family, *checks]
    if len(set(names)) != len(names):
        raise invalid_value("names", names, "distinct names for the primary, the secondaries and the checks")
    holm(list(checks.values()))  # the same range check, result unused: checks are not adjusted
    gate_open = bool(primary_on_claimed_side and primary_p < alpha)
    adjusted = dict(zip(secondary_family, holm(list(secondary_family.values())).tolist(), strict=True))
    labels: dict[str, Label] = {primary_name: "primary"}
    labels.update({name: "confirmatory" if gate_open else "exploratory" for name in secondary_family})
    labels.update({name: "manipulation check" for name in checks})
    return Gatekeeping(alpha=alpha, primary_p=primary_p, gate_open=gate_open, adjusted=adjusted, labels=labels,
                       manipulation_checks={name: float(value) for name, value in checks.items()})

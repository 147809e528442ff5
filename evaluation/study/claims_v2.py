"""The paper's claims answered from the registry (issue #24, v2 analysis; v1 is :mod:`evaluation.study.claims`).

:func:`analyse` takes the study's episode table, its network table and the registry of the paper's
statements (``studies/paper_claims.toml``, :mod:`evaluation.study.paper_claims`) and returns one
:class:`ClaimResult` per statement, computed by the test the registry names with the statistics of
:mod:`evaluation.study.inference` (networks and scenes both random, small-sample intervals):

========================  ==================================================================
registry test             how
========================  ==================================================================
network_slope             OLS slope of network means on a network predictor, pooled (N - 2 df)
network_slope_within      the same within variants (variant fixed effects, N - 1 - G df)
network_slope_adjusted    the slope adjusted for held-out IK error (N - 3 df)
network_contrast          Welch t over networks (exact permutation p beside it)
compare_variants          networks x scenes crossed, scene-by-variant term, Satterthwaite t
network_mean              one-sample t over networks of (value - the claim's null)
network_equivalence       per reading: t interval of (value - reading) inside +-margin, TOST p
readings                  the variant's estimate and 95% interval beside each reading's value
table, pareto             descriptive per-variant summaries (no test)
========================  ==================================================================

Outcomes. Raw IKNet policies only (``kind == "raw"``). Per (network, scene), from the episode table:
``cad_min_clearance_mm`` is the CAD channel's signed minimum clearance of every episode (the
``min_clearance_mm`` column since issue #23; collided episodes included), ``collided`` (0/1) and
``jerk`` (the slope uses log jerk, so its unit is a fraction of the jerk); ``cad_min_clearance_sd_mm``
is each network's standard deviation of that clearance over the scenes. Per network, from the
network table (:class:`~evaluation.study.networks.NetworkBalance` rows): held-out IK error
(``position_error_mm_median``), balance (``balance_column``), the joints 3-4 shares, concentration
and parameter count. Slopes are per one standard deviation of the predictor over the networks the
test uses. Scenes missing for any network of a test are left out of it (with a note).

Families. The primary is tested alone at ``alpha`` (the gate); the secondary claims form one Holm
family (:func:`~evaluation.study.inference.gatekeep`), confirmatory when the gate opened, exploratory
when not; manipulation checks are reported unadjusted, in no family. An equivalence claim (direction
0) holds when its whole interval lies within +-margin *and* its Holm-adjusted TOST p is below alpha.
A claim answered by several estimates (the regulariser at each weight) holds only if every one holds
(its row shows the weakest); ``qz-0.6`` is answered under each reading, with a Bonferroni-adjusted
minimum TOST p in the family, and holds if some reading holds.

:func:`claims_markdown` renders the results as the body of claims.md v2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.study.inference import (
    Estimate,
    compare_variants,
    gatekeep,
    network_contrast,
    network_slope,
    satterthwaite_df,
    verdict,
)
from evaluation.study.paper_claims import PaperClaim, PaperClaims
from sim.errors import InvalidInputError, UnknownNameError, invalid_value

Family = Literal["primary", "secondary confirmatory", "secondary exploratory", "manipulation", "descriptive",
                 "untestable"]

#: Columns the episode table must have.
FRAME_COLUMNS: tuple[str, ...] = ("kind", "variant", "network", "scenario", "scene", "min_clearance_mm", "collided",
                                  "jerk")
#: Registry outcome -> episode-table column (per network and scene).
EPISODE_OUTCOMES: dict[str, str] = {"cad_min_clearance_mm": "min_clearance_mm", "collided": "collided",
                                    "jerk": "jerk", "cad_min_clearance_sd_mm": "min_clearance_mm"}
#: Registry outcome -> network-table column ("balance" is the ``balance_column`` argument).
NETWORK_OUTCOMES: dict[str, str] = {
    "heldout_position_mm_median": "position_error_mm_median", "balance": "balance",
    **{name: name for name in ("orientation_share_j34", "qz_share_j34", "qz_mean_abs_shap_j34_rad", "qz_rank_j34",
                               "z_share_j34", "concentration", "parameter_count")}}


@dataclass(frozen=True)
class _Spec:
    """What the registry's words leave to the code: which variants (A minus B), the null of a mean,
    the scenarios, the predictor of a slope."""

    a: str = ""
    b: str = ""
    variants: tuple[str, ...] = ()  #: () = every variant
    null: float = 0.0
    scenarios: tuple[str, ...] = ()  #: () = every scenario
    predictor: str = "balance"


#: The analysis of each registry claim (keyed by id). A registry claim of a tested or descriptive kind
#: that is missing here is refused by :func:`analyse` (one line), never silently skipped.
SPECS: dict[str, _Spec] = {
    "balance-clearance": _Spec(),
    "balance-clearance-within-variant": _Spec(),
    "balance-clearance-at-equal-accuracy": _Spec(),
    "balance-collisions": _Spec(),
    "balance-accuracy-not-compromised": _Spec(),
    "improved-optimal": _Spec(a="original", b="improved"),
    "improved-more-distributed": _Spec(a="improved", b="original"),
    "original-unbalanced": _Spec(a="focused", b="original"),
    "original-orientation-heavy": _Spec(variants=("original",), null=0.5),
    "qz-0.6": _Spec(variants=("original",)),
    "z-drives-joints-3-4": _Spec(null=1 / 7),
    "concentration-brittle": _Spec(predictor="concentration"),
    "balance-smoother": _Spec(),
    "balance-consistent-clearance": _Spec(),
    "residual-avoidance": _Spec(a="improved", b="improved_noresidual"),
    "residual-collisions": _Spec(a="improved", b="improved_noresidual"),
    "residual-training": _Spec(a="improved_noresidual", b="improved"),
    "focused-less-accurate": _Spec(a="focused", b="improved"),
    "focused-wider-clearance": _Spec(a="focused", b="improved"),
    "dynamic-balance-clearance": _Spec(scenarios=("dynamic",)),
    "regulariser-raises-balance": _Spec(b="improved"),  # A: each regularised variant
    "improved-numbers": _Spec(variants=("improved",)),
    "focused-numbers": _Spec(variants=("focused",)),
    "compact-architecture": _Spec(variants=("original", "improved")),
    "pareto": _Spec(),
}


@dataclass(frozen=True)
class ReadingResult:
    """Our estimate beside one reading of an ambiguous number of the paper.

    Attributes:
        support: "contains" (the reading's value lies inside our interval), "excludes", or "no interval".
        verdict: the equivalence verdict (within +-margin of the value) for a tested reading; "" for a
            descriptive one.
        p: the reading's TOST p (equivalence readings), NaN otherwise.
    """

    name: str
    outcome: str
    unit: str
    value: float
    estimate: float
    low: float
    high: float
    n: str
    support: str
    verdict: str = ""
    p: float = math.nan


@dataclass(frozen=True)
class ClaimResult:
    """One statement of the paper, answered.

    Attributes:
        verdict: "holds", "does not hold", "inconclusive" (tested kinds), "descriptive" or "untestable".
        estimate, low, high: the estimate and its ``1 - alpha`` interval in ``unit`` (NaN when there is none).
        n: what the estimate rests on (networks, scenes).
        p: the unadjusted two-sided p (TOST p for an equivalence claim); p_adjusted: Holm within the
            secondary family, the p itself for the primary, NaN for checks, descriptions and untestables.
        family: which family the claim was tested in.
        what_would_change: one sentence on what evidence would move the verdict.
        readings: per-reading results (descriptive readings, ``qz-0.6``'s equivalence readings).
    """

    id: str
    kind: str
    lines: tuple[int, ...]
    quotes: tuple[str, ...]
    verdict: str
    estimate: float
    low: float
    high: float
    unit: str
    n: str
    p: float
    p_adjusted: float
    family: Family
    what_would_change: str
    notes: tuple[str, ...] = ()
    readings: tuple[ReadingResult, ...] = ()
    method: str = ""
    direction: int | None = None
    margin: float | None = None


# ----------------------------------------------------------------------------------------- helpers
def _not_estimable(estimate: float, alpha: float, method: str, n_networks: tuple[int, ...], scenes: int,
                   notes: Sequence[str], margin: float | None) -> Estimate:
    return Estimate(estimate=estimate, low=math.nan, high=math.nan, se=math.nan, df=math.nan, p=math.nan,
                    alpha=alpha, method=method, estimable=False, n_networks=n_networks, n_scenes=scenes,
                    notes=tuple(notes), margin=margin)


def _t_estimate(estimate: float, variance: float, df: float, alpha: float, method: str,
                n_networks: tuple[int, ...], scenes: int, margin: float | None, notes: Sequence[str] = ()) -> Estimate:
    se = math.sqrt(variance)
    quantile = float(stats.t.ppf(1 - alpha / 2, df))
    p = float(2 * stats.t.sf(abs(estimate) / se, df))
    return Estimate(estimate=estimate, low=estimate - quantile * se, high=estimate + quantile * se, se=se, df=df,
                    p=p, alpha=alpha, method=method, estimable=True, n_networks=n_networks, n_scenes=scenes,
                    notes=tuple(notes), margin=margin)


def one_sample(values: object, *, null: float = 0.0, alpha: float = 0.05, margin: float | None = None) -> Estimate:
    """``mean(values) - null`` over networks (one value each) with a t interval on ``n - 1`` df."""
    array = np.asarray(values, dtype=float)
    method = "one-sample t over networks"
    estimate = float(array.mean() - null) if array.size else math.nan
    if array.size < 2:
        return _not_estimable(estimate, alpha, method, (array.size,), 0,
                              [f"{array.size} network(s): a mean over networks needs >= 2"], margin)
    variance = float(array.var(ddof=1)) / array.size
    if not variance > 0:
        return _not_estimable(estimate, alpha, method, (array.size,), 0,
                              [f"every network gives the same value ({array[0]:g}): no interval"], margin)
    return _t_estimate(estimate, variance, float(array.size - 1), alpha, method, (array.size,), 0, margin)


def variant_mean(y: np.ndarray, *, alpha: float = 0.05) -> Estimate:
    """Mean of one variant's (networks, scenes) outcome, networks and scenes random: the variance
    ``s2(network means)/n + s2(scene means)/S`` (conservative: the residual counts in both), Satterthwaite t."""
    networks, scenes = y.shape
    method = "variant mean, networks and scenes random, moment variance, Satterthwaite t"
    estimate = float(y.mean()) if y.size else math.nan
    if networks < 2 or scenes < 2:
        return _not_estimable(estimate, alpha, method, (networks,), scenes,
                              [f"{networks} networks and {scenes} scenes (need >= 2 of each)"], None)
    v_network = float(y.mean(axis=1).var(ddof=1)) / networks
    v_scene = float(y.mean(axis=0).var(ddof=1)) / scenes
    if not v_network + v_scene > 0:
        return _not_estimable(estimate, alpha, method, (networks,), scenes, ["zero variance: no interval"], None)
    df = satterthwaite_df([v_network, v_scene], [networks - 1, scenes - 1])
    return _t_estimate(estimate, v_network + v_scene, df, alpha, method, (networks,), scenes, None)


def adjusted_slope(y: np.ndarray, x: np.ndarray, covariate: np.ndarray, *, alpha: float = 0.05,
                   margin: float | None = None) -> Estimate:
    """OLS slope of network means ``y`` (N,) on ``x`` adjusted for ``covariate`` (N,), t with N - 3 df."""
    networks = y.size
    method = "OLS slope of network means on x adjusted for held-out IK error, t with N - 3 df"
    design = np.column_stack([np.ones(networks), x, covariate])
    if not (np.isfinite(design).all() and np.isfinite(y).all()):
        return _not_estimable(math.nan, alpha, method, (networks,), 0,
                              ["a network's outcome, x or held-out error is not finite"], margin)
    if networks < 4 or np.linalg.matrix_rank(design) < 3:
        why = (f"{networks} networks (need >= 4)" if networks < 4
               else "x and the covariate are collinear (or one does not vary)")
        return _not_estimable(math.nan, alpha, method, (networks,), 0, [why], margin)
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual_variance = float(np.sum((y - design @ coefficients) ** 2)) / (networks - 3)
    slope = float(coefficients[1])
    if not residual_variance > 0:
        return _not_estimable(slope, alpha, method, (networks,), 0, ["network means lie exactly on a plane"], margin)
    variance = residual_variance * float(np.linalg.inv(design.T @ design)[1, 1])
    return _t_estimate(slope, variance, float(networks - 3), alpha, method, (networks,), 0, margin)


def tost_p(result: Estimate, margin: float) -> float:
    """Two one-sided tests of ``|estimand| < margin``: the larger one-sided p (NaN without a t interval)."""
    if not (result.estimable and math.isfinite(result.se) and result.se > 0 and math.isfinite(result.df)):
        return math.nan
    lower = float(stats.t.sf((result.estimate + margin) / result.se, result.df))
    upper = float(stats.t.cdf((result.estimate - margin) / result.se, result.df))
    return max(lower, upper)


def _n_text(result: Estimate, labels: Sequence[str] = ()) -> str:
    total = sum(result.n_networks)
    parts = " + ".join(f"{count} {label}" for count, label in zip(result.n_networks, labels, strict=False))
    text = f"{total} networks" + (f" ({parts})" if labels and len(result.n_networks) > 1 else "")
    return text + (f" x {result.n_scenes} scene{'s' if result.n_scenes > 1 else ''}" if result.n_scenes else "")


class _Data:
    """The raw-policy episodes and the network table, indexed for the tests."""

    def __init__(self, frame: pd.DataFrame, networks_table: pd.DataFrame, balance_column: str) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise invalid_value("frame", frame, "a pandas DataFrame of episodes (evaluation.study.episodes.collect)")
        if not isinstance(networks_table, pd.DataFrame):
            raise invalid_value("networks_table", networks_table, "a pandas DataFrame of NetworkBalance rows")
        missing = [column for column in FRAME_COLUMNS if column not in frame.columns]
        if missing:
            raise InvalidInputError(f"frame: missing column {missing[0]!r}; an episode table needs "
                                    f"{', '.join(FRAME_COLUMNS)}")
        needed = ("network", "variant", balance_column,
                  *(column for column in NETWORK_OUTCOMES.values() if column != "balance"))
        missing = [column for column in needed if column not in networks_table.columns]
        if missing:
            raise InvalidInputError(f"networks_table: missing column {missing[0]!r}; it needs the NetworkBalance "
                                    f"fields {', '.join(dict.fromkeys(needed))}")
        if networks_table["network"].duplicated().any():
            raise InvalidInputError("networks_table: a network appears twice; expected one row per network")
        self.raw = frame[frame["kind"] == "raw"]
        self.networks = networks_table.set_index("network").rename(columns={balance_column: "balance"})
        self.balance_column = balance_column

    def names(self, variants: Sequence[str] = ()) -> list[str]:
        table = self.networks
        return list(table.index if not variants else table.index[table["variant"].isin(list(variants))])

    def column(self, outcome: str, names: Sequence[str]) -> np.ndarray:
        return self.networks.loc[list(names), NETWORK_OUTCOMES[outcome]].to_numpy(dtype=float)

    def matrix(self, outcome: str, names: Sequence[str], scenarios: Sequence[str] = ()) -> tuple[
            np.ndarray, list[str], list[str]]:
        """(networks, scenes) outcome over the scenes every one of ``names`` ran (with notes)."""
        data = self.raw if not scenarios else self.raw[self.raw["scenario"].isin(list(scenarios))]
        data = data[data["network"].isin(list(names))]
        values = data[EPISODE_OUTCOMES[outcome]].astype(float)
        notes = []
        if outcome == "jerk":
            positive = values > 0
            if not positive.all():
                notes.append(f"{int((~positive).sum())} episode(s) with jerk <= 0 left out of log jerk")
            values = np.log(values.where(positive))
        table = data.assign(_value=values).pivot_table(index="network", columns="scene", values="_value",
                                                       aggfunc="mean")
        kept = [name for name in names if name in table.index]
        if len(kept) < len(names):
            notes.append(f"{len(names) - len(kept)} network(s) without episodes here left out")
        table = table.reindex(kept)
        complete = table.columns[table.notna().all(axis=0)]
        if len(complete) < table.shape[1]:
            notes.append(f"{table.shape[1] - len(complete)} scene(s) not run by every network left out")
        return table[complete].to_numpy(dtype=float), kept, notes


# ------------------------------------------------------------------------------------------- tests
def _per_sd(x: np.ndarray, name: str, notes: list[str]) -> np.ndarray:
    sd = float(x.std(ddof=1)) if x.size > 1 else math.nan
    if not sd > 0:
        return x
    notes.append(f"1 SD of {name} over these {x.size} networks = {sd:.4g}")
    return (x - x.mean()) / sd


def _slope(claim: PaperClaim, spec: _Spec, data: _Data, alpha: float) -> tuple[Estimate, str, list[str]]:
    notes: list[str] = []
    names = data.names()
    if claim.outcome in NETWORK_OUTCOMES:
        outcome = data.column(claim.outcome, names)
    else:
        outcome, names, notes = data.matrix(claim.outcome, names, spec.scenarios)
        if claim.outcome == "cad_min_clearance_sd_mm":
            outcome = outcome.std(axis=1, ddof=1) if outcome.shape[1] > 1 else np.full(len(names), math.nan)
        if outcome.size == 0 or not np.isfinite(outcome).all():
            method = f"{claim.test} ({claim.outcome})"
            return (_not_estimable(math.nan, alpha, method, (len(names),), 0,
                                   [*notes, "no complete outcome for these networks"], claim.margin), "", notes)
    predictor = data.column(spec.predictor, names)
    x = _per_sd(predictor, data.balance_column if spec.predictor == "balance" else spec.predictor, notes)
    if claim.test == "network_slope_adjusted":
        means = outcome.mean(axis=1) if outcome.ndim == 2 else outcome
        result = adjusted_slope(means, x, data.column("heldout_position_mm_median", names), alpha=alpha,
                                margin=claim.margin)
    elif claim.test == "network_slope_within":
        groups = data.networks.loc[names, "variant"].tolist()
        result = network_slope(outcome, x, groups, alpha=alpha, margin=claim.margin)
    else:
        result = network_slope(outcome, x, alpha=alpha, margin=claim.margin)
    scenarios = f" ({', '.join(spec.scenarios)} scenes)" if spec.scenarios else ""
    return result, _n_text(result) + scenarios, notes


def _absent(variants: Sequence[str], data: _Data) -> list[str]:
    present = set(data.networks["variant"])
    return [f"no networks of variant {name!r} in this study" for name in variants if name not in present]


def _contrast(claim: PaperClaim, a: str, b: str, data: _Data, alpha: float) -> tuple[Estimate, str, list[str]]:
    method = f"{claim.test}: {a} - {b}"
    absent = _absent((a, b), data)
    if absent:
        return _not_estimable(math.nan, alpha, method, (0, 0), 0, absent, claim.margin), "0 networks", absent
    names_a, names_b = data.names((a,)), data.names((b,))
    if claim.test == "network_contrast":
        result = network_contrast(data.column(claim.outcome, names_a), data.column(claim.outcome, names_b),
                                  alpha=alpha, margin=claim.margin)
        notes = [f"exact permutation p = {result.p_permutation:.3g}"] if math.isfinite(result.p_permutation) else []
        return result, _n_text(result, (a, b)), notes
    matrix, kept, notes = data.matrix(claim.outcome, names_a + names_b)
    rows_a = [index for index, name in enumerate(kept) if name in names_a]
    rows_b = [index for index, name in enumerate(kept) if name in names_b]
    if not rows_a or not rows_b or matrix.shape[1] == 0:
        notes.append("no scenes run by every network of both variants")
        return _not_estimable(math.nan, alpha, method, (len(rows_a), len(rows_b)), 0, notes, claim.margin), \
            "0 scenes", notes
    result = compare_variants(matrix[rows_a], matrix[rows_b], alpha=alpha, margin=claim.margin)
    return result, _n_text(result, (a, b)), notes


def _mean(claim: PaperClaim, spec: _Spec, data: _Data, alpha: float) -> tuple[Estimate, str, list[str]]:
    absent = _absent(spec.variants, data)
    names = data.names(spec.variants)
    if absent or not names:
        notes = absent or ["no networks"]
        return _not_estimable(math.nan, alpha, "one-sample t over networks", (0,), 0, notes, claim.margin), \
            "0 networks", notes
    result = one_sample(data.column(claim.outcome, names), null=spec.null, alpha=alpha, margin=claim.margin)
    which = f" of {', '.join(spec.variants)}" if spec.variants else " (every variant)"
    return result, f"{len(names)} networks{which}", [f"tested against {spec.null:.4g}", *result.notes]


def _reading_estimate(outcome: str, variants: Sequence[str], data: _Data, alpha: float) -> tuple[Estimate, str]:
    names = data.names(variants)
    if outcome in NETWORK_OUTCOMES:
        result = one_sample(data.column(outcome, names), alpha=alpha)
        return result, f"{len(names)} networks"
    matrix, kept, _ = data.matrix(outcome, names)
    result = variant_mean(matrix, alpha=alpha)
    return result, f"{len(kept)} networks x {matrix.shape[1]} scenes"


def _support(result: Estimate, value: float) -> str:
    if not (math.isfinite(result.low) and math.isfinite(result.high)):
        return "no interval"
    return "contains" if result.low <= value <= result.high else "excludes"


def _readings(claim: PaperClaim, spec: _Spec, data: _Data, alpha: float) -> list[ReadingResult]:
    rows = []
    for reading in claim.readings:
        result, n = _reading_estimate(reading.outcome, spec.variants, data, alpha)
        rows.append(ReadingResult(reading.name, reading.outcome, reading.unit, reading.value, result.estimate,
                                  result.low, result.high, n, _support(result, reading.value)))
    return rows


def _equivalence_readings(claim: PaperClaim, spec: _Spec, data: _Data,
                          alpha: float) -> list[tuple[ReadingResult, Estimate]]:
    rows = []
    names = data.names(spec.variants)
    for reading in claim.readings:
        values = data.column(reading.outcome, names) if names else np.array([])
        result = one_sample(values, null=reading.value, alpha=alpha, margin=claim.margin)
        absolute = replace(result, estimate=result.estimate + reading.value, low=result.low + reading.value,
                           high=result.high + reading.value)
        rows.append((ReadingResult(reading.name, reading.outcome, reading.unit, reading.value, absolute.estimate,
                                   absolute.low, absolute.high, f"{len(names)} networks",
                                   _support(absolute, reading.value), verdict(result, 0, claim.margin),
                                   tost_p(result, claim.margin)), result))
    return rows


def _interval(estimate: float, low: float, high: float) -> str:
    if not math.isfinite(estimate):
        return "n/a"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{estimate:.4g} [no interval]"
    return f"{estimate:.4g} [{low:.4g}, {high:.4g}]"


def _table_notes(claim: PaperClaim, spec: _Spec, data: _Data, alpha: float) -> list[str]:
    notes = []
    variants = spec.variants or tuple(dict.fromkeys(data.networks["variant"]))
    points = {}
    for variant in variants:
        names = data.names((variant,))
        if not names:
            notes.append(f"{variant}: no networks in this study")
            continue
        error, _ = _reading_estimate("heldout_position_mm_median", (variant,), data, alpha)
        if claim.test == "table":
            count = int(np.median(data.column("parameter_count", names)))
            shown = _interval(error.estimate, error.low, error.high)
            notes.append(f"{variant}: {count:,} parameters, held-out error {shown} mm ({len(names)} networks)")
            continue
        clearance, n = _reading_estimate("cad_min_clearance_mm", (variant,), data, alpha)
        points[variant] = (error.estimate, clearance.estimate)
        notes.append(f"{variant}: held-out error {_interval(error.estimate, error.low, error.high)} mm, CAD minimum "
                     f"clearance {_interval(clearance.estimate, clearance.low, clearance.high)} mm ({n})")
    if claim.test == "pareto" and points:
        front = [name for name, (error, clearance) in points.items()
                 if not any(e <= error and c >= clearance and (e < error or c > clearance)
                            for other, (e, c) in points.items() if other != name)]
        notes.append(f"not dominated (lower error, wider clearance, variant means): {', '.join(front)}; raw "
                     "networks only (a safety-layered policy has its network's held-out error)")
    return notes


# ---------------------------------------------------------------------------------- the sentence
def what_would_change(verdict_text: str, estimate: float, low: float, high: float, p: float, p_adjusted: float,
                      direction: int | None, margin: float | None, n: str, *, alpha: float = 0.05) -> str:
    """One sentence on what evidence would move a tested claim's verdict."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"an interval at all: more networks or scenes than this run had ({n})"
    half = (high - low) / 2
    inside = margin is not None and -margin <= low and high <= margin
    if direction == 0:
        if verdict_text == "holds":
            return f"an interval reaching beyond +-{margin:g} (a larger effect in a rerun) would make it inconclusive"
        if inside:
            return (f"the interval lies within +-{margin:g} but the Holm-adjusted TOST p ({p_adjusted:.3g}) is not "
                    f"below {alpha:g}; a narrower interval (more networks) would make it hold")
        if verdict_text == "does not hold":
            return f"a replication whose interval reaches back within +-{margin:g} of 0"
        room = (margin or 0.0) - abs(estimate)
        if room <= 0:
            return (f"the estimate ({estimate:.3g}) lies beyond +-{margin:g}; a narrower interval would more likely "
                    "show the effect is not negligible (does not hold)")
        return (f"the interval crosses +-{margin:g}; about {(half / room) ** 2:.1f}x the {n} at the same estimate "
                "would fit it inside (holds)")
    if inside:
        return (f"the whole interval lies within +-{margin:g} (negligible); an interval reaching beyond it, e.g. from "
                "a larger effect elsewhere, would be needed")
    if verdict_text == "holds":
        edge = min(abs(low), abs(high))
        return f"a replication whose interval moves {edge:.3g} toward 0 (its nearer end) would make it inconclusive"
    if verdict_text == "does not hold":
        edge = min(abs(low), abs(high))
        return f"the interval excludes 0 on the side opposite the claim by {edge:.3g}; only a reversal would change it"
    claimed = (low > 0) if direction == 1 else (high < 0)
    if claimed and math.isfinite(p) and p > 0 and math.isfinite(p_adjusted):
        needed = stats.norm.isf(alpha / 2 * p / max(p_adjusted, p))
        observed = stats.norm.isf(p / 2)
        return (f"the interval excludes 0 on the claimed side but the adjusted p ({p_adjusted:.3g}) is not below "
                f"{alpha:g}; about {(needed / observed) ** 2:.2f}x the {n} at the same effect would pass")
    if estimate == 0 or not math.isfinite(estimate):
        return f"the interval (half-width {half:.3g}) straddles 0; a much larger study is needed"
    return (f"the interval straddles 0 (half-width {half:.3g} vs estimate {estimate:.3g}); an effect of this size "
            f"needs about {max((half / abs(estimate)) ** 2, 1.0):.1f}x the {n} to resolve")


# ----------------------------------------------------------------------------------------- analyse
@dataclass
class _Tested:
    claim: PaperClaim
    result: Estimate
    n: str
    notes: list[str]
    p: float
    parts: list[tuple[str, Estimate]] = field(default_factory=list)  #: several estimates of one claim
    readings: list[tuple[ReadingResult, Estimate]] = field(default_factory=list)


def _test(claim: PaperClaim, data: _Data, alpha: float, regularised: Sequence[str]) -> _Tested:
    spec = SPECS[claim.id]
    if claim.test in ("network_slope", "network_slope_within", "network_slope_adjusted"):
        result, n, notes = _slope(claim, spec, data, alpha)
    elif claim.test in ("network_contrast", "compare_variants") and claim.id == "regulariser-raises-balance":
        parts = []
        notes = [] if regularised else ["no regularised variant in this study"]
        for name in regularised:
            part, n, _ = _contrast(claim, name, spec.b, data, alpha)
            parts.append((name, part))
            notes.append(f"{name} - {spec.b}: {_interval(part.estimate, part.low, part.high)}, p = {part.p:.3g}")
        if not parts:
            result = _not_estimable(math.nan, alpha, claim.test, (0,), 0, notes, claim.margin)
            return _Tested(claim, result, "0 networks", notes, math.nan)
        ps = [part.p if math.isfinite(part.p) else 1.0 for _, part in parts]
        weakest, result = parts[int(np.argmax(ps))]
        notes.insert(0, f"every regularised variant must hold; the row shows the weakest ({weakest})")
        n = f"{_n_text(result, (weakest, spec.b))}; the weakest of {len(parts)} regularised variants"
        p = max(part.p for _, part in parts) if all(math.isfinite(part.p) for _, part in parts) else math.nan
        return _Tested(claim, result, n, notes, p, parts=parts)
    elif claim.test in ("network_contrast", "compare_variants"):
        result, n, notes = _contrast(claim, spec.a, spec.b, data, alpha)
    elif claim.test == "network_mean":
        result, n, notes = _mean(claim, spec, data, alpha)
    elif claim.test == "network_equivalence":
        readings = _equivalence_readings(claim, spec, data, alpha)
        tosts = [reading.p for reading, _ in readings if math.isfinite(reading.p)]
        p = min(1.0, len(readings) * min(tosts)) if tosts else math.nan
        best = min(range(len(readings)), key=lambda k: readings[k][0].p if math.isfinite(readings[k][0].p) else 2.0)
        notes = [f"family p: the smallest reading TOST p x {len(readings)} readings (Bonferroni); the row shows "
                 f"reading {readings[best][0].name!r}, as (value - reading)"]
        return _Tested(claim, readings[best][1], readings[best][0].n, notes, p, readings=readings)
    else:
        raise InvalidInputError(f"claim {claim.id!r}: test {claim.test!r} is not a test of a {claim.kind} claim")
    p = tost_p(result, claim.margin) if claim.direction == 0 else result.p
    return _Tested(claim, result, n, [*notes, *(note for note in result.notes if note not in notes)], p)


def _guarded(claim: PaperClaim, data: _Data, alpha: float, regularised: Sequence[str]) -> _Tested:
    """:func:`_test`, with data the statistics refuse (a NaN held-out error, say) making this one claim
    inconclusive, with the reason, rather than stopping every other claim."""
    try:
        return _test(claim, data, alpha, regularised)
    except InvalidInputError as error:
        note = f"not tested: {error}"
        result = _not_estimable(math.nan, alpha, claim.test, (0,), 0, [note], claim.margin)
        return _Tested(claim, result, "n/a", [note], math.nan)


def _decide(tested: _Tested, p_adjusted: float, alpha: float) -> str:
    claim, result = tested.claim, tested.result
    if tested.parts:
        verdicts = [verdict(part, claim.direction, claim.margin, p_adjusted=p_adjusted if claim.kind != "manipulation"
                            else part.p, alpha=alpha) for _, part in tested.parts]
        return "holds" if all(v == "holds" for v in verdicts) else (
            "does not hold" if "does not hold" in verdicts else "inconclusive")
    significant = math.isfinite(p_adjusted) and p_adjusted < alpha
    if tested.readings:
        verdicts = [reading.verdict for reading, _ in tested.readings]
        if "holds" in verdicts and significant:
            return "holds"
        return "does not hold" if verdicts and all(v == "does not hold" for v in verdicts) else "inconclusive"
    decided = verdict(result, claim.direction, claim.margin, p_adjusted=p_adjusted, alpha=alpha)
    if claim.direction == 0 and decided == "holds" and not significant:
        return "inconclusive"
    return decided


def analyse(frame: pd.DataFrame, networks_table: pd.DataFrame, registry: PaperClaims, *, alpha: float = 0.05,
            balance_column: str = "entropy_joint_mean",
            regularised_variants: Sequence[str] | None = None) -> list[ClaimResult]:
    """Every registry claim answered by its test; one :class:`ClaimResult` per claim, in registry order.

    Args:
        frame: one row per episode (:func:`evaluation.study.episodes.collect`); raw policies are analysed.
        networks_table: one row per network (:class:`~evaluation.study.networks.NetworkBalance` fields).
        registry: the paper's statements (:func:`~evaluation.study.paper_claims.load_paper_claims`).
        alpha: the familywise level (and 1 - confidence of every interval).
        balance_column: the network table's balance measure (the design's ``balance_measure``).
        regularised_variants: the variants of the intervention (default: those named ``balanced*``).

    Raises:
        InvalidInputError: not DataFrames, a missing column, a network listed twice, a claim with no
            analysis here, a bad alpha (one line each).
    """
    if not isinstance(registry, PaperClaims):
        raise invalid_value("registry", registry, "PaperClaims (evaluation.study.paper_claims.load_paper_claims)")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise invalid_value("alpha", alpha, "a number strictly between 0 and 1")
    for claim in registry.claims:
        if claim.kind != "untestable" and claim.id not in SPECS:
            raise UnknownNameError(f"claim id (registry {claim.kind} claim without an analysis in claims_v2)",
                                   claim.id, SPECS)
    data = _Data(frame, networks_table, balance_column)
    if regularised_variants is None:
        regularised = sorted(name for name in set(data.networks["variant"]) if str(name).startswith("balanced"))
    else:
        regularised = list(regularised_variants)
    tested = {claim.id: _guarded(claim, data, alpha, regularised)
              for claim in registry.claims if claim.kind in ("primary", "secondary", "manipulation")}
    primary = tested[registry.primary.id]
    side = math.isfinite(primary.result.estimate) and primary.result.estimate * (primary.claim.direction or 1) > 0
    gate = gatekeep(primary.p, {cid: t.p for cid, t in tested.items() if t.claim.kind == "secondary"}, alpha,
                    primary_on_claimed_side=side, primary_name=registry.primary.id,
                    manipulation_checks={cid: t.p for cid, t in tested.items() if t.claim.kind == "manipulation"})
    results = []
    for claim in registry.claims:
        if claim.id in tested:
            results.append(_tested_result(tested[claim.id], gate.gate_open, gate.adjusted, alpha))
        elif claim.kind == "untestable":
            results.append(ClaimResult(claim.id, claim.kind, claim.lines, claim.quotes, "untestable", math.nan,
                                       math.nan, math.nan, "", "", math.nan, math.nan, "untestable",
                                       f"nothing measurable here: {claim.why}", (claim.statement,)))
        else:
            results.append(_descriptive_result(claim, data, alpha))
    return results


def _tested_result(tested: _Tested, gate_open: bool, adjusted: Mapping[str, float], alpha: float) -> ClaimResult:
    claim, result = tested.claim, tested.result
    if claim.kind == "primary":
        family: Family = "primary"
        p_adjusted = tested.p
    elif claim.kind == "secondary":
        family = "secondary confirmatory" if gate_open else "secondary exploratory"
        p_adjusted = adjusted[claim.id]
    else:
        family, p_adjusted = "manipulation", math.nan
    decided = _decide(tested, p_adjusted if claim.kind != "manipulation" else tested.p, alpha)
    sentence = what_would_change(decided, result.estimate, result.low, result.high, tested.p,
                                 p_adjusted if math.isfinite(p_adjusted) else tested.p, claim.direction, claim.margin,
                                 tested.n, alpha=alpha)
    if family == "secondary exploratory":
        sentence = "the primary holding (the gate is closed, so this row is exploratory); else " + sentence
    return ClaimResult(claim.id, claim.kind, claim.lines, claim.quotes, decided, result.estimate, result.low,
                       result.high, claim.unit, tested.n, tested.p, p_adjusted, family, sentence, tuple(tested.notes),
                       tuple(reading for reading, _ in tested.readings), result.method, claim.direction, claim.margin)


def _descriptive_result(claim: PaperClaim, data: _Data, alpha: float) -> ClaimResult:
    spec = SPECS[claim.id]
    readings: tuple[ReadingResult, ...] = ()
    if claim.test == "readings":
        absent = _absent(spec.variants, data)
        readings = () if absent else tuple(_readings(claim, spec, data, alpha))
        notes = absent or [f"interval {r.support} the {r.name} reading ({r.value:g})" for r in readings]
        sentence = "not a test; a reading's support changes if a rerun's interval moves past its value"
    else:
        notes = _table_notes(claim, spec, data, alpha)
        sentence = "not a test; the table changes with the networks behind it"
    return ClaimResult(claim.id, claim.kind, claim.lines, claim.quotes, "descriptive", math.nan, math.nan, math.nan,
                       claim.unit, "", math.nan, math.nan, "descriptive", sentence, tuple(notes), readings, claim.test)


# ---------------------------------------------------------------------------------------- markdown
def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _p(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "n/a"


def _row(result: ClaimResult, claim: PaperClaim) -> str:
    words = " / ".join(f'"{quote}"' for quote in result.quotes)
    lines = ", ".join(str(line) for line in result.lines)
    shown = result.verdict + (" (exploratory)" if result.family == "secondary exploratory" else "")
    if result.readings:
        shown += "; " + "; ".join(f"{r.name}: {r.verdict or r.support}" for r in result.readings)
    estimate = _interval(result.estimate, result.low, result.high) if result.verdict not in (
        "descriptive", "untestable") else ""
    return (f"| {result.id} | {lines} | {_cell(words)} | {_cell(claim.statement)} | {_cell(shown)} | {estimate} | "
            f"{_cell(result.unit)} | {_cell(result.n)} | {_p(result.p_adjusted)} | {result.family} | "
            f"{_cell(result.what_would_change)} |")


def registration_line(registration: object = None) -> str:
    """The claims file's registration line, from a study start record (``study.json``: ``started_utc`` and
    ``registration``), a :class:`~evaluation.study.registration.Registration`, or None (unregistered)."""
    record = registration if isinstance(registration, Mapping) else None
    registered = record.get("registration") if record is not None else registration
    if isinstance(registered, Mapping):
        commit, when = registered.get("commit", ""), registered.get("committed_utc", "")
    else:
        commit, when = getattr(registered, "commit", ""), getattr(registered, "committed_utc", "")
    started = record.get("started_utc") if record else None
    if commit:
        line = f"Registration: commit {commit} ({when}) is this design's registration"
        return line + (f"; the first run started {started}." if started else ".")
    line = "Registration: none. The design was not committed before the run: every result here is exploratory"
    return line + (f"; the first run started {started}." if started else ".")


def run_line(run: Mapping[str, object] | None) -> str:
    """The wall time, command and machine of the run that finished the study (``run.json``), in one line."""
    if not run:
        return "Run: no run record."
    seconds = float(run.get("wall_time_s", math.nan))  # type: ignore[arg-type]
    versions = run.get("versions") or {}
    shown = ", ".join(f"{name} {version}" for name, version in versions.items()  # type: ignore[union-attr]
                      if name in ("torch", "pybullet", "numpy"))
    line = (f"Run: `{run.get('command', '')}` took {seconds / 60:.1f} min wall time ({seconds:.0f} s, from "
            f"{run.get('started_utc', '?')} to {run.get('finished_utc', '?')}: training, episodes, attribution and "
            f"statistics) on {run.get('cpus_available', '?')} of {run.get('cpu_count', '?')} CPUs, backend "
            f"{run.get('backend', '?')}, {run.get('workers', '?')} worker(s); {shown}.")
    earlier = run.get("earlier_runs") or []
    if earlier:
        total = seconds + sum(float(r.get("wall_time_s", 0.0)) for r in earlier)  # type: ignore[union-attr]
        line += (f" It resumed {len(earlier)} earlier finished run(s); the finished runs took {total / 60:.1f} min "
                 "in all (a run stopped before its end is not counted).")
    return line


def paper_table(results: Sequence[ClaimResult], registry: PaperClaims) -> list[str]:
    """The paper's Key Results numbers beside ours, one row per variant the paper reports: the paper's number as
    printed (its units unstated) and ours in mm with its 95% interval, per outcome (the first reading of each
    outcome is the number as printed; the other readings are in the long table below)."""
    by_id = {result.id: result for result in results}
    rows, outcomes = [], []
    for claim in registry.claims:
        if claim.test != "readings" or not by_id[claim.id].readings:
            continue
        first: dict[str, ReadingResult] = {}
        for reading in by_id[claim.id].readings:
            first.setdefault(reading.outcome, reading)
        outcomes += [outcome for outcome in first if outcome not in outcomes]
        variant = SPECS[claim.id].variants[0] if SPECS[claim.id].variants else claim.id
        rows.append((variant, first))
    if not rows:
        return ["(no variant the paper reports numbers for is in this study)"]
    names = {"heldout_position_mm_median": ("target error", "held-out IK error"),
             "cad_min_clearance_mm": ("minimum clearance", "CAD minimum clearance, all episodes")}
    head = "| variant | " + " | ".join(f"the paper's {names.get(o, (o, o))[0]} | ours: {names.get(o, (o, o))[1]} "
                                      "(mm) [95% CI]" for o in outcomes) + " |"
    lines = [head, "|---|" + "---|---|" * len(outcomes)]
    for variant, first in rows:
        cells = []
        for outcome in outcomes:
            reading = first.get(outcome)
            cells += ([f"{reading.value:g}", _interval(reading.estimate, reading.low, reading.high)] if reading
                      else ["", ""])
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return lines


def claims_markdown(results: Sequence[ClaimResult], registry: PaperClaims, *, registration: object = None,
                    deviations: Sequence[str] | None = None, run: Mapping[str, object] | None = None,
                    deviations_text: str | None = None, training_text: str | None = None) -> str:
    """The body of claims.md v2: registration and run lines, the primary, one row per statement, the paper's
    table beside ours, the networks' training (when given) and the deviations.

    Args:
        results: :func:`analyse`'s output for ``registry``.
        registration: a :class:`~evaluation.study.registration.Registration`, a study start record
            (``study.json``: ``started_utc`` and ``registration``), or None (unregistered).
        deviations: the changes after registration that can move a verdict, one sentence each.
        run: the run record (``run.json``: command, wall time, machine); None leaves the run line out.
        deviations_text: the Deviations section's body verbatim (the design's deviations file); it takes
            the place of ``deviations``.
        training_text: the body of a "Networks: training and convergence" section
            (:func:`training_markdown`), or None to leave it out.
    """
    by_id = {result.id: result for result in results}
    missing = [claim.id for claim in registry.claims if claim.id not in by_id]
    if missing or len(by_id) != len(results):
        raise InvalidInputError(f"results: expected one result per registry claim; missing {missing[:3]} or repeated")
    claims = {claim.id: claim for claim in registry.claims}
    header = ("| id | line | the paper's words | our reading | verdict | estimate [95% CI] | unit | n | adjusted p | "
              "family | what would change it |\n|---|---|---|---|---|---|---|---|---|---|---|")
    primary = by_id[registry.primary.id]
    gate = ("confirmatory (the primary opened the gate)" if any(r.family == "secondary confirmatory" for r in results)
            else "exploratory (the gate is closed)")
    out = ["# The paper's claims (v2)", "", registration_line(registration), ""]
    out += [run_line(run), ""] if run is not None else []
    out += [f"Primary outcome (tested first, alone, at the familywise alpha): **{primary.verdict}**. Secondary "
            f"claims are {gate}, Holm-adjusted in one family; manipulation checks are in no family.", "",
            "## Primary", "", header,
            _row(primary, claims[primary.id]), "", "## Every statement", "", header]
    out += [_row(by_id[claim.id], claim) for claim in registry.claims]
    out += ["", "## The paper's table beside ours", "", *paper_table(results, registry), "",
            "Every reading of the paper's numbers (its units are unstated):", "",
            "| claim | reading | the paper | ours [95% CI] | n | our interval |", "|---|---|---|---|---|---|"]
    for claim in registry.claims:
        for reading in by_id[claim.id].readings:
            out.append(f"| {claim.id} | {_cell(reading.name)} ({_cell(reading.unit)}) | {reading.value:g} | "
                       f"{_interval(reading.estimate, reading.low, reading.high)} | {_cell(reading.n)} | "
                       f"{reading.support}{' (' + reading.verdict + ')' if reading.verdict else ''} |")
    for claim in registry.claims:
        if claim.test in ("table", "pareto"):
            out += ["", f"{claim.id}: " + "; ".join(by_id[claim.id].notes)]
    if training_text is not None:
        out += ["", "## Networks: training and convergence", "", training_text.strip("\n")]
    out += ["", "## Deviations", ""]
    if deviations_text is not None:
        out += [deviations_text.strip("\n") or "None."]
    else:
        out += [f"- {_cell(item)}" for item in deviations] if deviations else ["None."]
    return "\n".join(out) + "\n"




def training_markdown(networks: pd.DataFrame, *, curves_figure: str | None = None) -> str:
    """Per variant: how many networks met the convergence criterion, the epochs they ran and their held-out
    error (a network table with ``converged`` and ``epochs_run`` columns; older tables without them give
    a line saying so)."""
    from agents.iknet.training import CONVERGENCE_TOLERANCE, CONVERGENCE_WINDOW

    if not {"converged", "epochs_run"} <= set(networks.columns):
        return "The network table records no convergence verdicts (trained before they were recorded)."
    converged = networks["network"].isin(converged_networks(networks))
    lines = [f"Criterion (agents/iknet/training.py): the best validation loss improved by less than "
             f"{100 * CONVERGENCE_TOLERANCE:g}% over the last {100 * CONVERGENCE_WINDOW:g}% of the epochs run; "
             f"a run with `stop = \"converged\"` ends when it holds with the learning rate at its floor. "
             f"**{int(converged.sum())} of {len(networks)} networks met it.**", "",
             "| variant | networks | converged | epochs run (median, range) | best epoch (median) | "
             "held-out median error (mm), mean [min, max] |", "|---|---|---|---|---|---|"]
    for variant, rows in networks.groupby("variant", sort=False):
        ok = converged[rows.index]
        epochs, error = rows["epochs_run"], rows["position_error_mm_median"]
        lines.append(f"| {variant} | {len(rows)} | {int(ok.sum())} | {epochs.median():g} ({epochs.min():g}-"
                     f"{epochs.max():g}) | {rows['best_epoch'].median():g} | {error.mean():.3g} "
                     f"[{error.min():.3g}, {error.max():.3g}] |")
    failing = list(networks.loc[~converged, "network"])
    if failing:
        lines += ["", f"Not converged: {', '.join(map(str, failing))}."]
    if curves_figure:
        lines += ["", f"Learning curves of every network: `{curves_figure}` (table: `learning_curves.csv.gz`)."]
    lines += _intervention_lines(networks)
    return "\n".join(lines)


def _intervention_lines(networks: pd.DataFrame, *, alpha: float = 0.05) -> list[str]:
    """Issue #24 item 6, descriptive (no verdict, in no family): what the regulariser did to balance AND to
    held-out accuracy, per regularised variant against Improved, and which claim isolates balance."""
    regularised = [name for name in dict.fromkeys(networks["variant"]) if str(name).startswith("balanced")]
    if not regularised or "improved" not in set(networks["variant"]):
        return []
    base = networks[networks["variant"] == "improved"]
    lines = ["", "The intervention at matched accuracy (descriptive; Welch t over networks, exact permutation p): "
             "if the regulariser moves held-out error as well as balance, its contrasts with Improved confound "
             "the two, and the claim that isolates balance is `balance-clearance-at-equal-accuracy` (the slope "
             "adjusted for each network's held-out error).", "",
             "| regularised variant | balance minus Improved's [95% CI] | held-out error minus Improved's (mm) "
             "[95% CI], permutation p | accuracy matched? |", "|---|---|---|---|"]
    for name in regularised:
        rows = networks[networks["variant"] == name]
        balance = network_contrast(rows["balance"] if "balance" in rows else rows["entropy_joint_mean"],
                                   base["balance"] if "balance" in base else base["entropy_joint_mean"], alpha=alpha)
        error = network_contrast(rows["position_error_mm_median"], base["position_error_mm_median"], alpha=alpha,
                                 margin=0.5)
        matched = ("yes: the whole interval within +-0.5 mm (the registry's accuracy margin)"
                   if error.estimable and -0.5 < error.low and error.high < 0.5 else
                   "no: the interval reaches beyond +-0.5 mm" if error.estimable else "not estimable")
        lines.append(f"| {name} | {_interval(balance.estimate, balance.low, balance.high)} | "
                     f"{_interval(error.estimate, error.low, error.high)}, p = {_p(error.p_permutation)} | "
                     f"{matched} |")
    return lines


def converged_networks(networks: pd.DataFrame) -> list[str]:
    """The networks whose training met the convergence criterion (all of them when the table has no
    ``converged`` column)."""
    if "converged" not in networks.columns:
        return list(networks["network"])
    flags = networks["converged"].astype(str).str.lower().isin(("true", "1", "1.0"))
    return list(networks.loc[flags, "network"])


def sensitivity_markdown(every: Sequence[ClaimResult], converged_only: Sequence[ClaimResult],
                         excluded: Sequence[str]) -> str:
    """The registered sensitivity analysis (studies/paper_claims_v2.toml: a network that reaches the epoch
    cap unconverged is reported and the claims are read with and without it): each tested claim's verdict
    and estimate on every network beside the same without ``excluded``."""
    if not excluded:
        return ""
    others = {result.id: result for result in converged_only}
    lines = [f"Read again without the {len(excluded)} network(s) that did not converge ({', '.join(excluded)}; "
             "their episodes dropped too), as the design registered:", "",
             "| id | every network: verdict, estimate [95% CI] | converged networks only | verdict moved? |",
             "|---|---|---|---|"]
    for result in every:
        if result.family in ("descriptive", "untestable"):
            continue
        other = others[result.id]
        lines.append(f"| {result.id} | {_cell(result.verdict)}, {_interval(result.estimate, result.low, result.high)}"
                     f" | {_cell(other.verdict)}, {_interval(other.estimate, other.low, other.high)} | "
                     f"{'**yes**' if other.verdict != result.verdict else 'no'} |")
    return "\n".join(lines)


__all__ = ["EPISODE_OUTCOMES", "FRAME_COLUMNS", "NETWORK_OUTCOMES", "SPECS", "ClaimResult", "ReadingResult",
           "adjusted_slope", "analyse", "claims_markdown", "converged_networks", "one_sample", "paper_table",
           "registration_line", "run_line", "sensitivity_markdown", "tost_p", "training_markdown", "variant_mean",
           "what_would_change"]

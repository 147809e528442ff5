"""The pre-registered study design: a TOML file read into one frozen :class:`StudyDesign`.

The file states, before any result exists, the networks (variants x training seeds, one shared
data budget), the policies built from them, the scenarios and episodes, the primary and secondary
outcomes, the balance measure, the significance level and the multiple-testing correction. See
``studies/claims.toml`` for the shipped design; its ``[small]`` table is the reduced configuration
``--small`` switches to (the end-to-end test uses it).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agents.iknet.models import MODEL_NAMES
from sim.errors import InvalidInputError, UnknownNameError

OUTCOMES: tuple[str, ...] = ("min_clearance_mm", "target_error_mm", "collided", "jerk")
BALANCE_MEASURES: tuple[str, ...] = ("entropy_joint_mean", "entropy_overall")
CORRECTIONS: tuple[str, ...] = ("holm",)


@dataclass(frozen=True)
class Variant:
    """A training recipe: an architecture and an attribution-balance weight (0 = the paper's recipe)."""

    name: str
    architecture: str
    balance_weight: float = 0.0


@dataclass(frozen=True)
class Training:
    """The shared data budget of every network; training seed ``s`` also draws data seed ``s``."""

    seeds: tuple[int, ...]
    data_size: int
    epochs: int
    batch_size: int = 512
    checkpoint_dir: str = "assets/study"


@dataclass(frozen=True)
class ScenarioPlan:
    """Episodes of one scenario (episode ``k`` is the same scene for every policy)."""

    name: str
    episodes: int


@dataclass(frozen=True)
class StudyDesign:
    """Everything the study runs and tests, fixed before the run.

    Attributes:
        name: the study's name.
        primary_outcome: the pre-stated primary outcome (a column of ``episodes.csv``).
        secondary_outcomes: the other outcomes reported.
        variants: training recipes.
        training: seeds and the shared data budget.
        scenarios: scenario plans.
        safe_variants: variants also run behind the clearance safety layer (``+safe``).
        reference_policies: policies without a trained network (e.g. ``analytic+safe``).
        seed: base scene seed of every run.
        max_steps: control steps per episode.
        alpha: family-wise significance level.
        correction: multiple-testing correction of the family of claim tests.
        balance_measure: network balance used in the balance <-> clearance models.
        explained_poses, background_poses: exact Shapley setup of a network's balance.
        episode_balance_steps: steps per episode explained for episode-level balance (0: off).
        bootstrap_resamples: resamples of every bootstrap interval.
        negligible_clearance_mm: an effect on clearance smaller than this (both CI ends) is negligible.
        registration: when the design was written relative to results (``[study] registration``):
            ``pre-registered`` unless the file says otherwise (e.g. a replication written after a
            first study's results were read); ``claims.md`` repeats it.
        source: the file read.
    """

    name: str
    primary_outcome: str
    secondary_outcomes: tuple[str, ...]
    variants: tuple[Variant, ...]
    training: Training
    scenarios: tuple[ScenarioPlan, ...]
    safe_variants: tuple[str, ...] = ()
    reference_policies: tuple[str, ...] = ()
    seed: int = 0
    max_steps: int = 150
    alpha: float = 0.05
    correction: str = "holm"
    balance_measure: str = "entropy_joint_mean"
    explained_poses: int = 100
    background_poses: int = 50
    episode_balance_steps: int = 12
    bootstrap_resamples: int = 2000
    negligible_clearance_mm: float = 1.0
    registration: str = "pre-registered"
    source: str = ""

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise UnknownNameError("study variant", name, [v.name for v in self.variants])

    def has(self, *names: str) -> bool:
        """True when every named variant is in the design."""
        known = {v.name for v in self.variants}
        return all(name in known for name in names)


def _table(data: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InvalidInputError(f"{source}: [{key}] must be a table")
    return value


def _check(design: StudyDesign) -> StudyDesign:
    where = design.source or "study design"
    for outcome in (design.primary_outcome, *design.secondary_outcomes):
        if outcome not in OUTCOMES:
            raise UnknownNameError(f"{where}: outcome", outcome, OUTCOMES)
    if design.balance_measure not in BALANCE_MEASURES:
        raise UnknownNameError(f"{where}: balance measure", design.balance_measure, BALANCE_MEASURES)
    if design.correction not in CORRECTIONS:
        raise UnknownNameError(f"{where}: correction", design.correction, CORRECTIONS)
    if not design.variants:
        raise InvalidInputError(f"{where}: no [[variants]]")
    names = [v.name for v in design.variants]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"{where}: a variant name is repeated: {', '.join(names)}")
    for variant in design.variants:
        if variant.architecture not in MODEL_NAMES:
            raise UnknownNameError(f"{where}: architecture of {variant.name!r}", variant.architecture, MODEL_NAMES)
        if not (variant.balance_weight >= 0 and math.isfinite(variant.balance_weight)):
            raise InvalidInputError(f"{where}: balance_weight of {variant.name!r} must be finite and >= 0")
    for name in design.safe_variants:
        design.variant(name)
    if not design.training.seeds or len(set(design.training.seeds)) != len(design.training.seeds):
        raise InvalidInputError(f"{where}: training seeds must be a non-empty list without repeats")
    if design.training.data_size < 100 or design.training.epochs < 1:
        raise InvalidInputError(f"{where}: data_size must be >= 100 and epochs >= 1")
    if not design.scenarios or any(plan.episodes < 1 for plan in design.scenarios):
        raise InvalidInputError(f"{where}: every scenario needs episodes >= 1")
    if not 0 < design.alpha < 1:
        raise InvalidInputError(f"{where}: alpha must lie in (0, 1)")
    return design


def parse_design(data: dict[str, Any], source: str = "", *, small: bool = False) -> StudyDesign:
    """Build a design from parsed TOML; ``small`` applies the file's ``[small]`` overrides.

    Raises:
        InvalidInputError, UnknownNameError: a missing or invalid entry (the message names it).
    """
    study, outcomes, training = (_table(data, key, source) for key in ("study", "outcomes", "training"))
    analysis = _table(data, "analysis", source)
    try:
        variants = tuple(Variant(str(v["name"]), str(v.get("architecture", v["name"])),
                                 float(v.get("balance_weight", 0.0))) for v in data.get("variants", []))
        scenarios = tuple(ScenarioPlan(str(s["name"]), int(s["episodes"])) for s in data.get("scenarios", []))
        design = StudyDesign(
            name=str(study.get("name", Path(source).stem or "study")),
            primary_outcome=str(outcomes["primary"]),
            secondary_outcomes=tuple(outcomes.get("secondary", ())),
            variants=variants,
            training=Training(tuple(int(s) for s in training["seeds"]), int(training["data_size"]),
                              int(training["epochs"]), int(training.get("batch_size", 512)),
                              str(training.get("checkpoint_dir", "assets/study"))),
            scenarios=scenarios,
            safe_variants=tuple(study.get("safe_variants", ())),
            reference_policies=tuple(study.get("reference_policies", ())),
            seed=int(study.get("seed", 0)),
            max_steps=int(study.get("max_steps", 150)),
            alpha=float(analysis.get("alpha", 0.05)),
            correction=str(analysis.get("correction", "holm")),
            balance_measure=str(analysis.get("balance_measure", "entropy_joint_mean")),
            explained_poses=int(analysis.get("explained_poses", 100)),
            background_poses=int(analysis.get("background_poses", 50)),
            episode_balance_steps=int(analysis.get("episode_balance_steps", 12)),
            bootstrap_resamples=int(analysis.get("bootstrap_resamples", 2000)),
            negligible_clearance_mm=float(analysis.get("negligible_clearance_mm", 1.0)),
            registration=str(study.get("registration", "pre-registered")),
            source=source,
        )
    except KeyError as missing:
        raise InvalidInputError(f"{source or 'study design'}: missing entry {missing}") from None
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"{source or 'study design'}: {error}") from None
    if small:
        design = _apply_small(design, _table(data, "small", source))
    return _check(design)


def _apply_small(design: StudyDesign, small: dict[str, Any]) -> StudyDesign:
    """The ``[small]`` table: fewer seeds, data, epochs, episodes, variants (the same analysis)."""
    training = replace(design.training, seeds=tuple(small.get("seeds", design.training.seeds)),
                       data_size=int(small.get("data_size", design.training.data_size)),
                       epochs=int(small.get("epochs", design.training.epochs)),
                       checkpoint_dir=str(small.get("checkpoint_dir", "")))
    keep = small.get("variants")
    variants = tuple(v for v in design.variants if keep is None or v.name in keep)
    episodes = small.get("episodes")
    scenarios = tuple(replace(plan, episodes=int(episodes)) if episodes else plan for plan in design.scenarios)
    return replace(design, training=training, variants=variants, scenarios=scenarios,
                   safe_variants=tuple(n for n in design.safe_variants if any(v.name == n for v in variants)),
                   reference_policies=tuple(small.get("reference_policies", design.reference_policies)),
                   explained_poses=int(small.get("explained_poses", design.explained_poses)),
                   background_poses=int(small.get("background_poses", design.background_poses)),
                   episode_balance_steps=int(small.get("episode_balance_steps", design.episode_balance_steps)),
                   bootstrap_resamples=int(small.get("bootstrap_resamples", design.bootstrap_resamples)))


def load_design(path: str | Path, *, small: bool = False) -> StudyDesign:
    """Read a design TOML file.

    Raises:
        InvalidInputError: the file is missing, not TOML, or an entry is invalid.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise InvalidInputError(f"cannot read study design {str(path)!r}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidInputError(f"study design {str(path)!r} is not valid TOML: {error}") from None
    return parse_design(data, str(path), small=small)

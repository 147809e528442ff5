"""The pre-registered study design: a TOML file read into one frozen :class:`StudyDesign`.

The file states, before any result exists, the networks (variants x training seeds, one shared
data budget), the policies built from them, the scenarios and episodes, the primary and secondary
outcomes, the balance measure, the significance level and the multiple-testing correction. See
``studies/claims.toml`` for the shipped design; its ``[small]`` table is the reduced configuration
``--small`` switches to (the end-to-end test uses it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agents.iknet.models import MODEL_NAMES
from agents.iknet.train import MAX_BATCH_SIZE, MAX_DATA_SIZE, MAX_EPOCHS, MAX_SEED
from agents.iknet.training import SCHEDULES, STOPS, TrainConfig
from evaluation.results_io import check_file_name, check_relative_path
from evaluation.sweep import MAX_EPISODES, MAX_STEPS
from sim.errors import InvalidInputError, UnknownNameError, invalid_value, show_value

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
    epochs: int  #: the epochs run (``stop = "patience"``) or the most run (``stop = "converged"``)
    batch_size: int = 512
    checkpoint_dir: str = "assets/study"
    schedule: str = "cosine"  #: learning-rate schedule (agents.iknet.training.SCHEDULES)
    stop: str = "patience"  #: when a run ends (agents.iknet.training.STOPS)
    dropout_epochs: int | None = None  #: a fixed dropout phase (None: the recipe's fraction of ``epochs``)
    min_epochs: int = 20  #: the fewest epochs a ``stop = "converged"`` run takes
    patience: int = 10  #: sets the plateau schedule's cut (agents.iknet.train's ``--patience``)
    min_learning_rate: float = 1e-5  #: the schedule's floor (``stop = "converged"`` waits for it)


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
        registry: the paper-claims registry the v2 analysis answers (a path inside the repository).
        registry_sha256: the registry's SHA-256 when the design was registered ("" = not pinned):
            :func:`registry_problem` says when the registry has changed since (a deviation).
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
    registry: str = "studies/paper_claims.toml"
    registry_sha256: str = ""
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


#: The largest design file read (bytes); the shipped designs take ~5 kB.
MAX_DESIGN_FILE_BYTES: int = 1_000_000
#: Bounds of a design's counts: training seeds (and scene seed), networks' data and epochs, poses of
#: the exact-Shapley balance (drawn from a pool of :data:`BALANCE_POSE_POOL` fresh poses),
#: bootstrap resamples (a 95% percentile interval needs its tails: at least 99).
MAX_TRAINING_SEEDS: int = 1000
BALANCE_POSE_POOL: int = 2000
MIN_BOOTSTRAP_RESAMPLES, MAX_BOOTSTRAP_RESAMPLES = 99, 1_000_000
MAX_BALANCE_WEIGHT: float = 1e6

#: The keys every table of a design file may hold (anything else is refused, with the closest valid key).
DESIGN_KEYS: dict[str, tuple[str, ...]] = {
    "": ("study", "outcomes", "training", "variants", "scenarios", "analysis", "small"),
    "study": ("name", "seed", "max_steps", "safe_variants", "reference_policies", "registration"),
    "outcomes": ("primary", "secondary"),
    "training": ("seeds", "data_size", "epochs", "batch_size", "checkpoint_dir", "schedule", "stop",
                 "dropout_epochs", "min_epochs", "patience", "min_learning_rate"),
    "variants": ("name", "architecture", "balance_weight"),
    "scenarios": ("name", "episodes"),
    "analysis": ("alpha", "correction", "balance_measure", "explained_poses", "background_poses",
                 "episode_balance_steps", "bootstrap_resamples", "negligible_clearance_mm", "registry",
                 "registry_sha256"),
    "small": ("seeds", "data_size", "epochs", "episodes", "variants", "reference_policies", "explained_poses",
              "background_poses", "episode_balance_steps", "bootstrap_resamples", "checkpoint_dir"),
}


class _Reader:
    """Typed, bounded reads of one design file's entries; every failure names the file and the entry."""

    def __init__(self, source: str) -> None:
        self.source = source or "study design"

    def fail(self, where: str, value: Any, valid: str) -> InvalidInputError:
        return invalid_value(f"{self.source}: {where}", value, valid)

    def table(self, data: dict[str, Any], key: str, *, required: bool = False) -> dict[str, Any]:
        if key not in data:
            if required:
                raise InvalidInputError(f"{self.source}: missing entry [{key}] (a table)")
            return {}
        return self.keys(data[key], key, f"[{key}]")

    def keys(self, value: Any, kind: str, where: str) -> dict[str, Any]:
        """``value`` checked to be a table holding only the keys of :data:`DESIGN_KEYS` ``[kind]``."""
        if not isinstance(value, dict):
            raise self.fail(where, value, "a table")
        valid = DESIGN_KEYS[kind]
        for key in value:
            if key not in valid:
                raise UnknownNameError(f"key of {where or 'the top level'} in {self.source}", key, valid)
        return value

    def entry(self, table: dict[str, Any], key: str, where: str, default: Any) -> Any:
        if key in table:
            return table[key]
        if default is _REQUIRED:
            raise InvalidInputError(f"{self.source}: missing entry {key!r} in {where}")
        return default

    def integer(self, table: dict[str, Any], key: str, where: str, least: int, most: int,
                default: Any = None) -> int:
        value = self.entry(table, key, where, default)
        if not _is_int(value) or not least <= value <= most:
            raise self.fail(f"{where} {key}", value, f"an integer within [{least}, {most}]")
        return value

    def number(self, table: dict[str, Any], key: str, where: str, least: float, most: float,
               default: Any = None, *, open_ends: bool = False) -> float:
        value = self.entry(table, key, where, default)
        number = float(value) if _is_number(value) else math.nan
        inside = least < number < most if open_ends else least <= number <= most
        if not inside:
            ends = "({}, {})" if open_ends else "[{}, {}]"
            raise self.fail(f"{where} {key}", value, "a number within " + ends.format(show_value(least),
                                                                                     show_value(most)))
        return number

    def text(self, table: dict[str, Any], key: str, where: str, default: Any = None) -> str:
        value = self.entry(table, key, where, default)
        if not isinstance(value, str) or len(value) > 10_000:
            raise self.fail(f"{where} {key}", value, "a string")
        return value

    def strings(self, table: dict[str, Any], key: str, where: str, default: Any = ()) -> tuple[str, ...]:
        value = self.entry(table, key, where, default)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list) or len(value) > 10_000 or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{where} {key}", value, "a list of non-empty strings")
        if len(set(value)) != len(value):
            raise self.fail(f"{where} {key}", value, "a list without repeats")
        return tuple(value)

    def seeds(self, table: dict[str, Any], key: str, where: str, default: Any = None) -> tuple[int, ...]:
        value = self.entry(table, key, where, default)
        valid = f"a non-empty list of at most {MAX_TRAINING_SEEDS} distinct integers within [0, {MAX_SEED}]"
        if (not isinstance(value, (list, tuple)) or not value or len(value) > MAX_TRAINING_SEEDS
                or not all(_is_int(s) and 0 <= s <= MAX_SEED for s in value) or len(set(value)) != len(value)):
            raise self.fail(f"{where} {key}", value, valid)
        return tuple(value)

    def checkpoint_dir(self, table: dict[str, Any], where: str, default: Any) -> str:
        value = self.text(table, "checkpoint_dir", where, default)
        return check_relative_path(f"{self.source}: {where} checkpoint_dir", value) if value else value


_REQUIRED = object()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(design: StudyDesign) -> StudyDesign:
    where = design.source or "study design"
    for outcome in (design.primary_outcome, *design.secondary_outcomes):
        if outcome not in OUTCOMES:
            raise UnknownNameError(f"{where}: outcome", outcome, OUTCOMES)
    if design.balance_measure not in BALANCE_MEASURES:
        raise UnknownNameError(f"{where}: balance measure", design.balance_measure, BALANCE_MEASURES)
    if design.correction not in CORRECTIONS:
        raise UnknownNameError(f"{where}: correction", design.correction, CORRECTIONS)
    if design.training.schedule not in SCHEDULES:
        raise UnknownNameError(f"{where}: [training] schedule", design.training.schedule, SCHEDULES)
    if design.training.stop not in STOPS:
        raise UnknownNameError(f"{where}: [training] stop", design.training.stop, STOPS)
    if not design.variants:
        raise InvalidInputError(f"{where}: no [[variants]]")
    names = [v.name for v in design.variants]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"{where}: a variant name is repeated: {', '.join(names)}")
    for variant in design.variants:
        if variant.architecture not in MODEL_NAMES:
            raise UnknownNameError(f"{where}: architecture of {variant.name!r}", variant.architecture, MODEL_NAMES)
        if not (0 <= variant.balance_weight <= MAX_BALANCE_WEIGHT):
            raise InvalidInputError(f"{where}: balance_weight of {variant.name!r} must lie within "
                                    f"[0, {MAX_BALANCE_WEIGHT:g}], got {show_value(variant.balance_weight)}")
    for name in design.safe_variants:
        design.variant(name)
    if not design.training.seeds or len(set(design.training.seeds)) != len(design.training.seeds):
        raise InvalidInputError(f"{where}: training seeds must be a non-empty list without repeats")
    if design.training.data_size < 100 or design.training.epochs < 1:
        raise InvalidInputError(f"{where}: data_size must be >= 100 and epochs >= 1")
    if not design.scenarios or any(plan.episodes < 1 for plan in design.scenarios):
        raise InvalidInputError(f"{where}: every scenario needs episodes >= 1")
    scenario_names = [plan.name for plan in design.scenarios]
    if len(set(scenario_names)) != len(scenario_names):
        raise InvalidInputError(f"{where}: a scenario is listed twice: {', '.join(scenario_names)}")
    if not 0 < design.alpha < 1:
        raise InvalidInputError(f"{where}: alpha must lie in (0, 1)")
    if design.explained_poses + design.background_poses > BALANCE_POSE_POOL:
        raise InvalidInputError(f"{where}: explained_poses + background_poses must be at most {BALANCE_POSE_POOL} "
                                f"(the pool of fresh poses), got {design.explained_poses + design.background_poses}")
    return design


def parse_design(data: dict[str, Any], source: str = "", *, small: bool = False) -> StudyDesign:
    """Build a design from parsed TOML; ``small`` applies the file's ``[small]`` overrides.

    Every table and entry is checked whether or not ``small`` is asked for: unknown or misspelled
    keys (the closest valid key is suggested), wrong types (a fraction where a count belongs, a
    bool where a number belongs: never truncated or converted), values out of their bounds, and
    names that become file or folder names (study, variant and scenario names cannot leave their
    folder; ``checkpoint_dir`` is a relative path without ``..``).

    Raises:
        InvalidInputError, UnknownNameError: a missing or invalid entry (the message names it).
    """
    read = _Reader(source)
    read.keys(data, "", "")
    study = read.table(data, "study")
    outcomes = read.table(data, "outcomes", required=True)
    training = read.table(data, "training", required=True)
    analysis = read.table(data, "analysis")
    variants = tuple(_variant(read, raw, index) for index, raw in enumerate(_array(read, data, "variants")))
    scenarios = tuple(_scenario(read, raw, index) for index, raw in enumerate(_array(read, data, "scenarios")))
    name = read.text(study, "name", "[study]", Path(source).stem or "study")
    check_file_name(f"{read.source}: [study] name", name)
    design = StudyDesign(
        name=name,
        primary_outcome=read.text(outcomes, "primary", "[outcomes]", _REQUIRED),
        secondary_outcomes=read.strings(outcomes, "secondary", "[outcomes]"),
        variants=variants,
        training=Training(read.seeds(training, "seeds", "[training]", _REQUIRED),
                          read.integer(training, "data_size", "[training]", 100, MAX_DATA_SIZE, _REQUIRED),
                          read.integer(training, "epochs", "[training]", 1, MAX_EPOCHS, _REQUIRED),
                          read.integer(training, "batch_size", "[training]", 1, MAX_BATCH_SIZE, 512),
                          read.checkpoint_dir(training, "[training]", "assets/study"),
                          read.text(training, "schedule", "[training]", "cosine"),
                          read.text(training, "stop", "[training]", "patience"),
                          (read.integer(training, "dropout_epochs", "[training]", 0, MAX_EPOCHS)
                           if "dropout_epochs" in training else None),
                          read.integer(training, "min_epochs", "[training]", 5, MAX_EPOCHS, 20),
                          read.integer(training, "patience", "[training]", 1, MAX_EPOCHS, 10),
                          read.number(training, "min_learning_rate", "[training]", 1e-9,
                                      TrainConfig.learning_rate, 1e-5)),
        scenarios=scenarios,
        safe_variants=read.strings(study, "safe_variants", "[study]"),
        reference_policies=read.strings(study, "reference_policies", "[study]"),
        seed=read.integer(study, "seed", "[study]", 0, MAX_SEED, 0),
        max_steps=read.integer(study, "max_steps", "[study]", 1, MAX_STEPS, 150),
        alpha=read.number(analysis, "alpha", "[analysis]", 0.0, 1.0, 0.05, open_ends=True),
        correction=read.text(analysis, "correction", "[analysis]", "holm"),
        balance_measure=read.text(analysis, "balance_measure", "[analysis]", "entropy_joint_mean"),
        explained_poses=read.integer(analysis, "explained_poses", "[analysis]", 1, BALANCE_POSE_POOL - 1, 100),
        background_poses=read.integer(analysis, "background_poses", "[analysis]", 1, BALANCE_POSE_POOL - 1, 50),
        episode_balance_steps=read.integer(analysis, "episode_balance_steps", "[analysis]", 0, MAX_STEPS, 12),
        bootstrap_resamples=read.integer(analysis, "bootstrap_resamples", "[analysis]", MIN_BOOTSTRAP_RESAMPLES,
                                         MAX_BOOTSTRAP_RESAMPLES, 2000),
        negligible_clearance_mm=read.number(analysis, "negligible_clearance_mm", "[analysis]", 0.0, 1e6, 1.0),
        registration=read.text(study, "registration", "[study]", "pre-registered"),
        registry=check_relative_path(f"{read.source}: [analysis] registry",
                                     read.text(analysis, "registry", "[analysis]", "studies/paper_claims.toml")),
        registry_sha256=read.text(analysis, "registry_sha256", "[analysis]", ""),
        source=source,
    )
    reduced = _apply_small(read, _check(design), read.table(data, "small"))  # checked even when not asked for
    return _check(reduced) if small else design


def _array(read: _Reader, data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list) or len(value) > 10_000:
        raise read.fail(f"[[{key}]]", value, "an array of tables")
    return value


def _variant(read: _Reader, raw: Any, index: int) -> Variant:
    where = f"[[variants]] {index + 1}"
    raw = read.keys(raw, "variants", where)
    name = read.text(raw, "name", where, _REQUIRED)
    check_file_name(f"{read.source}: {where} name", name)  # it names the variant's checkpoint files
    return Variant(name, read.text(raw, "architecture", where, name),
                   read.number(raw, "balance_weight", where, 0.0, MAX_BALANCE_WEIGHT, 0.0))


def _scenario(read: _Reader, raw: Any, index: int) -> ScenarioPlan:
    where = f"[[scenarios]] {index + 1}"
    raw = read.keys(raw, "scenarios", where)
    name = read.text(raw, "name", where, _REQUIRED)
    check_relative_path(f"{read.source}: {where} name", name)  # it names the scenario's results folder
    return ScenarioPlan(name, read.integer(raw, "episodes", where, 1, MAX_EPISODES, _REQUIRED))


def _apply_small(read: _Reader, design: StudyDesign, small: dict[str, Any]) -> StudyDesign:
    """The ``[small]`` table: fewer seeds, data, epochs, episodes, variants (the same analysis)."""
    training = replace(design.training, seeds=read.seeds(small, "seeds", "[small]", design.training.seeds),
                       data_size=read.integer(small, "data_size", "[small]", 100, MAX_DATA_SIZE,
                                              design.training.data_size),
                       epochs=read.integer(small, "epochs", "[small]", 1, MAX_EPOCHS, design.training.epochs),
                       checkpoint_dir=read.checkpoint_dir(small, "[small]", ""))
    keep = read.strings(small, "variants", "[small]", None) if "variants" in small else None
    for name in keep or ():
        design.variant(name)
    variants = tuple(v for v in design.variants if keep is None or v.name in keep)
    episodes = read.integer(small, "episodes", "[small]", 1, MAX_EPISODES) if "episodes" in small else None
    scenarios = tuple(replace(plan, episodes=episodes) if episodes else plan for plan in design.scenarios)
    return replace(design, training=training, variants=variants, scenarios=scenarios,
                   safe_variants=tuple(n for n in design.safe_variants if any(v.name == n for v in variants)),
                   reference_policies=read.strings(small, "reference_policies", "[small]",
                                                   design.reference_policies),
                   explained_poses=read.integer(small, "explained_poses", "[small]", 1, BALANCE_POSE_POOL - 1,
                                                design.explained_poses),
                   background_poses=read.integer(small, "background_poses", "[small]", 1, BALANCE_POSE_POOL - 1,
                                                 design.background_poses),
                   episode_balance_steps=read.integer(small, "episode_balance_steps", "[small]", 0, MAX_STEPS,
                                                      design.episode_balance_steps),
                   bootstrap_resamples=read.integer(small, "bootstrap_resamples", "[small]", MIN_BOOTSTRAP_RESAMPLES,
                                                    MAX_BOOTSTRAP_RESAMPLES, design.bootstrap_resamples))


def registry_path(design: StudyDesign) -> Path:
    """The design's paper-claims registry (relative paths are the repository's)."""
    return Path(__file__).resolve().parents[2] / design.registry


def registry_problem(design: StudyDesign) -> str | None:
    """None when the registry's bytes are those the design pinned (or it pins none), else what differs:
    a registry changed after registration is a deviation that claims.md must list."""
    if not design.registry_sha256:
        return None
    import hashlib

    path = registry_path(design)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        return f"the registry {design.registry} cannot be read: {error.strerror or error}"
    if digest != design.registry_sha256:
        return (f"the registry {design.registry} has changed since the design pinned it "
                f"(sha256 {design.registry_sha256[:12]}..., now {digest[:12]}...)")
    return None


def load_design(path: str | Path, *, small: bool = False) -> StudyDesign:
    """Read a design TOML file.

    Only a regular file of at most :data:`MAX_DESIGN_FILE_BYTES` is read (a FIFO, device or folder
    is refused without waiting on it), in UTF-8; whatever it holds ends in one line.

    Raises:
        InvalidInputError: the file is missing, not a regular UTF-8 file, too large, not TOML, or an
            entry is invalid.
    """
    from scenarios.toml_format import load_toml_file  # the one safe reader of user TOML files

    source, data = load_toml_file(path, what="study design", error=InvalidInputError,
                                  max_bytes=MAX_DESIGN_FILE_BYTES)
    return parse_design(data, source, small=small)

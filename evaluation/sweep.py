"""Sweeps: scenarios x policies x seeds x episode counts in one TOML file, expanded into episode keys.

A sweep file lists one or more grids; every grid is the product of its scenarios, policies, seeds
and episode count, and the whole sweep is one deterministic list of :class:`EpisodeKey` s (the
``episodes.csv`` key: policy, scenario, seed, episode) that ``run_sim.py --sweep FILE`` runs on any
backend into one results folder (``--resume`` skips the keys already there). Example::

    name = "smoke"          # optional label (one file name: no '/', '..' or NUL)
    max_steps = 150         # optional; control steps per episode (default 150)

    [checkpoints]           # optional named checkpoint sets, e.g. training seeds of one variant
    improved = ["runs/improved-seed0.pt", "runs/improved-seed1.pt"]

    [[grid]]
    scenarios = ["empty", "single"]          # names or scenario .toml paths
    policies = ["analytic", "iknet:{improved}+safe"]   # {SET}: one policy per checkpoint of SET
    seeds = [0, 1000]                       # base seeds; episode k of seed s uses scene seed s + k
    episodes = 3                            # episodes per (scenario, policy, seed)

Order: grid by grid, then seed, episode, scenario, policy (episode-major, so a partial sweep
covers every policy of a scene). A key listed by two grids runs once. Relative paths in a sweep
file (scenario ``.toml`` files, ``[checkpoints]``, ``iknet:PATH.pt`` and ``rl:ALGO:PATH.zip`` in
policies) are relative to the sweep file's folder, wherever the command runs; absolute paths are
kept. The episode keys hold them joined to the folder as the sweep file was named
(``sweeps/a.toml`` naming ``scene.toml`` gives ``sweeps/scene.toml``; a sweep file in the working
directory keeps its paths as written). Counts are bounded as ``run_sim.py`` bounds them (seeds
within [0, 2**32 - 1], at most 100,000 episodes a grid and 100,000 steps), and a sweep holds at
most :data:`MAX_SWEEP_EPISODES` episodes. Scene seeds of one scenario must not overlap (seed ``s``
with ``n`` episodes uses ``s .. s + n - 1``): two keys would otherwise share a scene and count it
twice.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

from evaluation.results_io import check_file_name
from sim.errors import InvalidInputError, show_value

_TOP_KEYS = ("name", "max_steps", "checkpoints", "grid")
_GRID_KEYS = ("scenarios", "policies", "seeds", "episodes")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]+)\}")
_IKNET_MODEL = re.compile(r"iknet:([^+]+)")
#: Upper bounds of an episode key's counts, for sweep files, :class:`~evaluation.config.RunConfig` and
#: ``run_sim.py`` alike: episodes per policy (a grid: per scenario, policy and seed), control steps
#: per episode, base seed. A typo of a few digits ends in one line, not in a run that never finishes.
MAX_EPISODES, MAX_STEPS, MAX_SEED = 100_000, 100_000, 2**32 - 1
#: Episodes a sweep may hold in all (its keys are listed in memory: ~100 bytes each).
MAX_SWEEP_EPISODES = 2_000_000


class EpisodeKey(NamedTuple):
    """What identifies an episode in ``episodes.csv`` (columns ``model, scenario, seed, episode``).

    ``seed`` is the base seed; the episode's scene is drawn with seed ``seed + episode``.
    """

    policy: str
    scenario: str
    seed: int
    episode: int

    def as_strings(self) -> tuple[str, str, str, str]:
        """The key as ``episodes.csv`` holds it (all strings), for comparing with read rows."""
        return self.policy, self.scenario, str(self.seed), str(self.episode)


@dataclass(frozen=True)
class SweepGrid:
    """One grid of a sweep: the product scenarios x policies x seeds x ``range(episodes)``.

    ``policies`` are expanded (no ``{SET}`` placeholders left).
    """

    scenarios: tuple[str, ...]
    policies: tuple[str, ...]
    seeds: tuple[int, ...]
    episodes: int

    def keys(self) -> list[EpisodeKey]:
        """The grid's keys: seed, then episode, then scenario, then policy."""
        return [EpisodeKey(policy, scenario, seed, episode)
                for seed in self.seeds for episode in range(self.episodes)
                for scenario in self.scenarios for policy in self.policies]


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file (see the module docstring).

    Attributes:
        name: a label for the sweep (the file's stem unless given).
        grids: the grids, in file order.
        max_steps: control steps per episode, or None for the run's default.
        checkpoints: the named checkpoint sets, as ``(name, paths)`` pairs in file order.
        source: the file it was read from ("" when built in code).
    """

    name: str
    grids: tuple[SweepGrid, ...]
    max_steps: int | None = None
    checkpoints: tuple[tuple[str, tuple[str, ...]], ...] = ()
    source: str = ""

    def keys(self) -> list[EpisodeKey]:
        """Every episode key of the sweep, in run order, each once."""
        return list(dict.fromkeys(key for grid in self.grids for key in grid.keys()))

    def scenarios(self) -> tuple[str, ...]:
        """Scenarios in first-seen order."""
        return tuple(dict.fromkeys(s for grid in self.grids for s in grid.scenarios))

    def policies(self) -> tuple[str, ...]:
        """Expanded policy names in first-seen order."""
        return tuple(dict.fromkeys(p for grid in self.grids for p in grid.policies))

    def seeds(self) -> tuple[int, ...]:
        """Base seeds in first-seen order."""
        return tuple(dict.fromkeys(s for grid in self.grids for s in grid.seeds))

    def validate_names(self) -> None:
        """Resolve every scenario and check every policy name (opening checkpoint files).

        Raises:
            UnknownNameError, SceneFileError, CheckpointError, DependencyNotInstalled: as
                ``get_scenario`` and ``validate_policy_name`` raise them.
        """
        from agents.policies import validate_policy_name
        from scenarios import get_scenario

        for scenario in self.scenarios():
            get_scenario(scenario)
        for policy in self.policies():
            validate_policy_name(policy)

    def to_json(self) -> dict[str, Any]:
        """The sweep as JSON types (saved in ``run.json``)."""
        return {
            "name": self.name, "source": self.source, "max_steps": self.max_steps,
            "checkpoints": {name: list(paths) for name, paths in self.checkpoints},
            "grids": [{"scenarios": list(g.scenarios), "policies": list(g.policies), "seeds": list(g.seeds),
                       "episodes": g.episodes} for g in self.grids],
        }


def load_sweep(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and check a sweep TOML file (names are checked by :meth:`SweepSpec.validate_names`).

    Raises:
        InvalidInputError: the file is missing, not TOML, or a field is malformed (the message
            names the file and the field).
    """
    from scenarios.toml_format import load_toml_file  # the one safe reader of user TOML files

    # Regular files only (a FIFO or folder is refused without blocking), size-capped, UTF-8, and
    # deep nesting or huge integers end in the project's error.
    source, data = load_toml_file(path, what="sweep file", error=InvalidInputError)
    return sweep_from_dict(data, source=source, base_dir=Path(source).parent)


def sweep_from_dict(data: dict[str, Any], source: str = "<sweep>", base_dir: str | os.PathLike[str] | None = None
                    ) -> SweepSpec:
    """Build a :class:`SweepSpec` from parsed TOML; errors name ``source`` and the field.

    Args:
        data: the parsed TOML table.
        source: the file it came from, for messages and the default name.
        base_dir: the folder relative paths are relative to (:func:`load_sweep`: the file's folder);
            None keeps them as written (relative to the working directory).

    Raises:
        InvalidInputError: an unknown key, a wrong type, an empty list, an unknown checkpoint set,
            a count out of range, more than :data:`MAX_SWEEP_EPISODES` episodes, or overlapping
            scene seeds.
    """

    def fail(message: str) -> InvalidInputError:
        return InvalidInputError(f"{source}: {message}")

    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}; valid: {', '.join(_TOP_KEYS)}")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name:
        raise fail("name must be a non-empty string")
    try:  # it names the default results folder results/<name>-<time>: it cannot leave results/
        check_file_name("name", name)
    except InvalidInputError as error:
        raise fail(str(error)) from None
    max_steps = data.get("max_steps")
    if max_steps is not None and not _is_int(max_steps, least=1, most=MAX_STEPS):
        raise fail(f"max_steps must be an integer within [1, {MAX_STEPS}], got {show_value(max_steps)}")
    checkpoint_table = data.get("checkpoints", {})
    if not isinstance(checkpoint_table, dict):
        raise fail("[checkpoints] must be a table of NAME = [paths]")
    checkpoints = tuple((set_name, tuple(_resolve(path, base_dir)
                                         for path in _strings(paths, f"checkpoints.{set_name}", fail)))
                        for set_name, paths in checkpoint_table.items())
    sets = dict(checkpoints)
    raw_grids = data.get("grid")
    if not isinstance(raw_grids, list) or not raw_grids or not all(isinstance(g, dict) for g in raw_grids):
        raise fail("a sweep needs at least one [[grid]] table")
    grids: list[SweepGrid] = []
    total = 0
    for index, raw in enumerate(raw_grids):
        where = f"grid {index + 1}"
        unknown = sorted(set(raw) - set(_GRID_KEYS))
        missing = [key for key in _GRID_KEYS if key not in raw]
        if unknown:
            raise fail(f"{where}: unknown key {unknown[0]!r}; valid: {', '.join(_GRID_KEYS)}")
        if missing:
            raise fail(f"{where}: missing {', '.join(missing)}")
        seeds = raw["seeds"]
        if not isinstance(seeds, list) or not seeds or not all(_is_int(s, least=0, most=MAX_SEED) for s in seeds):
            raise fail(f"{where}: seeds must be a non-empty list of integers within [0, {MAX_SEED}], "
                       f"got {show_value(seeds)}")
        if not _is_int(raw["episodes"], least=1, most=MAX_EPISODES):
            raise fail(f"{where}: episodes must be an integer within [1, {MAX_EPISODES}], "
                       f"got {show_value(raw['episodes'])}")
        policies = tuple(dict.fromkeys(
            expanded for policy in _strings(raw["policies"], f"{where}.policies", fail)
            for expanded in _expand(_resolve_policy(policy, base_dir), sets, fail)))
        scenarios = tuple(dict.fromkeys(_resolve_scenario(scenario, base_dir)
                                        for scenario in _strings(raw["scenarios"], f"{where}.scenarios", fail)))
        grids.append(SweepGrid(scenarios, policies, tuple(dict.fromkeys(seeds)), raw["episodes"]))
        total += len(scenarios) * len(policies) * len(grids[-1].seeds) * raw["episodes"]
        if total > MAX_SWEEP_EPISODES:
            raise fail(f"{where}: the sweep would hold more than {MAX_SWEEP_EPISODES:,} episodes in all "
                       f"({total:,} up to here); split it into several sweeps")
    spec = SweepSpec(name, tuple(grids), max_steps, checkpoints, source)
    _check_scene_seeds(spec, fail)
    return spec


def _is_int(value: Any, *, least: int, most: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least and (most is None or value <= most)


def _resolve(path: str, base_dir: str | os.PathLike[str] | None) -> str:
    """``path`` relative to ``base_dir`` (absolute paths, and every path when ``base_dir`` is None, as written)."""
    if base_dir is None or os.path.isabs(path):
        return path
    return os.fspath(Path(base_dir) / path)


def _resolve_scenario(scenario: str, base_dir: str | os.PathLike[str] | None) -> str:
    """A scenario file's path relative to ``base_dir``; a built-in name (or an unknown one, which
    ``get_scenario`` names with the valid choices) as written."""
    from scenarios import BUILTIN_SCENARIOS

    if scenario in BUILTIN_SCENARIOS or base_dir is None:
        return scenario
    resolved = _resolve(scenario, base_dir)
    return resolved if scenario.lower().endswith(".toml") or os.path.isfile(resolved) else scenario


def _resolve_policy(policy: str, base_dir: str | os.PathLike[str] | None) -> str:
    """The model files a policy names (``iknet:PATH.pt``, ``rl:ALGO:PATH[.zip]``) relative to ``base_dir``."""
    if base_dir is None:
        return policy
    if policy.startswith("rl:"):
        parts = policy.split(":", 2)
        return policy if len(parts) != 3 or not parts[2] else f"rl:{parts[1]}:{_resolve(parts[2], base_dir)}"
    return _IKNET_MODEL.sub(lambda match: "iknet:" + (_resolve(match.group(1), base_dir)
                                                      if match.group(1).endswith(".pt") else match.group(1)), policy)


def _strings(value: Any, field: str, fail: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(f"{field} must be a non-empty list of strings, got {value!r}")
    return tuple(dict.fromkeys(v.strip() for v in value))


def _expand(policy: str, sets: dict[str, tuple[str, ...]], fail: Any) -> list[str]:
    """``iknet:{SET}+safe`` -> one policy per checkpoint path of SET (one placeholder at most)."""
    found = _PLACEHOLDER.findall(policy)
    if not found:
        return [policy]
    if len(found) > 1:
        raise fail(f"policy {policy!r} names more than one checkpoint set")
    if found[0] not in sets:
        valid = ", ".join(sets) or "none defined"
        raise fail(f"policy {policy!r} names unknown checkpoint set {found[0]!r}; [checkpoints] has: {valid}")
    return [policy.replace("{" + found[0] + "}", path) for path in sets[found[0]]]


def _check_scene_seeds(spec: SweepSpec, fail: Any) -> None:
    """Different base seeds of one scenario must not reuse scene seeds (``seed + episode``)."""
    ranges: dict[str, dict[int, int]] = {}
    for grid in spec.grids:
        for scenario in grid.scenarios:
            for seed in grid.seeds:
                mine = ranges.setdefault(scenario, {})
                mine[seed] = max(mine.get(seed, 0), grid.episodes)
    for scenario, by_seed in ranges.items():
        ordered = sorted(by_seed.items())
        for (seed, episodes), (next_seed, _) in pairwise(ordered):
            if seed + episodes > next_seed:
                raise fail(f"scenario {scenario!r}: seeds {seed} ({episodes} episodes) and {next_seed} share scenes "
                           f"(episode k of seed s uses scene seed s + k); space the seeds at least {episodes} apart")

def make_run_env(scenario: Any, max_steps: int, *, renderer: str | None = None) -> Any:
    """The env a run steps for scenario ``scenario`` (a name, a scene file or a ``ScenarioSpec``): the
    registered environment, ``max_steps`` steps, no early stop at success; ``renderer`` as
    :class:`~sim.env.world.World`'s (None: no drawing)."""
    import gymnasium as gym

    import sim  # registers the environment

    return gym.make(sim.ENV_IDS[0], scenario=scenario, max_episode_steps=max_steps, terminate_on_success=False,
                    renderer=renderer)


def reset_episode(env: Any, seed: int, episode: int) -> tuple[Any, dict[str, Any]]:
    """Reset ``env`` to episode ``episode`` of a run of base seed ``seed`` (the one place that says how):
    seeded ``seed + episode``; scenarios of n fixed scenes (``benchmark``) cycle through them, episode k
    is scene k mod n. Every policy's episode k thus gets the same scene. Returns ``(observation, info)``."""
    fixed = len(env.unwrapped.scenario.fixed_scenes)
    options = {"scene_index": episode % fixed} if fixed else None
    return env.reset(seed=seed + episode, options=options)

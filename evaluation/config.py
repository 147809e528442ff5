"""The run configuration: one typed, frozen value that the whole library takes.

``run_sim.py`` parses its arguments into a :class:`RunConfig` and hands it to
:func:`evaluation.pipeline.run_pipeline`; the runner, the SHAP study and the video recorder read
the fields they need from it. The run-defining fields are saved as ``run.json`` in the results
folder (:meth:`RunConfig.to_json`). A run is one scenario x policies x episodes from one base seed,
or a sweep (:mod:`evaluation.sweep`, :meth:`RunConfig.from_sweep`); either way it is one list of
episode keys (:meth:`RunConfig.episode_keys`) that a backend (:mod:`evaluation.backends`) runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from evaluation.backends.base import BACKEND_NAMES, BackendName
from evaluation.backends.ray_backend import check_ray_address
from evaluation.sweep import MAX_EPISODES, MAX_SEED, MAX_STEPS, EpisodeKey, SweepSpec
from sim.env.camera import CAMERA_PRESETS, RENDERERS
from sim.errors import InvalidInputError, UnknownNameError, show_value

Renderer = Literal["tiny", "egl"]

DEFAULT_SCENARIO = "cluttered"
#: The first run tells a story: a network on the naive straight path, the same network with
#: obstacle-aware planning, then also behind the clearance safety layer, and exact (analytic) IK
#: with planning and the safety layer.
DEFAULT_POLICIES: tuple[str, ...] = (
    "iknet:improved+straight", "iknet:improved", "iknet:improved+safe", "analytic+safe",
)
#: Enough episodes for the default policies' contact rates to differ (cluttered, seed 0).
DEFAULT_EPISODES = 20
DEFAULT_MAX_STEPS = 150
#: Upper bounds of the counts (``run_sim.py``'s options take the same; episodes, steps and seeds are
#: owned by :mod:`evaluation.sweep`): a typo of a few digits ends in one line, not in a run that never
#: finishes or a pool that exhausts the machine.
MAX_WORKERS = 256
#: Ray tasks: episodes per task (a retried task reruns all of them) and reruns of a task whose worker died.
MAX_EPISODES_PER_TASK, MAX_RETRIES = 10_000, 100
#: The bounds checked by :class:`RunConfig`: field -> (least, most).
COUNT_BOUNDS: dict[str, tuple[int, int]] = {
    "episodes": (1, MAX_EPISODES), "seed": (0, MAX_SEED), "workers": (1, MAX_WORKERS), "max_steps": (1, MAX_STEPS),
    "video_episodes": (0, MAX_EPISODES), "episodes_per_task": (1, MAX_EPISODES_PER_TASK),
    "max_retries": (0, MAX_RETRIES),
}
#: Fields that say how a run is executed, not what it is: not saved in ``run.json``.
_EXECUTION_FIELDS = ("resume", "progress", "backend", "ray_address", "episodes_per_task", "max_retries", "sweep",
                     "rerun")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run and how it is executed (every ``run_sim.py`` option).

    Attributes:
        scenario: a built-in scenario name or the path of a scenario TOML file.
        policies: policy names (``agents.policies.make_policy``), in table order, no repeats.
        episodes: episodes per policy; episode ``k`` uses the same scene for every policy.
        seed: base seed; episode ``k`` is seeded ``seed + k``.
        out_dir: the results folder.
        workers: processes running episodes (and recording videos).
        max_steps: control steps per episode before time-out.
        resume: continue the run already in ``out_dir``, skipping finished episodes.
        shap: write Shapley attributions of the run's IKNet policies (``shap/``).
        video: record the first ``video_episodes`` episodes of every policy and comparison grids.
        video_episodes: episodes recorded per policy when ``video`` is on.
        camera: a ``sim.env.camera.CAMERA_PRESETS`` name for the videos.
        renderer: ``"tiny"`` (TinyRenderer, CPU) or ``"egl"`` (OpenGL through EGL, headless).
        progress: show progress bars.
        backend: where episodes run: ``"local"`` (in process, or ``workers`` spawned processes) or
            ``"ray"`` (Ray tasks; without ``ray_address`` on a private local instance of ``workers`` CPUs).
        ray_address: an existing Ray cluster: ``auto``, ``ray://HOST:PORT`` or ``HOST:PORT``.
        sweep: a sweep that defines the episodes instead of ``scenario x policies x episodes`` from
            ``seed`` (build such a config with :meth:`from_sweep`).
        episodes_per_task: episodes per task of a process pool or Ray (more amortise scheduling;
            a retried task reruns all); episodes in the driver's process run one by one.
        max_retries: Ray: reruns of a task whose worker died (the local backends rerun nothing).
        rerun: write a Rerun recording (``.rrd``) of every scene into ``recordings/`` once the
            episodes ran (:mod:`evaluation.rerun_recording`; needs the ``viz`` extra).

    Every count is bounded (:data:`COUNT_BOUNDS`, the bounds of ``run_sim.py``'s options).

    Raises:
        InvalidInputError: a count that is not an integer or out of its bounds, no policy or a
            repeated one, a malformed Ray address or one without the ray backend, videos or SHAP
            asked of a sweep.
        UnknownNameError: an unknown camera preset, renderer or backend.
    """

    scenario: str
    policies: tuple[str, ...]
    episodes: int
    seed: int
    out_dir: Path
    workers: int = 1
    max_steps: int = DEFAULT_MAX_STEPS
    resume: bool = False
    shap: bool = False
    video: bool = False
    video_episodes: int = 1
    camera: str = "front"
    renderer: Renderer = "tiny"
    progress: bool = True
    backend: BackendName = "local"
    ray_address: str | None = None
    sweep: SweepSpec | None = None
    episodes_per_task: int = 1
    max_retries: int = 3
    rerun: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "policies", tuple(self.policies))
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        for name, (least, most) in COUNT_BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
                raise InvalidInputError(f"{name} must be an integer within [{least}, {most}], got {show_value(value)}")
        if not self.policies:
            raise InvalidInputError("a run needs at least one policy")
        if len(set(self.policies)) != len(self.policies):
            raise InvalidInputError(f"a policy is listed twice: {', '.join(self.policies)}")
        if self.camera not in CAMERA_PRESETS:
            raise UnknownNameError("camera preset", self.camera, CAMERA_PRESETS)
        if self.renderer not in RENDERERS:
            raise UnknownNameError("renderer", self.renderer, RENDERERS)
        if self.backend not in BACKEND_NAMES:
            raise UnknownNameError("backend", self.backend, BACKEND_NAMES)
        if self.ray_address is not None and self.backend != "ray":
            raise InvalidInputError("--ray-address needs --backend ray")
        check_ray_address(self.ray_address)
        if self.sweep is not None:
            if self.shap or self.video:
                raise InvalidInputError("--shap and --video explain or record a single run, not a sweep")
            if self.sweep.max_steps is not None and self.sweep.max_steps != self.max_steps:
                raise InvalidInputError(f"the sweep sets max_steps = {self.sweep.max_steps}, the run {self.max_steps}")

    @classmethod
    def from_sweep(cls, sweep: SweepSpec, out_dir: Path, *, workers: int = 1, resume: bool = False,
                   progress: bool = True, backend: BackendName = "local", ray_address: str | None = None,
                   episodes_per_task: int = 1, max_retries: int = 3, rerun: bool = False) -> RunConfig:
        """The run of ``sweep``: its keys are the episodes; ``scenario``, ``policies``, ``episodes`` and
        ``seed`` hold its first scenario, all its policies, its largest episode count and first seed."""
        return cls(
            scenario=sweep.scenarios()[0], policies=sweep.policies(),
            episodes=max(grid.episodes for grid in sweep.grids), seed=sweep.seeds()[0], out_dir=out_dir,
            workers=workers, max_steps=sweep.max_steps or DEFAULT_MAX_STEPS, resume=resume, progress=progress,
            backend=backend, ray_address=ray_address, sweep=sweep, episodes_per_task=episodes_per_task,
            max_retries=max_retries, rerun=rerun,
        )

    def scenarios(self) -> tuple[str, ...]:
        """The scenario labels the run's episodes use (a sweep's, or the one scenario), first-seen order."""
        return self.sweep.scenarios() if self.sweep is not None else (self.scenario,)

    @cached_property
    def scenario_digests(self) -> dict[str, str]:
        """SHA-256 of every scenario's resolved spec, by label, read once per config: ``run.json`` keeps
        them so that ``--resume`` notices a scenario file edited since the run began.

        The digest covers every field that shapes an episode (:func:`scenarios.scenario_to_toml`'s
        table, fixed scenes included), not the ``name`` and ``description`` labels.

        Raises:
            UnknownNameError, SceneFileError: a scenario cannot be resolved.
        """
        import json
        import tomllib

        from scenarios import get_scenario, scenario_to_toml

        def digest(label: str) -> str:
            table = tomllib.loads(scenario_to_toml(get_scenario(label)))
            for name in ("name", "description"):
                table.pop(name, None)
            return hashlib.sha256(json.dumps(table, sort_keys=True).encode()).hexdigest()

        return {label: digest(label) for label in self.scenarios()}

    def resume_fields(self, *, same_episodes: bool) -> tuple[str, ...]:
        """The ``run.json`` fields a resumed run must share with the folder's run.

        Every run keeps ``max_steps``; a single run also its scenario and seed (its episode keys do
        not name them; a sweep's keys do, so a grown sweep resumes). ``same_episodes`` (what
        ``run_sim.py`` asks) adds the policies and the episode count, so a changed command line is
        not taken for a continuation; the library lets a run grow by policies or episodes.
        """
        if self.sweep is not None:
            return ("max_steps",)
        return ("scenario", "policies", "episodes", "seed", "max_steps") if same_episodes else (
            "scenario", "seed", "max_steps")

    def tasks(self) -> list[tuple[str, int]]:
        """(policy, episode) pairs of a single run, episode-major so partial runs cover every policy."""
        return [(policy, episode) for episode in range(self.episodes) for policy in self.policies]

    def episode_keys(self) -> list[EpisodeKey]:
        """Every episode of the run (a sweep's keys, or ``scenario x policies x episodes`` from ``seed``),
        in run order."""
        if self.sweep is not None:
            return self.sweep.keys()
        return [EpisodeKey(policy, self.scenario, self.seed, episode) for policy, episode in self.tasks()]

    def to_json(self) -> dict[str, Any]:
        """The run-defining fields as JSON types (what ``run.json`` holds)."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _EXECUTION_FIELDS}
        data["out_dir"] = str(self.out_dir)
        data["policies"] = list(self.policies)
        if self.sweep is not None:  # the single-run fields would describe only part of it: labels instead
            data["scenario"] = f"sweep {self.sweep.name}: {', '.join(self.sweep.scenarios())}"
            data["seed"] = ", ".join(str(seed) for seed in self.sweep.seeds())
            data["sweep"] = self.sweep.to_json()
        data["scenario_digests"] = dict(self.scenario_digests)
        return data

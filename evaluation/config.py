"""The run configuration: one typed, frozen value that the whole library takes.

``run_sim.py`` parses its arguments into a :class:`RunConfig` and hands it to
:func:`evaluation.pipeline.run_pipeline`; the runner, the SHAP study and the video recorder read
the fields they need from it. The run-defining fields are saved as ``run.json`` in the results
folder (:meth:`RunConfig.to_json`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from sim.camera import CAMERA_PRESETS, RENDERERS
from sim.errors import InvalidInputError, UnknownNameError

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
#: Fields that say how a run is executed, not what it is: not saved in ``run.json``.
_EXECUTION_FIELDS = ("resume", "progress")


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
        camera: a ``sim.camera.CAMERA_PRESETS`` name for the videos.
        renderer: ``"tiny"`` (TinyRenderer, CPU) or ``"egl"`` (OpenGL through EGL, headless).
        progress: show progress bars.

    Raises:
        InvalidInputError: a count out of range, no policy or a repeated one.
        UnknownNameError: an unknown camera preset or renderer.
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "policies", tuple(self.policies))
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        for name, least in (("episodes", 1), ("workers", 1), ("max_steps", 1), ("video_episodes", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidInputError(f"{name} must be an integer of at least {least}, got {value!r}")
        if not self.policies:
            raise InvalidInputError("a run needs at least one policy")
        if len(set(self.policies)) != len(self.policies):
            raise InvalidInputError(f"a policy is listed twice: {', '.join(self.policies)}")
        if self.camera not in CAMERA_PRESETS:
            raise UnknownNameError("camera preset", self.camera, CAMERA_PRESETS)
        if self.renderer not in RENDERERS:
            raise UnknownNameError("renderer", self.renderer, RENDERERS)

    def tasks(self) -> list[tuple[str, int]]:
        """(policy, episode) pairs, episode-major so partial runs cover every policy."""
        return [(policy, episode) for episode in range(self.episodes) for policy in self.policies]

    def to_json(self) -> dict[str, Any]:
        """The run-defining fields as JSON types (what ``run.json`` holds)."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _EXECUTION_FIELDS}
        data["out_dir"] = str(self.out_dir)
        data["policies"] = list(self.policies)
        return data

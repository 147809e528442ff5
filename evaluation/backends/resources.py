"""What every episode worker needs besides its task: scenario specs and model files, shipped once.

The driver resolves each scenario of a run (a name or a TOML path) into its
:class:`~sim.scene.scenario_spec.ScenarioSpec`, and reads each model file the policies name (IKNet
checkpoints ``iknet:MODEL`` / ``iknet:PATH.pt``, RL agents ``rl:ALGO:PATH.zip`` with their JSON
sidecar), so workers on other machines need neither the scenario files nor the checkpoints, and
every worker uses the driver's exact weights. A backend hands the one :class:`RunResources` value
to its workers once (a process pool's initializer, Ray's object store), never per task.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import CheckpointError

_IKNET_MODEL = re.compile(r"iknet:([^+]+)")
#: Where workers write shipped model files (one subfolder per content hash).
SHIPPED_DIR_NAME = "neural-ik-shipped"


@dataclass(frozen=True)
class ShippedFiles:
    """A model file and its sidecars as bytes: ``(file name, content)`` pairs, the main file first."""

    files: tuple[tuple[str, bytes], ...] = field(repr=False)

    @property
    def digest(self) -> str:
        hasher = hashlib.sha256()
        for name, content in self.files:
            hasher.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
        return hasher.hexdigest()[:24]

    def materialise(self, root: Path) -> Path:
        """Write the files into ``root/<digest>/`` (once; atomic renames) and return the main file's path."""
        folder = root / self.digest
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in self.files:
            target = folder / name
            if not target.exists() or target.stat().st_size != len(content):
                temporary = folder / f".{name}.{os.getpid()}.tmp"
                temporary.write_bytes(content)
                os.replace(temporary, target)
        return folder / self.files[0][0]


@dataclass(frozen=True)
class RunResources:
    """Scenario specs by label and shipped model files by the reference a policy name uses.

    Attributes:
        scenarios: scenario label (as in ``episodes.csv``) -> resolved spec.
        files: a policy name's file reference (``improved``, ``runs/a.pt``, ``agents/sac.zip``) -> its bytes;
            empty when workers read files where the driver does (local backends).
    """

    scenarios: dict[str, Any]
    files: dict[str, ShippedFiles] = field(default_factory=dict)

    def scenario(self, label: str) -> Any:
        """The spec of ``label`` if shipped, else the label itself (resolved by the env)."""
        return self.scenarios.get(label, label)

    def policy_source(self, name: str, root: Path | None = None) -> str:
        """``name`` with every shipped file reference replaced by a local copy under ``root``
        (default: the system temp folder); the name itself when nothing is shipped."""
        if not self.files:
            return name
        root = root or Path(tempfile.gettempdir()) / SHIPPED_DIR_NAME
        if name.startswith("rl:"):
            algorithm, reference = name.split(":", 2)[1:]
            shipped = self.files.get(reference)
            return f"rl:{algorithm}:{shipped.materialise(root)}" if shipped else name

        def local(match: re.Match[str]) -> str:
            shipped = self.files.get(match.group(1))
            return f"iknet:{shipped.materialise(root)}" if shipped else match.group(0)

        return _IKNET_MODEL.sub(local, name)


def build_resources(scenarios: Iterable[str], policies: Iterable[str], *, ship_files: bool) -> RunResources:
    """Resolve ``scenarios`` and (with ``ship_files``) read the model files ``policies`` name.

    Raises:
        UnknownNameError, SceneFileError: a scenario cannot be resolved.
        CheckpointError: a named model file cannot be read.
    """
    from scenarios import get_scenario

    specs = {label: get_scenario(label) for label in dict.fromkeys(scenarios)}
    files: dict[str, ShippedFiles] = {}
    if ship_files:
        for policy in dict.fromkeys(policies):
            for reference, paths in _file_references(policy):
                if reference not in files:
                    files[reference] = _read(paths)
    return RunResources(specs, files)


def _file_references(policy: str) -> list[tuple[str, list[Path]]]:
    """(reference as written in the name, [main file, sidecars...]) of every model file ``policy`` names."""
    import assets
    from agents.iknet.models import MODEL_NAMES

    if policy.startswith("rl:"):
        parts = policy.split(":", 2)
        if len(parts) != 3:
            return []
        main = Path(parts[2]) if parts[2].endswith(".zip") else Path(parts[2]).with_suffix(".zip")
        sidecar = main.with_suffix(".json")
        return [(parts[2], [main] + ([sidecar] if sidecar.is_file() else []))]
    references = []
    for model in _IKNET_MODEL.findall(policy):
        if model in MODEL_NAMES:
            references.append((model, [assets.checkpoint_path(model)]))
        elif model.endswith(".pt"):
            references.append((model, [Path(model)]))
    return references


def _read(paths: list[Path]) -> ShippedFiles:
    try:
        return ShippedFiles(tuple((path.name, path.read_bytes()) for path in paths))
    except OSError as error:
        raise CheckpointError(f"cannot read model file {str(error.filename)!r}: {error.strerror}") from None

"""Reading a stable-baselines3 agent archive without unpickling anything from it.

SB3's own ``load`` unpickles (cloudpickle) every ``':serialized:'`` value of the archive's
``data`` entry, so an archive from someone else can run any code the moment it is loaded. Here
the zip is opened by hand instead and only what an acting agent needs is taken from it:

- ``data`` is parsed as plain JSON and no ``':serialized:'`` payload is ever unpickled. The
  settings the networks depend on come from the readable copies SB3 writes beside each payload
  (the policy class's module, ``net_arch``, the feature extractor's name and ``obstacle_slots``,
  the spaces' shapes), each checked against what this project builds; the spaces, the learning
  rate schedule, the train frequency and the buffers are rebuilt from the project's own
  definitions (:func:`sim.env.env_spaces.observation_space`, the env's action box,
  :func:`agents.baselines.rl.algorithm_kwargs`). Training state (last observations, episode
  statistics) is dropped; any other pickled value is refused. As a check for tampering, each
  payload's opcodes are read (``pickletools.genops``, which executes nothing) and a payload that
  names anything but the NumPy, Gymnasium-space, SB3 and project classes an SB3 agent pickles
  (an ``os.system``, an ``open``) is refused too.
- weights (``policy.pth``, the optimizers, ``pytorch_variables.pth``) load with
  ``torch.load(..., weights_only=True)``, which refuses any pickled object but tensors and plain
  containers.
- entries are limited to the names SB3 writes for the algorithm, each with a size limit.

Every refusal is one :class:`~sim.errors.CheckpointError` line naming the file and the entry.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import pickletools
import re
import stat
import zipfile
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

from sim.errors import CheckpointError, show_value

#: Largest archive file (bytes); the shipped agent has 1.1 MB.
MAX_ARCHIVE_BYTES = 256 * 2**20
#: Largest ``data`` entry (bytes; the shipped agent's has 27 kB).
MAX_DATA_BYTES = 16 * 2**20
#: Largest ``_stable_baselines3_version`` or ``system_info.txt`` entry (bytes).
MAX_TEXT_BYTES = 64 * 2**10
#: Most obstacle slots an observation may hold (the env's default is 8).
MAX_OBSTACLE_SLOTS = 64
#: Widest and deepest ``net_arch`` accepted.
MAX_LAYER_WIDTH, MAX_LAYERS = 4096, 8

#: Entries SB3 writes for each algorithm's state dicts (``NAME.pth``), the policy first.
STATE_DICT_ENTRIES: dict[str, tuple[str, ...]] = {
    "sac": ("policy", "actor.optimizer", "critic.optimizer", "ent_coef_optimizer"),
    "ppo": ("policy", "policy.optimizer"),
}
#: Tensors of ``pytorch_variables.pth`` each algorithm may hold.
VARIABLES: dict[str, tuple[str, ...]] = {"sac": ("log_ent_coef", "ent_coef_tensor"), "ppo": ()}
_VARIABLES_ENTRY = "pytorch_variables.pth"
_TEXT_ENTRIES = ("_stable_baselines3_version", "system_info.txt")
ALLOWED_ENTRIES: tuple[str, ...] = (
    "data", _VARIABLES_ENTRY, *_TEXT_ENTRIES,
    *sorted({f"{name}.pth" for names in STATE_DICT_ENTRIES.values() for name in names}),
)
#: The module of each algorithm's ``MultiInputPolicy`` (the readable ``policy_class.__module__``).
POLICY_MODULES: dict[str, str] = {"stable_baselines3.sac.policies": "sac", "stable_baselines3.common.policies": "ppo"}
#: Names under which saved agents refer to :class:`agents.baselines.rl_features.GoalFeatures`.
GOAL_FEATURES_NAMES = ("<class 'agents.baselines.rl_features.GoalFeatures'>", "<class 'agents.rl.GoalFeatures'>")

#: ``data`` values SB3 pickles that are rebuilt here from the project's own definitions.
REBUILT_KEYS = frozenset({"policy_class", "policy_kwargs", "observation_space", "action_space", "lr_schedule",
                          "train_freq", "replay_buffer_class", "rollout_buffer_class", "clip_range", "clip_range_vf"})
#: ``data`` values SB3 pickles that only continued training would need: never read.
TRAINING_STATE_KEYS = frozenset({"_last_obs", "_last_original_obs", "_last_episode_starts", "ep_info_buffer",
                                 "ep_success_buffer"})
#: Modules (and their submodules) whose names an SB3 agent's pickled ``data`` values refer to.
PICKLED_MODULES = ("numpy", "collections", "gymnasium.spaces", "stable_baselines3", "agents.baselines.rl_features",
                   "agents.rl", "copyreg")
#: Built-in types they may refer to (never a function such as ``eval``, ``getattr`` or ``open``).
PICKLED_BUILTINS = frozenset({"object", "set", "frozenset", "complex", "slice", "bytearray", "bytes", "range", "int",
                              "float", "str", "list", "dict", "tuple", "bool"})
_STRING_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING",
                         "SHORT_BINSTRING"})
_MEMO_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_POLICY_KWARGS_KEYS = ("net_arch", "features_extractor_class", "features_extractor_kwargs", "use_sde")
_GOAL_SIZE = 7
_BOX = re.compile(r"'(\w+)': Box\(")


@dataclass(frozen=True, eq=False)
class AgentArchive:
    """What an acting agent needs from an archive, nothing unpickled.

    Attributes:
        path: the archive.
        algorithm: ``"sac"`` or ``"ppo"``.
        net_arch: hidden layer widths of the networks.
        goal_features: whether the networks read the observation through ``GoalFeatures``.
        obstacle_slots: ``GoalFeatures``' obstacle slots (None without goal features).
        max_obstacles: obstacle slots of the observation the agent was trained on.
        state_dicts: weights by SB3 attribute name (``"policy"``, optimizers), loaded weights-only.
        variables: ``pytorch_variables.pth``'s tensors by attribute name.
    """

    path: Path
    algorithm: str
    net_arch: tuple[int, ...]
    goal_features: bool
    obstacle_slots: int | None
    max_obstacles: int
    state_dicts: dict[str, Any] = field(repr=False)
    variables: dict[str, Any] = field(repr=False)

    def observation_space(self) -> Any:
        """The env's observation space with :attr:`max_obstacles` slots (the project's definition)."""
        from sim.env.env_spaces import observation_space

        return observation_space(self.max_obstacles)


def action_space() -> Any:
    """The env's action space: 4 joint commands in [-1, 1] (float32), as ``ObstacleReachEnv`` defines it."""
    import numpy as np
    from gymnasium import spaces

    return spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)


def _refuse(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"agent archive {str(path)!r}: {what}")


def _read_file(path: Path) -> bytes:
    """The archive's bytes: a regular file of at most :data:`MAX_ARCHIVE_BYTES` (a FIFO never blocks)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise _refuse(path, f"cannot be opened: {error.strerror or error}") from None
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(path, "is not a regular file")
        if info.st_size > MAX_ARCHIVE_BYTES:
            raise _refuse(path, f"has {info.st_size} bytes; expected at most {MAX_ARCHIVE_BYTES}")
        try:
            return file.read(MAX_ARCHIVE_BYTES + 1)
        except OSError as error:
            raise _refuse(path, f"cannot be read: {error.strerror or error}") from None


def _read_entry(path: Path, archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """One entry's bytes, at most ``limit`` whatever its header claims."""
    try:
        with archive.open(name) as entry:
            raw = entry.read(limit + 1)
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, NotImplementedError, ValueError) as error:
        raise _refuse(path, f"entry {name!r} cannot be read ({type(error).__name__})") from None
    if len(raw) > limit:
        raise _refuse(path, f"entry {name!r} holds more than {limit} bytes")
    return raw


def _weights(path: Path, archive: zipfile.ZipFile, name: str) -> Any:
    """A ``.pth`` entry through ``torch.load(weights_only=True)``: tensors and plain containers only."""
    import torch

    raw = _read_entry(path, archive, name, MAX_ARCHIVE_BYTES)
    try:
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many types for foreign or hostile files
        raise _refuse(path, f"entry {name!r} is not a weights-only PyTorch file ({type(error).__name__}); "
                            f"refused: it may hold code") from None


def _entries(path: Path, archive: zipfile.ZipFile) -> list[str]:
    """The archive's entry names, checked: known names only, each once, unencrypted, bounded."""
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if len(names) > len(ALLOWED_ENTRIES) or len(set(names)) != len(names):
        raise _refuse(path, f"has {len(names)} entries ({len(set(names))} distinct); an SB3 agent has at most "
                            f"{len(ALLOWED_ENTRIES)}, each once")
    unknown = [name for name in names if name not in ALLOWED_ENTRIES]
    if unknown:
        raise _refuse(path, f"unexpected entry {show_value(unknown[0])}: not a stable-baselines3 agent, which "
                            f"holds only {', '.join(ALLOWED_ENTRIES)}")
    for required in ("data", "policy.pth"):
        if required not in names:
            raise _refuse(path, f"has no {required!r} entry; not a stable-baselines3 SAC/PPO agent")
    if sum(info.file_size for info in infos) > MAX_ARCHIVE_BYTES * 4:
        raise _refuse(path, f"unpacks to more than {MAX_ARCHIVE_BYTES * 4} bytes")
    if any(info.flag_bits & 0x1 for info in infos):
        raise _refuse(path, "holds an encrypted entry")
    return names


def pickled_references(payload: bytes) -> set[str]:
    """The ``module.name`` globals a pickle refers to, read from its opcodes without executing it.

    Raises:
        ValueError: not a readable pickle, or a global whose name cannot be told statically.
    """
    found, pushed, memo = set(), [], {}
    for opcode, argument, _ in pickletools.genops(payload):
        name = opcode.name
        if name in ("MEMOIZE", *_MEMO_PUT_OPS):
            memo[len(memo) if name == "MEMOIZE" else int(argument)] = pushed[-1] if pushed else None
        elif name in _MEMO_GET_OPS:
            pushed.append(memo.get(int(argument)))
        elif name in _STRING_OPS:
            pushed.append(argument if isinstance(argument, str) else None)
        elif name == "STACK_GLOBAL":
            module, qualified = pushed[-2:] if len(pushed) >= 2 else (None, None)
            if not (isinstance(module, str) and isinstance(qualified, str)):
                raise ValueError("a global whose name is computed")
            found.add(f"{module}.{qualified}")
            pushed.append(None)
        elif name in ("GLOBAL", "INST"):
            found.add(str(argument).replace(" ", ".", 1))
            pushed.append(None)
        elif name not in ("PROTO", "FRAME"):
            pushed.append(None)
    return found


def _allowed_reference(reference: str) -> bool:
    if reference.startswith("builtins."):
        return reference.removeprefix("builtins.") in PICKLED_BUILTINS
    return any(reference == module or reference.startswith(module + ".") for module in PICKLED_MODULES)


def _check_pickled_value(path: Path, key: str, value: dict[str, Any]) -> None:
    """Refuse a ``':serialized:'`` value that does not decode to a pickle of an SB3 agent's kinds."""
    try:
        payload = base64.b64decode(str(value[":serialized:"]), validate=True)
        references = pickled_references(payload)
    except (binascii.Error, ValueError, IndexError, KeyError) as error:
        raise _refuse(path, f"data[{show_value(key)}] is not a readable pickle ({type(error).__name__}); "
                            f"refused") from None
    foreign = sorted(reference for reference in references if not _allowed_reference(reference))
    if foreign:
        raise _refuse(path, f"data[{show_value(key)}] pickles a reference to {show_value(foreign[0])}, which no "
                            f"stable-baselines3 agent holds; refused (loading it with SB3 would run code)")


def _data(path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    raw = _read_entry(path, archive, "data", MAX_DATA_BYTES)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _refuse(path, f"entry 'data' is not JSON ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise _refuse(path, f"entry 'data' holds {type(data).__name__}, expected a JSON object")
    for key, value in data.items():
        if not (isinstance(value, dict) and ":serialized:" in value):
            continue
        if key not in REBUILT_KEYS | TRAINING_STATE_KEYS:
            raise _refuse(path, f"data[{show_value(key)}] is a pickled {show_value(value.get(':type:'))} this "
                                f"project cannot rebuild from its own definitions; refused (loading it would run "
                                f"code from the file)")
        _check_pickled_value(path, key, value)
    return data


def _algorithm(path: Path, data: dict[str, Any]) -> str:
    policy = data.get("policy_class")
    module = policy.get("__module__") if isinstance(policy, dict) else None
    if module not in POLICY_MODULES:
        raise _refuse(path, f"policy class from module {show_value(module)}; expected SAC's or PPO's "
                            f"MultiInputPolicy ({', '.join(POLICY_MODULES)})")
    return POLICY_MODULES[module]


def _count(value: Any, low: int, high: int) -> int | None:
    """``value`` if it is an integer (not a bool) within [low, high], else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else None


def _policy_settings(path: Path, data: dict[str, Any]) -> tuple[tuple[int, ...], bool, int | None]:
    """``(net_arch, goal_features, obstacle_slots)`` from the readable ``policy_kwargs``."""
    kwargs = data.get("policy_kwargs")
    if not isinstance(kwargs, dict):
        raise _refuse(path, "data has no readable policy_kwargs")
    unknown = sorted(set(kwargs) - {":type:", ":serialized:", *_POLICY_KWARGS_KEYS})
    if unknown:
        raise _refuse(path, f"policy_kwargs {show_value(unknown[0])} is not a setting this project builds "
                            f"(valid: {', '.join(_POLICY_KWARGS_KEYS)})")
    net_arch = kwargs.get("net_arch")
    widths = [_count(width, 1, MAX_LAYER_WIDTH) for width in net_arch] if isinstance(net_arch, list) else [None]
    if not 1 <= len(widths) <= MAX_LAYERS or None in widths:
        raise _refuse(path, f"policy_kwargs net_arch {show_value(net_arch)}; expected 1 to {MAX_LAYERS} layer "
                            f"widths within [1, {MAX_LAYER_WIDTH}]")
    if kwargs.get("use_sde", False) is not False:
        raise _refuse(path, "policy_kwargs use_sde must be false (this project trains without gSDE)")
    extractor, extractor_kwargs = kwargs.get("features_extractor_class"), kwargs.get("features_extractor_kwargs")
    if extractor is None:
        if extractor_kwargs is not None:
            raise _refuse(path, "policy_kwargs features_extractor_kwargs without a features extractor")
        return tuple(widths), False, None  # type: ignore[arg-type]
    if extractor not in GOAL_FEATURES_NAMES:
        raise _refuse(path, f"features extractor {show_value(extractor)} is not this project's; valid: "
                            f"{', '.join(GOAL_FEATURES_NAMES)}")
    slots = extractor_kwargs.get("obstacle_slots") if isinstance(extractor_kwargs, dict) else None
    if not isinstance(extractor_kwargs, dict) or set(extractor_kwargs) != {"obstacle_slots"} or \
            _count(slots, 0, MAX_OBSTACLE_SLOTS) is None:
        raise _refuse(path, f"GoalFeatures arguments {show_value(extractor_kwargs)}; expected "
                            f"{{'obstacle_slots': an integer within [0, {MAX_OBSTACLE_SLOTS}]}}")
    return tuple(widths), True, slots  # type: ignore[arg-type]


def _max_obstacles(path: Path, data: dict[str, Any]) -> int:
    """Obstacle slots of the observation, from the readable shapes of ``observation_space``."""
    from sim.env.env_spaces import OBSTACLE_FEATURES, ROBOT_FEATURES

    space = data.get("observation_space")
    text = space.get("spaces") if isinstance(space, dict) else None
    if not isinstance(text, str) or space.get(":type:") != "<class 'gymnasium.spaces.dict.Dict'>":
        raise _refuse(path, "data has no readable Dict observation_space")
    keys = _BOX.findall(text)
    shapes = {}
    for key in keys:
        found = re.search(rf"'{key}': Box\([^()]*?, \((\d{{1,6}}),\), float32\)", text)
        shapes[key] = int(found.group(1)) if found else None
    size = shapes.get("observation")
    slots, extra = divmod(size - ROBOT_FEATURES, OBSTACLE_FEATURES) if size is not None else (-1, -1)
    if sorted(keys) != ["achieved_goal", "desired_goal", "observation"] or extra != 0 or \
            not 0 <= slots <= MAX_OBSTACLE_SLOTS or shapes["achieved_goal"] != _GOAL_SIZE or \
            shapes["desired_goal"] != _GOAL_SIZE:
        raise _refuse(path, f"observation space {show_value(shapes)} is not the env's (observation "
                            f"{ROBOT_FEATURES} + {OBSTACLE_FEATURES} per obstacle slot, float32; goals {_GOAL_SIZE})")
    return slots


def _check_action_space(path: Path, data: dict[str, Any]) -> None:
    space = data.get("action_space")
    bounds_ok = False
    if isinstance(space, dict):
        try:
            low = [float(value) for value in str(space.get("low")).strip("[]").split()]
            high = [float(value) for value in str(space.get("high")).strip("[]").split()]
            bounds_ok = low == [-1.0] * 4 and high == [1.0] * 4
        except ValueError:
            bounds_ok = False
    if not (bounds_ok and space.get("_shape") == [4] and space.get("dtype") == "float32"):
        raise _refuse(path, "action space is not the env's (4 float32 values within [-1, 1])")


def _check_state_dict(path: Path, name: str, state: Any) -> None:
    import torch

    if not isinstance(state, dict) or not all(isinstance(key, str) for key in state):
        raise _refuse(path, f"entry '{name}.pth' holds {type(state).__name__}, expected a state dict")
    if name == "policy":
        for key, tensor in state.items():
            if not isinstance(tensor, torch.Tensor):
                raise _refuse(path, f"policy.pth {show_value(key)} is {type(tensor).__name__}, expected a tensor")
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise _refuse(path, f"policy.pth {show_value(key)} holds non-finite weights")


def read_agent_archive(path: str | Path) -> AgentArchive:
    """Read an SB3 SAC/PPO archive written by :func:`agents.baselines.rl.train`, unpickling nothing.

    Args:
        path: the ``.zip``.

    Returns:
        :class:`AgentArchive`: its settings and weights (tensors on the CPU).

    Raises:
        CheckpointError: unreadable, not a zip, too large, an unexpected or encrypted entry, a
            pickled ``data`` value this project does not rebuild, settings or spaces unlike the
            ones it builds, or weights that are not weights-only PyTorch files.
    """
    path = Path(path)
    raw = _read_file(path)
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise _refuse(path, f"is not a zip file ({type(error).__name__}); not a stable-baselines3 agent") from None
    with archive:
        names = _entries(path, archive)
        data = _data(path, archive)
        algorithm = _algorithm(path, data)
        foreign = [name for name in names if name.endswith(".pth") and name != _VARIABLES_ENTRY
                   and name[:-4] not in STATE_DICT_ENTRIES[algorithm]]
        if foreign:
            raise _refuse(path, f"entry {foreign[0]!r} does not belong to a {algorithm} agent (valid: "
                                f"{', '.join(f'{name}.pth' for name in STATE_DICT_ENTRIES[algorithm])})")
        net_arch, goal_features, obstacle_slots = _policy_settings(path, data)
        max_obstacles = _max_obstacles(path, data)
        _check_action_space(path, data)
        for name in _TEXT_ENTRIES:
            if name in names:
                _read_entry(path, archive, name, MAX_TEXT_BYTES)  # bounded; never interpreted
        state_dicts = {}
        for name in STATE_DICT_ENTRIES[algorithm]:
            if f"{name}.pth" in names:
                state_dicts[name] = _weights(path, archive, f"{name}.pth")
                _check_state_dict(path, name, state_dicts[name])
        variables = _weights(path, archive, _VARIABLES_ENTRY) if _VARIABLES_ENTRY in names else {}
    if not isinstance(variables, dict) or not set(variables) <= set(VARIABLES[algorithm]):
        held = sorted(map(str, variables)) if isinstance(variables, dict) else variables
        raise _refuse(path, f"{_VARIABLES_ENTRY} holds {show_value(held)}; a {algorithm} agent's may hold "
                            f"{', '.join(VARIABLES[algorithm]) or 'nothing'}")
    return AgentArchive(path, algorithm, net_arch, goal_features, obstacle_slots, max_obstacles, state_dicts,
                        variables)


def build_acting_model(archive: AgentArchive, algorithm_kwargs: dict[str, Any],
                       policy_kwargs: dict[str, Any]) -> Any:
    """An SB3 model built from the project's settings, with the archive's weights in place.

    Args:
        archive: what :func:`read_agent_archive` read.
        algorithm_kwargs: the algorithm's settings (:func:`agents.baselines.rl.algorithm_kwargs`).
        policy_kwargs: the networks' settings (:func:`agents.baselines.rl.policy_kwargs`).

    Returns:
        The SAC or PPO model (CPU), ready for ``predict``; seeds nothing globally.

    Raises:
        CheckpointError: the weights do not fit the networks those settings build.
    """
    import torch

    from agents.baselines.rl_features import import_sb3

    sb3 = import_sb3()
    algorithm = {"sac": sb3.SAC, "ppo": sb3.PPO}[archive.algorithm]
    if archive.algorithm == "sac":  # SAC's "auto" target entropy, which would read it from an env
        algorithm_kwargs = {"target_entropy": -float(action_space().shape[0]), **algorithm_kwargs}
    model = algorithm("MultiInputPolicy", None, policy_kwargs=policy_kwargs, seed=None, device="cpu", verbose=0,
                      _init_setup_model=False, **algorithm_kwargs)
    model.observation_space, model.action_space, model.n_envs = archive.observation_space(), action_space(), 1
    model._setup_model()
    for name, state in archive.state_dicts.items():
        target = attrgetter(name)(model)
        if target is None:
            raise _refuse(archive.path, f"entry '{name}.pth' has no counterpart in this {archive.algorithm} agent")
        try:
            if name == "policy":
                target.load_state_dict(state, strict=True)
            else:
                target.load_state_dict(state)
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as error:
            raise _refuse(archive.path, f"entry '{name}.pth' does not fit the networks of its settings "
                                        f"({type(error).__name__}: {str(error)[:120]})") from None
    for name, tensor in archive.variables.items():
        target = getattr(model, name, None)
        fits = isinstance(tensor, torch.Tensor) and target is not None and tensor.shape == target.shape
        if not fits or not bool(torch.isfinite(tensor.detach()).all()):
            raise _refuse(archive.path, f"{_VARIABLES_ENTRY} {name!r} does not fit this {archive.algorithm} agent")
        target.data = tensor.data
    return model

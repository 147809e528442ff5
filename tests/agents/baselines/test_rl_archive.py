"""Agent archives load without unpickling anything from the file (issue 25).

The shipped agent loads through :mod:`agents.baselines.rl_archive` and acts exactly as SB3's own
loader makes it act (the shipped file is trusted, so SB3's loader is the reference here). A crafted
archive, the shipped one with a pickle payload that creates a marker file, creates no file through
any entry point: the library (``load_agent``, the policy factory, name validation, ``python -m
agents.baselines.rl evaluate``), ``run_sim.py --models rl:sac:PATH`` (a real subprocess: exit 2,
one error line) and a sweep file naming it. Every other refusal is one CheckpointError line. Last,
no module of the project unpickles a file: every ``torch.load`` is weights-only, and nothing calls
``pickle.load``, SB3's ``load`` (any ``X.load`` but JSON's and TOML's), ``yaml.load``, ``eval`` or
``exec``.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="the 'rl' extra (stable-baselines3) is not installed")

import torch  # noqa: E402 (after the skip)

import assets  # noqa: E402
from agents.baselines.rl import TrainConfig, load_agent, main, train  # noqa: E402
from agents.baselines.rl_archive import ALLOWED_ENTRIES, action_space, pickled_references  # noqa: E402
from sim.errors import MAX_MESSAGE_CHARS, CheckpointError  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = assets.RL_AGENT_PATH


class CreatesFile:
    """A pickle payload: unpickling it creates the empty file ``marker`` (``Path(marker).touch()``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = Path(marker)

    def __reduce__(self) -> tuple:
        return Path.touch, (self.marker,)


def rewrite(source: Path, target: Path, *, data: dict | None = None, replace: dict[str, bytes] | None = None,
            add: dict[str, bytes] | None = None) -> Path:
    """A copy of the archive ``source`` with ``data`` and entries replaced or added."""
    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for name in original.namelist():
            if name == "data" and data is not None:
                copy.writestr(name, json.dumps(data))
            else:
                copy.writestr(name, replace.get(name, original.read(name)))
        for name, body in add.items():
            copy.writestr(name, body)
    return target


def shipped_data() -> dict:
    with zipfile.ZipFile(SHIPPED) as archive:
        return json.loads(archive.read("data"))


def payload_in_data(tmp_path: Path, marker: Path) -> Path:
    """The shipped agent with its pickled lr_schedule replaced by the payload (SB3 unpickles it on load)."""
    data = shipped_data()
    data["lr_schedule"][":serialized:"] = base64.b64encode(pickle.dumps(CreatesFile(marker))).decode()
    return rewrite(SHIPPED, tmp_path / "evil_data.zip", data=data)


def payload_in_weights(tmp_path: Path, marker: Path) -> Path:
    """The shipped agent whose policy.pth also pickles the payload beside the weights."""
    with zipfile.ZipFile(SHIPPED) as archive:
        weights = torch.load(io.BytesIO(archive.read("policy.pth")), weights_only=True)
    buffer = io.BytesIO()
    torch.save({**weights, "payload": CreatesFile(marker)}, buffer)
    return rewrite(SHIPPED, tmp_path / "evil_weights.zip", replace={"policy.pth": buffer.getvalue()})


CRAFTED = {"data": payload_in_data, "weights": payload_in_weights}


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and len(lines[0]) <= MAX_MESSAGE_CHARS + 40, stderr[-2000:]
    return lines[0]


def refused(call, *args) -> str:
    with pytest.raises(CheckpointError) as error:
        call(*args)
    message = str(error.value)
    assert "\n" not in message and len(message) <= MAX_MESSAGE_CHARS, message
    return message


# ------------------------------------------------------------------------------ the shipped agent
def observations(count: int) -> list[dict[str, np.ndarray]]:
    """Observations of the training env on fresh episodes, random and held joints alike."""
    import gymnasium as gym

    import sim

    config = TrainConfig()
    env = gym.make(sim.ENV_IDS[0], max_episode_steps=config.max_episode_steps, **config.env_kwargs())
    found = []
    try:
        env.action_space.seed(3)
        for episode in range(count // 8):
            observation, _ = env.reset(seed=7_000_000 + episode)
            for _ in range(8):
                found.append(observation)
                observation, *_ = env.step(env.action_space.sample())
    finally:
        env.close()
    return found


def test_the_shipped_agent_acts_exactly_as_sb3_loads_it():
    from stable_baselines3 import SAC

    model, config = load_agent(SHIPPED)
    reference = SAC.load(SHIPPED, device="cpu", custom_objects={"replay_buffer_class": None,
                                                                  "replay_buffer_kwargs": {}, "buffer_size": 1})
    assert type(model) is SAC and config.algorithm == "sac" and config.action_mode == "delta"
    assert model.observation_space == reference.observation_space and model.action_space == reference.action_space
    assert torch.equal(model.log_ent_coef.detach(), reference.log_ent_coef.detach())
    for name, tensor in reference.policy.state_dict().items():
        assert torch.equal(model.policy.state_dict()[name], tensor), name
    for observation in observations(48):
        ours, _ = model.predict(observation, deterministic=True)
        theirs, _ = reference.predict(observation, deterministic=True)
        np.testing.assert_array_equal(ours, theirs)  # identical, not close


def test_the_env_spaces_are_the_ones_rebuilt():
    import gymnasium as gym

    import sim

    env = gym.make(sim.ENV_IDS[0], scenario="single")
    try:
        model, _ = load_agent(SHIPPED)
        assert env.action_space == action_space()
        assert env.observation_space == model.observation_space
    finally:
        env.close()


def test_a_trained_ppo_agent_without_goal_features_loads_as_sb3_loads_it(tmp_path):
    from stable_baselines3 import PPO

    config = TrainConfig(algorithm="ppo", total_steps=64, ppo_rollout_steps=32, net_arch=(16, 16), batch_size=16,
                         max_episode_steps=10, eval_every=0, eval_episodes=1, goal_features=False)
    path = train(config, tmp_path / "ppo", progress=False).model_path
    (tmp_path / "ppo.json").unlink()  # no training record: everything comes from the archive
    model, loaded = load_agent(path)
    reference = PPO.load(path, device="cpu")
    assert (loaded.algorithm, loaded.net_arch, loaded.goal_features) == ("ppo", (16, 16), False)
    for observation in observations(16):
        np.testing.assert_array_equal(model.predict(observation, deterministic=True)[0],
                                      reference.predict(observation, deterministic=True)[0])


# ---------------------------------------------------------------------------- crafted archives
@pytest.mark.parametrize("variant", list(CRAFTED))
def test_the_payload_is_live_outside_the_project(tmp_path, variant):
    """Control: the crafted archives do carry a working payload (run here on purpose, in tmp_path)."""
    marker = tmp_path / "marker"
    path = CRAFTED[variant](tmp_path, marker)
    with zipfile.ZipFile(path) as archive:
        if variant == "data":
            pickle.loads(base64.b64decode(json.loads(archive.read("data"))["lr_schedule"][":serialized:"]))
        else:
            torch.load(io.BytesIO(archive.read("policy.pth")), weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("variant", list(CRAFTED))
def test_a_crafted_archive_runs_nothing_through_the_library(tmp_path, variant, capsys):
    from agents.baselines.rl_policy import validate_name
    from agents.policies import make_policy, validate_policy_name

    marker = tmp_path / "marker"
    path = CRAFTED[variant](tmp_path, marker)
    name = f"rl:sac:{path}"
    messages = [refused(load_agent, path), refused(validate_policy_name, name), refused(make_policy, name),
                refused(validate_name, name)]
    assert main(["evaluate", str(path), "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and messages[0] in err
    expected = "data['lr_schedule'] pickles a reference to 'pathlib.Path.touch'" if variant == "data" else \
        "entry 'policy.pth' is not a weights-only PyTorch file"
    assert all(expected in message for message in messages), messages
    assert not marker.exists()


def test_a_crafted_archive_is_refused_by_run_sim_in_one_line(tmp_path):
    """``python run_sim.py --models rl:sac:PATH.zip``: exit 2, one error line, no file created."""
    marker = tmp_path / "marker"
    path = payload_in_data(tmp_path, marker)
    result = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "--scenario", "single", "--models",
                             f"rl:sac:{path}", "--episodes", "1", "--max-steps", "3", "--out", str(tmp_path / "out"),
                             "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "pickles a reference to 'pathlib.Path.touch'" in one_error_line(result.stderr)
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("variant", list(CRAFTED))
def test_a_crafted_archive_in_a_sweep_runs_nothing(tmp_path, variant, cli):
    from evaluation.sweep import load_sweep

    marker = tmp_path / "marker"
    path = CRAFTED[variant](tmp_path, marker)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'name = "evil"\nmax_steps = 3\n[[grid]]\nscenarios = ["single"]\n'
                     f'policies = ["analytic", "rl:sac:{path.name}"]\nseeds = [0]\nepisodes = 1\n')
    refused(load_sweep(sweep).validate_names)
    status, _, stderr = cli("--sweep", str(sweep), "--out", str(tmp_path / "out"))
    assert status == 2 and path.name in one_error_line(stderr)
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_a_pickled_value_the_project_does_not_rebuild_is_refused(tmp_path):
    """An extra pickled ``data`` value (SB3 would unpickle and set it on the model) is refused by
    name, whatever it holds; so are a payload in dropped training state and an unreadable pickle."""
    marker = tmp_path / "marker"
    payload = base64.b64encode(pickle.dumps(CreatesFile(marker))).decode()
    data = shipped_data()
    data["env"] = {":type:": "<class 'gymnasium.wrappers.TimeLimit'>", ":serialized:": payload}
    assert "data['env'] is a pickled" in refused(load_agent, rewrite(SHIPPED, tmp_path / "extra.zip", data=data))
    data = shipped_data()
    data["ep_info_buffer"][":serialized:"] = payload
    message = refused(load_agent, rewrite(SHIPPED, tmp_path / "state.zip", data=data))
    assert "data['ep_info_buffer'] pickles a reference to 'pathlib.Path.touch'" in message
    data["ep_info_buffer"][":serialized:"] = "not base64!"
    assert "not a readable pickle" in refused(load_agent, rewrite(SHIPPED, tmp_path / "bad.zip", data=data))
    assert not marker.exists()


def test_pickled_references_are_read_without_running_the_pickle(tmp_path):
    marker = tmp_path / "marker"
    assert pickled_references(pickle.dumps(CreatesFile(marker))) == {"pathlib.Path.touch", "pathlib.PosixPath"}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickled_references(pickle.dumps(os.system, protocol=protocol)) == {"posix.system"}
        assert pickled_references(pickle.dumps({"a": [1, 2.0, "posix system"]}, protocol=protocol)) == set()
    with pytest.raises(ValueError):
        pickled_references(b"not a pickle")
    assert not marker.exists()


def spoil(tmp_path: Path, case: str) -> Path:
    """The shipped agent spoiled one way (see SPOILED)."""
    target = tmp_path / f"{case}.zip"
    data = shipped_data()
    if case == "unexpected entry":
        return rewrite(SHIPPED, target, add={"run_me.py": b"print('hello')"})
    if case == "entry of another algorithm":
        return rewrite(SHIPPED, target, add={"policy.optimizer.pth": b""})
    if case == "no policy weights":
        with zipfile.ZipFile(SHIPPED) as original, zipfile.ZipFile(target, "w") as copy:
            for name in original.namelist():
                if name != "policy.pth":
                    copy.writestr(name, original.read(name))
        return target
    if case == "weights that do not fit":
        buffer = io.BytesIO()
        torch.save({"actor.mu.weight": torch.zeros(4, 128)}, buffer)
        return rewrite(SHIPPED, target, replace={"policy.pth": buffer.getvalue()})
    if case == "non-finite weights":
        with zipfile.ZipFile(SHIPPED) as archive:
            weights = torch.load(io.BytesIO(archive.read("policy.pth")), weights_only=True)
        weights["actor.mu.bias"] = weights["actor.mu.bias"] * float("nan")
        buffer = io.BytesIO()
        torch.save(weights, buffer)
        return rewrite(SHIPPED, target, replace={"policy.pth": buffer.getvalue()})
    if case == "foreign features extractor":
        data["policy_kwargs"]["features_extractor_class"] = "<class 'evil.Extractor'>"
    elif case == "foreign policy class":
        data["policy_class"]["__module__"] = "evil.policies"
    elif case == "unknown policy setting":
        data["policy_kwargs"]["activation_fn"] = "<class 'torch.nn.modules.activation.ReLU'>"
    elif case == "other observation space":
        data["observation_space"]["spaces"] = data["observation_space"]["spaces"].replace("(158,)", "(159,)")
    elif case == "other action space":
        data["action_space"]["_shape"] = [5]
    elif case == "data not JSON":
        return rewrite(SHIPPED, target, replace={"data": b"\x80not json"})
    elif case == "not a zip":
        target.write_bytes(b"PK\x03\x04 but not really a zip")
        return target
    return rewrite(SHIPPED, target, data=data)


SPOILED = {
    "unexpected entry": "unexpected entry 'run_me.py'",
    "entry of another algorithm": "'policy.optimizer.pth' does not belong to a sac agent",
    "no policy weights": "has no 'policy.pth' entry",
    "weights that do not fit": "'policy.pth' does not fit the networks",
    "non-finite weights": "policy.pth 'actor.mu.bias' holds non-finite weights",
    "foreign features extractor": "features extractor \"<class 'evil.Extractor'>\" is not this project's",
    "foreign policy class": "policy class from module 'evil.policies'",
    "unknown policy setting": "policy_kwargs 'activation_fn' is not a setting this project builds",
    "other observation space": "is not the env's",
    "other action space": "action space is not the env's",
    "data not JSON": "entry 'data' is not JSON",
    "not a zip": "is not a zip file",
}


@pytest.mark.parametrize("case", list(SPOILED))
def test_spoiled_archives_give_one_checkpoint_error(tmp_path, case):
    assert SPOILED[case] in refused(load_agent, spoil(tmp_path, case))


def test_archive_files_and_records_are_checked(tmp_path):
    fifo = tmp_path / "fifo.zip"
    os.mkfifo(fifo)
    from agents.baselines.rl_archive import read_agent_archive

    assert "is not a regular file" in refused(read_agent_archive, fifo)  # refused at once, never blocks
    copy = rewrite(SHIPPED, tmp_path / "copy.zip")
    record = json.loads(SHIPPED.with_suffix(".json").read_text())
    record["config"]["net_arch"] = [64, 64]
    copy.with_suffix(".json").write_text(json.dumps(record))
    assert "its training record" in refused(load_agent, copy)
    record["config"]["action_mode"] = "sideways"
    copy.with_suffix(".json").write_text(json.dumps(record))
    assert "action_mode 'sideways'" in refused(load_agent, copy)
    copy.with_suffix(".json").unlink()
    model, config = load_agent(copy)  # no record: the default config, settings from the archive
    assert config.algorithm == "sac" and config.net_arch == (128, 128) and type(model).__name__ == "SAC"
    assert set(ALLOWED_ENTRIES) >= set(zipfile.ZipFile(SHIPPED).namelist())


# ------------------------------------------------------------------------------ the whole project
#: Calls that unpickle or run text as code whatever object they are called on (``X.load`` is
#: SB3's ``SAC.load`` as much as ``pickle.load``), besides the plain-data readers of SAFE_LOADERS.
UNSAFE_NAMES = {"load", "loads", "unsafe_load", "full_load", "read_pickle", "json_to_data", "load_from_zip_file"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}
SAFE_LOADERS = {"json.load", "json.loads", "tomllib.load", "tomllib.loads"}
#: Project modules allowed a call of UNSAFE_NAMES, and why.
REVIEWED = {
    ("sim/env/vector.py", "pickle.loads"): "messages between this process and its own workers (a pipe), never a file",
}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _keyword_is(node: ast.Call, name: str, value: object) -> bool:
    return any(keyword.arg == name and isinstance(keyword.value, ast.Constant) and keyword.value.value is value
               for keyword in node.keywords)


def unsafe_calls(source: str, relative: str) -> list[str]:
    """``file:line call`` of every call in ``source`` that may unpickle or run code from a file."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        last = name.rsplit(".", 1)[-1]
        if name in UNSAFE_BUILTINS:
            safe = False
        elif last not in UNSAFE_NAMES or name in SAFE_LOADERS:
            continue
        elif name == "torch.load":
            safe = _keyword_is(node, "weights_only", True)
        elif name in ("np.load", "numpy.load"):
            safe = not any(keyword.arg == "allow_pickle" for keyword in node.keywords) or \
                _keyword_is(node, "allow_pickle", False)
        else:
            safe = False
        if not safe and (relative, name) not in REVIEWED:
            found.append(f"{relative}:{node.lineno} {name}")
    return found


def test_the_audit_finds_what_it_looks_for():
    risky = ("getattr(sb3, 'SAC').load(path)\nSAC.load(path)\ntorch.load(path)\ntorch.load(path, weights_only=False)\n"
             "np.load(path, allow_pickle=True)\npickle.load(file)\nyaml.load(text)\neval(text)\n")
    assert len(unsafe_calls(risky, "x.py")) == 8
    harmless = "json.loads(text)\ntomllib.loads(text)\ntorch.load(path, weights_only=True)\nnp.load(path)\n"
    assert unsafe_calls(harmless, "x.py") == []


def test_no_project_module_unpickles_a_file():
    """Every ``torch.load`` passes ``weights_only=True``; ``np.load`` never ``allow_pickle=True``;
    nothing else that unpickles or runs text as code is called outside the reviewed cases."""
    files = [ROOT / "run_sim.py", *(path for package in ("agents", "evaluation", "scenarios", "sim", "assets")
                                    for path in (ROOT / package).rglob("*.py"))]
    found = [call for path in files
             for call in unsafe_calls(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())]
    assert not found, found
    assert len(files) > 50

"""HybridVectorEnv's faults: a bounded ``num_envs`` (refused at once, saying why), a worker killed by the
operating system reported by index and signal (and the vector env still closes), and errors raised in a
worker arriving as themselves (every project exception pickles with its type, message and attributes)."""

from __future__ import annotations

import contextlib
import inspect
import os
import pickle
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import sim
import sim.env.vector as vector
from sim.env.vector import MAX_NUM_ENVS, PROCESSES_PER_CORE, HybridVectorEnv, max_num_envs, max_processes
from sim.errors import InvalidInputError, ProjectError, UnknownNameError, WorkerDiedError

ENV_ID = sim.ENV_IDS[0]
ROOT = Path(__file__).resolve().parents[3]
#: Seconds any one call of these tests may take before it counts as a hang.
DEADLINE_S = 10.0


@contextlib.contextmanager
def deadline(seconds: float = DEADLINE_S) -> Iterator[None]:
    """Fail (instead of hanging) when the block runs longer than ``seconds``."""
    def alarm(signum, frame):
        raise AssertionError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module", autouse=True)
def warm_process() -> None:
    """An env reset and stepped here first: the CAD model a first reset builds and the functions numba compiles
    at first use (seconds) are then inherited by the forked workers, so the deadlines time the vector env."""
    env = gym.make(ENV_ID, scenario="empty")
    try:
        env.reset(seed=0)
        env.step(np.zeros(4, dtype=np.float32))
    finally:
        env.close()


class Make:
    """Picklable env factory; its env's ``raise_in_workers(error)`` raises ``error`` in worker processes only
    (in the process that made the factory it returns None), so the error that arrives is the worker's."""

    def __init__(self, scenario: str = "empty") -> None:
        self.scenario, self.parent_pid = scenario, os.getpid()

    def __call__(self) -> gym.Env:
        return Raising(gym.make(ENV_ID, scenario=self.scenario), self.parent_pid)


class Raising(gym.Wrapper):
    def __init__(self, env: gym.Env, parent_pid: int) -> None:
        super().__init__(env)
        self.parent_pid = parent_pid

    def raise_in_workers(self, error: BaseException) -> None:
        if os.getpid() != self.parent_pid:
            raise error

    def raise_unpicklable_in_workers(self, message: str) -> None:
        class LocalError(Exception):  # a class pickle cannot find by name
            pass

        if os.getpid() != self.parent_pid:
            raise LocalError(message)


# Project exceptions with __init__ parameters other than one message: pickling must not call them with
# the message (``UnknownNameError(kind, name, valid)`` is one in the project).
class RangeError(InvalidInputError):
    def __init__(self, field: str, low: float, high: float) -> None:
        super().__init__(f"{field} must be in [{low}, {high}]")
        self.field, self.low, self.high = field, low, high


class AliasError(UnknownNameError):
    def __init__(self, alias: str) -> None:
        super().__init__("alias", alias, ("left", "right"))


SAMPLE_ARGUMENTS = {
    UnknownNameError: ("scenario", "clutterd", ["cluttered", "empty", "single"]),
    RangeError: ("clearance_m", 0.0, 0.5),
    AliasError: ("rigth",),
}


def project_error_classes() -> list[type[ProjectError]]:
    """Every ProjectError subclass, found with ``__subclasses__`` recursively after importing every module of the
    project that defines an exception class (found in its source)."""
    pattern = re.compile(r"^class \w+\([^)]*Error[^)]*\):", re.MULTILINE)
    for package in ("sim", "agents", "evaluation", "scenarios"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if pattern.search(path.read_text(encoding="utf-8")):
                __import__(".".join(path.relative_to(ROOT).with_suffix("").parts))
    found: list[type[ProjectError]] = []
    pending = [ProjectError]
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return sorted(set(found), key=lambda kind: f"{kind.__module__}.{kind.__qualname__}")


def sample(kind: type[ProjectError]) -> ProjectError:
    """An instance of ``kind``: a long message with a newline, or arguments its ``__init__`` needs."""
    if kind in SAMPLE_ARGUMENTS:
        return kind(*SAMPLE_ARGUMENTS[kind])
    if kind.__init__ is ProjectError.__init__:
        return kind("a message\nwith a newline and " + "x" * 400)
    required = [parameter for parameter in list(inspect.signature(kind.__init__).parameters.values())[1:]
                if parameter.default is inspect.Parameter.empty
                and parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)]
    return kind(*(f"value{index}" for index in range(len(required))))


def test_every_project_error_pickles_and_arrives_from_a_worker_as_itself(capfd):
    """pickle.loads(pickle.dumps(error)) keeps type, message, args and attributes for every ProjectError
    subclass (the project's own, and ones whose __init__ takes other parameters than a message); raised in a
    worker, each arrives here as itself, the worker's traceback in a note, none printed."""
    classes = project_error_classes()
    names = {kind.__name__ for kind in classes}
    assert {"InvalidInputError", "UnknownNameError", "DependencyNotInstalled", "WorkerDiedError",
            "FolderLockedError", "BackendError", "UnsupportedModelError", "RangeError", "AliasError"} <= names
    errors = [sample(kind) for kind in classes]
    for error in errors:
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error) and back.args == error.args
        assert vars(back) == vars(error), type(error).__name__
        assert len(str(back)) <= 300 and "\n" not in str(back)
    envs = HybridVectorEnv([Make()] * 2, num_processes=2)
    try:
        with deadline():
            for error in errors:
                with pytest.raises(type(error)) as caught:
                    envs.call("raise_in_workers", error)
                assert type(caught.value) is type(error) and str(caught.value) == str(error)
                assert {key: value for key, value in vars(caught.value).items() if key != "__notes__"} == vars(error)
                assert any("raised in HybridVectorEnv worker 1" in note for note in caught.value.__notes__)
            assert envs.get_attr("parent_pid") == (os.getpid(), os.getpid())  # still in step
    finally:
        envs.close()
    assert "Traceback" not in capfd.readouterr().err  # a user's bad input, not a bug: its one line is enough


def test_an_exception_that_does_not_pickle_arrives_as_a_runtime_error_naming_it(capfd):
    """An exception of a class the worker cannot pickle arrives as RuntimeError with its type's name and message
    (a bug: the worker's traceback on stderr); the worker lives on and answers the next call."""
    envs = HybridVectorEnv([Make()] * 2, num_processes=2)
    try:
        with deadline():
            with pytest.raises(RuntimeError) as caught:
                envs.call("raise_unpicklable_in_workers", "not sent as itself")
            assert type(caught.value) is RuntimeError and str(caught.value) == (
                "tests.sim.env.test_vector_faults.Raising.raise_unpicklable_in_workers.<locals>.LocalError in "
                "HybridVectorEnv worker 1: not sent as itself")
            assert envs.get_attr("parent_pid") == (os.getpid(), os.getpid())
    finally:
        envs.close()
    assert "LocalError: not sent as itself" in capfd.readouterr().err


def test_a_reset_option_or_action_a_worker_refuses_arrives_with_the_workers_type_and_message():
    """Through gym.make_vec: a misspelled reset option reaching only the worker's sub-environment arrives
    as its UnknownNameError (an InvalidInputError) with the worker's message; a non-finite action row as
    InvalidInputError; the vector env then resets and steps as before."""
    envs = gym.make_vec(ENV_ID, num_envs=2, num_processes=2, scenario="empty")
    try:
        with deadline():
            assert isinstance(envs, HybridVectorEnv) and len(envs.worker_pids) == 1
            envs.reset(seed=1)
            only_the_worker = np.array([False, True])
            with pytest.raises(UnknownNameError) as caught:
                envs.reset(seed=1, options={"reset_mask": only_the_worker, "scene_idx": 0})
            assert isinstance(caught.value, InvalidInputError)
            assert str(caught.value) == ("unknown reset option 'scene_idx'; valid choices: scene, scene_index. "
                                         "Did you mean 'scene_index'?")
            actions = np.zeros((2, 4), dtype=np.float32)
            actions[1, 2] = np.nan
            with pytest.raises(InvalidInputError) as refused_here:  # the message this process's env gives
                envs.local_env.step(actions[1])
            with pytest.raises(InvalidInputError) as caught:
                envs.step(actions)
            assert type(caught.value) is type(refused_here.value)
            assert str(caught.value) == str(refused_here.value) and "nan" in str(caught.value)
            observations, _ = envs.reset(seed=1)
            assert observations["observation"].shape == (2, 158)
            envs.step(np.zeros((2, 4), dtype=np.float32))
    finally:
        envs.close()


def process_ended(pid: int) -> bool:
    """No process ``pid`` any more (reaped), or only its zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("call", ["step_shared", "step_pickled", "reset", "call"])
def test_a_killed_worker_is_reported_by_index_and_signal_and_the_vector_env_closes(call):
    """SIGKILL to the second worker (sub-environment 2): the next call raises WorkerDiedError naming worker 2,
    its sub-environments, pid and signal in one line, not a BrokenPipeError; later calls raise it again; close
    ends the other worker without hanging."""
    envs = HybridVectorEnv([Make()] * 3, num_processes=3)
    pids = envs.worker_pids
    try:
        with deadline():
            assert len(pids) == 2 and os.getpid() not in pids
            envs.reset(seed=0)
            os.kill(pids[1], signal.SIGKILL)
            actions = np.zeros((3, 4), dtype=np.float32)
            calls = {"step_shared": lambda: envs.step(actions), "step_pickled": lambda: envs.step(actions.tolist()),
                     "reset": lambda: envs.reset(seed=1), "call": lambda: envs.get_attr("parent_pid")}
            message = (rf"^HybridVectorEnv worker 2 \(sub-environments 2\.\.2, pid {pids[1]}\) was killed by "
                       r"signal 9 \(SIGKILL\); the vector env cannot go on: close it$")
            with pytest.raises(WorkerDiedError, match=message) as caught:
                calls[call]()
            assert isinstance(caught.value, ProjectError) and "\n" not in str(caught.value)
            with pytest.raises(WorkerDiedError, match=message):
                envs.step(actions)
    finally:
        started = time.perf_counter()
        with deadline():
            envs.close()
        closed_s = time.perf_counter() - started
    assert closed_s < 5.0
    assert all(process_ended(pid) for pid in pids)
    with pytest.raises(InvalidInputError, match="closed"):
        envs.step(np.zeros((3, 4), dtype=np.float32))


def test_an_absurd_num_envs_is_refused_at_once_saying_why():
    """gym.make_vec's num_envs: an integer in 1..max_num_envs() (at most MAX_NUM_ENVS, each sub-environment a
    PyBullet world of its own); zero, negatives, bools, strings, fractions and a million refused in one line
    before any sub-environment or process exists."""
    most = max_num_envs()
    assert 1 <= most <= MAX_NUM_ENVS
    why = (rf"num_envs must be a positive integer of at most {most} \(each sub-environment is a PyBullet world of "
           r"its own, about \d+ MB: at most \d+")
    for num_envs in (0, -3, True, "4", 2.5, 4.0, None, most + 1, 10**6, 10**100):
        started = time.perf_counter()
        with deadline(), pytest.raises(InvalidInputError, match=why) as caught:
            gym.make_vec(ENV_ID, num_envs=num_envs, scenario="empty")
        assert time.perf_counter() - started < 1.0, num_envs
        assert "\n" not in str(caught.value) and len(str(caught.value)) <= 300
    assert str(caught.value).endswith("got an integer of about 101 digits")
    with deadline(), pytest.raises(InvalidInputError, match=f"HybridVectorEnv takes at most {most} env_fns"):
        HybridVectorEnv([Make()] * (most + 1))


def test_processes_are_bounded_by_the_cores_and_memory(monkeypatch):
    """num_processes: at most PROCESSES_PER_CORE per available core (None: capped there); with 1 GB of memory
    available, 32 sub-environments of 32 MB fit and 33 do not, and two processes of 0.5 GB."""
    cores = vector.available_cores()
    most = PROCESSES_PER_CORE * cores
    assert max_processes(most + 1) == most and max_processes(2) == 2
    with deadline(), pytest.raises(InvalidInputError, match=rf"num_processes must be an integer in 1\.\.{most} or "
                                                            rf"None \(.*{PROCESSES_PER_CORE} per core at most"):
        HybridVectorEnv([Make()] * (most + 1), num_processes=most + 1)
    monkeypatch.setattr(vector, "_available_memory_bytes", lambda: 2**30)
    assert max_num_envs() == 32 and max_processes(most + 1) == min(most, 2)
    with deadline(), pytest.raises(InvalidInputError, match=r"at most 32 .* 32 in the 1\.0 GB of memory available"):
        gym.make_vec(ENV_ID, num_envs=33, scenario="empty")

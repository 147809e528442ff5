"""A vector env whose calling process steps sub-environments itself: N sub-environments over P processes.

:class:`HybridVectorEnv` is a :class:`gymnasium.vector.VectorEnv` with the interface and results of
:class:`gymnasium.vector.SyncVectorEnv` (same spaces, ``reset(seed=int | list | None, options=...)``,
``step``, autoreset in Gymnasium's default ``NEXT_STEP`` mode, infos merged with ``_key`` masks,
``call``/``get_attr``/``set_attr``/``render``/``close``): the same seeds give the same episodes,
bit for bit. What differs is where the sub-environments run: in ``num_processes`` contiguous groups,
the first in the calling process and each other one in a worker process of its own (by default one
sub-environment per process). A step sends each worker one small message (the actions are in shared
memory), steps the calling process's group meanwhile, then reads the workers' observations from
shared memory and their rewards, flags and infos from the pipe (one pickled message per worker);
a process waiting for the other's message polls the pipe for a moment (``spin_s``) before it
sleeps on it, so a peer that is running answers without the operating system's wake-up.
With ``num_processes=2`` that is two processes in all ("2-process" in
``benchmarks/env_throughput.py``): the calling process works instead of waiting, which is what
Gymnasium's :class:`~gymnasium.vector.AsyncVectorEnv` (main process + one worker per
sub-environment, the main one idle while they step) cannot do on two cores; and several
sub-environments per process pay the lockstep of a vector step (a message each way, a wake-up, the
wait for the slower process) once for the group instead of once per sub-environment, as
sample-factory's ``num_envs_per_worker`` and RLlib's ``num_envs_per_env_runner`` do.

Autoreset (``NEXT_STEP``, as Gymnasium's default): a sub-environment whose step returns
``terminated`` or ``truncated`` is reset by the next :meth:`~HybridVectorEnv.step`, which ignores
its action and returns the reset observation and info, reward 0 and both flags False.

Example:
    >>> import gymnasium as gym, sim
    >>> from sim.env.vector import HybridVectorEnv
    >>> envs = HybridVectorEnv([lambda: gym.make(sim.ENV_IDS[0], scenario="single")] * 4, num_processes=2)
    >>> observations, infos = envs.reset(seed=3)
    >>> observations["observation"].shape, infos["min_clearance_m"].shape
    ((4, 158), (4,))
    >>> observations, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
    >>> rewards.shape, terminated.dtype
    ((4,), dtype('bool'))
    >>> envs.close()
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import (
    CloudpickleWrapper,
    batch_space,
    create_shared_memory,
    iterate,
    read_from_shared_memory,
)
from gymnasium.vector.vector_env import AutoresetMode

from sim.errors import InvalidInputError, ProjectError, WorkerDiedError, show_value

__all__ = ["HybridVectorEnv", "available_cores", "make_vector_env", "max_num_envs", "max_processes"]

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_PLAIN_NUMBERS = (int, float, bool)  # the types Gymnasium batches into arrays of that type
# Commands of the pipe protocol: a pickled (command, data) to the worker; the worker answers a
# pickled (True, result) or (False, (pickled exception or None, exception type name, message, traceback)).
# A step's answer is (reward, terminated, truncated, info), its observation in shared memory.
_STEP, _RESET, _CALL, _SET_ATTR, _CLOSE, _STEP_SHARED = range(6)
#: A step whose action the worker reads from shared memory (a batch of Box actions of the space's dtype
#: and shape).
_STEP_SHARED_MESSAGE = pickle.dumps((_STEP_SHARED, None), _PROTOCOL)
#: Seconds a process polls for the next message before it blocks (when there is a core per process).
SPIN_S: float = 0.0005
#: Seconds :meth:`HybridVectorEnv.close` waits for a worker to close its sub-environment and exit.
CLOSE_TIMEOUT_S: float = 10.0
#: Seconds a vector env waits for the exit status of a worker whose pipe closed (it is exiting).
EXIT_STATUS_WAIT_S: float = 2.0
#: The most sub-environments one vector env runs: each is a PyBullet world of its own, stepped in turn.
MAX_NUM_ENVS: int = 1024
#: Memory (bytes) one more sub-environment takes: its PyBullet client with the arm, table and obstacles, and its
#: env (measured: 29 MB per cluttered sub-environment from the 8th to the 16th in one process).
ENV_MEMORY_BYTES: int = 32 * 2**20
#: Memory (bytes) a worker process takes with its first sub-environment: interpreter, NumPy, PyBullet, Gymnasium,
#: the robot's meshes (measured: 513 MB resident after one cluttered sub-environment; forked workers share part).
WORKER_MEMORY_BYTES: int = 512 * 2**20
#: Processes per available core: more only take turns on the cores, and each vector step waits for the last.
PROCESSES_PER_CORE: int = 4


def _write(views: Any, value: Any) -> None:
    """Copy an observation (array, dict or tuple of them) into shared-memory views of the same structure."""
    if isinstance(views, np.ndarray):
        np.copyto(views, value, casting="unsafe")
    elif isinstance(views, dict):
        for key, view in views.items():
            _write(view, value[key])
    else:
        for view, item in zip(views, value, strict=True):
            _write(view, item)


def _row(views: Any, index: int) -> Any:
    """The ``index``-th sub-environment's views of batched views."""
    if isinstance(views, np.ndarray):
        return views[index]
    if isinstance(views, dict):
        return type(views)((key, _row(view, index)) for key, view in views.items())
    return tuple(_row(view, index) for view in views)


def _copy(views: Any) -> Any:
    """A deep copy of batched views (what ``copy.deepcopy`` gives, without its bookkeeping)."""
    if isinstance(views, np.ndarray):
        return views.copy()
    if isinstance(views, dict):
        return type(views)((key, _copy(view)) for key, view in views.items())
    return tuple(_copy(view) for view in views)


def _await(pipe: Connection, spin_s: float) -> None:
    """Return when ``pipe`` has data: polled without blocking for up to ``spin_s`` seconds (a
    process that is running answers at once, with no wake-up latency), then left to block."""
    if spin_s > 0.0 and not pipe.poll():
        deadline = time.perf_counter() + spin_s
        while not pipe.poll() and time.perf_counter() < deadline:
            pass


def _groups(count: int, processes: int) -> list[range]:
    """``count`` sub-environment indices in ``processes`` contiguous groups whose sizes differ by at most
    one (the larger groups first)."""
    size, extra = divmod(count, processes)
    groups, first = [], 0
    for position in range(processes):
        last = first + size + (position < extra)
        groups.append(range(first, last))
        first = last
    return groups


def _step_group(envs: list[gym.Env], autoreset: list[bool], actions: Any, views: list[Any]) -> list[tuple]:
    """Step (or, after an episode's end, reset) each sub-environment of a group with its action;
    write each observation to its views; the ``(reward, terminated, truncated, info)`` of each."""
    results = []
    for position, env in enumerate(envs):
        if autoreset[position]:
            observation, info = env.reset()
            reward, terminated, truncated = 0.0, False, False
        else:
            observation, reward, terminated, truncated, info = env.step(actions[position])
        autoreset[position] = bool(terminated or truncated)
        _write(views[position], observation)
        results.append((reward, terminated, truncated, info))
    return results


def _failure(error: BaseException) -> bytes:
    """A worker's answer reporting ``error`` (the exception being handled): the exception itself when it
    survives pickling (the calling process raises it with its own type, message and attributes), else its
    type's name and message; and the worker's traceback."""
    try:
        sent: bytes | None = pickle.dumps(error, _PROTOCOL)
        pickle.loads(sent)  # noqa: S301  (our own bytes, just made: the calling process must rebuild them too)
    except Exception:  # noqa: BLE001  (an exception that does not pickle is described instead)
        sent = None
    kind = type(error)
    return pickle.dumps((False, (sent, f"{kind.__module__}.{kind.__qualname__}", str(error), traceback.format_exc())),
                        _PROTOCOL)


def _worker(indices: range, env_fns: CloudpickleWrapper, pipe: Connection, parent_pipe: Connection,
            observation_buffer: Any, action_buffer: Any, spaces: tuple[gym.Space, gym.Space], count: int,
            spin_s: float) -> None:
    """Run the sub-environments ``indices``: answer the commands of :class:`HybridVectorEnv` until ``_CLOSE``."""
    parent_pipe.close()
    envs: list[gym.Env] = []
    try:
        for env_fn in env_fns.fn:
            envs.append(env_fn())
        observation_space, action_space = spaces
        observations = read_from_shared_memory(observation_space, observation_buffer, n=count)
        views = [_row(observations, index) for index in indices]
        action_views = (None if action_buffer is None else
                        read_from_shared_memory(action_space, action_buffer, n=count)[indices.start:indices.stop])
        pipe.send_bytes(pickle.dumps((True, [(env.observation_space == observation_space,
                                              env.action_space == action_space) for env in envs]), _PROTOCOL))
    except BaseException as error:  # noqa: BLE001  (reported to the calling process, which raises it)
        pipe.send_bytes(_failure(error))
        for env in envs:
            env.close()
        return
    autoreset = [False] * len(envs)
    try:
        while True:
            _await(pipe, spin_s)
            command, data = pickle.loads(pipe.recv_bytes())
            try:
                if command == _STEP or command == _STEP_SHARED:
                    if command == _STEP_SHARED:
                        data = np.array(action_views)  # a copy: the next step overwrites the buffer
                    result: Any = _step_group(envs, autoreset, data, views)
                elif command == _RESET:  # data: (position in the group, reset kwargs) per sub-environment to reset
                    result = []
                    for position, kwargs in data:
                        observation, info = envs[position].reset(**kwargs)
                        autoreset[position] = False
                        _write(views[position], observation)
                        result.append(info)
                elif command == _CALL:
                    name, args, kwargs = data
                    result = []
                    for env in envs:
                        attribute = env.get_wrapper_attr(name)
                        result.append(attribute(*args, **kwargs) if callable(attribute) else attribute)
                elif command == _SET_ATTR:
                    name, values = data
                    for env, value in zip(envs, values, strict=True):
                        env.set_wrapper_attr(name, value)
                    result = None
                else:  # _CLOSE
                    while envs:
                        envs.pop().close()
                    pipe.send_bytes(pickle.dumps((True, None), _PROTOCOL))
                    return
                message = pickle.dumps((True, result), _PROTOCOL)
            except Exception as error:  # noqa: BLE001  (reported to the calling process, which raises it)
                message = _failure(error)
            pipe.send_bytes(message)
    except (EOFError, KeyboardInterrupt, BrokenPipeError):  # the calling process went away or was interrupted
        pass
    finally:
        for env in envs:
            env.close()


class HybridVectorEnv(VectorEnv):
    """Vectorised environment: the first group of sub-environments in this process, each other group
    in a worker process.

    Args:
        env_fns: functions creating the sub-environments (all with the same spaces); the first
            group's are called here, the others in the workers (pickled with cloudpickle, so lambdas work).
        num_processes: processes the sub-environments are spread over, this one included, in
            contiguous groups of sizes differing by at most one (``None``: one per sub-environment, at
            most :func:`max_processes`: :data:`PROCESSES_PER_CORE` per available core, and what the
            available memory holds at :data:`WORKER_MEMORY_BYTES` a worker).
            Several sub-environments per process amortise the lockstep of a vector step (one message
            each way and one wake-up per worker, whatever the group size): with two cores, two
            processes of several sub-environments each come closest to twice one process.
        spin_s: seconds a process waiting for the other's message polls the pipe before it blocks
            on it: a process that keeps its core answers at once instead of after the operating
            system's wake-up (measured here: cluttered, 2 processes x 4 sub-environments 1.74x ->
            1.88x one process; x 1: 1.31x -> 1.56x). ``None``: :data:`SPIN_S` when every process
            can have a core of its own (``num_processes`` <= available cores), else 0 (polling
            would take the core from a process that needs it). A worker whose caller spends longer
            between steps (a network update) polls for ``spin_s`` and then sleeps.
        copy: return copies of the observations (``False``: views of buffers the next call overwrites).
        context: :mod:`multiprocessing` start method of the workers (``None``: the platform's default).
        daemon: workers end with this process.

    Raises:
        InvalidInputError: no ``env_fns`` or more than :func:`max_num_envs`; ``num_processes`` not an
            integer in ``1..max_processes(len(env_fns))``; ``spin_s`` not in [0, 1); a
            sub-environment with other spaces than the first.
        WorkerDiedError: (from any call) a worker process ended (killed by a signal, crashed): the
            message names it, its sub-environments and its exit signal or status; every later call
            but :meth:`close` raises it again, and :meth:`close` ends the other workers.

    Results equal :class:`gymnasium.vector.SyncVectorEnv`'s for the same ``env_fns``, seeds and
    actions (observations, rewards, flags, infos), autoreset in ``NEXT_STEP`` mode, whatever
    ``num_processes``. An exception in a worker's sub-environment is raised here as itself (its
    type, message and attributes: every :class:`~sim.errors.ProjectError` pickles), the worker's
    traceback in its notes (and on stderr unless it is a ``ProjectError``, a user's bad input); an
    exception that does not pickle arrives as a :class:`RuntimeError` naming its type.
    """

    metadata: dict[str, Any]

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], *, num_processes: int | None = None,
                 spin_s: float | None = None, copy: bool = True, context: str | None = None,
                 daemon: bool = True) -> None:
        super().__init__()
        self._closed_here = True  # until the workers exist (close() then has nothing to end)
        self._failed: str | None = None  # a dead worker's message: every later call but close() raises it
        self._pipes: list[Connection] = []
        self._processes: list[Any] = []
        self.env_fns = list(env_fns)
        if not self.env_fns:
            raise InvalidInputError("HybridVectorEnv needs at least one env_fn")
        most_envs, why = _num_envs_bound()
        if len(self.env_fns) > most_envs:
            raise InvalidInputError(f"HybridVectorEnv takes at most {most_envs} env_fns ({why}), "
                                    f"got {len(self.env_fns)}")
        self.num_envs = len(self.env_fns)
        most, why = _processes_bound(self.num_envs)
        if num_processes is None:
            num_processes = most
        if (isinstance(num_processes, bool) or not isinstance(num_processes, (int, np.integer))
                or not 1 <= num_processes <= most):
            raise InvalidInputError(f"num_processes must be an integer in 1..{most} or None ({why}), "
                                    f"got {show_value(num_processes)}")
        self.num_processes = int(num_processes)
        if spin_s is None:
            spin_s = SPIN_S if self.num_processes <= available_cores() else 0.0
        if isinstance(spin_s, bool) or not isinstance(spin_s, (int, float)) or not 0.0 <= spin_s < 1.0:
            raise InvalidInputError(f"spin_s must be seconds in [0, 1) or None, got {spin_s!r}")
        self.spin_s = float(spin_s)
        groups = _groups(self.num_envs, self.num_processes)
        #: The sub-environment indices of each process: the first this one's, then each worker's.
        self.process_groups: tuple[range, ...] = tuple(groups)
        self._local = groups[0]
        self._worker_groups = groups[1:]
        self.copy = copy
        self.autoreset_mode = AutoresetMode.NEXT_STEP
        self.local_envs: list[gym.Env] = []
        try:
            for index in self._local:
                self.local_envs.append(self.env_fns[index]())
        except BaseException:
            for env in self.local_envs:
                env.close()
            raise
        self._closed_here = False
        self.local_env = self.local_envs[0]  #: sub-environment 0, stepped in this process
        self.metadata = dict(self.local_env.metadata)
        self.metadata["autoreset_mode"] = self.autoreset_mode
        self.render_mode = self.local_env.render_mode
        self.single_observation_space = self.local_env.observation_space
        self.single_action_space = self.local_env.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        ctx = multiprocessing.get_context(context)
        buffer = create_shared_memory(self.single_observation_space, n=self.num_envs, ctx=ctx)
        self._observations = read_from_shared_memory(self.single_observation_space, buffer, n=self.num_envs)
        self._own_views = [_row(self._observations, index) for index in self._local]
        self._rewards = np.zeros(self.num_envs, dtype=np.float64)
        self._terminations = np.zeros(self.num_envs, dtype=np.bool_)
        self._truncations = np.zeros(self.num_envs, dtype=np.bool_)
        self._autoreset = [False] * len(self._local)  # this process's sub-environments' (workers keep their own)
        # Box actions of the space's dtype and shape reach the workers through shared memory.
        action_buffer = None
        self._action_views: np.ndarray | None = None
        if type(self.single_action_space) is gym.spaces.Box:
            action_buffer = create_shared_memory(self.single_action_space, n=self.num_envs, ctx=ctx)
            self._action_views = read_from_shared_memory(self.single_action_space, action_buffer, n=self.num_envs)
        spaces = (self.single_observation_space, self.single_action_space)
        for indices in self._worker_groups:
            parent_pipe, child_pipe = ctx.Pipe()
            process = ctx.Process(
                target=_worker, name=f"Worker<HybridVectorEnv>-{indices.start}",
                args=(indices, CloudpickleWrapper([self.env_fns[index] for index in indices]), child_pipe, parent_pipe,
                      buffer, action_buffer, spaces, self.num_envs, self.spin_s), daemon=daemon)
            process.start()
            child_pipe.close()
            self._pipes.append(parent_pipe)
            self._processes.append(process)
        try:
            same = [self._receive(worker) for worker in range(len(self._pipes))]
        except BaseException:
            self.close()
            raise
        local_same = [(env.observation_space == self.single_observation_space,
                       env.action_space == self.single_action_space) for env in self.local_envs]
        flags = local_same + [flag for group in same for flag in group]
        for index, (same_observation, same_action) in enumerate(flags):
            if not (same_observation and same_action):
                self.close()
                raise InvalidInputError(f"sub-environment {index} has other observation or action spaces than "
                                        "sub-environment 0; HybridVectorEnv batches identical spaces only")

    # ----------------------------------------------------------------------------- protocol
    def _send(self, worker: int, command: int, data: Any) -> None:
        self._send_bytes(worker, pickle.dumps((command, data), _PROTOCOL))

    def _send_bytes(self, worker: int, message: bytes) -> None:
        try:
            self._pipes[worker].send_bytes(message)
        except (BrokenPipeError, ConnectionError, EOFError) as error:
            raise self._died(worker) from error

    def _receive(self, worker: int) -> Any:
        """Worker ``worker``'s answer; its exception is raised here (a dead worker's as :class:`WorkerDiedError`)."""
        pipe = self._pipes[worker]
        try:
            _await(pipe, self.spin_s)
            ok, result = pickle.loads(pipe.recv_bytes())
        except (EOFError, ConnectionError) as error:
            raise self._died(worker) from error
        if not ok:
            raise self._worker_exception(worker, *result)
        return result

    def _worker_exception(self, worker: int, sent: bytes | None, kind: str, message: str,
                          trace: str) -> BaseException:
        """The exception a worker reported: itself (its type, message and attributes), else a
        :class:`RuntimeError` naming its type; the worker's traceback added as a note."""
        error: Any = None
        if sent is not None:
            try:
                error = pickle.loads(sent)  # noqa: S301  (a worker of ours pickled it)
            except Exception:  # noqa: BLE001  (a class this process cannot import: described instead)
                error = None
        if not isinstance(error, BaseException):
            error = RuntimeError(f"{kind} in HybridVectorEnv worker {worker + 1}: {message}")
        error.add_note(f"raised in HybridVectorEnv worker {worker + 1} (pid {self._processes[worker].pid}):\n{trace}")
        if not isinstance(error, ProjectError):  # a bug, not bad input: its traceback helps whoever reads stderr
            sys.stderr.write(f"HybridVectorEnv worker {worker + 1}: {trace}")
        return error

    def _died(self, worker: int) -> WorkerDiedError:
        """The error for worker ``worker``, whose pipe closed: its sub-environments, pid and exit signal or
        status in one line. The vector env refuses every later call but :meth:`close`."""
        process = self._processes[worker]
        process.join(EXIT_STATUS_WAIT_S)  # its pipe closed as it exited: its status follows at once
        code = process.exitcode
        if code is None:
            how = "closed its pipe but is still running"
        elif code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "an unknown signal"
            how = f"was killed by signal {-code} ({name})"
        else:
            how = f"exited with status {code}"
        indices = self._worker_groups[worker]
        self._failed = (f"HybridVectorEnv worker {worker + 1} (sub-environments {indices.start}..{indices.stop - 1}, "
                        f"pid {process.pid}) {how}; the vector env cannot go on: close it")
        return WorkerDiedError(self._failed)

    def _gather(self, workers: Sequence[int], here: Callable[[], Any]) -> tuple[Any, list[Any]]:
        """Run ``here`` in this process while ``workers`` carry out the command just sent to them; then
        read every answer. Every answer is read before an exception (here or from a worker) is raised,
        so the next command meets no stale answer (a dead worker's error is raised before any other)."""
        error: BaseException | None = None
        mine = None
        try:
            mine = here()
        except BaseException as caught:  # noqa: BLE001  (raised below, after the workers' answers)
            error = caught
        answers: list[Any] = []
        for worker in workers:
            try:
                answers.append(self._receive(worker))
            except WorkerDiedError as caught:
                error = caught
                answers.append(None)
            except BaseException as caught:  # noqa: BLE001  (the first error is raised below)
                if not isinstance(error, WorkerDiedError):
                    error = error or caught
                answers.append(None)
        if error is not None:
            raise error
        return mine, answers

    def _running(self) -> None:
        if self._closed_here:
            raise InvalidInputError("this HybridVectorEnv is closed")
        if self._failed is not None:
            raise WorkerDiedError(self._failed)

    @property
    def worker_pids(self) -> tuple[int, ...]:
        """Process ids of the worker processes, in the order of ``process_groups[1:]`` (read-only)."""
        return tuple(process.pid for process in self._processes)

    # ----------------------------------------------------------------------------- Gymnasium API
    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the sub-environments: ``seed`` None (unseeded), an int (``seed + i`` for
        sub-environment ``i``) or one seed per sub-environment; ``options`` go to every one
        (``options["reset_mask"]``, a (num_envs,) bool array, resets only those, as in Gymnasium)."""
        self._running()
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"If seeds are passed as a list the length must match num_envs={self.num_envs} "
                             f"but got length={len(seeds)}.")
        mask = np.ones(self.num_envs, dtype=np.bool_)
        if options is not None and "reset_mask" in options:
            options = dict(options)
            mask = options.pop("reset_mask")
            if not isinstance(mask, np.ndarray) or mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise ValueError(f"`options['reset_mask']` must be a bool numpy array of shape ({self.num_envs},)")
            if not mask.any():
                raise ValueError("`options['reset_mask']` must contain at least one True value")
        sent = []  # (indices to reset, worker) of the workers with any
        for worker, indices in enumerate(self._worker_groups):
            chosen = [index for index in indices if mask[index]]
            if chosen:
                self._send(worker, _RESET, [(index - indices.start, {"seed": seeds[index], "options": options})
                                          for index in chosen])
                sent.append((chosen, worker))

        def reset_here() -> list[tuple[int, dict[str, Any]]]:
            infos = []
            for position, index in enumerate(self._local):
                if mask[index]:
                    observation, info = self.local_envs[position].reset(seed=seeds[index], options=options)
                    _write(self._own_views[position], observation)
                    self._autoreset[position] = False
                    infos.append((index, info))
            return infos

        infos, answers = self._gather([worker for _, worker in sent], reset_here)
        for (chosen, _), answer in zip(sent, answers, strict=True):
            infos.extend(zip(chosen, answer, strict=True))
        self._terminations[mask] = False
        self._truncations[mask] = False
        return (_copy(self._observations) if self.copy else self._observations), self._merge_infos(infos)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment with its row of ``actions`` (autoreset: see the module doc)."""
        self._running()
        shared = self._action_views
        local = self._local
        if (shared is not None and type(actions) is np.ndarray and actions.dtype == shared.dtype
                and actions.shape == shared.shape):
            # A batch of the space's dtype and shape: the workers read their rows from shared memory.
            own_actions: Any = actions[local.start:local.stop]  # the rows SyncVectorEnv passes (iterate's items)
            shared[local.stop:] = actions[local.stop:]
            for worker in range(len(self._pipes)):
                self._send_bytes(worker, _STEP_SHARED_MESSAGE)
        else:  # any other batch (another dtype, a list, ...): rows pickled, so the workers get them exactly
            rows = list(iterate(self.action_space, actions))
            if len(rows) != self.num_envs:
                raise ValueError(f"expected actions for {self.num_envs} sub-environments, got {len(rows)}")
            own_actions = rows[local.start:local.stop]
            for worker, indices in enumerate(self._worker_groups):
                self._send(worker, _STEP, rows[indices.start:indices.stop])
        results, answers = self._gather(range(len(self._pipes)), lambda: _step_group(
            self.local_envs, self._autoreset, own_actions, self._own_views))
        for answer in answers:
            results.extend(answer)
        infos = []
        for index, (reward, terminated, truncated, info) in enumerate(results):
            self._rewards[index], self._terminations[index], self._truncations[index] = reward, terminated, truncated
            infos.append((index, info))
        return ((_copy(self._observations) if self.copy else self._observations), self._rewards.copy(),
                self._terminations.copy(), self._truncations.copy(), self._merge_infos(infos))

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call method ``name`` of every sub-environment (or read attribute ``name``): one result each."""
        self._running()
        for worker in range(len(self._pipes)):
            self._send(worker, _CALL, (name, args, kwargs))

        def call_here() -> list[Any]:
            results = []
            for env in self.local_envs:
                attribute = env.get_wrapper_attr(name)
                results.append(attribute(*args, **kwargs) if callable(attribute) else attribute)
            return results

        results, answers = self._gather(range(len(self._pipes)), call_here)
        for answer in answers:
            results.extend(answer)
        return tuple(results)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Attribute ``name`` of every sub-environment."""
        return self.call(name)

    def set_attr(self, name: str, values: list[Any] | tuple[Any, ...] | Any) -> None:
        """Set attribute ``name`` of the sub-environments: one value each (list or tuple) or one for all."""
        self._running()
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError("Values must be a list or tuple with length equal to the number of environments. "
                             f"Got `{len(values)}` values for {self.num_envs} environments.")
        for worker, indices in enumerate(self._worker_groups):
            self._send(worker, _SET_ATTR, (name, list(values[indices.start:indices.stop])))
        def set_here() -> None:
            for env, value in zip(self.local_envs, values[self._local.start:self._local.stop], strict=True):
                env.set_wrapper_attr(name, value)

        self._gather(range(len(self._pipes)), set_here)

    def render(self) -> tuple[Any, ...]:
        """Every sub-environment's frame."""
        return self.call("render")

    @property
    def np_random_seed(self) -> tuple[int, ...]:
        """The sub-environments' seeds."""
        return self.get_attr("np_random_seed")

    @property
    def np_random(self) -> tuple[np.random.Generator, ...]:
        """The sub-environments' random generators (copies from the workers)."""
        return self.get_attr("np_random")

    def close_extras(self, **kwargs: Any) -> None:
        """Close every sub-environment and end the workers (idempotent)."""
        if self._closed_here:
            return
        self._closed_here = True
        for pipe in self._pipes:
            try:
                pipe.send_bytes(pickle.dumps((_CLOSE, None), _PROTOCOL))
            except (BrokenPipeError, OSError):  # a dead worker: nothing to tell
                pass
        for pipe, process in zip(self._pipes, self._processes, strict=True):
            try:
                if pipe.poll(CLOSE_TIMEOUT_S):
                    pipe.recv_bytes()
            except (EOFError, OSError):
                pass
            process.join(CLOSE_TIMEOUT_S)
            if process.is_alive():
                process.terminate()
                process.join()
            pipe.close()
        for env in getattr(self, "local_envs", ()):
            env.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed_here", True):
            try:
                self.close()
            except Exception:  # noqa: BLE001  (interpreter shutdown: nothing left to report to)
                pass

    # ----------------------------------------------------------------------------- infos
    def _merge_infos(self, infos: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
        """The sub-environments' infos merged as Gymnasium's ``VectorEnv._add_info`` merges them
        (one array per key, ``_key`` masks), in one pass per key when every sub-environment gave the
        same keys with values of one plain type (numbers, equal-shaped arrays, other objects)."""
        merged = self._merge_uniform(infos)
        if merged is not None:
            return merged
        vector_infos: dict[str, Any] = {}
        for index, info in infos:
            vector_infos = self._add_info(vector_infos, info, index)
        return vector_infos

    def _merge_uniform(self, infos: list[tuple[int, dict[str, Any]]]) -> dict[str, Any] | None:
        """:meth:`_merge_infos`' fast case, or None where it does not apply."""
        count = self.num_envs
        if len(infos) != count or any(index != position for position, (index, _) in enumerate(infos)):
            return None
        first = infos[0][1]
        keys = list(first)
        others = [info for _, info in infos[1:]]
        if any(list(info) != keys for info in others):
            return None
        merged: dict[str, Any] = {}
        mask = np.ones(count, dtype=np.bool_)
        for key in keys:
            value = first[key]
            kind = type(value)
            values = [value]
            for info in others:
                values.append(info[key])
            if kind in _PLAIN_NUMBERS or issubclass(kind, np.number):
                for other in values:
                    if type(other) is not kind:
                        return None
                array = np.array(values, dtype=kind)
            elif kind is np.ndarray:
                for other in values:
                    if type(other) is not np.ndarray or other.shape != value.shape or other.dtype != value.dtype:
                        return None
                array = np.stack(values)
            elif key == "final_obs" or isinstance(value, (dict, np.ndarray)):
                return None
            else:
                array = np.empty(count, dtype=object)  # None-filled, as np.full(count, None, dtype=object)
                for position, other in enumerate(values):
                    if isinstance(other, dict):
                        return None
                    array[position] = other
            merged[key] = array
            merged[f"_{key}"] = mask.copy()
        return merged


def available_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _available_memory_bytes() -> int | None:
    """Memory new processes can have without swapping (Linux ``MemAvailable``; else free pages), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _num_envs_bound() -> tuple[int, str]:
    """:func:`max_num_envs` and why, for a message."""
    memory = _available_memory_bytes()
    why = (f"each sub-environment is a PyBullet world of its own, about {ENV_MEMORY_BYTES >> 20} MB: "
           f"at most {MAX_NUM_ENVS}")
    most = MAX_NUM_ENVS
    if memory is not None:
        most = min(most, memory // ENV_MEMORY_BYTES)
        why += f", and {memory // ENV_MEMORY_BYTES} in the {memory / 2**30:.1f} GB of memory available"
    return max(1, most), why


def _processes_bound(num_envs: int) -> tuple[int, str]:
    """:func:`max_processes` for ``num_envs`` sub-environments and why, for a message."""
    cores, memory = available_cores(), _available_memory_bytes()
    most = min(num_envs, PROCESSES_PER_CORE * cores)
    why = (f"one per env_fn at most; each is a process with its own PyBullet clients: {PROCESSES_PER_CORE} per "
           f"core at most ({cores} here; more only take turns)")
    if memory is not None:
        most = min(most, memory // WORKER_MEMORY_BYTES)
        why += (f", and {memory // WORKER_MEMORY_BYTES} of about {WORKER_MEMORY_BYTES / 2**30:.1g} GB in the "
                f"{memory / 2**30:.1f} GB available")
    return max(1, most), why


def max_num_envs() -> int:
    """The most sub-environments a vector env takes here: :data:`MAX_NUM_ENVS`, and no more than the available
    memory holds at :data:`ENV_MEMORY_BYTES` each."""
    return _num_envs_bound()[0]


def max_processes(num_envs: int) -> int:
    """The most processes (this one included) ``num_envs`` sub-environments may be spread over here: one per
    sub-environment, :data:`PROCESSES_PER_CORE` per available core, and what the available memory holds at
    :data:`WORKER_MEMORY_BYTES` each."""
    return _processes_bound(num_envs)[0]


def _check_num_envs(num_envs: Any) -> int:
    """``num_envs`` as an int, or the one-line error saying what is valid and why."""
    most, why = _num_envs_bound()
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
        got = f"{type(num_envs).__name__} {show_value(num_envs)}"
    elif not 1 <= num_envs <= most:
        got = show_value(num_envs)
    else:
        return int(num_envs)
    raise InvalidInputError(f"num_envs must be a positive integer of at most {most} ({why}), got {got}")


def make_vector_env(num_envs: int = 1, *, num_processes: int | None = None, context: str | None = None,
                    copy: bool = True, env_id: str | None = None, **env_kwargs: Any) -> HybridVectorEnv:
    """The registry's vector entry point: ``gym.make_vec(ENV_ID, num_envs, **kwargs)`` builds this.

    Args:
        num_envs: sub-environments, each ``gym.make(env_id, **env_kwargs)``.
        num_processes: processes they are spread over (this one included); ``None``: one per
            available core, at most ``num_envs``.
        context, copy: as :class:`HybridVectorEnv`.
        env_id: the registered id (default the obstacle-reach env).
        env_kwargs: the env's keyword arguments (``scenario``, ``clearance``, ``max_episode_steps``, ...).

    Raises:
        InvalidInputError: ``num_envs`` not an integer in ``1..max_num_envs()`` (bools, strings and
            fractions refused; :data:`MAX_NUM_ENVS` at most, and what the available memory holds at
            :data:`ENV_MEMORY_BYTES` a sub-environment); as :class:`HybridVectorEnv`.

    Example::

        envs = gym.make_vec("OpenManipulatorX-ObstacleReach-v0", num_envs=8, scenario="cluttered")
        # 8 sub-environments over the machine's cores (2 processes here), the episodes of
        # SyncVectorEnv; vectorization_mode="sync" or "async" still gives Gymnasium's own.
    """
    from sim import ENV_IDS

    num_envs = _check_num_envs(num_envs)
    if num_processes is None:
        num_processes = min(num_envs, available_cores())
    make = functools.partial(gym.make, env_id or ENV_IDS[0], **env_kwargs)
    return HybridVectorEnv([make] * num_envs, num_processes=num_processes, context=context, copy=copy)

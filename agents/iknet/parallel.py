"""Train several networks at once: one after another in this process, or as Ray tasks.

:func:`run_tasks` runs ``function(shared, task)`` for every task and yields ``(task, result)`` in
completion order; ``shared`` (e.g. the training data every seed uses) goes to Ray's object store
once (``ray.put``), not per task. Ray is the optional extra ``ray``; without ``ray_address`` a
private local instance is started for the call and stopped after it, and a process already
connected to Ray keeps its connection. Closing the iterator (Ctrl-C, an error) cancels the tasks
that have not finished. The caller alone writes files, from the results it receives.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar

from agents.ray_tasks import import_ray, run_ray_tasks
from sim.errors import InvalidInputError

Task = TypeVar("Task")
Result = TypeVar("Result")
TrainBackend = Literal["local", "ray"]
TRAIN_BACKENDS: tuple[str, ...] = ("local", "ray")


def check_backend(backend: str) -> None:
    """Fail before any work when ``backend`` cannot run here.

    Raises:
        InvalidInputError: an unknown backend.
        DependencyNotInstalled: ``ray`` without Ray installed (names ``pip install '.[ray]'``).
    """
    if backend not in TRAIN_BACKENDS:
        raise InvalidInputError(f"--backend must be one of {', '.join(TRAIN_BACKENDS)}, got {backend!r}")
    if backend == "ray":
        import_ray()


def run_tasks(function: Callable[[Any, Task], Result], shared: Any, tasks: Sequence[Task], *,
              backend: TrainBackend = "local", ray_address: str | None = None, cpus_per_task: int = 1,
              max_retries: int = 2) -> Iterator[tuple[Task, Result]]:
    """Yield ``(task, function(shared, task))`` for every task, in completion order.

    Args:
        function: a module-level (importable) function, so Ray workers can load it.
        shared: one value every task reads (sent once).
        tasks: the tasks (e.g. training configurations that differ in their seed).
        backend: ``local`` (one after another, here) or ``ray``.
        ray_address: ``auto``, ``ray://HOST:PORT`` or ``HOST:PORT`` of an existing cluster; None
            starts a private local instance of ``len(tasks) * cpus_per_task`` CPUs at most (this
            machine's count at least ``cpus_per_task``).
        cpus_per_task: CPUs Ray reserves for each task.
        max_retries: Ray: reruns of a task whose worker died.

    Raises:
        InvalidInputError: an unknown backend, or an address without the ray backend.
        DependencyNotInstalled: ``ray`` without Ray installed.
        ProjectError: what ``function`` raised (other errors keep Ray's remote traceback).
    """
    check_backend(backend)
    if ray_address is not None and backend != "ray":
        raise InvalidInputError("--ray-address needs --backend ray")
    if backend == "local":
        for task in tasks:
            yield task, function(shared, task)
        return
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        cpus = max(cpus_per_task, min(len(tasks) * cpus_per_task, os.cpu_count() or 1))
        try:
            if ray_address is None:
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
            else:
                ray.init(address=ray_address, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, ValueError, RuntimeError, TimeoutError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise InvalidInputError(
                f"cannot connect to the Ray cluster at {ray_address or 'a local instance'}: {first_line}") from None
        started = True
    try:  # every task in flight at once (a handful of seeds)
        yield from run_ray_tasks(ray, function, shared, tasks, window=max(1, len(tasks)),
                                 cpus_per_task=cpus_per_task, max_retries=max_retries)
    finally:
        if started:
            ray.shutdown()

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

from sim.errors import DependencyNotInstalled, InvalidInputError, ProjectError

Task = TypeVar("Task")
Result = TypeVar("Result")
TrainBackend = Literal["local", "ray"]
TRAIN_BACKENDS: tuple[str, ...] = ("local", "ray")


def _execute(function: Callable[[Any, Any], Any], shared: Any, task: Any) -> Any:
    return function(shared, task)


def check_backend(backend: str) -> None:
    """Fail before any work when ``backend`` cannot run here.

    Raises:
        InvalidInputError: an unknown backend.
        DependencyNotInstalled: ``ray`` without Ray installed (names ``pip install '.[ray]'``).
    """
    if backend not in TRAIN_BACKENDS:
        raise InvalidInputError(f"--backend must be one of {', '.join(TRAIN_BACKENDS)}, got {backend!r}")
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise DependencyNotInstalled("ray", "ray") from None


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
    try:
        import ray
        from ray.exceptions import RayTaskError
    except ImportError:
        raise DependencyNotInstalled("ray", "ray") from None
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
    remote = ray.remote(_execute).options(num_cpus=cpus_per_task, max_retries=max_retries,
                                          name=getattr(function, "__name__", "task"))
    running: dict[Any, Task] = {}
    try:
        shared_ref = ray.put(shared)
        running = {remote.remote(function, shared_ref, task): task for task in tasks}
        while running:
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)  # a second: Ctrl-C stays prompt
            for ref in ready:
                task = running.pop(ref)
                try:
                    result = ray.get(ref)
                except RayTaskError as error:
                    cause = getattr(error, "cause", None)
                    if isinstance(cause, ProjectError):
                        raise cause from None
                    raise
                yield task, result
    finally:
        for ref in running:
            try:
                ray.cancel(ref)  # force=True races Ray 2.60's task manager (a C++ check aborts the driver)
            except Exception:  # noqa: BLE001 - finished or already cancelled
                pass
        if started:
            ray.shutdown()

"""Running ``function(shared, task)`` as Ray tasks: the one task loop of the project.

Training seeds (:mod:`agents.iknet.parallel`) and evaluation runs
(:mod:`evaluation.backends.ray_backend`) both call :func:`run_ray_tasks`, on a Ray instance they
connected to themselves. ``shared`` goes to Ray's object store once (``ray.put``) and every task
gets a reference to it; tasks are submitted in a bounded window and yielded as they finish. A task
whose worker dies is rerun by Ray up to ``max_retries`` times; the driver receives each task's
result once (a task's object is written only by the attempt that completes). Closing the stream
cancels outstanding tasks (``ray.cancel``: queued ones are dropped, running ones interrupted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sim.errors import DependencyNotInstalled, ProjectError

Task = TypeVar("Task")
Result = TypeVar("Result")


def import_ray() -> Any:
    """The ``ray`` module.

    Raises:
        DependencyNotInstalled: Ray is missing (the message names the extra ``ray``).
    """
    try:
        import ray
    except ImportError:
        raise DependencyNotInstalled("ray", "ray") from None
    return ray


def _execute(function: Callable[[Any, Any], Any], shared: Any, task: Any) -> Any:
    """The Ray task: ``shared`` arrives resolved from the object store."""
    return function(shared, task)


def run_ray_tasks(ray: Any, function: Callable[[Any, Task], Result], shared: Any, tasks: Sequence[Task], *,
                  window: int, cpus_per_task: int = 1, max_retries: int = 3,
                  lost: list[str] | None = None) -> Iterator[tuple[Task, Result]]:
    """Yield ``(task, function(shared, task))`` for every task, in completion order.

    Args:
        ray: the connected ``ray`` module.
        function: a module-level (importable) function, so Ray workers can load it.
        shared: one value every task reads (sent once).
        tasks: the tasks.
        window: tasks in flight at most.
        cpus_per_task: CPUs Ray reserves for each task.
        max_retries: reruns of a task whose worker died.
        lost: where a task whose worker died after every retry is noted (its error's type) and
            skipped; None raises Ray's error instead.

    Raises:
        ProjectError: what ``function`` raised (other errors keep Ray's remote traceback).
    """
    if not tasks:
        return
    from ray.exceptions import RayError, RayTaskError

    remote = ray.remote(_execute).options(num_cpus=cpus_per_task, max_retries=max_retries,
                                          name=getattr(function, "__name__", "task"))
    shared_ref = ray.put(shared)  # once; every task gets the reference
    queue = list(reversed(tasks))
    running: dict[Any, Task] = {}
    try:
        while queue or running:
            while queue and len(running) < window:
                task = queue.pop()
                running[remote.remote(function, shared_ref, task)] = task
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)  # a second: Ctrl-C stays prompt
            for ref in ready:
                task = running.pop(ref)
                try:
                    result = ray.get(ref)
                except RayTaskError as error:  # the function raised: stop the run
                    cause = getattr(error, "cause", None)
                    if isinstance(cause, ProjectError):
                        raise cause from None
                    raise
                except RayError as error:  # worker or node died after every retry
                    if lost is None:
                        raise
                    lost.append(type(error).__name__)
                    continue
                yield task, result
    finally:
        for ref in running:
            try:
                ray.cancel(ref)  # force=True races Ray 2.60's task manager (a C++ check aborts the driver)
            except Exception:  # noqa: BLE001 - a finished or already-cancelled task
                pass

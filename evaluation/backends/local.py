"""Backends on this machine: in the driver's process, or a pool of spawned worker processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any

from evaluation.backends.base import Result, Task, TaskBackend


class InProcessBackend(TaskBackend):
    """Tasks run one after another in the calling process."""

    name = "in-process"
    runs_in_driver = True

    def run(self, function: Callable[[Any, Task], Result], shared: Any,
            tasks: Sequence[Task]) -> Iterator[tuple[Task, Result]]:
        for task in tasks:
            yield task, function(shared, task)


_SHARED: Any = None


def _receive_shared(shared: Any) -> None:
    """Pool initializer: keep the run's shared value in the worker process (sent once per process)."""
    global _SHARED
    _SHARED = shared


def _call(function: Callable[[Any, Any], Any], task: Any) -> Any:
    return function(_SHARED, task)


class ProcessPoolBackend(TaskBackend):
    """Tasks run in ``workers`` spawned processes (``concurrent.futures``); a worker that dies breaks the pool."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.name = f"process pool ({workers})"

    def run(self, function: Callable[[Any, Task], Result], shared: Any,
            tasks: Sequence[Task]) -> Iterator[tuple[Task, Result]]:
        if not tasks:
            return
        executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"),
                                       initializer=_receive_shared, initargs=(shared,))
        try:
            futures: dict[Future, Task] = {executor.submit(_call, function, task): task for task in tasks}
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = futures.pop(future)
                    yield task, future.result()
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

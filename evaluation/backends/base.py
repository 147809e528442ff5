"""The backend interface: run a function over tasks somewhere, stream the results back to the driver.

A backend gets one picklable function ``function(shared, task) -> result``, one ``shared`` value
(handed to its workers once, not per task) and the tasks, and yields ``(task, result)`` pairs in
completion order. The driver consumes them and alone writes files. Closing the stream (the
consumer stops, an exception, Ctrl-C) cancels what has not finished; what was yielded stays
yielded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar

from sim.errors import ProjectError

BackendName = Literal["local", "ray"]
#: The ``--backend`` choices: ``local`` (in process, or a process pool with ``--workers`` > 1) and ``ray``.
BACKEND_NAMES: tuple[str, ...] = ("local", "ray")

Task = TypeVar("Task")
Result = TypeVar("Result")


class BackendError(ProjectError):
    """A backend could not run its tasks: no cluster to connect to, or tasks lost after every retry."""


class TaskBackend(ABC):
    """Runs ``function(shared, task)`` for every task; a context manager that releases its workers on exit.

    Attributes:
        name: a short label for messages (``in-process``, ``process pool (2)``, ``ray``).
        runs_in_driver: tasks run in the calling process (its per-process state is the driver's).
        workers: tasks run at the same time (a cluster's CPU count for Ray).
    """

    name: str = "backend"
    runs_in_driver: bool = False
    workers: int = 1

    @abstractmethod
    def run(self, function: Callable[[Any, Task], Result], shared: Any,
            tasks: Sequence[Task]) -> Iterator[tuple[Task, Result]]:
        """Yield ``(task, function(shared, task))`` for every task, in completion order.

        An exception ``function`` raises is re-raised here (outstanding tasks are cancelled);
        tasks lost to dying workers are retried, and those lost after every retry are reported
        by :class:`BackendError` once the others have finished.
        """

    def close(self) -> None:  # noqa: B027 - most backends hold nothing between runs
        """Release workers (and a cluster connection this backend made)."""

    def __enter__(self) -> TaskBackend:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

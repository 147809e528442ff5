"""Ray tasks on a local instance or an existing cluster (the optional extra ``ray``).

``shared`` goes into Ray's object store once (``ray.put``) and every task gets a reference to it;
tasks are submitted in a bounded window (a few per cluster CPU) and yielded as they finish. A task
whose worker dies is retried up to ``max_retries`` times by Ray; the driver receives each task's
result once (a task's object is written only by the attempt that completes), so nothing is lost
or duplicated. Closing the stream cancels outstanding tasks (``ray.cancel``: queued ones are
dropped, running ones interrupted).
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from evaluation.backends.base import BackendError, Result, Task, TaskBackend
from sim.errors import DependencyNotInstalled, InvalidInputError, ProjectError

#: ``--ray-address`` forms: ``auto`` (the cluster ``ray start`` made on this machine), ``ray://HOST:PORT``
#: (Ray Client) or ``HOST:PORT`` (a head node's GCS address, from a machine inside the cluster).
RAY_ADDRESS_PATTERN = re.compile(r"^(auto|ray://[^\s:/]+:\d+|[^\s:/]+:\d+)$")
_TASKS_PER_CPU = 4


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


def check_ray_address(address: str | None) -> None:
    """Raise :class:`InvalidInputError` unless ``address`` is None or a form of :data:`RAY_ADDRESS_PATTERN`."""
    if address is not None and not RAY_ADDRESS_PATTERN.match(address):
        raise InvalidInputError(f"--ray-address must be auto, ray://HOST:PORT or HOST:PORT, got {address!r}")


def check_ray_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail fast when nothing answers at ``address``'s ``HOST:PORT`` (``ray.init`` would retry for minutes).

    ``None`` (a private instance) and ``auto`` (Ray finds the local cluster, or fails at once) are
    not probed. A port that answers but is not a Ray head is left to ``ray.init``.

    Raises:
        BackendError: no TCP connection to ``HOST:PORT`` within ``timeout_s`` seconds.
    """
    if address is None or address == "auto":
        return
    host, port = address.removeprefix("ray://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise BackendError(f"cannot connect to the Ray cluster at {address}: nothing answers at {host}:{port} "
                           f"({reason})") from None


def _execute(function: Callable[[Any, Any], Any], shared: Any, task: Any) -> Any:
    """The Ray task: ``shared`` arrives resolved from the object store."""
    return function(shared, task)


class RayBackend(TaskBackend):
    """Tasks as Ray tasks (one CPU each).

    Args:
        address: None starts a private local instance of ``num_cpus`` CPUs (stopped on close);
            otherwise an address of :data:`RAY_ADDRESS_PATTERN` to connect to. A process already
            connected to Ray (``ray.is_initialized()``) keeps its connection and the address is unused.
        num_cpus: CPUs of the private local instance.
        max_retries: times Ray reruns a task whose worker died.

    Raises:
        DependencyNotInstalled: Ray is missing.
        InvalidInputError: a malformed address.
        BackendError: no cluster at ``address``.
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, num_cpus: int = 1, max_retries: int = 3) -> None:
        check_ray_address(address)
        self._ray = ray = import_ray()
        self.max_retries = max_retries
        self._started = False
        if not ray.is_initialized():
            try:
                if address is None:
                    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                             logging_level=logging.WARNING)
                else:
                    check_ray_reachable(address)
                    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, ValueError, RuntimeError, TimeoutError) as error:
                where = f"at {address}" if address else "(local instance)"
                first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                hint = ("; a cluster with token authentication (Ray's default for 'ray start') needs "
                        "RAY_AUTH_MODE=token and its token here" if address not in (None, "auto") else "")
                raise BackendError(f"cannot connect to the Ray cluster {where}: {first_line}{hint}") from None
            self._started = True
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.name = f"ray ({self.workers} CPUs)"

    def run(self, function: Callable[[Any, Task], Result], shared: Any,
            tasks: Sequence[Task]) -> Iterator[tuple[Task, Result]]:
        if not tasks:
            return
        ray = self._ray
        from ray.exceptions import RayError, RayTaskError

        remote = ray.remote(_execute).options(num_cpus=1, max_retries=self.max_retries,
                                             name=getattr(function, "__name__", "task"))
        shared_ref = ray.put(shared)  # once; every task gets the reference
        queue = list(reversed(tasks))
        window = max(16, _TASKS_PER_CPU * self.workers)
        running: dict[Any, Task] = {}
        lost: list[str] = []
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
                        lost.append(f"{type(error).__name__}")
                        continue
                    yield task, result
        finally:
            for ref in running:
                try:
                    ray.cancel(ref)  # force=True races Ray 2.60's task manager (a C++ check aborts the driver)
                except Exception:  # noqa: BLE001 - a finished or already-cancelled task
                    pass
        if lost:
            raise BackendError(f"{len(lost)} task(s) lost after {self.max_retries} retries ({lost[0]}); "
                               "rerun with --resume to run them again")

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False

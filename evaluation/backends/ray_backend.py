"""Ray tasks on a local instance or an existing cluster (the optional extra ``ray``).

The task loop is :func:`agents.ray_tasks.run_ray_tasks` (also the training seeds'): ``shared`` in
Ray's object store once, tasks submitted in a bounded window (a few per cluster CPU) and yielded as
they finish, a dead worker's task retried up to ``max_retries`` times by Ray with its result
received once, outstanding tasks cancelled when the stream is closed. A task lost after every
retry ends the run with a :class:`BackendError` naming ``--resume``.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from agents.ray_tasks import import_ray, run_ray_tasks
from evaluation.backends.base import BackendError, Result, Task, TaskBackend
from sim.errors import InvalidInputError

#: ``--ray-address`` forms: ``auto`` (the cluster ``ray start`` made on this machine), ``ray://HOST:PORT``
#: (Ray Client) or ``HOST:PORT`` (a head node's GCS address, from a machine inside the cluster).
RAY_ADDRESS_PATTERN = re.compile(r"^(auto|ray://[^\s:/]+:\d+|[^\s:/]+:\d+)$")
_TASKS_PER_CPU = 4


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
        lost: list[str] = []
        yield from run_ray_tasks(self._ray, function, shared, tasks, window=max(16, _TASKS_PER_CPU * self.workers),
                                 max_retries=self.max_retries, lost=lost)
        if lost:
            raise BackendError(f"{len(lost)} task(s) lost after {self.max_retries} retries ({lost[0]}); "
                               "rerun with --resume to run them again")

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False

"""Execution backends: where a run's episodes (or any picklable tasks) run.

``local`` runs in the driver's process (one worker) or a spawned process pool (``workers`` > 1);
``ray`` runs Ray tasks on a private local instance or an existing cluster. Every backend streams
results back to the driver, which alone writes the results folder (:mod:`evaluation.runner`).
"""

from __future__ import annotations

import argparse

from evaluation.backends.base import BACKEND_NAMES, BackendError, BackendName, TaskBackend
from evaluation.backends.local import InProcessBackend, ProcessPoolBackend
from evaluation.backends.resources import RunResources, build_resources
from sim.errors import UnknownNameError


def add_backend_arguments(parser: argparse.ArgumentParser, *, work: str) -> None:
    """Add ``--backend`` and ``--ray-address`` to a command line, worded for what runs (``work``,
    e.g. ``"episodes run"``): the one definition ``run_sim.py`` and ``python -m evaluation.study`` share."""
    parser.add_argument("--backend", choices=BACKEND_NAMES, default="local",
                        help=f"where {work}: 'local' (this process, or --workers processes) or 'ray' (Ray tasks; "
                             "extra 'ray'; without --ray-address a private local instance of --workers CPUs) "
                             "(default: local)")
    parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                        help="with --backend ray, an existing cluster: 'auto' (started here with 'ray start --head'), "
                             "ray://HOST:PORT (Ray Client) or HOST:PORT")


def make_backend(backend: str, *, workers: int = 1, ray_address: str | None = None,
                 max_retries: int = 3) -> TaskBackend:
    """The backend named ``backend`` (:data:`BACKEND_NAMES`).

    Args:
        backend: ``local`` or ``ray``.
        workers: local: processes (1 = in the driver's process); ray without an address: CPUs of
            the private local instance.
        ray_address: ``auto``, ``ray://HOST:PORT`` or ``HOST:PORT`` of an existing cluster.
        max_retries: Ray: reruns of a task whose worker died.

    Raises:
        UnknownNameError: an unknown backend name.
        DependencyNotInstalled: ``ray`` without Ray installed (names ``pip install '.[ray]'``).
        BackendError: no Ray cluster at ``ray_address``.
    """
    if backend == "local":
        return InProcessBackend() if workers <= 1 else ProcessPoolBackend(workers)
    if backend == "ray":
        from evaluation.backends.ray_backend import RayBackend

        return RayBackend(address=ray_address, num_cpus=workers, max_retries=max_retries)
    raise UnknownNameError("backend", backend, BACKEND_NAMES)


def check_backend_available(backend: str) -> None:
    """Fail early (before a run writes anything) when ``backend`` cannot be used here.

    Raises:
        UnknownNameError: an unknown backend name.
        DependencyNotInstalled: ``ray`` without Ray installed.
    """
    if backend not in BACKEND_NAMES:
        raise UnknownNameError("backend", backend, BACKEND_NAMES)
    if backend == "ray":
        from agents.ray_tasks import import_ray

        import_ray()


__all__ = [
    "BACKEND_NAMES", "BackendError", "BackendName", "InProcessBackend", "ProcessPoolBackend", "RunResources",
    "TaskBackend", "build_resources", "check_backend_available", "make_backend",
]

"""Writing files safely, for every layer (the results folders of :mod:`evaluation`, the checkpoint
folders of :mod:`agents`): never through a symbolic link, and a failed write (disk full, file too
large, permission refused) ends in one line.

It lives at the top of :mod:`sim` beside :mod:`sim.errors` because the packages above it all use it
and it needs nothing but the standard library and the project's errors.
"""

from __future__ import annotations

import errno
import os

from sim.errors import OutputFolderError


class ResultsWriteError(OutputFolderError):
    """Writing a results file failed (disk full, file too large, permission refused); every row written
    before the failure is kept whole."""


def write_error(path: str | os.PathLike[str], error: OSError) -> ResultsWriteError:
    """The one-line error of a failed write of ``path`` (disk full, file too large, permission...)."""
    return ResultsWriteError(f"cannot write {os.fspath(path)}: {error.strerror or error}; everything written "
                             "before is kept (free space or fix the folder, then rerun with --resume)")


def refuse_link(path: str | os.PathLike[str]) -> None:
    """Refuse (one line) to write ``path`` if it is a symbolic link: a results file is never written through one.

    Raises:
        OutputFolderError: ``path`` is a symbolic link.
    """
    if os.path.islink(path):
        raise OutputFolderError(f"{os.fspath(path)} is a symbolic link; results are never written through a link "
                                "(remove it or choose another --out)")


def open_no_follow(path: str | os.PathLike[str], flags: int, mode: int = 0o644) -> int:
    """``os.open(path, flags | O_NOFOLLOW)``: a descriptor, never one of a link's target.

    Raises:
        OutputFolderError: ``path`` is a symbolic link, or cannot be opened (the message names why).
    """
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as error:
        if error.errno == errno.ELOOP:
            refuse_link(path)
        raise OutputFolderError(f"cannot write {os.fspath(path)}: {error.strerror or error}") from None


__all__ = ["ResultsWriteError", "open_no_follow", "refuse_link", "write_error"]

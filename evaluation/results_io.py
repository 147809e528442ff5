"""Crash-safe results files: append-only CSVs written one whole row per system call.

Each finished episode is appended as a single ``os.write`` on an ``O_APPEND`` descriptor and
fsync'ed, so a SIGKILL leaves at most one torn last line, which :func:`repair_csv` removes on
resume. Nothing already written is ever rewritten except by :func:`filter_csv` on resume, which
writes a temporary file and renames it atomically. Rows are appended only to a file that starts
with the same header (one this project wrote), never to someone else's CSV file; a file that is
not UTF-8 CSV is reported as an :class:`~sim.errors.OutputFolderError`, never a traceback.

Nothing is written through a symbolic link: files are opened with ``O_NOFOLLOW`` and a link where a
results file belongs is refused in one line. One process at a time writes a results folder
(:func:`locked_folder`: an exclusive ``flock`` on :data:`LOCK_FILE` inside it).

A full disk, a file over the size limit (``RLIMIT_FSIZE``) or a refused permission while rows are
appended ends in :class:`ResultsWriteError` (one line); a row the failed write left half-written is
cut off, so every row written before stays whole. Names read from files that become file or folder
names go through :func:`check_file_name` and :func:`check_relative_path`: they cannot leave the
folder they name.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from sim.errors import OutputFolderError, invalid_value
from sim.files import ResultsWriteError, open_no_follow, refuse_link, write_error  # noqa: F401 (re-exported)


def _format_row(values: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def append_rows(path: Path, columns: Sequence[str], rows: Iterable[dict[str, object]]) -> None:
    """Append ``rows`` (dicts keyed by ``columns``) to ``path``, writing the header if the file is new.

    All rows go out in one write and are fsync'ed before returning.

    Raises:
        OutputFolderError: ``path`` exists but does not start with this header (not this project's file).
    """
    text = "".join(_format_row([_cell(row.get(column, "")) for column in columns]) for row in rows)
    header = _format_row(columns)
    new = not path.exists() or path.stat().st_size == 0
    if new:
        text = header + text
    else:
        with open(path, "rb") as handle:
            first = handle.read(len(header.encode()))
        if first != header.encode():
            raise OutputFolderError(f"{path} was not written by this project (its header differs); not appending to it")
    if not text:
        return
    descriptor = open_no_follow(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        size = os.fstat(descriptor).st_size
        data = text.encode()
        written = 0
        try:
            while written < len(data):
                written += os.write(descriptor, data[written:])
            os.fsync(descriptor)
        except OSError as error:  # disk full, file too large (EFBIG), quota, permission, I/O
            with contextlib.suppress(OSError):  # a partly written row is cut off: the rows before stay whole
                os.ftruncate(descriptor, size)
            raise write_error(path, error) from None
    finally:
        os.close(descriptor)


def check_file_name(field: str, name: object) -> str:
    """``name`` (read from a file or an option) checked to be one file or folder name: a non-empty
    string without ``/``, ``\\``, NUL or control characters, not ``.`` or ``..``, at most 200
    characters; so it cannot leave the folder it is put in.

    Raises:
        InvalidInputError: the message names ``field``, the value and what is valid.
    """
    valid = "a file name (non-empty, at most 200 characters, no '/', '\\', NUL or control characters, not '..')"
    if (not isinstance(name, str) or not name.strip() or name in (".", "..") or len(name) > 200
            or any(char in "/\\" or not char.isprintable() for char in name)):
        raise invalid_value(field, name, valid)
    return name


def check_relative_path(field: str, path: object) -> str:
    """``path`` (read from a file) checked to stay inside the folder it is relative to: a non-empty
    string, not absolute, without a ``..`` part, NUL or control characters.

    Raises:
        InvalidInputError: the message names ``field``, the value and what is valid.
    """
    valid = "a relative path inside its folder (no absolute path, no '..' part, no NUL or control characters)"
    if (not isinstance(path, str) or not path.strip() or os.path.isabs(path) or path.startswith("~")
            or any(not char.isprintable() for char in path) or ".." in path.replace("\\", "/").split("/")):
        raise invalid_value(field, path, valid)
    return path


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def repair_csv(path: Path) -> None:
    """Drop a torn last line (no trailing newline) left by a killed writer."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        handle.truncate(cut)


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """All complete rows of a CSV written by :func:`append_rows` (empty if missing).

    Raises:
        OutputFolderError: the file is not UTF-8 CSV (or has a field over the ``csv`` module's limit).
    """
    path = Path(path)
    if not path.exists():
        return []
    repair_csv(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise OutputFolderError(f"{path} is not a CSV file this project wrote ({type(error).__name__})") from None


def read_header(path: str | Path) -> list[str] | None:
    """The column names of CSV file ``path`` (``None`` if it is missing or empty).

    Raises:
        OutputFolderError: the first line is not UTF-8 CSV.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return next(csv.reader([handle.readline(1 << 16)]), [])
    except (UnicodeDecodeError, csv.Error) as error:
        raise OutputFolderError(f"{path} is not a CSV file this project wrote ({type(error).__name__})") from None


def filter_csv(path: Path, keep: Callable[[dict[str, str]], bool]) -> int:
    """Rewrite ``path`` atomically keeping the rows ``keep`` accepts; return how many were dropped."""
    if not path.exists():
        return 0
    repair_csv(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as error:
        raise OutputFolderError(f"{path} is not a CSV file this project wrote ({type(error).__name__})") from None
    kept = [row for row in rows if keep(row)]
    if len(kept) == len(rows):
        return 0
    temporary = path.with_suffix(path.suffix + ".tmp")
    refuse_link(path)
    with os.fdopen(open_no_follow(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return len(rows) - len(kept)


# ------------------------------------------------------------------------------- no links, one writer
#: The lock file inside a results folder, held (``flock``) by the one process writing the folder.
LOCK_FILE: str = ".lock"


class FolderLockedError(OutputFolderError):
    """Another process is writing the results folder (it holds the folder's lock)."""


#: The folders this process holds the lock of: resolved path -> [descriptor, depth, created].
_HELD: dict[str, list] = {}


@contextlib.contextmanager
def locked_folder(folder: str | os.PathLike[str]) -> Iterator[bool]:
    """Hold the results folder ``folder``'s exclusive lock (creating the folder if missing).

    The lock is an ``flock`` on :data:`LOCK_FILE` in the folder, taken without waiting; it is
    re-entrant within a process. On release the lock file is removed, and so is the folder if this
    call created it and nothing else is in it, so a run leaves its folder as it would without a lock.

    Yields:
        True if the outermost holder created ``folder``.

    Raises:
        FolderLockedError: another process holds the lock (nothing is written or removed).
        OutputFolderError: the folder cannot be created, or its lock file is a symbolic link.
    """
    folder = Path(folder)
    key = os.path.realpath(folder)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield _HELD[key][2]
        finally:
            _HELD[key][1] -= 1
        return
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputFolderError(f"cannot write to output folder {folder}: {error.strerror or error}") from None
    descriptor = _acquire(folder)
    _HELD[key] = [descriptor, 1, created]
    try:
        yield created
    finally:
        del _HELD[key]
        try:  # removed while still held: a process waiting on this file retries on the new one
            os.unlink(folder / LOCK_FILE)
            if created:
                folder.rmdir()  # only if the run left nothing
        except OSError:
            pass
        os.close(descriptor)


def _acquire(folder: Path) -> int:
    path = folder / LOCK_FILE
    for _attempt in range(100):
        descriptor = open_no_follow(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(descriptor)
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputFolderError(f"cannot lock output folder {folder}: {error.strerror or error}") from None
            raise FolderLockedError(f"output folder {folder} is being written by another run (it holds "
                                    f"{path}); wait for it to finish or choose another --out") from None
        try:  # the holder we waited on may have removed the file before we locked it: lock the current one
            if os.stat(path, follow_symlinks=False).st_ino == os.fstat(descriptor).st_ino:
                return descriptor
        except FileNotFoundError:
            pass
        os.close(descriptor)
    raise FolderLockedError(f"output folder {folder} is being written by another run; choose another --out")


# ------------------------------------------------------------------------------- damaged tails
def repair_tail(path: Path) -> int:
    """Drop malformed rows at the end of CSV ``path`` (a writer killed mid-row, a damaged disk):
    rows without a newline, with NUL bytes, not UTF-8, or with another number of fields than the
    header; every complete row before them is kept. Returns how many rows were dropped.

    Raises:
        OutputFolderError: a malformed row is followed by a complete one (the damage is not a torn
            tail; the file is left as it is), or ``path`` is a symbolic link.
    """
    if not path.exists() or path.stat().st_size == 0:
        return 0
    refuse_link(path)
    with open(path, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")  # the last item is what follows the last newline (b"" if none)
    width = _fields(lines[0]) if data.endswith(b"\n") or len(lines) > 1 else None
    if width is None:
        raise OutputFolderError(f"{path} is not a CSV file this project wrote (its header is malformed)")
    offset, first_bad, bad_offset = len(lines[0]) + 1, None, None
    for number, line in enumerate(lines[1:], start=2):
        last = number == len(lines)
        good = not last and _fields(line) == width
        if last and not line:
            break
        if not good and first_bad is None:
            first_bad, bad_offset = number, offset
        elif good and first_bad is not None:
            raise OutputFolderError(f"{path}: row {first_bad} is malformed but row {number} after it is complete; "
                                    "not a torn tail, so it is not repaired: move the folder aside and start anew")
        offset += len(line) + 1
    if first_bad is None:
        return 0
    dropped = sum(1 for line in lines[first_bad - 1:] if line)
    descriptor = open_no_follow(path, os.O_WRONLY)
    try:
        os.ftruncate(descriptor, bad_offset)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return dropped


def _fields(line: bytes) -> int | None:
    """The number of CSV fields of one physical line; None if it is not a whole UTF-8 row."""
    if b"\x00" in line:
        return None
    try:
        rows = list(csv.reader([line.decode("utf-8")], strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    return len(rows[0]) if len(rows) == 1 else None

"""Crash-safe results files: append-only CSVs written one whole row per system call.

Each finished episode is appended as a single ``os.write`` on an ``O_APPEND`` descriptor and
fsync'ed, so a SIGKILL leaves at most one torn last line, which :func:`repair_csv` removes on
resume. Nothing already written is ever rewritten except by :func:`filter_csv` on resume, which
writes a temporary file and renames it atomically. Rows are appended only to a file that starts
with the same header (one this project wrote), never to someone else's CSV file; a file that is
not UTF-8 CSV is reported as an :class:`~sim.errors.OutputFolderError`, never a traceback.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sim.errors import OutputFolderError


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
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        data = text.encode()
        written = 0
        while written < len(data):
            written += os.write(descriptor, data[written:])
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return len(rows) - len(kept)

"""The project's exceptions: one base class, specific subclasses, one-line messages.

Every error a user can cause by bad input is an :class:`InvalidInputError` (a
:class:`ProjectError`): unknown names, malformed scene files, logs and checkpoints, unusable
output folders. The command line catches :class:`ProjectError` and prints its message as one
line (exit status 2). The classes also derive from the matching built-in (``ValueError``,
``ImportError``) so library users can catch what they already expect.

A message names the field, the value and the valid range or choices. Values are shown with
:func:`show_value` (plain numbers, ``0.1`` rather than ``np.float64(0.1)``; long values
shortened), and every message is folded to one printable line of at most
:data:`MAX_MESSAGE_CHARS` characters, so a 1 MB argument or a newline in a file name cannot
flood or forge the terminal.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

#: The longest message (characters) an error carries; longer ones keep their head and tail.
MAX_MESSAGE_CHARS: int = 300
#: The longest rendering of one value inside a message (characters).
MAX_VALUE_CHARS: int = 60


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as one printable line of at most ``limit`` characters.

    Control characters (newlines, escape sequences) are written as escapes (``\\n``); a longer
    text keeps its first two thirds and its last third around `` ... ``.
    """
    text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(text))
    if len(text) <= limit:
        return text
    head = (2 * limit) // 3
    tail = limit - head - 5
    return f"{text[:head]} ... {text[len(text) - tail:]}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_value(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """A short, plain rendering of ``value`` for an error message.

    Numbers print plainly with up to 8 significant digits (``0.1``, ``nan``, ``1e+30``; NumPy
    scalars too, never ``np.float64(0.1)``), an
    integer too long to print as its digit count, strings quoted, sequences and arrays as
    ``[a, b, ...]``, anything else as its type name and a short ``repr``; at most ``limit``
    characters.
    """
    return _shorten(_show(value, limit, depth=0), limit)


def _show(value: Any, limit: int, depth: int) -> str:
    if hasattr(value, "dtype") and hasattr(value, "tolist") and getattr(value, "ndim", 1) == 0:
        value = value.tolist()  # NumPy (and torch) scalars -> Python numbers
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, numbers.Integral):
        value = int(value)
        if value.bit_length() > 64:
            return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
        return str(value)
    if isinstance(value, numbers.Real):
        return format(float(value), ".8g")  # 0.1, 1e+30, nan, inf; float32 noise rounded away
    if isinstance(value, numbers.Complex):
        return repr(complex(value))
    if isinstance(value, str):
        return repr(_shorten(value, limit - 2))
    if isinstance(value, bytes):
        return repr(value[:limit])
    if hasattr(value, "tolist") and hasattr(value, "shape"):  # arrays and tensors
        shape = tuple(value.shape)
        if math.prod(shape) > 16:
            return f"an array of shape {shape}"
        value = value.tolist()
    if isinstance(value, (list, tuple, set, frozenset, Mapping)):
        mapping = isinstance(value, Mapping)
        if depth >= 3:
            return "{...}" if mapping else "[...]"
        items = value.items() if mapping else value
        parts, size = [], 2
        for item in items:
            if mapping:
                part = f"{_show(item[0], limit, depth + 1)}: {_show(item[1], limit, depth + 1)}"
            else:
                part = _show(item, limit, depth + 1)
            size += len(part) + 2
            if size > limit:
                parts.append("...")
                break
            parts.append(part)
        return f"{{{', '.join(parts)}}}" if mapping else f"[{', '.join(parts)}]"
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = ""
    return f"{type(value).__name__} {_shorten(text, limit)}".strip()


def _rebuild_error(error_type: type[ProjectError], args: tuple, state: dict[str, Any] | None) -> ProjectError:
    """A pickled :class:`ProjectError` rebuilt from its ``args`` and attributes without calling its
    ``__init__`` (whose parameters may differ from ``args``: ``UnknownNameError(kind, name, valid)``)."""
    error = error_type.__new__(error_type, *args)
    error.args = args
    if state:
        error.__dict__.update(state)
    return error


class ProjectError(Exception):
    """Base class of every error this project raises on purpose; its message is one short line.

    Every subclass pickles with its type, message and attributes, whatever its ``__init__``'s
    parameters, so an error raised in a worker process (a vector env's, a process pool's) is raised
    in the calling process as itself.
    """

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (one_line(args[0]), *args[1:])
        super().__init__(*args)

    def __reduce__(self) -> tuple:
        return _rebuild_error, (type(self), self.args, dict(self.__dict__) or None)


class InvalidInputError(ProjectError, ValueError):
    """Something a user gave is wrong: a value out of its range, a malformed file, an unknown name,
    an unusable output folder. The message names the field, the value and what is valid."""


def invalid_value(field: str, value: Any, valid: str) -> InvalidInputError:
    """The error for ``field`` holding ``value``: ``"field: expected VALID, got VALUE"``.

    Example:
        >>> print(invalid_value("count", 2**70, "an integer within [0, 16]"))
        count: expected an integer within [0, 16], got an integer of about 22 digits
    """
    return InvalidInputError(f"{field}: expected {valid}, got {show_value(value)}")


class UnknownNameError(InvalidInputError):
    """A name (scenario, model, policy, method...) is not in its registry."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]) -> None:
        valid = sorted(valid)
        close = difflib.get_close_matches(str(name), valid, n=1) if isinstance(name, str) and len(name) < 200 else []
        hint = f" Did you mean {close[0]!r}?" if close else ""
        head = f"unknown {kind} {show_value(name)}; valid choices: "
        choices = ", ".join(valid)
        room = MAX_MESSAGE_CHARS - len(head) - len(hint) - 1
        if len(choices) > room:  # a long list is shortened whole names at a time, so the hint stays whole
            shown: list[str] = []
            tail = f", ... ({len(valid)} in all; .valid has them)"
            for choice in valid:
                if len(", ".join([*shown, choice])) + len(tail) > room:
                    break
                shown.append(choice)
            choices = ", ".join(shown) + tail
        super().__init__(f"{head}{choices}.{hint}")
        self.kind, self.name, self.valid = kind, name, valid


class SceneFileError(InvalidInputError):
    """A scenario TOML file is missing, unreadable or has a malformed field."""


class LogFileError(InvalidInputError):
    """A recorded robot log (CSV export) is missing, unreadable or malformed."""


class CheckpointError(InvalidInputError):
    """A checkpoint is missing, corrupt, holds non-finite or implausibly large weights, or does not
    match the architecture asked for (or its manifest entry)."""


class OutputFolderError(InvalidInputError):
    """An output folder cannot be used: empty name, not writable, holds files this project did not
    write, or holds a different run."""


class DependencyNotInstalled(ProjectError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed; install it with: pip install '.[{extra}]'")
        self.package, self.extra = package, extra


class WorkerDiedError(ProjectError, RuntimeError):
    """A worker process of a vector env ended while it was in use (killed by the operating system, out
    of memory, crashed): the message names the worker, its sub-environments and its exit signal or
    status. The vector env cannot go on; close it (that ends its other workers)."""

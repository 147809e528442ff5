"""The project's exceptions: one base class, specific subclasses.

Every error a user can cause by bad input derives from :class:`ProjectError`, so the command
line catches that one type and prints one line (exit status 2). The subclasses also derive from
the matching built-in (``ValueError``, ``FileNotFoundError``...) so library users can catch
what they already expect.
"""

from __future__ import annotations

from collections.abc import Iterable
import difflib


class ProjectError(Exception):
    """Base class of every error this project raises on purpose."""


class InvalidInputError(ProjectError, ValueError):
    """An array has the wrong shape, holds NaN or infinity, or lies outside its valid range."""


class UnknownNameError(ProjectError, ValueError):
    """A name (scenario, model, policy, method...) is not in its registry."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]) -> None:
        valid = sorted(valid)
        close = difflib.get_close_matches(str(name), valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}; valid choices: {', '.join(valid)}.{hint}")
        self.kind, self.name, self.valid = kind, name, valid


class SceneFileError(ProjectError, ValueError):
    """A scenario TOML file is missing, unreadable or has a malformed field."""


class LogFileError(ProjectError, ValueError):
    """A recorded robot log (CSV export) is missing, unreadable or malformed."""


class CheckpointError(ProjectError, ValueError):
    """A checkpoint is missing, corrupt, or does not match the architecture asked for."""


class DependencyNotInstalled(ProjectError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed; install it with: pip install '.[{extra}]'")
